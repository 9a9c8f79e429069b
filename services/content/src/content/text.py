"""Post and comment text: normalisation, hashtags and mentions.

Plain functions without I/O. Arabic is first-class: a hashtag may be written in Arabic
letters and carry harakat or tatweel (``#مِصـر``), which are dropped from the
normalised tag so that ``#مصر`` and ``#مِصر`` are one tag.
"""

from __future__ import annotations

import re
import unicodedata

MAX_HASHTAGS = 30
MAX_HASHTAG_CHARS = 100
MAX_MENTIONS = 50

# Harakat, Quranic marks, superscript alef and tatweel: decoration, not identity.
_ARABIC_MARKS = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed\u0640"
_MARKS_RE = re.compile(f"[{_ARABIC_MARKS}]")
# A tag is letters/digits/underscore of any script, with Arabic marks allowed inside.
# It may not follow a word character (``a#b``) or another ``#``/``&`` (``&#39;``).
_HASHTAG_RE = re.compile(rf"(?<![\w&#{_ARABIC_MARKS}])[#\uff03]((?:[\w{_ARABIC_MARKS}])+)")
# Usernames as identity allows them: Latin and Arabic letters, both digit sets, underscore.
_USERNAME_CHARS = "A-Za-z0-9_\u0621-\u063a\u0641-\u064a\u0660-\u0669\u0671-\u06d3\u06f0-\u06f9"
_MENTION_RE = re.compile(rf"(?<![\w@.])@([{_USERNAME_CHARS}]{{3,30}})(?![{_USERNAME_CHARS}])")


def normalize_text(raw: str) -> str:
    """NFC form with surrounding whitespace removed and line endings made ``\\n``.

    Lengths are counted on this form, so composed and decomposed input count alike.
    """
    return unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n")).strip()


def normalize_hashtag(tag: str) -> str:
    """The canonical form of a hashtag (no ``#``): NFKC, case-folded, Arabic marks removed."""
    tag = unicodedata.normalize("NFKC", tag.lstrip("#\uff03"))
    return _MARKS_RE.sub("", tag).casefold()


def extract_hashtags(text: str) -> list[str]:
    """Distinct normalised hashtags in order of first appearance.

    A tag needs at least one letter (``#2024`` is not a tag), is cut at
    ``MAX_HASHTAG_CHARS`` and at most ``MAX_HASHTAGS`` are kept.
    """
    found: list[str] = []
    seen: set[str] = set()
    for match in _HASHTAG_RE.finditer(text):
        tag = normalize_hashtag(match.group(1))[:MAX_HASHTAG_CHARS]
        if not tag or not any(ch.isalpha() for ch in tag) or tag in seen:
            continue
        seen.add(tag)
        found.append(tag)
        if len(found) >= MAX_HASHTAGS:
            break
    return found


def username_key(username: str) -> str:
    """The case-insensitive key identity enforces username uniqueness on."""
    return unicodedata.normalize("NFC", username.strip()).casefold()


def extract_mention_keys(text: str) -> list[str]:
    """Distinct username keys mentioned as ``@name``, in order of first appearance.

    E-mail addresses (``a@b.com``) are not mentions; at most ``MAX_MENTIONS`` are kept.
    """
    found: list[str] = []
    seen: set[str] = set()
    for match in _MENTION_RE.finditer(text):
        key = username_key(match.group(1))
        if key in seen:
            continue
        seen.add(key)
        found.append(key)
        if len(found) >= MAX_MENTIONS:
            break
    return found
