"""Pydantic v2 models of each event's data.

The JSON Schemas are the contract; these models mirror them for Python producers and
consumers (a test keeps their fields and required sets equal to the schemas). Unknown
fields are ignored, as every consumer must.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Self
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


# --- messaging ------------------------------------------------------------------------

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
MessageText = Annotated[str, Field(max_length=4000)]
Title = Annotated[str | None, Field(max_length=100)]
NotificationType = Literal[
    "follow", "comment", "reply", "reaction", "mention", "message", "moderation"
]


class Attachment(BaseModel):
    """Media attached to a message by reference."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    media_id: UUID
    content_type: Annotated[str, Field(max_length=100, pattern=r"^[a-z]+/[A-Za-z0-9.+-]+$")]
    url: Annotated[str, Field(max_length=2048, pattern=r"^https?://\S+$")]


class _MessageState(EventData):
    TOPIC: ClassVar[str] = "messaging.message.v1"
    KEY_FIELD: ClassVar[str] = "conversation_id"

    message_id: UUID
    conversation_id: UUID
    sender_id: UUID
    participant_ids: list[UUID]
    text: MessageText
    reply_to_id: UUID | None
    attachments: list[Attachment]
    created_at: AwareDatetime
    edited_at: AwareDatetime | None


class MessageSent(_MessageState):
    """``messaging.message.sent``: a message in a conversation."""

    EVENT_TYPE: ClassVar[str] = "messaging.message.sent"


class MessageEdited(_MessageState):
    """``messaging.message.edited``: the whole message after its sender edited it."""

    EVENT_TYPE: ClassVar[str] = "messaging.message.edited"


class MessageDeleted(EventData):
    """``messaging.message.deleted``: deleted for everyone."""

    EVENT_TYPE: ClassVar[str] = "messaging.message.deleted"
    TOPIC: ClassVar[str] = "messaging.message.v1"
    KEY_FIELD: ClassVar[str] = "conversation_id"

    message_id: UUID
    conversation_id: UUID
    sender_id: UUID
    participant_ids: list[UUID]
    deleted_at: AwareDatetime


class MessageRead(EventData):
    """``messaging.message.read``: a read receipt."""

    EVENT_TYPE: ClassVar[str] = "messaging.message.read"
    TOPIC: ClassVar[str] = "messaging.message.v1"
    KEY_FIELD: ClassVar[str] = "conversation_id"

    conversation_id: UUID
    user_id: UUID
    participant_ids: list[UUID]
    last_read_message_id: UUID
    at: AwareDatetime


class _ConversationState(EventData):
    TOPIC: ClassVar[str] = "messaging.conversation.v1"
    KEY_FIELD: ClassVar[str] = "conversation_id"

    conversation_id: UUID
    kind: Literal["direct", "group"]
    title: Title
    participant_ids: list[UUID]
    admin_ids: list[UUID]
    created_at: AwareDatetime
    updated_at: AwareDatetime


class ConversationCreated(_ConversationState):
    """``messaging.conversation.created``: a direct conversation or a group."""

    EVENT_TYPE: ClassVar[str] = "messaging.conversation.created"


class ConversationUpdated(_ConversationState):
    """``messaging.conversation.updated``: the whole state after a title or membership change."""

    EVENT_TYPE: ClassVar[str] = "messaging.conversation.updated"


class _NotificationState(EventData):
    TOPIC: ClassVar[str] = "messaging.notification.v1"
    KEY_FIELD: ClassVar[str] = "user_id"

    notification_id: UUID
    user_id: UUID
    type: NotificationType
    actor_ids: list[UUID]
    actor_count: Annotated[int, Field(ge=0)]
    subject_type: Annotated[str | None, Field(max_length=32)]
    subject_id: UUID | None
    summary: Annotated[str, Field(max_length=500)]
    created_at: AwareDatetime
    updated_at: AwareDatetime
    read: bool


class NotificationCreated(_NotificationState):
    """``messaging.notification.created``: a new inbox entry."""

    EVENT_TYPE: ClassVar[str] = "messaging.notification.created"


class NotificationUpdated(_NotificationState):
    """``messaging.notification.updated``: a batched entry grew."""

    EVENT_TYPE: ClassVar[str] = "messaging.notification.updated"


class NotificationRead(EventData):
    """``messaging.notification.read``: entries marked read (empty list: all)."""

    EVENT_TYPE: ClassVar[str] = "messaging.notification.read"
    TOPIC: ClassVar[str] = "messaging.notification.v1"
    KEY_FIELD: ClassVar[str] = "user_id"

    user_id: UUID
    notification_ids: list[UUID]
    at: AwareDatetime


class CallRoomCreated(EventData):
    """``messaging.call.room_created``."""

    EVENT_TYPE: ClassVar[str] = "messaging.call.room_created"
    TOPIC: ClassVar[str] = "messaging.call.v1"
    KEY_FIELD: ClassVar[str] = "room_id"

    room_id: UUID
    owner_id: UUID
    title: Title
    created_at: AwareDatetime
    expires_at: AwareDatetime


class CallTokenIssued(EventData):
    """``messaging.call.token_issued``: the SHA-256 of a single-use join token."""

    EVENT_TYPE: ClassVar[str] = "messaging.call.token_issued"
    TOPIC: ClassVar[str] = "messaging.call.v1"
    KEY_FIELD: ClassVar[str] = "room_id"

    room_id: UUID
    user_id: UUID
    token_sha256: Sha256Hex
    expires_at: AwareDatetime


class CallRoomClosed(EventData):
    """``messaging.call.room_closed``: closed by its owner or expired."""

    EVENT_TYPE: ClassVar[str] = "messaging.call.room_closed"
    TOPIC: ClassVar[str] = "messaging.call.v1"
    KEY_FIELD: ClassVar[str] = "room_id"

    room_id: UUID
    closed_at: AwareDatetime
    reason: Literal["closed", "expired"]


# --- content --------------------------------------------------------------------------

ReactionKind = Literal["like", "love", "laugh", "wow", "sad", "angry"]
Counts = dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")], Annotated[int, Field(ge=0)]]
PostText = Annotated[str, Field(max_length=20000)]
Hashtag = Annotated[str, Field(min_length=1, max_length=100)]
CommunityVisibility = Literal["public", "private"]


class PostMedia(BaseModel):
    """A media object attached to a post."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    media_id: UUID
    content_type: Annotated[str, Field(max_length=100, pattern=r"^[a-z]+/[A-Za-z0-9.+-]+$")]
    width: Annotated[int | None, Field(ge=1)]
    height: Annotated[int | None, Field(ge=1)]
    url: Annotated[str, Field(max_length=2048, pattern=r"^https?://\S+$")]


class _PostState(EventData):
    TOPIC: ClassVar[str] = "content.post.v1"
    KEY_FIELD: ClassVar[str] = "post_id"

    post_id: UUID
    author_id: UUID
    community_id: UUID | None
    community_visibility: CommunityVisibility | None
    kind: Literal["post", "reel"]
    text: PostText
    hashtags: Annotated[list[Hashtag], Field(max_length=100)]
    mentions: Annotated[list[UUID], Field(max_length=100)]
    media: Annotated[list[PostMedia], Field(max_length=20)]
    visibility: Literal["public", "followers", "community"]
    created_at: AwareDatetime
    updated_at: AwareDatetime
    edited_at: AwareDatetime | None
    reaction_counts: Counts
    comment_count: Annotated[int, Field(ge=0)]


class PostCreated(_PostState):
    """``content.post.created``: a post or reel and its whole state."""

    EVENT_TYPE: ClassVar[str] = "content.post.created"


class PostUpdated(_PostState):
    """``content.post.updated``: the whole post after its author edited it."""

    EVENT_TYPE: ClassVar[str] = "content.post.updated"


class PostDeleted(EventData):
    """``content.post.deleted``: remove the post from every read model."""

    EVENT_TYPE: ClassVar[str] = "content.post.deleted"
    TOPIC: ClassVar[str] = "content.post.v1"
    KEY_FIELD: ClassVar[str] = "post_id"

    post_id: UUID
    author_id: UUID
    community_id: UUID | None
    deleted_at: AwareDatetime


class _CommentState(EventData):
    TOPIC: ClassVar[str] = "content.comment.v1"
    KEY_FIELD: ClassVar[str] = "post_id"

    comment_id: UUID
    post_id: UUID
    post_author_id: UUID
    author_id: UUID
    parent_id: UUID | None
    text: Annotated[str, Field(min_length=1, max_length=20000)]
    mentions: Annotated[list[UUID], Field(max_length=100)]
    created_at: AwareDatetime
    updated_at: AwareDatetime
    comment_count: Annotated[int, Field(ge=0)]


class CommentCreated(_CommentState):
    """``content.comment.created``: a comment or a reply."""

    EVENT_TYPE: ClassVar[str] = "content.comment.created"


class CommentUpdated(_CommentState):
    """``content.comment.updated``: the whole comment after an edit."""

    EVENT_TYPE: ClassVar[str] = "content.comment.updated"


class CommentDeleted(EventData):
    """``content.comment.deleted``: a comment is gone."""

    EVENT_TYPE: ClassVar[str] = "content.comment.deleted"
    TOPIC: ClassVar[str] = "content.comment.v1"
    KEY_FIELD: ClassVar[str] = "post_id"

    comment_id: UUID
    post_id: UUID
    post_author_id: UUID
    author_id: UUID
    deleted_at: AwareDatetime
    comment_count: Annotated[int, Field(ge=0)]


class _ReactionChange(EventData):
    TOPIC: ClassVar[str] = "content.reaction.v1"
    KEY_FIELD: ClassVar[str] = "target_id"

    target_type: Literal["post", "comment"]
    target_id: UUID
    post_id: UUID
    target_author_id: UUID
    user_id: UUID
    kind: ReactionKind
    at: AwareDatetime
    counts: Counts


class ReactionAdded(_ReactionChange):
    """``content.reaction.added``: a reaction and the target's counts after it."""

    EVENT_TYPE: ClassVar[str] = "content.reaction.added"


class ReactionRemoved(_ReactionChange):
    """``content.reaction.removed``: a reaction withdrawn, and the counts after it."""

    EVENT_TYPE: ClassVar[str] = "content.reaction.removed"


class _CommunityState(EventData):
    TOPIC: ClassVar[str] = "content.community.v1"
    KEY_FIELD: ClassVar[str] = "community_id"

    community_id: UUID
    slug: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{2,63}$")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    description: Annotated[str, Field(max_length=2000)]
    visibility: CommunityVisibility
    category: Annotated[str | None, Field(min_length=1, max_length=64)]
    tags: Annotated[list[Annotated[str, Field(min_length=1, max_length=50)]], Field(max_length=20)]
    owner_id: UUID
    member_count: Annotated[int, Field(ge=0)]
    created_at: AwareDatetime
    updated_at: AwareDatetime


class CommunityCreated(_CommunityState):
    """``content.community.created``: a community and its settings."""

    EVENT_TYPE: ClassVar[str] = "content.community.created"


class CommunityUpdated(_CommunityState):
    """``content.community.updated``: the whole community after a settings change."""

    EVENT_TYPE: ClassVar[str] = "content.community.updated"


class _MembershipChange(EventData):
    TOPIC: ClassVar[str] = "content.community.v1"
    KEY_FIELD: ClassVar[str] = "community_id"

    community_id: UUID
    user_id: UUID
    role: Literal["owner", "moderator", "member"]
    at: AwareDatetime
    visibility: CommunityVisibility


class CommunityMemberJoined(_MembershipChange):
    """``content.community.member_joined``: joined, added, or given a new role."""

    EVENT_TYPE: ClassVar[str] = "content.community.member_joined"


class CommunityMemberLeft(_MembershipChange):
    """``content.community.member_left``: left or removed (``role``: the one they had)."""

    EVENT_TYPE: ClassVar[str] = "content.community.member_left"


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
        MessageSent,
        MessageEdited,
        MessageDeleted,
        MessageRead,
        ConversationCreated,
        ConversationUpdated,
        NotificationCreated,
        NotificationUpdated,
        NotificationRead,
        CallRoomCreated,
        CallTokenIssued,
        CallRoomClosed,
        PostCreated,
        PostUpdated,
        PostDeleted,
        CommentCreated,
        CommentUpdated,
        CommentDeleted,
        ReactionAdded,
        ReactionRemoved,
        CommunityCreated,
        CommunityUpdated,
        CommunityMemberJoined,
        CommunityMemberLeft,
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
