"""Every schema is a valid draft 2020-12 schema with the right $id and portable keywords."""

from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft202012Validator

from contracts import (
    ENVELOPE_URI,
    dataschema_uri,
    event_spec,
    event_types,
    load_envelope_schema,
    load_schema,
)
from contracts.registry import BASE_URI, DRAFT_2020_12, data_dirs

TYPES = event_types()


def _all_schema_files():
    return sorted(data_dirs().schemas.rglob("*.json"))


@pytest.mark.parametrize("event_type", TYPES)
def test_schema_is_valid_draft_2020_12(event_type):
    schema = load_schema(event_type)
    assert schema["$schema"] == DRAFT_2020_12
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("event_type", TYPES)
def test_schema_id_is_its_dataschema_uri_and_matches_its_path(event_type):
    spec = event_spec(event_type)
    schema = load_schema(event_type)
    context, name = event_type.split(".", 1)
    assert schema["$id"] == dataschema_uri(event_type)
    assert schema["$id"] == f"{BASE_URI}{context}/{name}/v{spec.version}.json"
    assert spec.schema_path.name == f"{name}.v{spec.version}.json"
    assert spec.schema_path.parent.name == context


@pytest.mark.parametrize("event_type", TYPES)
def test_schema_is_open_for_forward_compatibility_and_lists_required_fields(event_type):
    schema = load_schema(event_type)
    assert schema["type"] == "object"
    assert schema.get("additionalProperties", True) is not False
    assert schema["required"], "every event has required fields"
    assert set(schema["required"]) <= set(schema["properties"])
    assert schema.get("title") == event_type
    assert schema.get("description")


@pytest.mark.parametrize("event_type", TYPES)
def test_ids_and_times_carry_a_format_and_a_portable_pattern(event_type):
    # format is only an annotation by default in 2020-12, so other validators rely on pattern.
    for name, prop in load_schema(event_type)["properties"].items():
        if name.endswith("_id"):
            assert prop["format"] == "uuid" and "pattern" in prop, name
        if name.endswith("_at"):
            assert prop["format"] == "date-time" and "pattern" in prop, name


@pytest.mark.parametrize("path", _all_schema_files(), ids=lambda p: p.name)
def test_patterns_avoid_unicode_sensitive_classes(path):
    # \d and \w match Arabic-Indic digits and letters in Rust's and .NET's regex engines.
    text = path.read_text(encoding="utf-8")
    for pattern in re.findall(r'"pattern": "([^"]*)"', text):
        assert "\\\\d" not in pattern and "\\\\w" not in pattern, pattern


def test_envelope_schema_is_valid_and_requires_the_cloudevents_headers():
    schema = load_envelope_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == ENVELOPE_URI
    assert set(schema["required"]) == {
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "ce_subject",
        "ce_dataschema",
        "content-type",
    }
    assert "traceparent" in schema["properties"]
    assert schema["additionalProperties"] == {"type": "string"}


def test_every_json_file_in_schemas_parses_and_ids_are_unique():
    ids = []
    for path in _all_schema_files():
        document = json.loads(path.read_text(encoding="utf-8"))
        if "$id" in document:
            ids.append(document["$id"])
    assert len(ids) == len(set(ids)) == len(TYPES) + 1  # + the envelope


def test_public_events_never_carry_credentials_or_email():
    forbidden = {"email", "password", "password_hash", "phone", "totp_secret"}
    for event_type in TYPES:
        assert not forbidden & set(load_schema(event_type)["properties"]), event_type
