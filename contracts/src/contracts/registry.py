"""The event registry, derived from the schemas folder and the topic map.

Adding an event type is dropping ``schemas/<context>/<aggregate>.<action>.v<N>.json``
(with ``$id`` = its data schema URI). Adding an aggregate or a topic is one entry in
``schemas/topics.json``. Nothing else is listed by hand, so the Python registry, the
AsyncAPI document and the Go and Rust test suites all read the same files.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from contracts._paths import DataDirs, find_data_dirs
from contracts.errors import ContractError
from contracts.formats import format_checker

BASE_URI = "https://schemas.platform.example/"
ENVELOPE_URI = f"{BASE_URI}envelope/v1.json"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

_SCHEMA_FILE = re.compile(
    r"^(?P<aggregate>[a-z][a-z0-9-]*)\.(?P<action>[a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*)*)"
    r"\.v(?P<major>[1-9][0-9]*)\.json$"
)
_CONTEXT = re.compile(r"^[a-z][a-z0-9-]*$")
_TOPIC = re.compile(r"^(?P<stream>[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)+)\.v(?P<major>[1-9][0-9]*)$")
_MAX_MESSAGE = 240


def dataschema_uri_for(context: str, name: str, major: int) -> str:
    """The data schema URI (and ``$id``) of ``<context>/<name>.v<major>.json``."""
    return f"{BASE_URI}{context}/{name}/v{major}.json"


@dataclass(frozen=True)
class EventSpec:
    """Everything the registry knows about one version of one event type."""

    event_type: str  # "identity.user.registered"
    version: int  # major version: the N in the schema file name and the topic suffix
    topic: str  # "identity.user.v1"
    key_field: str  # data field holding the record key / ce_subject, e.g. "user_id"
    source: str  # ce_source: the producing service, the first segment of the type
    dataschema: str  # ce_dataschema and the schema's $id
    schema_path: Path
    schema: Mapping[str, Any]

    @property
    def aggregate(self) -> str:
        """``<context>.<aggregate>``, e.g. ``identity.user``."""
        return ".".join(self.event_type.split(".")[:2])


@dataclass(frozen=True)
class TopicSpec:
    """One topic of the topic map."""

    name: str
    version: int
    description: str
    keys: Mapping[str, str]  # aggregate ("identity.user") -> key field ("user_id")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ContractError(f"cannot read {path}", [str(exc)]) from exc


def _short(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def describe_errors(validator: Draft202012Validator, instance: Any, prefix: str = "$") -> list[str]:
    """Every schema violation of ``instance`` as ``"<json path>: <message>"``, sorted by path.

    A ``pattern`` failure is left out where the same value already failed its ``format``
    (the two say the same thing about ids and timestamps).
    """
    errors = list(validator.iter_errors(instance))
    format_paths = {tuple(e.absolute_path) for e in errors if e.validator == "format"}
    lines = []
    for err in sorted(errors, key=lambda e: ([str(p) for p in e.absolute_path], str(e.validator))):
        if err.validator == "pattern" and tuple(err.absolute_path) in format_paths:
            continue
        path = prefix + err.json_path[1:]
        message = err.message
        if err.validator == "const":
            message = f"{err.instance!r} should be {err.validator_value!r}"
        elif (
            err.validator == "pattern"
            and isinstance(err.schema, dict)
            and err.schema.get("description")
        ):
            # A bare regex says little to a reader; the field's description says what is meant.
            message = f"{_short(repr(err.instance))} is malformed: {err.schema['description']}"
        lines.append(f"{path}: {_short(message)}")
    return lines


class Registry:
    """Event types, topics and compiled validators loaded from one schemas folder.

    Thread-safe for reading; validators are compiled on first use and cached.
    """

    def __init__(self, schemas_dir: Path, topics: dict[str, TopicSpec], specs: list[EventSpec]):
        self.schemas_dir = schemas_dir
        self.topics = topics
        self._specs = {(s.event_type, s.version): s for s in specs}
        self._by_uri = {s.dataschema: s for s in specs}
        self._latest: dict[str, EventSpec] = {}
        for spec in sorted(specs, key=lambda s: s.version):
            self._latest[spec.event_type] = spec
        self._validators: dict[str, Draft202012Validator] = {}
        self._lock = threading.Lock()

    # -- loading -----------------------------------------------------------------

    @classmethod
    def load(cls, schemas_dir: Path) -> Registry:
        """Build the registry from ``schemas_dir``.

        Raises:
            ContractError: a file is unreadable or misnamed, a ``$id`` does not match its
                path, an event type has no topic, or a topic has no event type.
        """
        topics = cls._load_topics(schemas_dir / "topics.json")
        specs: list[EventSpec] = []
        problems: list[str] = []
        for context_dir in sorted(p for p in schemas_dir.iterdir() if p.is_dir()):
            context = context_dir.name
            if not _CONTEXT.match(context):
                problems.append(f"{context_dir}: folder name is not a context name")
                continue
            for path in sorted(context_dir.glob("*.json")):
                match = _SCHEMA_FILE.match(path.name)
                if not match:
                    problems.append(f"{path}: name is not <aggregate>.<action>.v<N>.json")
                    continue
                major = int(match["major"])
                name = f"{match['aggregate']}.{match['action']}"
                event_type = f"{context}.{name}"
                aggregate = f"{context}.{match['aggregate']}"
                schema = _read_json(path)
                expected = dataschema_uri_for(context, name, major)
                if not isinstance(schema, dict) or schema.get("$id") != expected:
                    got = schema.get("$id") if isinstance(schema, dict) else None
                    problems.append(f"{path}: $id is {got!r}, expected {expected!r}")
                    continue
                owner = [t for t in topics.values() if t.version == major and aggregate in t.keys]
                if len(owner) != 1:
                    problems.append(
                        f"{path}: {len(owner)} topics in topics.json carry aggregate "
                        f"{aggregate!r} at v{major}; exactly one must"
                    )
                    continue
                topic = owner[0]
                specs.append(
                    EventSpec(
                        event_type=event_type,
                        version=major,
                        topic=topic.name,
                        key_field=topic.keys[aggregate],
                        source=context,
                        dataschema=expected,
                        schema_path=path,
                        schema=schema,
                    )
                )
        used = {s.topic for s in specs}
        problems += [
            f"topics.json: topic {t!r} has no event schema" for t in topics if t not in used
        ]
        if problems:
            raise ContractError(f"the schemas in {schemas_dir} are inconsistent", problems)
        return cls(schemas_dir, topics, specs)

    @staticmethod
    def _load_topics(path: Path) -> dict[str, TopicSpec]:
        raw = _read_json(path)
        entries = raw.get("topics") if isinstance(raw, dict) else None
        if not isinstance(entries, dict):
            raise ContractError(f"{path}: expected an object with a 'topics' object")
        topics: dict[str, TopicSpec] = {}
        for name, entry in entries.items():
            match = _TOPIC.match(name)
            aggregates = entry.get("aggregates") if isinstance(entry, dict) else None
            if not match or not isinstance(aggregates, dict) or not aggregates:
                raise ContractError(
                    f"{path}: topic {name!r} needs a <stream>.v<N> name and a non-empty "
                    "'aggregates' object"
                )
            keys: dict[str, str] = {}
            for aggregate, spec in aggregates.items():
                key = spec.get("key") if isinstance(spec, dict) else None
                if not isinstance(key, str) or not key:
                    raise ContractError(f"{path}: {name}.{aggregate} needs a 'key' field name")
                keys[aggregate] = key
            topics[name] = TopicSpec(
                name=name,
                version=int(match["major"]),
                description=str(entry.get("description", "")),
                keys=keys,
            )
        return topics

    # -- lookups -------------------------------------------------------------------

    def event_types(self) -> list[str]:
        """Every known event type, sorted."""
        return sorted(self._latest)

    def specs(self) -> list[EventSpec]:
        """Every (event type, version), sorted by type then version."""
        return [self._specs[k] for k in sorted(self._specs)]

    def topic_map(self) -> dict[str, list[str]]:
        """A fresh ``{topic: [event types]}`` dict, topics and types sorted."""
        out: dict[str, list[str]] = {name: [] for name in sorted(self.topics)}
        for spec in self.specs():
            out[spec.topic].append(spec.event_type)
        return out

    def spec(self, event_type: str, version: int | None = None) -> EventSpec:
        """The spec of ``event_type`` at ``version`` (default: the newest).

        Raises:
            ContractError: the type, or that version of it, is unknown.
        """
        if version is None:
            found = self._latest.get(event_type)
        else:
            found = self._specs.get((event_type, version))
        if found is None:
            what = event_type if version is None else f"{event_type} v{version}"
            raise ContractError(
                f"unknown event type {what!r}",
                [f"known types: {', '.join(self.event_types())}"],
                event_type=event_type,
            )
        return found

    def spec_for_dataschema(self, uri: str) -> EventSpec | None:
        """The spec whose data schema URI is ``uri``, or ``None``."""
        return self._by_uri.get(uri)

    def validator(self, spec: EventSpec) -> Draft202012Validator:
        """The compiled, cached validator of ``spec``'s data schema."""
        cached = self._validators.get(spec.dataschema)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._validators.get(spec.dataschema)
            if cached is None:
                cached = compile_schema(spec.schema, spec.schema_path)
                self._validators[spec.dataschema] = cached
        return cached

    def validate(self, event_type: str, data: Any, version: int | None = None) -> None:
        """Check ``data`` (parsed JSON) against the data schema of ``event_type``.

        Raises:
            ContractError: unknown type, or ``data`` breaks the schema; ``errors`` lists
                every violation with its JSON path.
        """
        spec = self.spec(event_type, version)
        errors = describe_errors(self.validator(spec), data)
        if errors:
            raise ContractError(
                f"{event_type} v{spec.version} data is invalid", errors, event_type=event_type
            )


def compile_schema(
    schema: Mapping[str, Any], origin: Path | str = "schema"
) -> Draft202012Validator:
    """Check ``schema`` against the draft 2020-12 metaschema and compile it.

    Raises:
        ContractError: the schema is not a valid draft 2020-12 schema.
    """
    if schema.get("$schema") != DRAFT_2020_12:
        raise ContractError(f"{origin}: $schema must be {DRAFT_2020_12!r}")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ContractError(f"{origin}: not a valid draft 2020-12 schema", [exc.message]) from exc
    return Draft202012Validator(schema, format_checker=format_checker())


@cache
def data_dirs() -> DataDirs:
    """The data folders this installation uses (see :mod:`contracts._paths`)."""
    return find_data_dirs()


@cache
def default_registry() -> Registry:
    """The registry of the installed contracts, loaded once."""
    return Registry.load(data_dirs().schemas)


def load_schema(event_type: str, version: int | None = None) -> dict[str, Any]:
    """A deep copy of the JSON Schema of ``event_type`` (newest version by default).

    Raises:
        ContractError: unknown event type.
    """
    return copy.deepcopy(dict(default_registry().spec(event_type, version).schema))


@cache
def _envelope_schema() -> dict[str, Any]:
    schema = _read_json(data_dirs().schemas / "envelope.json")
    if not isinstance(schema, dict) or schema.get("$id") != ENVELOPE_URI:
        raise ContractError(f"envelope.json must have $id {ENVELOPE_URI!r}")
    return schema


def load_envelope_schema() -> dict[str, Any]:
    """A deep copy of the JSON Schema of the Kafka header set (``envelope.json``)."""
    return copy.deepcopy(_envelope_schema())


@cache
def envelope_validator() -> Draft202012Validator:
    """The compiled, cached validator of ``envelope.json``."""
    return compile_schema(_envelope_schema(), "envelope.json")
