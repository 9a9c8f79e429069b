"""Cursor pagination: opaque, signed cursors and the ``{items, next_cursor}`` page.

A cursor is ``base64url(json(payload)) "." base64url(hmac_sha256(secret, body))``. A
cursor that was altered, truncated or signed with another secret is a 400 problem.
The secret is ``settings.cursor_secret`` (``create_app`` configures it), or pass one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel

from kit.errors import BadRequest
from kit.settings import DEV_CURSOR_SECRET

T = TypeVar("T")

_secret: dict[str, bytes] = {"key": DEV_CURSOR_SECRET.encode()}

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def configure_cursor_secret(secret: str | bytes) -> None:
    """Set the process-wide key used when ``encode_cursor``/``decode_cursor`` get none."""
    _secret["key"] = secret.encode() if isinstance(secret, str) else secret


def _key(secret: str | bytes | None) -> bytes:
    if secret is None:
        return _secret["key"]
    return secret.encode() if isinstance(secret, str) else secret


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(payload: dict[str, Any], *, secret: str | bytes | None = None) -> str:
    """An opaque cursor carrying ``payload`` (JSON-serialisable: str, int, UUID, datetime...)."""
    body = _b64(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))
    sig = _b64(hmac.new(_key(secret), body.encode(), hashlib.sha256).digest())
    return f"{body}.{sig}"


def decode_cursor(cursor: str, *, secret: str | bytes | None = None) -> dict[str, Any]:
    """The payload of a cursor made by :func:`encode_cursor`; :class:`BadRequest` if invalid.

    UUIDs and datetimes come back as strings.
    """
    invalid = BadRequest("The cursor is invalid or was altered.", title="Invalid cursor")
    body, dot, sig = cursor.partition(".")
    if not dot or not body or not sig or len(cursor) > 4096:
        raise invalid
    expected = _b64(hmac.new(_key(secret), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, sig):
        raise invalid
    try:
        payload = orjson.loads(_unb64(body))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise invalid from None
    if not isinstance(payload, dict):
        raise invalid
    return payload


#: A keyset position: just after the item with this (timestamp, id).
Position = tuple[datetime, uuid.UUID]


def encode_position(moment: datetime, item_id: uuid.UUID, *, kind: str = "") -> str:
    """A cursor pointing just after (``moment``, ``item_id``) in a list sorted by both;
    ``kind`` names the list, so a cursor of one list is refused by another."""
    payload: dict[str, Any] = {"t": moment.isoformat(), "i": str(item_id)}
    if kind:
        payload["k"] = kind
    return encode_cursor(payload)


def decode_position(cursor: str | None, *, kind: str = "") -> Position | None:
    """The position a cursor made by :func:`encode_position` points after; None for no
    cursor; :class:`BadRequest` when it was altered, is malformed or is another list's."""
    if cursor is None:
        return None
    invalid = BadRequest("The cursor is invalid or was altered.", title="Invalid cursor")
    payload = decode_cursor(cursor)
    if payload.get("k", "") != kind:
        raise invalid
    try:
        moment = datetime.fromisoformat(str(payload["t"]))
        item_id = uuid.UUID(str(payload["i"]))
    except (KeyError, ValueError):
        raise invalid from None
    if moment.tzinfo is None:
        raise invalid
    return moment, item_id


class Page(BaseModel, Generic[T]):
    """One page of a list: its items and the cursor of the next page (None at the end)."""

    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    """``?cursor=&limit=`` query parameters."""

    cursor: str | None = None
    limit: int = DEFAULT_LIMIT

    def decoded(self, *, secret: str | bytes | None = None) -> dict[str, Any] | None:
        """The cursor's payload, None on the first page; :class:`BadRequest` if tampered."""
        return decode_cursor(self.cursor, secret=secret) if self.cursor else None


async def page_params(
    cursor: Annotated[str | None, Query(max_length=4096, description="Opaque cursor")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
) -> PageParams:
    return PageParams(cursor=cursor, limit=limit)


Pagination = Annotated[PageParams, Depends(page_params)]
