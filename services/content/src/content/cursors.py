"""Cursor payloads of content's lists (signed and verified by kit.pagination).

A chronological cursor points just after ``(created_at, id)`` of the last item shown;
a ranked cursor carries the offset into a ranking snapshot. Any cursor that was altered,
is malformed, or belongs to another kind of list is a 400.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from kit import pagination as kit_pagination
from kit.errors import BadRequest
from kit.pagination import Position, decode_cursor, encode_cursor

__all__ = ["Position", "decode_offset", "decode_position", "encode_offset", "encode_position"]


def _invalid() -> BadRequest:
    return BadRequest("The cursor is invalid or was altered.", title="Invalid cursor")


def encode_position(kind: str, created_at: datetime, item_id: uuid.UUID) -> str:
    """A cursor for list ``kind`` pointing just after (``created_at``, ``item_id``)."""
    return kit_pagination.encode_position(created_at, item_id, kind=kind)


def decode_position(kind: str, cursor: str | None) -> Position | None:
    """The position a ``kind`` cursor points after; None for no cursor; 400 if invalid."""
    return kit_pagination.decode_position(cursor, kind=kind)


def encode_offset(kind: str, offset: int, snapshot: float) -> str:
    """A ranked-list cursor: ``offset`` items already shown of the ranking at ``snapshot``."""
    return encode_cursor({"k": kind, "o": offset, "s": snapshot})


def decode_offset(kind: str, cursor: str | None) -> tuple[int, float | None]:
    """(offset, snapshot) of a ranked-list cursor; (0, None) for none; 400 if invalid."""
    if cursor is None:
        return 0, None
    payload = decode_cursor(cursor)
    offset, snapshot = payload.get("o"), payload.get("s")
    if (
        payload.get("k") != kind
        or not isinstance(offset, int)
        or isinstance(offset, bool)
        or offset < 0
        or not isinstance(snapshot, int | float)
    ):
        raise _invalid()
    return offset, float(snapshot)
