import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest


class FakeContractError(Exception):
    pass


def make_fake_contracts() -> types.ModuleType:
    """Stands in for the contracts package: one known type with a required field."""
    module = types.ModuleType("contracts")

    def validate(event_type: str, data: dict[str, Any]) -> None:
        if event_type != "demo.thing.created":
            raise FakeContractError(f"unknown event type {event_type}")
        if not isinstance(data.get("name"), str):
            raise FakeContractError("name: required string")

    module.validate = validate  # type: ignore[attr-defined]
    module.ContractError = FakeContractError  # type: ignore[attr-defined]
    module.dataschema_uri = lambda t: f"https://schemas.test/{t}.json"  # type: ignore[attr-defined]
    module.topic_for = lambda t: "demo.thing.v1"  # type: ignore[attr-defined]
    return module


@pytest.fixture
def fake_contracts(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    module = make_fake_contracts()
    monkeypatch.setitem(sys.modules, "contracts", module)
    yield module
