"""Arabic-aware text normalisation, applied identically at index and at query time.

The same function runs on every text field before it is indexed (into a ``*_norm``
copy) and on every query before it is sent, so spelling variants that readers treat as
the same word meet in the index:

* tashkeel and Quranic marks are removed (U+0610–U+061A, U+064B–U+065F, U+0670,
  U+06D6–U+06ED), and the tatweel/kashida U+0640;
* alef forms أ إ آ ٱ become ا; ى (alef maqsura) becomes ي; ة (ta marbuta) becomes ه;
  ؤ becomes و and ئ becomes ي; a lone hamza ء is kept;
* Arabic-Indic (U+0660–U+0669) and Extended Arabic-Indic (U+06F0–U+06F9) digits become
  ASCII digits;
* Latin text is case-folded, Unicode compatibility forms are folded (NFKC, which also
  expands Arabic presentation forms), and whitespace runs collapse to one space.

Every input character maps to at most one output character, except NFKC expansions of
presentation forms and ligatures. :func:`normalise_token` is what highlighting uses to
compare an original word with the indexed one.

:func:`search_form` goes one step further for matching: it also removes the definite
article and the particles fused with it (ال، وال، بال، كال، فال، لل) when at least
three letters remain, so "المدرسة", "والمدرسة", "للمدرسة" and "مدرسة" all meet. Short
words keep their letters ("الله", "والد", "بالغ"), since what would remain is too short
to be the stem.
"""

# ruff: noqa: RUF001, RUF002  (Arabic letters are the point of this module)
from __future__ import annotations

import re
import unicodedata

_DIACRITIC_RANGES = (
    (0x0610, 0x061A),
    (0x064B, 0x065F),
    (0x0670, 0x0670),
    (0x06D6, 0x06ED),
    (0x0640, 0x0640),  # tatweel
)

_TRANSLATION: dict[int, str | None] = {}
for _start, _end in _DIACRITIC_RANGES:
    for _cp in range(_start, _end + 1):
        _TRANSLATION[_cp] = None
_TRANSLATION.update(
    {
        ord("أ"): "ا",
        ord("إ"): "ا",
        ord("آ"): "ا",
        ord("ٱ"): "ا",
        ord("ى"): "ي",
        ord("ة"): "ه",
        ord("ؤ"): "و",
        ord("ئ"): "ي",
    }
)
for _i in range(10):
    _TRANSLATION[0x0660 + _i] = str(_i)
    _TRANSLATION[0x06F0 + _i] = str(_i)

_WHITESPACE = re.compile(r"\s+")
# Characters that never belong to a word: used to trim tokens for highlight matching.
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$", re.UNICODE)


def normalise(text: str | None) -> str:
    """The normalised form of ``text`` (empty string for None). Pure and idempotent."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", text)
    mapped = folded.translate(_TRANSLATION).casefold()
    return _WHITESPACE.sub(" ", mapped).strip()


def normalise_token(token: str) -> str:
    """A single word normalised and stripped of leading/trailing punctuation."""
    return _EDGE_PUNCT.sub("", normalise(token))


def normalise_all(values: list[str] | None) -> list[str]:
    """Each of ``values`` normalised; empty results dropped, order and duplicates kept out."""
    seen: dict[str, None] = {}
    for value in values or []:
        norm = normalise(value).lstrip("#")
        if norm:
            seen.setdefault(norm, None)
    return list(seen)


_ARTICLES = ("وال", "بال", "كال", "فال", "ال", "لل")
_MIN_STEM = 3


def strip_article(token: str) -> str:
    """``token`` (already normalised) without a leading definite article / fused particle."""
    for article in _ARTICLES:
        if token.startswith(article) and len(token) - len(article) >= _MIN_STEM:
            return token[len(article) :]
    return token


def search_form(text: str | None) -> str:
    """The form text is indexed and queried in: normalised, articles removed per word."""
    return " ".join(strip_article(t) for t in normalise(text).split(" ") if t)


def search_token(token: str) -> str:
    """One word in :func:`search_form`, edge punctuation removed (highlight matching)."""
    return strip_article(normalise_token(token))
