"""The CloudEvents 1.0 envelope in Kafka binary mode: headers, key, and whole records."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from contracts.errors import ContractError
from contracts.registry import default_registry, describe_errors, envelope_validator

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
REQUIRED_HEADERS = (
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_time",
    "ce_subject",
    "ce_dataschema",
    "content-type",
)

HeadersIn = Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes | None]]


def decode_headers(headers: HeadersIn) -> dict[str, str]:
    """Kafka headers (a mapping, or ``(name, bytes)`` pairs as clients return them) as strings.

    Raises:
        ContractError: a value is not UTF-8, is missing, or a header name repeats.
    """
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    errors: list[str] = []
    for name, value in pairs:
        if name in out:
            errors.append(f"headers.{name}: appears more than once")
            continue
        if isinstance(value, bytes | bytearray):
            try:
                out[name] = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                errors.append(f"headers.{name}: value is not UTF-8")
        elif isinstance(value, str):
            out[name] = value
        else:
            errors.append(f"headers.{name}: value must be a string, got {type(value).__name__}")
    if errors:
        raise ContractError("event headers are invalid", errors)
    return out


def validate_headers(headers: HeadersIn) -> dict[str, str]:
    """Check the header set against ``envelope.json`` and return it decoded.

    This checks the envelope alone; :func:`validate_event` also checks the headers
    against the registry (known type, matching data schema, source and subject).

    Raises:
        ContractError: missing or malformed headers; ``errors`` names each one.
    """
    decoded = decode_headers(headers)
    errors = describe_errors(envelope_validator(), decoded, prefix="headers")
    if errors:
        raise ContractError("event headers are invalid", errors)
    return decoded


def build_headers(
    event_type: str,
    *,
    event_id: str,
    subject: str,
    time: datetime | None = None,
    traceparent: str | None = None,
    version: int | None = None,
) -> dict[str, str]:
    """The complete CloudEvents header set for one event of ``event_type``.

    ``time`` defaults to now (UTC) and must be timezone-aware; ``event_id`` must be a
    lowercase UUIDv7 string. The result is checked against ``envelope.json``.

    Raises:
        ContractError: unknown type, naive ``time``, or a value the envelope rejects.
    """
    spec = default_registry().spec(event_type, version)
    when = time or datetime.now(UTC)
    if when.tzinfo is None:
        raise ContractError("ce_time must be timezone-aware", event_type=event_type)
    headers = {
        "ce_specversion": SPECVERSION,
        "ce_id": event_id,
        "ce_source": spec.source,
        "ce_type": spec.event_type,
        "ce_time": when.isoformat().replace("+00:00", "Z"),
        "ce_subject": subject,
        "ce_dataschema": spec.dataschema,
        "content-type": CONTENT_TYPE,
    }
    if traceparent:
        headers["traceparent"] = traceparent
    return validate_headers(headers)


def key_for(event_type: str, data: Mapping[str, Any], version: int | None = None) -> str:
    """The Kafka record key (and ``ce_subject``) of an event: its aggregate id from ``data``.

    Raises:
        ContractError: unknown type, or the key field is missing or not a string.
    """
    spec = default_registry().spec(event_type, version)
    key = data.get(spec.key_field)
    if not isinstance(key, str) or not key:
        raise ContractError(
            f"{event_type} data has no key",
            [f"$.{spec.key_field}: must be a non-empty string"],
            event_type=event_type,
        )
    return key


def _as_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def validate_event(event: Mapping[str, Any]) -> None:
    """Check a whole Kafka record ``{"topic", "key", "headers", "data"}`` against the contract.

    ``headers`` may be a mapping or ``(name, bytes)`` pairs; ``key`` may be bytes;
    ``data`` may be the parsed value or the raw JSON value (str or bytes). Checks, and
    reports together: the envelope schema; that ``ce_type`` is known and
    ``ce_dataschema`` names one of its schema versions; that ``ce_source`` is the
    producing context; that the topic is the type's topic; that the key equals
    ``ce_subject`` and the data's key field; and the data against its schema.

    Raises:
        ContractError: anything above fails; ``errors`` lists every problem.
    """
    errors: list[str] = []
    for field in ("topic", "key", "headers", "data"):
        if field not in event:
            errors.append(f"{field}: missing")
    if errors:
        raise ContractError("event is invalid", errors)

    try:
        headers = decode_headers(event["headers"])
    except ContractError as exc:
        raise ContractError("event is invalid", exc.errors) from exc
    except (TypeError, ValueError, AttributeError):
        raise ContractError("event is invalid", ["headers: must be an object of strings"]) from None
    errors += describe_errors(envelope_validator(), headers, prefix="headers")

    data: Any = event["data"]
    if isinstance(data, str | bytes | bytearray):
        try:
            data = json.loads(data)
        except ValueError as exc:
            errors.append(f"data: not valid JSON ({exc})")
            raise ContractError("event is invalid", errors) from None

    key = _as_text(event["key"])
    if key is None:
        errors.append("key: must be a UTF-8 string")
    topic = event["topic"]

    registry = default_registry()
    event_type = headers.get("ce_type")
    spec = None
    if isinstance(event_type, str):
        uri = headers.get("ce_dataschema", "")
        spec = registry.spec_for_dataschema(uri)
        if spec is None or spec.event_type != event_type:
            try:
                latest = registry.spec(event_type)
            except ContractError:
                errors.append(f"headers.ce_type: unknown event type {event_type!r}")
                spec = None
            else:
                errors.append(
                    f"headers.ce_dataschema: {uri!r} is not a schema of {event_type} "
                    f"(current: {latest.dataschema!r})"
                )
                spec = latest
    if spec is not None:
        if headers.get("ce_source") != spec.source:
            errors.append(
                f"headers.ce_source: {headers.get('ce_source')!r} does not produce "
                f"{spec.event_type} (expected {spec.source!r})"
            )
        if topic != spec.topic:
            errors.append(f"topic: {spec.event_type} belongs on {spec.topic!r}, not {topic!r}")
        subject = headers.get("ce_subject")
        if key is not None and subject is not None and key != subject:
            errors.append(f"key: {key!r} differs from ce_subject {subject!r}")
        if isinstance(data, Mapping) and key is not None:
            expected = data.get(spec.key_field)
            if expected is not None and key != expected:
                errors.append(f"key: {key!r} differs from data.{spec.key_field} {expected!r}")
        errors += describe_errors(registry.validator(spec), data, prefix="data")
    if errors:
        raise ContractError(
            "event is invalid",
            errors,
            event_type=event_type if isinstance(event_type, str) else None,
        )
