"""The canonical order of a direct conversation's pair of users."""

from __future__ import annotations

import uuid


def ordered_pair(a: uuid.UUID, b: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """``(low, high)`` of two distinct users, the same whichever way round they come.

    The order is the one PostgreSQL uses for ``uuid`` (bytewise, which is the order of the
    128-bit integer), so the database's ``pair_low < pair_high`` check agrees with it.

    Raises:
        ValueError: ``a`` and ``b`` are the same user.
    """
    if a == b:
        raise ValueError("a direct conversation needs two different users")
    return (a, b) if a.int < b.int else (b, a)
