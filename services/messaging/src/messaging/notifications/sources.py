"""Which notifications another context's event deserves, as plain functions.

Each function takes an event's data (already checked against its contract) and returns
the :class:`Intent` s to record; the consumer applies them with
:func:`messaging.notifications.service.notify` (which drops self-notifications, blocked
actors and types the recipient turned off).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from messaging.notifications.service import Intent


def _uuid(data: Mapping[str, Any], name: str) -> uuid.UUID:
    return uuid.UUID(str(data[name]))


def _uuids(data: Mapping[str, Any], name: str) -> list[uuid.UUID]:
    return [uuid.UUID(str(v)) for v in data.get(name) or []]


def from_follow(data: Mapping[str, Any]) -> list[Intent]:
    """``identity.follow.created``: the followee has a new follower (batched per user)."""
    return [
        Intent(
            recipient_id=_uuid(data, "followee_id"),
            type="follow",
            actor_id=_uuid(data, "follower_id"),
            subject_type=None,
            subject_id=None,
        )
    ]


def from_post_created(data: Mapping[str, Any]) -> list[Intent]:
    """``content.post.created``: everyone mentioned is told (the author never is)."""
    author = _uuid(data, "author_id")
    post = _uuid(data, "post_id")
    return [
        Intent(
            recipient_id=m, type="mention", actor_id=author, subject_type="post", subject_id=post
        )
        for m in dict.fromkeys(_uuids(data, "mentions"))
        if m != author
    ]


def from_comment_created(
    data: Mapping[str, Any], parent_author_id: uuid.UUID | None
) -> list[Intent]:
    """``content.comment.created``: the post's author gets ``comment`` (batched per post);
    the parent comment's author gets ``reply`` (batched per parent comment); everyone
    mentioned gets ``mention``. Nobody is told twice about one comment: a reply's author
    is not also told of the comment, a mention goes only to those not told already."""
    author = _uuid(data, "author_id")
    post = _uuid(data, "post_id")
    comment = _uuid(data, "comment_id")
    parent = data.get("parent_id")
    post_author = _uuid(data, "post_author_id")
    intents: list[Intent] = []
    told: set[uuid.UUID] = {author}
    if parent is not None and parent_author_id is not None and parent_author_id not in told:
        intents.append(
            Intent(
                recipient_id=parent_author_id,
                type="reply",
                actor_id=author,
                subject_type="comment",
                subject_id=uuid.UUID(str(parent)),
            )
        )
        told.add(parent_author_id)
    if post_author not in told:
        intents.append(
            Intent(
                recipient_id=post_author,
                type="comment",
                actor_id=author,
                subject_type="post",
                subject_id=post,
            )
        )
        told.add(post_author)
    for mentioned in dict.fromkeys(_uuids(data, "mentions")):
        if mentioned in told:
            continue
        intents.append(
            Intent(
                recipient_id=mentioned,
                type="mention",
                actor_id=author,
                subject_type="comment",
                subject_id=comment,
            )
        )
        told.add(mentioned)
    return intents


def from_reaction_added(data: Mapping[str, Any]) -> list[Intent]:
    """``content.reaction.added``: the target's author (batched per post or comment)."""
    target_type = str(data["target_type"])
    return [
        Intent(
            recipient_id=_uuid(data, "target_author_id"),
            type="reaction",
            actor_id=_uuid(data, "user_id"),
            subject_type=target_type if target_type in ("post", "comment") else "post",
            subject_id=_uuid(data, "target_id"),
        )
    ]


class ModerationDecision(BaseModel):
    """The data of ``moderation.decision.*`` events that messaging relies on."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    decision_id: uuid.UUID
    subject_user_id: uuid.UUID
    outcome: str = Field(min_length=1, max_length=64)
    reason: str | None = Field(default=None, max_length=1000)
    decided_at: AwareDatetime


_OUTCOMES_AR = {
    "no_action": "لا إجراء",
    "dismissed": "رُفض البلاغ",
    "content_removed": "حُذف المحتوى",
    "removed": "حُذف المحتوى",
    "warning": "تحذير",
    "warned": "تحذير",
    "suspended": "تعليق الحساب مؤقتًا",
    "suspension": "تعليق الحساب مؤقتًا",
    "banned": "حظر الحساب",
    "ban": "حظر الحساب",
    "restored": "استُعيد المحتوى",
}


def from_moderation_decision(decision: ModerationDecision) -> list[Intent]:
    """A decision about a user's account or content: one notification per decision."""
    outcome = _OUTCOMES_AR.get(decision.outcome, decision.outcome)
    detail = f"{outcome} — {decision.reason}" if decision.reason else outcome
    return [
        Intent(
            recipient_id=decision.subject_user_id,
            type="moderation",
            actor_id=None,
            subject_type="moderation_decision",
            subject_id=decision.decision_id,
            detail=detail,
        )
    ]
