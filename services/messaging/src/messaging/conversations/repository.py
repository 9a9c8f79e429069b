"""Every query on ``conversations`` and ``participants``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.models import Conversation, Message, Participant


async def insert_direct(
    session: AsyncSession,
    *,
    conversation_id: uuid.UUID,
    low: uuid.UUID,
    high: uuid.UUID,
    created_by: uuid.UUID,
    now: datetime,
) -> bool:
    """Insert the pair's conversation; False when the pair already has one (the unique
    constraint on the ordered pair decides, also between concurrent requests)."""
    result = await session.execute(
        insert(Conversation)
        .values(
            id=conversation_id,
            kind="direct",
            pair_low=low,
            pair_high=high,
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(constraint="uq_conversations_direct_pair")
        .returning(Conversation.id)
    )
    return result.first() is not None


async def direct_between(
    session: AsyncSession, low: uuid.UUID, high: uuid.UUID
) -> Conversation | None:
    return await session.scalar(
        select(Conversation).where(Conversation.pair_low == low, Conversation.pair_high == high)
    )


async def get(
    session: AsyncSession, conversation_id: uuid.UUID, *, for_update: bool = False
) -> Conversation | None:
    query = select(Conversation).where(Conversation.id == conversation_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def unmuted_among(
    session: AsyncSession, conversation_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """Those of ``user_ids`` who are participants of the conversation and have not muted it."""
    if not user_ids:
        return []
    rows = await session.scalars(
        select(Participant.user_id).where(
            Participant.conversation_id == conversation_id,
            Participant.user_id.in_(list(user_ids)),
            Participant.muted.is_(False),
        )
    )
    return list(rows)


async def participant(
    session: AsyncSession, conversation_id: uuid.UUID, user_id: uuid.UUID
) -> Participant | None:
    return await session.scalar(
        select(Participant).where(
            Participant.conversation_id == conversation_id, Participant.user_id == user_id
        )
    )


async def participants(session: AsyncSession, conversation_id: uuid.UUID) -> list[Participant]:
    """Current participants, earliest joined first."""
    rows = await session.scalars(
        select(Participant)
        .where(Participant.conversation_id == conversation_id)
        .order_by(Participant.joined_at, Participant.user_id)
    )
    return list(rows)


async def add_participants(
    session: AsyncSession,
    conversation_id: uuid.UUID,
    members: Iterable[tuple[uuid.UUID, str]],
    now: datetime,
    last_seq: int = 0,
) -> list[uuid.UUID]:
    """Add (user, role) rows, skipping current members; the users added.

    New members start with everything before them read, so they do not inherit an
    unread backlog."""
    rows = [
        {
            "conversation_id": conversation_id,
            "user_id": user_id,
            "role": role,
            "joined_at": now,
            "last_read_seq": last_seq,
        }
        for user_id, role in members
    ]
    if not rows:
        return []
    result = await session.execute(
        insert(Participant).values(rows).on_conflict_do_nothing().returning(Participant.user_id)
    )
    return [r[0] for r in result]


async def remove_participant(
    session: AsyncSession, conversation_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    result = await session.execute(
        delete(Participant)
        .where(Participant.conversation_id == conversation_id, Participant.user_id == user_id)
        .returning(Participant.user_id)
    )
    return result.first() is not None


async def set_role(
    session: AsyncSession, conversation_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> None:
    await session.execute(
        update(Participant)
        .where(Participant.conversation_id == conversation_id, Participant.user_id == user_id)
        .values(role=role)
    )


async def delete_conversation(session: AsyncSession, conversation_id: uuid.UUID) -> None:
    await session.execute(delete(Conversation).where(Conversation.id == conversation_id))


def _unread_expr(user_id: uuid.UUID) -> Any:
    return (
        select(func.count())
        .select_from(Message)
        .where(
            Message.conversation_id == Participant.conversation_id,
            Message.seq > Participant.last_read_seq,
            Message.sender_id != user_id,
            Message.deleted_at.is_(None),
        )
        .correlate(Participant)
        .scalar_subquery()
    )


async def unread_for(session: AsyncSession, conversation_id: uuid.UUID, user_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(_unread_expr(user_id)).where(
            Participant.conversation_id == conversation_id, Participant.user_id == user_id
        )
    )
    return int(count or 0)


async def list_for_user(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[tuple[Conversation, Participant, int]]:
    """The user's conversations by latest activity (last message, else creation), newest
    first, with the caller's participant row and unread count."""
    activity = func.coalesce(Conversation.last_message_at, Conversation.created_at)
    query = (
        select(Conversation, Participant, _unread_expr(user_id))
        .join(Participant, Participant.conversation_id == Conversation.id)
        .where(Participant.user_id == user_id)
        .order_by(activity.desc(), Conversation.id.desc())
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(activity, Conversation.id) < tuple_(after[0], after[1]))
    rows = await session.execute(query)
    return [(r[0], r[1], int(r[2] or 0)) for r in rows]


async def unread_totals(session: AsyncSession, user_id: uuid.UUID) -> tuple[int, int]:
    """(conversations with unread messages, unread messages) of the user."""
    per = (
        select(_unread_expr(user_id).label("n"))
        .select_from(Participant)
        .where(Participant.user_id == user_id)
        .subquery()
    )
    row = (
        await session.execute(
            select(
                func.count().filter(per.c.n > 0), func.coalesce(func.sum(per.c.n), 0)
            ).select_from(per)
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


async def conversations_of(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(Participant.conversation_id).where(Participant.user_id == user_id)
    )
    return list(rows)


async def set_muted(
    session: AsyncSession, conversation_id: uuid.UUID, user_id: uuid.UUID, muted: bool
) -> None:
    await session.execute(
        update(Participant)
        .where(and_(Participant.conversation_id == conversation_id, Participant.user_id == user_id))
        .values(muted=muted)
    )
