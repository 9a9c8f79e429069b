from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from content.cursors import decode_offset, decode_position, encode_offset, encode_position
from content.timelines.hot import DECAY_SECONDS, hot_score
from kit.errors import BadRequest
from kit.pagination import encode_cursor


def test_position_cursor_round_trips():
    at, pid = datetime(2025, 11, 22, 17, 45, 3, 123456, tzinfo=UTC), uuid.uuid4()
    assert decode_position("home", encode_position("home", at, pid)) == (at, pid)
    assert decode_position("home", None) is None


def test_tampered_cursor_is_a_bad_request():
    cursor = encode_position("home", datetime.now(UTC), uuid.uuid4())
    body, sig = cursor.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + sig
    for bad in (forged, cursor + "x", "garbage", "a.b"):
        with pytest.raises(BadRequest):
            decode_position("home", bad)


def test_a_cursor_of_another_list_or_with_bad_fields_is_rejected():
    cursor = encode_position("user", datetime.now(UTC), uuid.uuid4())
    with pytest.raises(BadRequest):
        decode_position("home", cursor)
    with pytest.raises(BadRequest):
        decode_position("home", encode_cursor({"k": "home", "t": "yesterday", "i": "x"}))
    with pytest.raises(BadRequest):
        decode_position(
            "home", encode_cursor({"k": "home", "t": "2025-01-01T00:00:00", "i": str(uuid.uuid4())})
        )


def test_offset_cursor_round_trips_and_rejects_negative_offsets():
    assert decode_offset("home-hot", encode_offset("home-hot", 20, 1.5)) == (20, 1.5)
    with pytest.raises(BadRequest):
        decode_offset("home-hot", encode_cursor({"k": "home-hot", "o": -1, "s": 1.0}))
    with pytest.raises(BadRequest):
        decode_offset("home-hot", encode_cursor({"k": "home-hot", "o": True, "s": 1.0}))


def test_hot_score_grows_with_engagement_and_recency():
    now = datetime(2025, 11, 22, tzinfo=UTC)
    quiet = hot_score(now, {}, 0)
    liked = hot_score(now, {"like": 9}, 0)
    discussed = hot_score(now, {}, 3)
    assert liked > quiet and discussed > quiet
    assert hot_score(now + timedelta(hours=1), {}, 0) > quiet


def test_ten_times_the_engagement_is_worth_the_decay_period():
    now = datetime(2025, 11, 22, tzinfo=UTC)
    older_popular = hot_score(now, {"like": 99}, 0)  # log10(100) = 2
    newer_quiet = hot_score(now + timedelta(seconds=2 * DECAY_SECONDS), {}, 0)
    assert older_popular == pytest.approx(newer_quiet)


def test_negative_counts_do_not_lower_the_score():
    now = datetime(2025, 11, 22, tzinfo=UTC)
    assert hot_score(now, {"like": -5}, -2, -100) == hot_score(now, {}, 0)
