"""Format assertions used for every schema.

jsonschema only checks ``date-time`` and ``uri`` when optional packages are installed,
so the platform brings its own checkers and the result does not depend on what else is
in the environment. The schemas also carry equivalent ``pattern`` keywords, because
draft 2020-12 treats ``format`` as an annotation by default and other languages'
validators may not assert it.
"""

from __future__ import annotations

import re
from datetime import datetime

from jsonschema import FormatChecker

_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
)
_DATE_TIME = re.compile(
    r"^(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<h>[0-9]{2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2})"
    r"(?P<frac>\.[0-9]+)?(?P<tz>[Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x1f\x7f]+\Z")


def is_uuid(value: object) -> bool:
    """RFC 9562 string form: 8-4-4-4-12 hex digits (either case)."""
    return not isinstance(value, str) or bool(_UUID.match(value))


def is_date_time(value: object) -> bool:
    """RFC 3339 ``date-time``: full date, time, and a mandatory offset or ``Z``."""
    if not isinstance(value, str):
        return True
    match = _DATE_TIME.match(value)
    if not match:
        return False
    tz = match["tz"].upper()
    if tz != "Z":
        hours, minutes = int(tz[1:3]), int(tz[4:6])
        if hours > 23 or minutes > 59:
            return False
    # RFC 3339 allows a leap second (:60); datetime does not, and its exact placement
    # cannot be checked without a leap-second table.
    second = min(int(match["s"]), 59) if match["s"] == "60" else int(match["s"])
    try:
        datetime.fromisoformat(f"{match['date']}T{match['h']}:{match['m']}:{second:02d}")
    except ValueError:
        return False
    return True


def is_uri(value: object) -> bool:
    """An absolute URI (scheme, colon, no whitespace or control characters)."""
    return not isinstance(value, str) or bool(_URI.match(value))


def format_checker() -> FormatChecker:
    """A checker that asserts ``uuid``, ``date-time`` and ``uri`` (and nothing else)."""
    checker = FormatChecker(formats=())
    checker.checks("uuid")(is_uuid)
    checker.checks("date-time")(is_date_time)
    checker.checks("uri")(is_uri)
    return checker
