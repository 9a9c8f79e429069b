"""Events the messages feature publishes on ``messaging.message.v1``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kit.outbox import record_event
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.clock import iso
from messaging.messages.schemas import MessageOut
from messaging.models import Message

SENT = "messaging.message.sent"
EDITED = "messaging.message.edited"
DELETED = "messaging.message.deleted"
READ = "messaging.message.read"


def _state(message: Message, participant_ids: Sequence[uuid.UUID]) -> dict[str, object]:
    return {
        "message_id": str(message.id),
        "conversation_id": str(message.conversation_id),
        "sender_id": str(message.sender_id),
        "participant_ids": [str(p) for p in participant_ids],
        "text": message.text,
        "reply_to_id": str(message.reply_to_id) if message.reply_to_id else None,
        "attachments": list(message.attachments),
        "created_at": iso(message.created_at),
        "edited_at": iso(message.edited_at) if message.edited_at else None,
    }


async def message_sent(
    session: AsyncSession,
    message: MessageOut,
    attachments: list[dict[str, Any]],
    participant_ids: Sequence[uuid.UUID],
) -> None:
    """Record ``messaging.message.sent`` for a new message (``attachments`` as stored)."""
    await record_event(
        session,
        type=SENT,
        subject=str(message.conversation_id),
        data={
            "message_id": str(message.id),
            "conversation_id": str(message.conversation_id),
            "sender_id": str(message.sender_id),
            "participant_ids": [str(p) for p in participant_ids],
            "text": message.text,
            "reply_to_id": str(message.reply_to_id) if message.reply_to_id else None,
            "attachments": attachments,
            "created_at": iso(message.created_at),
            "edited_at": None,
        },
    )


async def message_edited(
    session: AsyncSession, message: Message, participant_ids: Sequence[uuid.UUID]
) -> None:
    await record_event(
        session,
        type=EDITED,
        subject=str(message.conversation_id),
        data=_state(message, participant_ids),
    )


async def message_deleted(
    session: AsyncSession, message: Message, participant_ids: Sequence[uuid.UUID]
) -> None:
    assert message.deleted_at is not None
    await record_event(
        session,
        type=DELETED,
        subject=str(message.conversation_id),
        data={
            "message_id": str(message.id),
            "conversation_id": str(message.conversation_id),
            "sender_id": str(message.sender_id),
            "participant_ids": [str(p) for p in participant_ids],
            "deleted_at": iso(message.deleted_at),
        },
    )


async def message_read(
    session: AsyncSession,
    *,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID,
    participant_ids: Sequence[uuid.UUID],
    message_id: uuid.UUID,
    at: datetime,
) -> None:
    await record_event(
        session,
        type=READ,
        subject=str(conversation_id),
        data={
            "conversation_id": str(conversation_id),
            "user_id": str(user_id),
            "participant_ids": [str(p) for p in participant_ids],
            "last_read_message_id": str(message_id),
            "at": iso(at),
        },
    )
