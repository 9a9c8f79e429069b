"""Event contracts of the platform.

CloudEvents 1.0 over Kafka (binary mode), one JSON Schema (draft 2020-12) per event
type, shared sample events, and Python models. The schemas folder is the source of
truth; everything here is derived from it. See docs/events.md.

Typical use::

    from contracts import UserRegistered, validate, topic_for

    validate("identity.user.registered", data)        # raises ContractError
    topic_for("identity.user.registered")             # "identity.user.v1"
"""

from __future__ import annotations

from typing import Any

from contracts.compat import check_compatible, check_released
from contracts.envelope import (
    CONTENT_TYPE,
    REQUIRED_HEADERS,
    SPECVERSION,
    build_headers,
    key_for,
    validate_event,
    validate_headers,
)
from contracts.errors import ContractError
from contracts.models import (
    MODELS,
    BlockCreated,
    BlockRemoved,
    EventData,
    FollowCreated,
    FollowRemoved,
    UserDeleted,
    UserRegistered,
    UserUpdated,
    model_for,
)
from contracts.registry import (
    BASE_URI,
    ENVELOPE_URI,
    EventSpec,
    default_registry,
    load_envelope_schema,
    load_schema,
)
from contracts.vectors import Vector, load_vectors

__all__ = [
    "BASE_URI",
    "CONTENT_TYPE",
    "ENVELOPE_URI",
    "MODELS",
    "REQUIRED_HEADERS",
    "SPECVERSION",
    "TOPICS",
    "BlockCreated",
    "BlockRemoved",
    "ContractError",
    "EventData",
    "EventSpec",
    "FollowCreated",
    "FollowRemoved",
    "UserDeleted",
    "UserRegistered",
    "UserUpdated",
    "Vector",
    "build_headers",
    "check_compatible",
    "check_released",
    "dataschema_uri",
    "event_spec",
    "event_types",
    "key_field",
    "key_for",
    "load_envelope_schema",
    "load_schema",
    "load_vectors",
    "model_for",
    "topic_for",
    "validate",
    "validate_event",
    "validate_headers",
]


def validate(event_type: str, data: Any, version: int | None = None) -> None:
    """Check parsed JSON ``data`` against the schema of ``event_type`` (newest version by default).

    Validators are compiled once and cached. ``data`` must be JSON-shaped (str, not UUID
    or datetime objects): validate what will be, or was, on the wire.

    Raises:
        ContractError: unknown type, or every way ``data`` breaks the schema, with paths.
    """
    default_registry().validate(event_type, data, version)


def event_spec(event_type: str, version: int | None = None) -> EventSpec:
    """Everything known about ``event_type``: topic, key field, source, data schema URI.

    Raises:
        ContractError: unknown type.
    """
    return default_registry().spec(event_type, version)


def dataschema_uri(event_type: str, version: int | None = None) -> str:
    """The ``ce_dataschema`` value (and schema ``$id``) of ``event_type``.

    Raises:
        ContractError: unknown type.
    """
    return event_spec(event_type, version).dataschema


def topic_for(event_type: str, version: int | None = None) -> str:
    """The Kafka topic ``event_type`` is published on, e.g. ``identity.user.v1``.

    Raises:
        ContractError: unknown type.
    """
    return event_spec(event_type, version).topic


def key_field(event_type: str, version: int | None = None) -> str:
    """The data field whose value is the record key and ``ce_subject``.

    Raises:
        ContractError: unknown type.
    """
    return event_spec(event_type, version).key_field


def event_types() -> list[str]:
    """Every known event type, sorted."""
    return default_registry().event_types()


#: Topic -> event types on it (both sorted). A snapshot: the registry does not read it.
TOPICS: dict[str, list[str]] = default_registry().topic_map()
