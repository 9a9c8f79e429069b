"""HTTP range requests (RFC 9110 §14) for serving media: one byte range per request.

Video players seek with ``Range: bytes=<first>-<last>``. A single satisfiable range is
answered with 206 and ``Content-Range``; a range past the end with 416; anything this
module does not serve (several ranges, other units, malformed values) is ignored, as
the RFC allows, and the whole object is sent with 200.
"""

from __future__ import annotations

from dataclasses import dataclass


class RangeNotSatisfiable(Exception):
    """The request's only range starts past the end of the object (answer 416)."""


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``first`` to ``last`` inclusive, as ``Content-Range`` counts them."""

    first: int
    last: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.first}-{self.last}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range ``header`` asks of an object of ``size`` bytes, or None for all.

    Raises :class:`RangeNotSatisfiable` when the range cannot overlap the object.
    """
    if header is None:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_s, dash, last_s = spec.strip().partition("-")
    first_s, last_s = first_s.strip(), last_s.strip()
    if not dash or not (first_s or last_s):
        return None
    if not all(part.isdigit() for part in (first_s, last_s) if part):
        return None
    if not first_s:  # a suffix: the last N bytes
        suffix = int(last_s)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(0, size - suffix), size - 1)
    first = int(first_s)
    if last_s and int(last_s) < first:
        return None
    if first >= size:
        raise RangeNotSatisfiable
    last = int(last_s) if last_s else size - 1
    return ByteRange(first, min(last, size - 1))
