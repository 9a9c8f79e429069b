"""The registry: lookups, validation messages, caching, and derivation from the folder."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

import contracts
from contracts import ContractError
from contracts.registry import Registry, data_dirs, default_registry

USER = "0193f5a0-6b7c-7d2e-9f10-2a3b4c5d6e7f"
OTHER = "0193f5a0-9c8d-7e6f-a5b4-c3d2e1f0a9b8"


def _follow(**overrides):
    data = {"follower_id": USER, "followee_id": OTHER, "created_at": "2025-11-22T17:45:03Z"}
    data.update(overrides)
    return data


def test_topics_map_each_identity_topic_to_its_event_types():
    assert contracts.TOPICS["identity.user.v1"] == [
        "identity.user.deleted",
        "identity.user.registered",
        "identity.user.updated",
    ]
    assert contracts.TOPICS["identity.graph.v1"] == [
        "identity.block.created",
        "identity.block.removed",
        "identity.follow.created",
        "identity.follow.removed",
    ]


def test_event_types_lists_every_type_on_every_topic():
    on_topics = sorted(t for types in contracts.TOPICS.values() for t in types)
    assert contracts.event_types() == on_topics


def test_lookups_for_a_known_type():
    assert contracts.topic_for("identity.follow.removed") == "identity.graph.v1"
    assert contracts.key_field("identity.block.created") == "blocker_id"
    assert contracts.key_field("identity.user.deleted") == "user_id"
    assert (
        contracts.dataschema_uri("identity.user.registered")
        == "https://schemas.platform.example/identity/user.registered/v1.json"
    )
    spec = contracts.event_spec("identity.user.updated")
    assert (spec.source, spec.version, spec.aggregate) == ("identity", 1, "identity.user")


def test_unknown_event_type_is_a_contract_error_naming_known_types():
    with pytest.raises(
        ContractError, match=r"unknown event type 'identity.user.exploded'"
    ) as caught:
        contracts.topic_for("identity.user.exploded")
    assert "identity.user.registered" in str(caught.value)
    with pytest.raises(ContractError):
        contracts.validate("identity.user.registered", {}, version=7)


def test_load_schema_returns_a_copy_callers_cannot_corrupt():
    schema = contracts.load_schema("identity.follow.created")
    schema["required"].clear()
    with pytest.raises(ContractError):
        contracts.validate("identity.follow.created", {})


def test_validate_accepts_good_data():
    contracts.validate("identity.follow.created", _follow())


def test_validate_reports_every_problem_with_its_path():
    bad = _follow(followee_id="nope", created_at="yesterday")
    del bad["follower_id"]
    with pytest.raises(ContractError) as caught:
        contracts.validate("identity.follow.created", bad)
    err = caught.value
    assert err.event_type == "identity.follow.created"
    assert err.errors == [
        "$: 'follower_id' is a required property",
        "$.created_at: 'yesterday' is not a 'date-time'",
        "$.followee_id: 'nope' is not a 'uuid'",
    ]
    assert str(err).startswith("identity.follow.created v1 data is invalid: $: 'follower_id'")


def test_validate_rejects_non_object_data():
    with pytest.raises(ContractError, match=r"is not of type 'object'"):
        contracts.validate("identity.user.deleted", ["x"])


def test_validate_ignores_unknown_fields():
    contracts.validate("identity.follow.created", _follow(reason="suggested", score=0.4))


def test_long_values_are_shortened_in_messages():
    profile = {"user_id": USER, "bio": "x" * 5000}
    with pytest.raises(ContractError) as caught:
        contracts.validate("identity.user.updated", profile)
    assert all(len(line) < 300 for line in caught.value.errors)


def test_compiled_validators_are_cached():
    registry = default_registry()
    spec = registry.spec("identity.follow.created")
    assert registry.validator(spec) is registry.validator(spec)


def test_validation_is_fast_enough_for_the_publish_path():
    data = _follow()
    contracts.validate("identity.follow.created", data)  # compile outside the timing
    started = time.perf_counter()
    for _ in range(2000):
        contracts.validate("identity.follow.created", data)
    assert time.perf_counter() - started < 2.0


# -- derivation from the folder ---------------------------------------------------


@pytest.fixture
def schemas(tmp_path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(data_dirs().schemas, target)
    return target


def _add_schema(schemas: Path, context: str, name: str, major: int = 1, id_=None) -> None:
    folder = schemas / context
    folder.mkdir(exist_ok=True)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": id_ or f"https://schemas.platform.example/{context}/{name}/v{major}.json",
        "type": "object",
        "required": ["user_id"],
        "properties": {"user_id": {"type": "string"}},
    }
    (folder / f"{name}.v{major}.json").write_text(json.dumps(schema))


def test_dropping_a_schema_file_adds_an_event_type_on_its_aggregates_topic(schemas):
    _add_schema(schemas, "identity", "user.suspended")
    registry = Registry.load(schemas)
    assert "identity.user.suspended" in registry.event_types()
    spec = registry.spec("identity.user.suspended")
    assert (spec.topic, spec.key_field, spec.source) == ("identity.user.v1", "user_id", "identity")
    registry.validate("identity.user.suspended", {"user_id": "u"})


def test_a_new_aggregate_needs_a_topic_map_entry(schemas):
    _add_schema(schemas, "economy", "wallet.opened")
    with pytest.raises(
        ContractError, match=r"0 topics in topics.json carry aggregate 'economy.wallet'"
    ):
        Registry.load(schemas)
    topics = json.loads((schemas / "topics.json").read_text())
    topics["topics"]["economy.wallet.v1"] = {
        "description": "Wallets.",
        "aggregates": {"economy.wallet": {"key": "wallet_id"}},
    }
    (schemas / "topics.json").write_text(json.dumps(topics))
    registry = Registry.load(schemas)
    assert registry.topic_map()["economy.wallet.v1"] == ["economy.wallet.opened"]


def test_a_new_major_version_lives_on_its_own_topic_and_becomes_the_default(schemas):
    _add_schema(schemas, "identity", "user.deleted", major=2)
    topics = json.loads((schemas / "topics.json").read_text())
    topics["topics"]["identity.user.v2"] = {"aggregates": {"identity.user": {"key": "user_id"}}}
    (schemas / "topics.json").write_text(json.dumps(topics))
    registry = Registry.load(schemas)
    assert registry.spec("identity.user.deleted").topic == "identity.user.v2"
    assert registry.spec("identity.user.deleted", 1).topic == "identity.user.v1"


def test_a_schema_whose_id_does_not_match_its_path_is_refused(schemas):
    _add_schema(schemas, "identity", "user.suspended", id_="https://elsewhere.example/x.json")
    with pytest.raises(ContractError, match=r"\$id is 'https://elsewhere.example/x.json'"):
        Registry.load(schemas)


def test_a_misnamed_schema_file_is_refused(schemas):
    (schemas / "identity" / "UserSuspended.json").write_text("{}")
    with pytest.raises(ContractError, match=r"name is not <aggregate>.<action>.v<N>.json"):
        Registry.load(schemas)


def test_a_topic_without_any_schema_is_refused(schemas):
    topics = json.loads((schemas / "topics.json").read_text())
    topics["topics"]["identity.session.v1"] = {"aggregates": {"identity.session": {"key": "id"}}}
    (schemas / "topics.json").write_text(json.dumps(topics))
    with pytest.raises(ContractError, match=r"topic 'identity.session.v1' has no event schema"):
        Registry.load(schemas)


def test_an_invalid_schema_is_reported_when_first_used(schemas):
    _add_schema(schemas, "identity", "user.suspended")
    path = schemas / "identity" / "user.suspended.v1.json"
    broken = json.loads(path.read_text())
    broken["required"] = "user_id"
    path.write_text(json.dumps(broken))
    registry = Registry.load(schemas)
    with pytest.raises(ContractError, match=r"not a valid draft 2020-12 schema"):
        registry.validate("identity.user.suspended", {})
