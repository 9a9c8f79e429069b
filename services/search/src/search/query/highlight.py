"""Highlights on the original text, from the tokens Typesense matched in the normalised copy.

Queries run against the normalised fields, so Typesense's own snippets show normalised
words (no diacritics, unified letters). Clients should see what the author wrote: each
word of the original whose search form is a matched token (or, for the prefix-matched
last query word, starts with one) is wrapped in ``<mark>``. The rest is HTML-escaped,
so a highlight is safe to render as HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import lru_cache

from search.arabic import search_token as _search_token

_WORDS = re.compile(r"(\s+)")
# Pages repeat words (the query's, common ones): normalising each distinct word once
# per process saves most of the highlighting time. Bounded, so memory stays flat.
search_token = lru_cache(maxsize=65_536)(_search_token)
MARK_OPEN = "<mark>"
MARK_CLOSE = "</mark>"


def _flatten(tokens: Iterable[object]) -> set[str]:
    found: set[str] = set()
    for token in tokens:
        if isinstance(token, list | tuple):
            found |= _flatten(token)
        elif isinstance(token, str):
            norm = search_token(token)
            if norm:
                found.add(norm)
    return found


def highlight(
    original: str, matched_tokens: Iterable[object], *, max_words: int | None = None
) -> str | None:
    """``original`` HTML-escaped with matched words in ``<mark>``; None when nothing matched.

    With ``max_words``, a long text is cut to a window of that many words around the
    first match, with ``…`` where text was left out.
    """
    wanted = _flatten(matched_tokens)
    if not wanted or not original:
        return None
    pieces = _WORDS.split(original)
    words = pieces[0::2]
    marked: list[bool] = []
    for word in words:
        norm = search_token(word)
        marked.append(bool(norm) and any(norm == t or norm.startswith(t) for t in wanted))
    if not any(marked):
        return None
    start, end = 0, len(words)
    if max_words is not None and len(words) > max_words:
        first = marked.index(True)
        start = max(0, first - max_words // 3)
        end = min(len(words), start + max_words)
        start = max(0, end - max_words)
    # Only the words shown are escaped and marked.
    out = []
    for w in range(start, end):
        if w > start:
            out.append(pieces[2 * w - 1])
        escaped = html.escape(words[w], quote=False)
        out.append(f"{MARK_OPEN}{escaped}{MARK_CLOSE}" if marked[w] else escaped)
    window = "".join(out)
    return ("… " if start > 0 else "") + window + (" …" if end < len(words) else "")
