import types
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from kit.events import CloudEvent, EventDecodeError, topic_for, validate_data


@dataclass
class Record:
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    key: bytes | None = None


TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def sample() -> CloudEvent:
    return CloudEvent(
        id=uuid.UUID("0191d3a0-0000-7000-8000-000000000001"),
        source="demo",
        type="demo.thing.created",
        subject="thing-1",
        time=datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        dataschema="https://schemas.test/demo.thing.created.json",
        data={"name": "قمر", "n": 1},
        traceparent=TRACEPARENT,
    )


def test_to_kafka_is_binary_mode_with_ce_headers() -> None:
    key, value, headers = sample().to_kafka()
    h = dict(headers)
    assert key == b"thing-1"
    assert orjson.loads(value) == {"name": "قمر", "n": 1}
    assert h["ce_specversion"] == b"1.0"
    assert h["ce_id"] == b"0191d3a0-0000-7000-8000-000000000001"
    assert h["ce_source"] == b"demo"
    assert h["ce_type"] == b"demo.thing.created"
    assert h["ce_time"] == b"2025-01-02T03:04:05.678000Z"
    assert h["ce_subject"] == b"thing-1"
    assert h["ce_dataschema"] == b"https://schemas.test/demo.thing.created.json"
    assert h["content-type"] == b"application/json"
    assert h["traceparent"] == TRACEPARENT.encode()


def test_from_kafka_round_trips() -> None:
    event = sample()
    key, value, headers = event.to_kafka()
    assert CloudEvent.from_kafka(Record(value, headers, key)) == event


def test_unknown_ce_headers_become_extensions() -> None:
    _, value, headers = sample().to_kafka()
    decoded = CloudEvent.from_kafka(Record(value, [*headers, ("ce_partitionkey", b"p")]))
    assert decoded.extensions == {"partitionkey": "p"}


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h, v: ([x for x in h if x[0] != "ce_id"], v), "ce_id"),
        (lambda h, v: ([x for x in h if x[0] != "ce_type"], v), "ce_type"),
        (lambda h, v: ([*h[:-1], ("ce_id", b"not-a-uuid")], v), "UUID"),
        (lambda h, v: (h, b"{not json"), "JSON"),
        (lambda h, v: (h, b"[1, 2]"), "object"),
        (lambda h, v: ([*h, ("content-type", b"application/avro")], v), "content-type"),
        (lambda h, v: ([*h, ("ce_specversion", b"0.3")], v), "specversion"),
    ],
)
def test_malformed_records_raise_decode_error(mutate: Any, reason: str) -> None:
    _, value, headers = sample().to_kafka()
    headers, value = mutate(list(headers), value)
    with pytest.raises(EventDecodeError, match=reason):
        CloudEvent.from_kafka(Record(value, headers))


def test_create_fills_id_time_and_dataschema(fake_contracts: types.ModuleType) -> None:
    event = CloudEvent.create(
        type="demo.thing.created", source="demo", subject="s", data={"name": "x"}
    )
    assert event.id.version == 7
    assert event.dataschema == "https://schemas.test/demo.thing.created.json"
    assert abs((datetime.now(UTC) - event.time).total_seconds()) < 5
    assert topic_for(event.type) == "demo.thing.v1"


def test_validation_uses_contracts(fake_contracts: types.ModuleType) -> None:
    validate_data("demo.thing.created", {"name": "ok"})
    with pytest.raises(fake_contracts.ContractError):
        validate_data("demo.thing.created", {"name": 5})
    with pytest.raises(fake_contracts.ContractError):
        CloudEvent.create(type="demo.other", source="d", subject=None, data={}).validate()


def test_real_contracts_name_topic_and_schema_of_identity_events() -> None:
    import contracts

    if not hasattr(contracts, "topic_for"):
        pytest.skip("contracts package has no registry yet")
    assert topic_for("identity.user.registered") == "identity.user.v1"
    from kit.events import dataschema_uri

    assert dataschema_uri("identity.user.registered")
    assert dataschema_uri("no.such.type") is None
