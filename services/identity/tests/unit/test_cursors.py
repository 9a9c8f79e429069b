import uuid
from datetime import UTC, datetime

import pytest
from identity.graph.cursors import decode_position, encode_position
from kit.errors import BadRequest
from kit.pagination import encode_cursor

AT = datetime(2026, 5, 1, 10, 30, 15, 123456, tzinfo=UTC)
WHO = uuid.UUID("01890000-0000-7000-8000-000000000001")


def test_position_round_trips_with_microseconds_and_timezone() -> None:
    assert decode_position(encode_position(AT, WHO)) == (AT, WHO)


def test_tampered_cursor_is_400() -> None:
    cursor = encode_position(AT, WHO)
    body, sig = cursor.split(".")
    with pytest.raises(BadRequest):
        decode_position(f"{body}x.{sig}")
    with pytest.raises(BadRequest):
        decode_position("garbage")


def test_signed_cursor_with_wrong_shape_is_400() -> None:
    with pytest.raises(BadRequest):
        decode_position(encode_cursor({"t": "yesterday", "u": str(WHO)}))
    with pytest.raises(BadRequest):
        decode_position(encode_cursor({"t": "2026-05-01T10:30:15", "u": str(WHO)}))
    with pytest.raises(BadRequest):
        decode_position(encode_cursor({"u": str(WHO)}))
