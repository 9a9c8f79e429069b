"""Every query on ``messages`` (and the conversation counters a new message moves)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.models import Message, Participant

# The send path runs as two plain SQL statements: SQLAlchemy's ORM and statement
# building cost more CPU than the database work of a send.
_CLAIM_SEQ = text(
    "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = :now"
    " WHERE id = :cid RETURNING kind, pair_low, pair_high, last_seq"
)

# $1 conversation, $2 sender, $3 the other side of a direct conversation (else null),
# $4 reply_to_id, $5 message id, $6 seq, $7 text, $8 attachments (JSON text),
# $9 created_at, $10 idempotency key, $11 request hash, $12 key expiry.
# The insert and the sender's read mark happen only when every check passes; the row
# of checks always comes back, so the caller can say which one failed.
_INSERT_CHECKED = """
WITH members AS (
    SELECT user_id, joined_at FROM participants WHERE conversation_id = $1
), checks AS (
    SELECT
        EXISTS (SELECT 1 FROM members WHERE user_id = $2) AS member,
        ($3::uuid IS NOT NULL AND EXISTS (
            SELECT 1 FROM blocks
            WHERE (blocker_id = $2 AND blocked_id = $3) OR (blocker_id = $3 AND blocked_id = $2)
        )) AS blocked,
        ($3::uuid IS NULL OR EXISTS (
            SELECT 1 FROM users WHERE id = $3 AND deleted_at IS NULL
        )) AS other_live,
        ($4::uuid IS NULL OR EXISTS (
            SELECT 1 FROM messages WHERE id = $4 AND conversation_id = $1
        )) AS reply_ok
), inserted AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, text, reply_to_id,
                          attachments, created_at, idempotency_key, request_hash,
                          idempotency_expires_at)
    SELECT $5, $1, $6, $2, $7, $4, $8::jsonb, $9, $10, $11, $12 FROM checks
    WHERE checks.member AND NOT checks.blocked AND checks.other_live AND checks.reply_ok
    RETURNING seq
), read_mark AS (
    UPDATE participants SET last_read_seq = inserted.seq, last_read_message_id = $5
    FROM inserted
    WHERE participants.conversation_id = $1 AND participants.user_id = $2
      AND participants.last_read_seq < inserted.seq
)
SELECT checks.member, checks.blocked, checks.other_live, checks.reply_ok,
       ARRAY(SELECT user_id FROM members ORDER BY joined_at, user_id) AS member_ids
FROM checks
"""


@dataclass(frozen=True)
class Claim:
    """A conversation's next ``seq``, taken under its row lock."""

    kind: str
    pair_low: uuid.UUID | None
    pair_high: uuid.UUID | None
    seq: int


@dataclass(frozen=True)
class Checked:
    """What :func:`insert_checked` found; the message was written only when ``sent``."""

    member: bool
    blocked: bool
    other_live: bool
    reply_ok: bool
    member_ids: list[uuid.UUID]

    @property
    def sent(self) -> bool:
        return self.member and not self.blocked and self.other_live and self.reply_ok


async def claim_seq(
    session: AsyncSession, conversation_id: uuid.UUID, now: datetime
) -> Claim | None:
    """Take the conversation's next ``seq``: row-locks it until the transaction ends (sends
    to one conversation, and membership changes, serialize on that lock) and moves
    ``last_seq``/``last_message_at``. None when there is no such conversation. A refusal
    after this must roll the transaction back, which undoes the claim."""
    row = (await session.execute(_CLAIM_SEQ, {"now": now, "cid": conversation_id})).first()
    if row is None:
        return None
    return Claim(kind=row[0], pair_low=row[1], pair_high=row[2], seq=row[3])


async def insert_checked(
    session: AsyncSession,
    *,
    conversation_id: uuid.UUID,
    sender_id: uuid.UUID,
    other_id: uuid.UUID | None,
    reply_to_id: uuid.UUID | None,
    message_id: uuid.UUID,
    seq: int,
    text: str,
    attachments_json: str,
    created_at: datetime,
    idempotency_key: str | None,
    request_hash: str | None,
    idempotency_expires_at: datetime | None,
) -> Checked:
    """In one round trip, after :func:`claim_seq` in the same transaction: check that the
    sender is a participant, that no block stands between the sender and ``other_id``
    and that ``other_id`` is a live account (direct conversations), and that
    ``reply_to_id`` is a message of this conversation; when all hold, insert the message
    and move the sender's read mark to it. Returns the checks and the participants
    (earliest joined first), read under the conversation's lock."""
    connection = await session.connection()
    raw: Any = (await connection.get_raw_connection()).driver_connection
    row = await raw.fetchrow(
        _INSERT_CHECKED,
        conversation_id,
        sender_id,
        other_id,
        reply_to_id,
        message_id,
        seq,
        text,
        attachments_json,
        created_at,
        idempotency_key,
        request_hash,
        idempotency_expires_at,
    )
    return Checked(
        member=row[0],
        blocked=row[1],
        other_live=row[2],
        reply_ok=row[3],
        member_ids=[uuid.UUID(bytes=u.bytes) for u in row[4]],
    )


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
