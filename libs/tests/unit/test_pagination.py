import uuid
from datetime import UTC, datetime

import pytest
from kit.errors import BadRequest
from kit.pagination import Page, decode_cursor, decode_position, encode_cursor, encode_position


def test_cursor_round_trips_payload() -> None:
    marker = uuid.uuid4()
    cursor = encode_cursor({"after": marker, "n": 3}, secret="k")
    assert decode_cursor(cursor, secret="k") == {"after": str(marker), "n": 3}


def test_tampered_cursor_is_bad_request() -> None:
    cursor = encode_cursor({"after": 10}, secret="k")
    body, sig = cursor.split(".")
    forged = encode_cursor({"after": 99}, secret="k").split(".")[0] + "." + sig
    with pytest.raises(BadRequest):
        decode_cursor(forged, secret="k")
    with pytest.raises(BadRequest):
        decode_cursor(body + "." + sig[:-2] + "AA", secret="k")


def test_cursor_signed_with_other_secret_is_rejected() -> None:
    with pytest.raises(BadRequest):
        decode_cursor(encode_cursor({"a": 1}, secret="one"), secret="two")


@pytest.mark.parametrize("garbage", ["", "abc", ".", "a.b", "%%%.###", "x" * 5000])
def test_garbage_cursor_is_bad_request(garbage: str) -> None:
    with pytest.raises(BadRequest):
        decode_cursor(garbage, secret="k")


def test_page_serialises_items_and_next_cursor() -> None:
    page = Page[int](items=[1, 2], next_cursor="c")
    assert page.model_dump() == {"items": [1, 2], "next_cursor": "c"}


AT = datetime(2026, 5, 1, 10, 30, 15, 123456, tzinfo=UTC)
WHO = uuid.UUID("01890000-0000-7000-8000-000000000001")


def test_position_round_trips_with_microseconds_and_timezone() -> None:
    assert decode_position(encode_position(AT, WHO)) == (AT, WHO)
    assert decode_position(encode_position(AT, WHO, kind="posts"), kind="posts") == (AT, WHO)
    assert decode_position(None) is None


def test_tampered_position_cursor_is_400() -> None:
    cursor = encode_position(AT, WHO)
    body, sig = cursor.split(".")
    with pytest.raises(BadRequest):
        decode_position(f"{body}x.{sig}")
    with pytest.raises(BadRequest):
        decode_position("garbage")


def test_signed_position_cursor_with_wrong_shape_or_list_is_400() -> None:
    with pytest.raises(BadRequest):
        decode_position(encode_cursor({"t": "yesterday", "i": str(WHO)}))
    with pytest.raises(BadRequest):
        decode_position(encode_cursor({"t": "2026-05-01T10:30:15", "i": str(WHO)}))
    with pytest.raises(BadRequest):
        decode_position(encode_cursor({"i": str(WHO)}))
    with pytest.raises(BadRequest):  # another list's cursor
        decode_position(encode_position(AT, WHO, kind="comments"), kind="posts")
    with pytest.raises(BadRequest):
        decode_position(encode_position(AT, WHO, kind="posts"))
