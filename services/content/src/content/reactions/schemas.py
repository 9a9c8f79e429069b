"""Bodies and parameters of the reaction endpoints."""

from __future__ import annotations

import uuid
from enum import Enum

from pydantic import BaseModel

from content.policy import REACTION_KINDS

ReactionKind = Enum("ReactionKind", {k: k for k in REACTION_KINDS}, type=str)  # type: ignore[misc]


class ReactionOut(BaseModel):
    target_type: str
    target_id: uuid.UUID
    kind: str
    #: Whether the caller now has this reaction on the target.
    reacted: bool
    #: The target's reaction counts after the change.
    counts: dict[str, int]
