"""The shared sample events: every valid one passes, every invalid one fails."""

from __future__ import annotations

import pytest

from contracts import (
    ContractError,
    event_types,
    load_vectors,
    validate,
    validate_event,
    validate_headers,
)
from contracts.registry import data_dirs

VECTORS = load_vectors()
VALID = [v for v in VECTORS if v.valid]
INVALID = [v for v in VECTORS if not v.valid]


@pytest.mark.parametrize("vector", VALID, ids=lambda v: v.id)
def test_valid_vector_passes_full_event_validation(vector):
    validate_event(vector.event)


@pytest.mark.parametrize("vector", VALID, ids=lambda v: v.id)
def test_valid_vector_data_and_headers_pass_separately(vector):
    validate(vector.event_type, vector.event["data"])
    headers = validate_headers(vector.event["headers"])
    assert headers["ce_type"] == vector.event_type


@pytest.mark.parametrize("vector", INVALID, ids=lambda v: v.id)
def test_invalid_vector_is_rejected_with_a_reason(vector):
    with pytest.raises(ContractError) as caught:
        validate_event(vector.event)
    assert caught.value.errors, "a rejection must say what is wrong"


def test_every_event_type_has_enough_vectors_of_each_kind():
    for event_type in event_types():
        cases = load_vectors(event_type)
        names = {c.name for c in cases}
        assert sum(c.valid for c in cases) >= 3, event_type
        assert sum(not c.valid for c in cases) >= 5, event_type
        assert any("missing" in n for n in names), event_type
        assert any("wrong_type" in n for n in names), event_type
        assert any("bad_uuid" in n for n in names), event_type
        assert any("header" in n for n in names), event_type


def test_vector_folders_are_exactly_the_known_event_types():
    folders = sorted(p.name for p in data_dirs().vectors.iterdir() if p.is_dir())
    assert folders == event_types()


def test_vector_names_say_whether_they_are_valid():
    for vector in VECTORS:
        assert vector.name.startswith("valid_" if vector.valid else "invalid_"), vector.id


def test_vectors_put_each_event_type_in_its_own_folder():
    for vector in VECTORS:
        headers = vector.event["headers"]
        if "ce_type" in headers:
            assert headers["ce_type"] == vector.event_type, vector.id


def test_vector_headers_are_all_strings_so_every_language_can_decode_them():
    for vector in VECTORS:
        assert all(isinstance(v, str) for v in vector.event["headers"].values()), vector.id
