"""The shared sample events in ``vectors/<event type>/<case>.json``.

Each file is ``{"description": str, "event": {"topic", "key", "headers", "data"},
"valid": bool}``; the Python, Go and Rust suites all run them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.errors import ContractError
from contracts.registry import data_dirs

_FIELDS = {"description", "event", "valid"}
_EVENT_FIELDS = {"topic", "key", "headers", "data"}


@dataclass(frozen=True)
class Vector:
    """One sample case. ``event_type`` is the folder name; ``name`` the file stem."""

    event_type: str
    name: str
    description: str
    event: dict[str, Any]
    valid: bool
    path: Path

    @property
    def id(self) -> str:
        """``<event type>/<case>``, handy as a test id."""
        return f"{self.event_type}/{self.name}"


def read_vector(path: Path) -> Vector:
    """Load one vector file.

    Raises:
        ContractError: unreadable JSON or not the ``{description, event, valid}`` shape.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ContractError(f"cannot read vector {path}", [str(exc)]) from exc
    problems = []
    if not isinstance(raw, dict) or set(raw) != _FIELDS:
        problems.append(f"top level must have exactly the keys {sorted(_FIELDS)}")
    else:
        if not isinstance(raw["description"], str) or not raw["description"].strip():
            problems.append("description must be a non-empty string")
        if not isinstance(raw["valid"], bool):
            problems.append("valid must be true or false")
        if not isinstance(raw["event"], dict) or set(raw["event"]) != _EVENT_FIELDS:
            problems.append(f"event must have exactly the keys {sorted(_EVENT_FIELDS)}")
    if problems:
        raise ContractError(f"malformed vector {path}", problems)
    return Vector(
        event_type=path.parent.name,
        name=path.stem,
        description=raw["description"],
        event=raw["event"],
        valid=raw["valid"],
        path=path,
    )


def load_vectors(event_type: str | None = None, vectors_dir: Path | None = None) -> list[Vector]:
    """Every sample case (or those of one event type), sorted by type then case name.

    Raises:
        ContractError: a vector file is malformed.
    """
    root = vectors_dir or data_dirs().vectors
    folders = [root / event_type] if event_type else sorted(p for p in root.iterdir() if p.is_dir())
    return [read_vector(path) for folder in folders for path in sorted(folder.glob("*.json"))]
