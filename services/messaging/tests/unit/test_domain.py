"""Plain domain rules: pair order, token hashing, preferences, batching, retry timing."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from messaging.calls.tokens import hash_token, new_join_token
from messaging.conversations.pairs import ordered_pair
from messaging.digests.schedule import retry_delay
from messaging.notifications.batching import (
    BatchCandidate,
    can_coalesce,
    merge_actors,
    summarize,
)
from messaging.notifications.preferences import (
    check_choice,
    effective_preferences,
    email_types,
    resolve_channel,
)

A = uuid.UUID("0193f5a0-6b7c-7d2e-9f10-2a3b4c5d6e7f")
B = uuid.UUID("0193f5a0-9c8d-7e6f-a5b4-c3d2e1f0a9b8")
NOW = datetime(2025, 11, 22, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_ordered_pair_is_the_same_whichever_way_round() -> None:
    assert ordered_pair(A, B) == ordered_pair(B, A) == (A, B)
    low, high = ordered_pair(B, A)
    assert low.int < high.int
    # PostgreSQL orders uuid bytewise, which is the order of the bytes as written.
    assert low.bytes < high.bytes


def test_ordered_pair_refuses_a_user_with_themselves() -> None:
    with pytest.raises(ValueError):
        ordered_pair(A, A)


def test_join_token_hash_is_hex_sha256_of_the_token_text() -> None:
    token, digest = new_join_token()
    assert digest == hashlib.sha256(token.encode()).hexdigest() == hash_token(token)
    assert len(digest) == 64 and digest == digest.lower()
    assert token not in digest and len(token) >= 43


def test_join_tokens_do_not_repeat() -> None:
    assert len({new_join_token()[0] for _ in range(200)}) == 200


def test_preferences_default_to_in_app_and_resolve_stored_choices() -> None:
    assert resolve_channel({}, "reaction") == "in_app"
    assert resolve_channel({"reaction": "off"}, "reaction") == "off"
    assert resolve_channel({"reaction": "email"}, "reaction") == "email"
    assert resolve_channel({"reaction": "carrier-pigeon"}, "reaction") == "in_app"
    # A mandatory type stored as off (data older than the rule) still arrives.
    assert resolve_channel({"moderation": "off"}, "moderation") == "in_app"
    prefs = effective_preferences({"follow": "email", "message": "off"})
    assert prefs["follow"] == "email" and prefs["message"] == "off"
    assert prefs["comment"] == "in_app" and len(prefs) == 7
    assert email_types({"follow": "email", "mention": "email", "reply": "off"}) == [
        "follow",
        "mention",
    ]


def test_preference_choices_are_checked() -> None:
    assert check_choice("reaction", "email") is None
    assert check_choice("likes", "email") is not None
    assert check_choice("reaction", "sms") is not None
    assert "cannot be turned off" in (check_choice("moderation", "off") or "")


def test_unread_recent_notification_of_the_batch_coalesces() -> None:
    fresh = BatchCandidate(created_at=NOW - timedelta(minutes=5), read=False)
    assert can_coalesce("reaction", fresh, NOW, HOUR)
    assert not can_coalesce("reaction", None, NOW, HOUR)


def test_read_or_old_notifications_and_moderation_start_a_new_one() -> None:
    read = BatchCandidate(created_at=NOW - timedelta(minutes=5), read=True)
    old = BatchCandidate(created_at=NOW - HOUR, read=False)
    fresh = BatchCandidate(created_at=NOW - timedelta(minutes=5), read=False)
    assert not can_coalesce("reaction", read, NOW, HOUR)
    assert not can_coalesce("reaction", old, NOW, HOUR)
    assert not can_coalesce("moderation", fresh, NOW, HOUR)


def test_merge_actors_puts_the_latest_first_without_duplicates_and_caps() -> None:
    actors = [uuid.UUID(int=i) for i in range(1, 4)]
    assert merge_actors(actors, actors[2], 10) == [actors[2], actors[0], actors[1]]
    many: list[uuid.UUID] = []
    for i in range(1, 51):
        many = merge_actors(many, uuid.UUID(int=i), 10)
    assert many == [uuid.UUID(int=i) for i in range(50, 40, -1)]
    assert merge_actors(actors, None, 2) == actors[:2]


def test_summaries_name_the_latest_actor_and_count_the_others() -> None:
    assert summarize("reaction", ["ليلى"], 1, "post") == "ليلى تفاعل مع منشورك"
    assert summarize("reaction", ["ليلى"], 50, "post") == "ليلى و49 آخرون تفاعلوا مع منشورك"
    assert summarize("reaction", ["ليلى"], 2, "comment") == "ليلى وشخص آخر تفاعلوا مع تعليقك"
    assert summarize("follow", [], 1, None).endswith("بدأ بمتابعتك")
    assert summarize("message", ["عمر"], 1, "conversation") == "رسالة جديدة من عمر"
    assert "تحذير" in summarize("moderation", [], 0, None, detail="تحذير")


def test_retry_delay_doubles_up_to_the_maximum() -> None:
    delays = [retry_delay(n, initial_s=30, max_s=600).total_seconds() for n in range(1, 8)]
    assert delays == [30, 60, 120, 240, 480, 600, 600]
    assert retry_delay(0, initial_s=30, max_s=600) == timedelta(0)
    assert retry_delay(10_000, initial_s=30, max_s=600) == timedelta(seconds=600)
