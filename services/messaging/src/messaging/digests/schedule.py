"""Retry timing of digest emails."""

from __future__ import annotations

from datetime import timedelta


def retry_delay(attempts: int, *, initial_s: float, max_s: float) -> timedelta:
    """How long to wait after the ``attempts``-th failed send: ``initial_s`` doubling
    each time, never more than ``max_s``."""
    if attempts < 1:
        return timedelta(0)
    exponent = min(attempts - 1, 30)
    return timedelta(seconds=min(initial_s * (2**exponent), max_s))
