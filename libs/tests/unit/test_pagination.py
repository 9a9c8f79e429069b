import uuid

import pytest
from kit.errors import BadRequest
from kit.pagination import Page, decode_cursor, encode_cursor


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
