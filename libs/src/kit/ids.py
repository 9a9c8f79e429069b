"""Identifiers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import uuid_utils


def uuid7() -> uuid.UUID:
    """A new time-ordered UUIDv7 (RFC 9562) as a standard :class:`uuid.UUID`."""
    return uuid.UUID(int=uuid_utils.uuid7().int)


def uuid7_time(value: uuid.UUID) -> datetime:
    """The creation time embedded in a UUIDv7 (millisecond precision, UTC)."""
    if value.version != 7:
        raise ValueError("not a UUIDv7")
    millis = value.int >> 80
    return datetime.fromtimestamp(millis / 1000, tz=UTC)
