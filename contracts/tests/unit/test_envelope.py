"""Headers, keys and whole records in CloudEvents Kafka binary mode."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

import contracts
from contracts import ContractError, build_headers, key_for, validate_event, validate_headers

USER = "0193f5a0-6b7c-7d2e-9f10-2a3b4c5d6e7f"
OTHER = "0193f5a0-9c8d-7e6f-a5b4-c3d2e1f0a9b8"
EVENT_ID = "0193f5a1-7c2d-7e3f-8a4b-000000000001"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _record():
    data = {"follower_id": USER, "followee_id": OTHER, "created_at": "2025-11-22T17:45:03Z"}
    headers = build_headers(
        "identity.follow.created",
        event_id=EVENT_ID,
        subject=USER,
        time=datetime(2025, 11, 22, 17, 45, 3, tzinfo=UTC),
        traceparent=TRACEPARENT,
    )
    return {"topic": "identity.graph.v1", "key": USER, "headers": headers, "data": data}


def test_build_headers_fills_every_cloudevents_attribute():
    headers = _record()["headers"]
    assert headers == {
        "ce_specversion": "1.0",
        "ce_id": EVENT_ID,
        "ce_source": "identity",
        "ce_type": "identity.follow.created",
        "ce_time": "2025-11-22T17:45:03Z",
        "ce_subject": USER,
        "ce_dataschema": contracts.dataschema_uri("identity.follow.created"),
        "content-type": "application/json",
        "traceparent": TRACEPARENT,
    }
    assert set(contracts.REQUIRED_HEADERS) <= set(headers)


def test_build_headers_keeps_a_non_utc_offset_and_defaults_time_to_now():
    riyadh = timezone(timedelta(hours=3))
    headers = build_headers(
        "identity.user.deleted",
        event_id=EVENT_ID,
        subject=USER,
        time=datetime(2025, 1, 1, 12, 0, tzinfo=riyadh),
    )
    assert headers["ce_time"] == "2025-01-01T12:00:00+03:00"
    assert "traceparent" not in headers
    now = build_headers("identity.user.deleted", event_id=EVENT_ID, subject=USER)["ce_time"]
    assert datetime.fromisoformat(now) > datetime.now(UTC) - timedelta(minutes=1)


def test_build_headers_refuses_naive_time_and_non_v7_ids():
    with pytest.raises(ContractError, match=r"timezone-aware"):
        build_headers(
            "identity.user.deleted", event_id=EVENT_ID, subject=USER, time=datetime(2025, 1, 1)
        )
    with pytest.raises(ContractError, match=r"headers.ce_id"):
        build_headers(
            "identity.user.deleted", event_id="3f1c2b4a-8d7e-4f60-9a1b-2c3d4e5f6a7b", subject=USER
        )


def test_a_complete_record_validates():
    validate_event(_record())


def test_a_record_as_it_comes_off_the_wire_validates():
    record = _record()
    wire = {
        "topic": record["topic"],
        "key": record["key"].encode(),
        "headers": [(k, v.encode()) for k, v in record["headers"].items()],
        "data": json.dumps(record["data"]).encode(),
    }
    validate_event(wire)


def test_validate_headers_decodes_kafka_byte_pairs():
    pairs = [(k, v.encode()) for k, v in _record()["headers"].items()]
    assert validate_headers(pairs)["ce_type"] == "identity.follow.created"


def test_headers_that_are_not_utf8_or_repeat_are_rejected():
    pairs = [(k, v.encode()) for k, v in _record()["headers"].items()]
    with pytest.raises(ContractError, match=r"headers.x-bin: value is not UTF-8"):
        validate_headers([*pairs, ("x-bin", b"\xff\xfe")])
    with pytest.raises(ContractError, match=r"headers.ce_id: appears more than once"):
        validate_headers([*pairs, ("ce_id", EVENT_ID.encode())])
    with pytest.raises(ContractError, match=r"value must be a string"):
        validate_headers({**_record()["headers"], "x-n": 5})


def test_missing_record_fields_are_each_named():
    with pytest.raises(ContractError) as caught:
        validate_event({"headers": {}})
    assert caught.value.errors == ["topic: missing", "key: missing", "data: missing"]


def test_value_that_is_not_json_is_rejected():
    record = _record()
    record["data"] = b"{not json"
    with pytest.raises(ContractError, match=r"data: not valid JSON"):
        validate_event(record)


def test_unknown_type_in_headers_is_rejected():
    record = _record()
    record["headers"]["ce_type"] = "identity.follow.exploded"
    with pytest.raises(ContractError, match=r"unknown event type 'identity.follow.exploded'"):
        validate_event(record)


def test_dataschema_of_another_type_is_rejected():
    record = _record()
    record["headers"]["ce_dataschema"] = contracts.dataschema_uri("identity.block.created")
    with pytest.raises(ContractError, match=r"is not a schema of identity.follow.created"):
        validate_event(record)


def test_header_and_data_problems_are_reported_together():
    record = copy.deepcopy(_record())
    record["headers"]["ce_specversion"] = "0.3"
    record["data"]["created_at"] = "soon"
    with pytest.raises(ContractError) as caught:
        validate_event(record)
    assert caught.value.errors == [
        "headers.ce_specversion: '0.3' should be '1.0'",
        "data.created_at: 'soon' is not a 'date-time'",
    ]


def test_pattern_failures_explain_the_field_instead_of_showing_a_regex():
    record = _record()
    record["headers"]["ce_id"] = "3f1c2b4a-8d7e-4f60-9a1b-2c3d4e5f6a7b"
    with pytest.raises(ContractError, match=r"lowercase UUIDv7"):
        validate_event(record)


def test_key_for_reads_the_aggregate_id_from_the_data():
    assert key_for("identity.follow.created", _record()["data"]) == USER
    assert key_for("identity.block.removed", {"blocker_id": OTHER}) == OTHER
    with pytest.raises(ContractError, match=r"\$.user_id: must be a non-empty string"):
        key_for("identity.user.updated", {"username": "x"})
