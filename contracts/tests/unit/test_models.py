"""The pydantic models mirror the schemas and round-trip the sample events."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
from pydantic import ValidationError

import contracts
from contracts import (
    MODELS,
    BlockCreated,
    BlockRemoved,
    ContractError,
    FollowCreated,
    FollowRemoved,
    UserDeleted,
    UserRegistered,
    UserUpdated,
    load_schema,
    load_vectors,
    model_for,
)

VALID = [v for v in load_vectors() if v.valid]


def test_there_is_one_model_per_event_type():
    assert sorted(MODELS) == contracts.event_types()
    assert len(set(MODELS.values())) == len(MODELS)
    assert {
        UserRegistered,
        UserUpdated,
        UserDeleted,
        FollowCreated,
        FollowRemoved,
        BlockCreated,
        BlockRemoved,
    } <= set(MODELS.values())


@pytest.mark.parametrize("event_type", sorted(MODELS))
def test_model_constants_match_the_registry(event_type):
    model = MODELS[event_type]
    spec = contracts.event_spec(event_type)
    assert event_type == model.EVENT_TYPE
    assert spec.topic == model.TOPIC
    assert spec.key_field == model.KEY_FIELD


@pytest.mark.parametrize("event_type", sorted(MODELS))
def test_model_fields_and_required_fields_equal_the_schema(event_type):
    schema = load_schema(event_type)
    fields = MODELS[event_type].model_fields
    assert set(fields) == set(schema["properties"])
    # Every field is required in the model; nullable ones are required-but-null in the schema.
    assert {n for n, f in fields.items() if f.is_required()} == set(schema["required"])


@pytest.mark.parametrize("vector", VALID, ids=lambda v: v.id)
def test_models_round_trip_valid_vectors(vector):
    model = model_for(vector.event_type).from_data(vector.event["data"])
    data = model.to_data()
    contracts.validate(vector.event_type, data)
    assert model_for(vector.event_type).model_validate(data) == model
    assert model.key() == vector.event["key"]
    for name in type(model).model_fields:
        original = vector.event["data"][name]
        if isinstance(original, str) and name.endswith("_at"):
            assert datetime.fromisoformat(data[name]) == datetime.fromisoformat(original)
        else:
            assert data[name] == original


def test_models_ignore_unknown_fields():
    model = UserDeleted.model_validate(
        {
            "user_id": "0193f5a0-6b7c-7d2e-9f10-2a3b4c5d6e7f",
            "deleted_at": "2025-12-01T08:00:00Z",
            "reason": "x",
        }
    )
    assert "reason" not in model.to_data()


def test_a_model_built_in_code_publishes_schema_valid_data():
    event = FollowCreated(
        follower_id=UUID("0193f5a0-6b7c-7d2e-9f10-2a3b4c5d6e7f"),
        followee_id=UUID("0193f5a0-9c8d-7e6f-a5b4-c3d2e1f0a9b8"),
        created_at=datetime(2025, 11, 22, 17, 45, 3, 250000, tzinfo=UTC),
    )
    assert event.to_data() == {
        "follower_id": "0193f5a0-6b7c-7d2e-9f10-2a3b4c5d6e7f",
        "followee_id": "0193f5a0-9c8d-7e6f-a5b4-c3d2e1f0a9b8",
        "created_at": "2025-11-22T17:45:03.250000Z",
    }
    assert event.key() == "0193f5a0-6b7c-7d2e-9f10-2a3b4c5d6e7f"


def test_models_refuse_naive_datetimes_and_bad_profiles():
    with pytest.raises(ValidationError):
        UserDeleted(user_id=UUID(int=1), deleted_at=datetime(2025, 1, 1))
    base = {
        "user_id": "0193f5a0-6b7c-7d2e-9f10-2a3b4c5d6e7f",
        "username": "layla",
        "display_name": "ليلى",
        "bio": None,
        "avatar_url": None,
        "locale": "ar",
        "created_at": "2025-11-20T09:30:00Z",
        "updated_at": "2025-11-20T09:30:00Z",
    }
    UserRegistered.model_validate(base)
    for field, bad in (
        ("display_name", ""),
        ("locale", "Arabic"),
        ("avatar_url", "ftp://x/y"),
        ("bio", "ب" * 1001),
        ("username", "u" * 65),
    ):
        with pytest.raises(ValidationError):
            UserRegistered.model_validate({**base, field: bad})


def test_from_data_checks_the_schema_before_the_model():
    with pytest.raises(ContractError, match=r"data is invalid"):
        FollowRemoved.from_data({"follower_id": "0193F5A0-6B7C-7D2E-9F10-2A3B4C5D6E7F"})


def test_model_for_unknown_type_is_a_contract_error():
    with pytest.raises(ContractError, match=r"no data model"):
        model_for("identity.user.exploded")
