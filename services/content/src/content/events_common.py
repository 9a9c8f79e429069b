"""Small helpers shared by the features' ``events.py`` modules."""

from __future__ import annotations

from datetime import datetime


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix, as every platform event writes times."""
    return moment.isoformat().replace("+00:00", "Z")


def iso_or_none(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None
