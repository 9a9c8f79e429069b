"""CloudEvents 1.0 over Kafka, binary content mode.

The Kafka message key is the subject (the aggregate id), the value is the event's data as
JSON, and the attributes travel as headers: ``ce_specversion``, ``ce_id``, ``ce_source``,
``ce_type``, ``ce_time``, ``ce_subject``, ``ce_dataschema``, ``content-type`` and the W3C
``traceparent``. Data is validated against the event type's schema in ``contracts``.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, NamedTuple, Protocol

import orjson

from kit.ids import uuid7

log = logging.getLogger("kit.events")

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
REQUIRED_HEADERS = ("ce_specversion", "ce_id", "ce_source", "ce_type")
_KNOWN_ATTRIBUTES = ("specversion", "id", "source", "type", "time", "subject", "dataschema")


class EventDecodeError(ValueError):
    """A Kafka record is not a well-formed binary-mode CloudEvent with JSON data."""


class KafkaMessage(NamedTuple):
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


class KafkaRecordLike(Protocol):
    key: bytes | None
    value: bytes | None
    headers: Any


def _contracts() -> ModuleType | None:
    try:
        return importlib.import_module("contracts")
    except ImportError:
        return None


class ContractUnavailable(RuntimeError):
    """The ``contracts`` package offers no such function."""


def _contract_fn(name: str) -> Any:
    module = _contracts()
    fn = getattr(module, name, None) if module is not None else None
    if fn is None:
        raise ContractUnavailable(f"contracts.{name} is not available")
    return fn


def contract_error_types() -> tuple[type[BaseException], ...]:
    """The exception type(s) ``contracts.validate`` raises for invalid data."""
    module = _contracts()
    err = getattr(module, "ContractError", None) if module is not None else None
    return (err,) if isinstance(err, type) and issubclass(err, BaseException) else ()


def validate_data(event_type: str, data: Mapping[str, Any]) -> None:
    """Check ``data`` against ``event_type``'s contract schema.

    Raises ``contracts.ContractError`` when invalid (or unknown type), and
    :class:`ContractUnavailable` when the contracts package has no ``validate``.
    """
    _contract_fn("validate")(event_type, dict(data))


def dataschema_uri(event_type: str) -> str | None:
    """The contract schema URI of ``event_type`` (None if contracts cannot say)."""
    tolerated: tuple[type[BaseException], ...] = (ContractUnavailable, *contract_error_types())
    try:
        return str(_contract_fn("dataschema_uri")(event_type))
    except tolerated:
        return None


def topic_for(event_type: str) -> str:
    """The topic ``event_type`` is published on, according to ``contracts``."""
    return str(_contract_fn("topic_for")(event_type))


def _format_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CloudEvent:
    """One event. ``subject`` is the aggregate id and the Kafka key."""

    id: uuid.UUID
    source: str
    type: str
    data: dict[str, Any]
    subject: str | None = None
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    dataschema: str | None = None
    traceparent: str | None = None
    extensions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        *,
        type: str,
        source: str,
        subject: str | None,
        data: Mapping[str, Any],
        dataschema: str | None = None,
        traceparent: str | None = None,
    ) -> CloudEvent:
        """A new event with a UUIDv7 id, the current time and the contract's dataschema."""
        return cls(
            id=uuid7(),
            source=source,
            type=type,
            subject=subject,
            data=dict(data),
            dataschema=dataschema if dataschema is not None else dataschema_uri(type),
            traceparent=traceparent,
        )

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        headers = [
            ("ce_specversion", SPECVERSION.encode()),
            ("ce_id", str(self.id).encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", _format_time(self.time).encode()),
            ("content-type", CONTENT_TYPE.encode()),
        ]
        if self.subject is not None:
            headers.append(("ce_subject", self.subject.encode()))
        if self.dataschema:
            headers.append(("ce_dataschema", self.dataschema.encode()))
        if self.traceparent:
            headers.append(("traceparent", self.traceparent.encode()))
        for name, value in self.extensions.items():
            headers.append((f"ce_{name}", value.encode()))
        return headers

    def to_kafka(self) -> KafkaMessage:
        """Key (subject), value (data as JSON bytes) and ``ce_*`` headers."""
        key = self.subject.encode() if self.subject is not None else None
        return KafkaMessage(key, orjson.dumps(self.data), self.kafka_headers())

    @classmethod
    def from_kafka(cls, record: KafkaRecordLike) -> CloudEvent:
        """Decode a binary-mode record; :class:`EventDecodeError` when it is not one."""
        return cls.from_parts(record.headers or (), record.value)

    @classmethod
    def from_parts(
        cls, headers: Iterable[tuple[str, bytes | None]], value: bytes | None
    ) -> CloudEvent:
        found: dict[str, str] = {}
        try:
            for name, raw in headers:
                if raw is not None:
                    found[name.lower()] = raw.decode("utf-8")
        except (UnicodeDecodeError, ValueError, TypeError, AttributeError):
            raise EventDecodeError("headers are not UTF-8 name/value pairs") from None
        missing = [h for h in REQUIRED_HEADERS if not found.get(h)]
        if missing:
            raise EventDecodeError("missing CloudEvents headers: " + ", ".join(missing))
        if found["ce_specversion"] != SPECVERSION:
            raise EventDecodeError(f"unsupported specversion {found['ce_specversion']!r}")
        content_type = found.get("content-type", CONTENT_TYPE).split(";")[0].strip().lower()
        if content_type != CONTENT_TYPE:
            raise EventDecodeError(f"unsupported content-type {content_type!r}")
        try:
            event_id = uuid.UUID(found["ce_id"])
        except ValueError:
            raise EventDecodeError("ce_id is not a UUID") from None
        try:
            data = orjson.loads(value) if value else None
        except orjson.JSONDecodeError:
            raise EventDecodeError("value is not valid JSON") from None
        if not isinstance(data, dict):
            raise EventDecodeError("event data must be a JSON object")
        try:
            time = _parse_time(found["ce_time"]) if found.get("ce_time") else datetime.now(UTC)
        except ValueError:
            raise EventDecodeError("ce_time is not an RFC 3339 timestamp") from None
        known = {
            f"ce_{n}"
            for n in ("specversion", "id", "source", "type", "time", "subject", "dataschema")
        }
        extensions = {
            name[3:]: v for name, v in found.items() if name.startswith("ce_") and name not in known
        }
        return cls(
            id=event_id,
            source=found["ce_source"],
            type=found["ce_type"],
            data=data,
            subject=found.get("ce_subject"),
            time=time,
            dataschema=found.get("ce_dataschema"),
            traceparent=found.get("traceparent"),
            extensions=extensions,
        )

    def validate(self) -> None:
        """Validate ``data`` against the contract schema (see :func:`validate_data`)."""
        validate_data(self.type, self.data)
