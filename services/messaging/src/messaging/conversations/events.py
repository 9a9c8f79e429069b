"""Events the conversations feature publishes on ``messaging.conversation.v1``."""

from __future__ import annotations

from collections.abc import Sequence

from kit.outbox import record_event
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.clock import iso
from messaging.models import Conversation, Participant

CREATED = "messaging.conversation.created"
UPDATED = "messaging.conversation.updated"


def state(conversation: Conversation, members: Sequence[Participant]) -> dict[str, object]:
    return {
        "conversation_id": str(conversation.id),
        "kind": conversation.kind,
        "title": conversation.title,
        "participant_ids": [str(p.user_id) for p in members],
        "admin_ids": [str(p.user_id) for p in members if p.role == "admin"],
        "created_at": iso(conversation.created_at),
        "updated_at": iso(conversation.updated_at),
    }


async def conversation_changed(
    session: AsyncSession,
    conversation: Conversation,
    members: Sequence[Participant],
    *,
    new: bool,
) -> None:
    await record_event(
        session,
        type=CREATED if new else UPDATED,
        subject=str(conversation.id),
        data=state(conversation, members),
    )
