"""Every query on ``messages`` (and the conversation counters a new message moves)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.models import Message, Participant


async def lock_idempotency_key(session: AsyncSession, sender_id: uuid.UUID, key: str) -> None:
    """Serialize requests that reuse one sender's key until the transaction ends."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 13))"),
        {"k": f"idem:{sender_id}:{key}"},
    )


async def by_idempotency_key(
    session: AsyncSession, sender_id: uuid.UUID, key: str
) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.sender_id == sender_id, Message.idempotency_key == key)
    )


async def release_idempotency_key(session: AsyncSession, message_id: uuid.UUID) -> None:
    """Free an expired key so it can name a new message."""
    await session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(idempotency_key=None, request_hash=None, idempotency_expires_at=None)
    )


async def get_in(
    session: AsyncSession, conversation_id: uuid.UUID, message_id: uuid.UUID
) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.id == message_id, Message.conversation_id == conversation_id)
    )


async def history(
    session: AsyncSession, conversation_id: uuid.UUID, *, before_seq: int | None, limit: int
) -> Sequence[Message]:
    """Newest first."""
    query = select(Message).where(Message.conversation_id == conversation_id)
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    return list(await session.scalars(query.order_by(Message.seq.desc()).limit(limit)))


async def advance_read(
    session: AsyncSession,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID,
    seq: int,
    message_id: uuid.UUID,
) -> bool:
    """Move the participant's read mark forward to ``seq`` (never back); True if it moved."""
    result = await session.execute(
        update(Participant)
        .where(
            Participant.conversation_id == conversation_id,
            Participant.user_id == user_id,
            Participant.last_read_seq < seq,
        )
        .values(last_read_seq=seq, last_read_message_id=message_id)
        .returning(Participant.user_id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None
