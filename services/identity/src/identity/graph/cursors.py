"""Cursor payloads of the follower/following lists (signed by kit.pagination)."""

from __future__ import annotations

import uuid
from datetime import datetime

from kit.errors import BadRequest
from kit.pagination import decode_cursor, encode_cursor


def encode_position(created_at: datetime, user_id: uuid.UUID) -> str:
    """An opaque cursor pointing just after (``created_at``, ``user_id``)."""
    return encode_cursor({"t": created_at.isoformat(), "u": str(user_id)})


def decode_position(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a cursor points after; 400 when it is tampered with or malformed."""
    payload = decode_cursor(cursor)
    try:
        moment = datetime.fromisoformat(str(payload["t"]))
        user_id = uuid.UUID(str(payload["u"]))
    except (KeyError, ValueError):
        raise BadRequest("The cursor is invalid or was altered.", title="Invalid cursor") from None
    if moment.tzinfo is None:
        raise BadRequest("The cursor is invalid or was altered.", title="Invalid cursor")
    return moment, user_id
