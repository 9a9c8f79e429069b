"""Pydantic v2 models of each event's data.

The JSON Schemas are the contract; these models mirror them for Python producers and
consumers (a test keeps their fields and required sets equal to the schemas). Unknown
fields are ignored, as every consumer must.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.errors import ContractError
from contracts.registry import default_registry

Username = Annotated[str, Field(min_length=1, max_length=64)]
DisplayName = Annotated[str, Field(min_length=1, max_length=100)]
Bio = Annotated[str | None, Field(max_length=1000)]
AvatarUrl = Annotated[str | None, Field(max_length=2048, pattern=r"^https?://\S+$")]
Locale = Annotated[str, Field(max_length=35, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]


class EventData(BaseModel):
    """Base of every event data model.

    ``EVENT_TYPE`` and ``TOPIC`` name where the event goes; ``KEY_FIELD`` holds the
    record key. ``to_data()`` gives the JSON-ready dict that is published.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    EVENT_TYPE: ClassVar[str]
    TOPIC: ClassVar[str]
    KEY_FIELD: ClassVar[str]

    def to_data(self) -> dict[str, Any]:
        """The event data as JSON-ready values, checked against the schema.

        Raises:
            ContractError: the model holds something the schema rejects (e.g. a value
                the model's types allow but the schema's format does not).
        """
        data = self.model_dump(mode="json")
        default_registry().validate(self.EVENT_TYPE, data)
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        """Parse event data, after checking it against the schema.

        Raises:
            ContractError: ``data`` breaks the schema.
        """
        default_registry().validate(cls.EVENT_TYPE, data)
        return cls.model_validate(data)

    def key(self) -> str:
        """The Kafka record key (and ``ce_subject``) of this event."""
        return str(getattr(self, self.KEY_FIELD))


class _UserProfile(EventData):
    KEY_FIELD: ClassVar[str] = "user_id"
    TOPIC: ClassVar[str] = "identity.user.v1"

    user_id: UUID
    username: Username
    display_name: DisplayName
    bio: Bio
    avatar_url: AvatarUrl
    locale: Locale
    created_at: AwareDatetime
    updated_at: AwareDatetime


class UserRegistered(_UserProfile):
    """``identity.user.registered``: a new account and its public profile."""

    EVENT_TYPE: ClassVar[str] = "identity.user.registered"


class UserUpdated(_UserProfile):
    """``identity.user.updated``: the whole public profile after a change."""

    EVENT_TYPE: ClassVar[str] = "identity.user.updated"


class UserDeleted(EventData):
    """``identity.user.deleted``: the account is gone."""

    EVENT_TYPE: ClassVar[str] = "identity.user.deleted"
    TOPIC: ClassVar[str] = "identity.user.v1"
    KEY_FIELD: ClassVar[str] = "user_id"

    user_id: UUID
    deleted_at: AwareDatetime


class FollowCreated(EventData):
    """``identity.follow.created``: follower_id now follows followee_id."""

    EVENT_TYPE: ClassVar[str] = "identity.follow.created"
    TOPIC: ClassVar[str] = "identity.graph.v1"
    KEY_FIELD: ClassVar[str] = "follower_id"

    follower_id: UUID
    followee_id: UUID
    created_at: AwareDatetime


class FollowRemoved(EventData):
    """``identity.follow.removed``: follower_id no longer follows followee_id."""

    EVENT_TYPE: ClassVar[str] = "identity.follow.removed"
    TOPIC: ClassVar[str] = "identity.graph.v1"
    KEY_FIELD: ClassVar[str] = "follower_id"

    follower_id: UUID
    followee_id: UUID
    removed_at: AwareDatetime


class BlockCreated(EventData):
    """``identity.block.created``: blocker_id blocked blocked_id (confidential)."""

    EVENT_TYPE: ClassVar[str] = "identity.block.created"
    TOPIC: ClassVar[str] = "identity.graph.v1"
    KEY_FIELD: ClassVar[str] = "blocker_id"

    blocker_id: UUID
    blocked_id: UUID
    created_at: AwareDatetime


class BlockRemoved(EventData):
    """``identity.block.removed``: blocker_id unblocked blocked_id (confidential)."""

    EVENT_TYPE: ClassVar[str] = "identity.block.removed"
    TOPIC: ClassVar[str] = "identity.graph.v1"
    KEY_FIELD: ClassVar[str] = "blocker_id"

    blocker_id: UUID
    blocked_id: UUID
    removed_at: AwareDatetime


MODELS: dict[str, type[EventData]] = {
    model.EVENT_TYPE: model
    for model in (
        UserRegistered,
        UserUpdated,
        UserDeleted,
        FollowCreated,
        FollowRemoved,
        BlockCreated,
        BlockRemoved,
    )
}


def model_for(event_type: str) -> type[EventData]:
    """The data model class of ``event_type``.

    Raises:
        ContractError: no model for that type.
    """
    try:
        return MODELS[event_type]
    except KeyError:
        raise ContractError(
            f"no data model for event type {event_type!r}",
            [f"models exist for: {', '.join(sorted(MODELS))}"],
            event_type=event_type,
        ) from None
