"""Sending, reading, editing and deleting messages; read receipts.

Only participants reach a conversation's messages (404 for anyone else). In a direct
conversation, a block in either direction stops sending (403). Each message gets the
next ``seq`` of its conversation under a row lock on the conversation, so history and
unread counts have one order. A send with an ``Idempotency-Key`` that repeats an
earlier one (same sender, same body, key younger than its TTL) returns the first
message and changes nothing; the same key with another body is a 422. Every change
records its event in the caller's transaction. Recipients who are offline and have not
muted the conversation get a ``message`` notification, made by the event consumer from
``messaging.message.sent`` (off the sender's request path).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from kit import idempotency
from kit.errors import BadRequest, Forbidden, Gone, NotFound, UnprocessableEntity
from kit.ids import uuid7
from kit.pagination import decode_cursor, encode_cursor
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.conversations import repository as conversations
from messaging.conversations.service import NOT_FOUND, require_participant
from messaging.messages import events, repository
from messaging.messages.schemas import (
    AttachmentOut,
    EditIn,
    MessageOut,
    MessagePage,
    ReadOut,
    SendIn,
)
from messaging.models import Message
from messaging.notifications import service as notifications
from messaging.settings import MessagingSettings


def request_hash(conversation_id: uuid.UUID, body: SendIn) -> str:
    return idempotency.request_fingerprint(
        {"c": str(conversation_id), "b": body.model_dump(mode="json")}
    )


def to_out(message: Message) -> MessageOut:
    return MessageOut(
        id=message.id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        sender_id=message.sender_id,
        text=message.text,
        reply_to_id=message.reply_to_id,
        attachments=[AttachmentOut(**a) for a in message.attachments],
        created_at=message.created_at,
        edited_at=message.edited_at,
        deleted=message.deleted_at is not None,
    )


def _check_text(text: str, settings: MessagingSettings) -> None:
    if len(text) > settings.message_max_chars:
        raise UnprocessableEntity(
            f"A message has at most {settings.message_max_chars} characters.",
            title="Message too long",
        )


@dataclass
class SendResult:
    message: MessageOut
    replayed: bool


async def send(
    session: AsyncSession,
    settings: MessagingSettings,
    *,
    sender_id: uuid.UUID,
    conversation_id: uuid.UUID,
    body: SendIn,
    idempotency_key: str | None,
    now: datetime,
) -> SendResult:
    """Send a message. 404 for a non-participant, 403 when blocked, 410 when the other
    side of a direct conversation deleted their account, 422 for an empty or too long
    message, a reply to a message of another conversation, or a reused key.

    Two statements after the key check: claim the next ``seq`` (row lock), then check
    and insert; then the ``messaging.message.sent`` event goes to the outbox in the same
    transaction. Notifications for offline recipients are not made here: the consumer
    makes them from that event (see :mod:`messaging.consumers.handler`)."""
    key = idempotency.check_key(idempotency_key)
    fingerprint = request_hash(conversation_id, body) if key else None
    if key:
        await repository.lock_idempotency_key(session, sender_id, key)
        earlier = await repository.by_idempotency_key(session, sender_id, key)
        if earlier is not None:
            if earlier.idempotency_expires_at and earlier.idempotency_expires_at > now:
                if earlier.request_hash != fingerprint:
                    raise UnprocessableEntity(
                        "This Idempotency-Key was already used with a different request.",
                        title="Idempotency-Key reused",
                    )
                return SendResult(to_out(earlier), replayed=True)
            await repository.release_idempotency_key(session, earlier.id)

    text = body.text.strip()
    if not text and not body.attachments:
        raise UnprocessableEntity("A message needs text or at least one attachment.")
    _check_text(text, settings)
    # Claiming the seq row-locks the conversation, which orders sends and membership
    # changes; a refusal below rolls the claim back with the transaction. The member
    # list (read once, under that lock) is both the membership check and the event's
    # participant_ids.
    claim = await repository.claim_seq(session, conversation_id, now)
    if claim is None:
        raise NotFound(NOT_FOUND)
    other = None
    if claim.kind == "direct":
        assert claim.pair_low is not None and claim.pair_high is not None
        other = claim.pair_high if claim.pair_low == sender_id else claim.pair_low
    attachments: list[dict[str, Any]] = [a.model_dump(mode="json") for a in body.attachments]
    message_id = uuid7()
    checked = await repository.insert_checked(
        session,
        conversation_id=conversation_id,
        sender_id=sender_id,
        other_id=other,
        reply_to_id=body.reply_to_id,
        message_id=message_id,
        seq=claim.seq,
        text=text,
        attachments_json=orjson.dumps(attachments).decode(),
        created_at=now,
        idempotency_key=key,
        request_hash=fingerprint,
        idempotency_expires_at=now + timedelta(seconds=settings.idempotency_ttl_s) if key else None,
    )
    if not checked.member:
        raise NotFound(NOT_FOUND)
    if checked.blocked:
        raise Forbidden("You cannot message this user.", title="Messaging not allowed")
    if not checked.other_live:
        raise Gone("This user's account no longer exists.", title="Account deleted")
    if not checked.reply_ok:
        raise UnprocessableEntity(
            "reply_to_id must name a message of this conversation.", title="Unknown reply"
        )
    out = MessageOut(
        id=message_id,
        conversation_id=conversation_id,
        seq=claim.seq,
        sender_id=sender_id,
        text=text,
        reply_to_id=body.reply_to_id,
        attachments=[AttachmentOut(**a) for a in attachments],
        created_at=now,
        edited_at=None,
        deleted=False,
    )
    await events.message_sent(session, out, attachments, checked.member_ids)
    return SendResult(out, replayed=False)


async def history(
    session: AsyncSession,
    viewer_id: uuid.UUID,
    conversation_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> MessagePage:
    """Messages newest first (``next_cursor`` goes further back); participants only."""
    await require_participant(session, conversation_id, viewer_id)
    before = None
    if cursor:
        payload = decode_cursor(cursor)
        try:
            before = int(payload["s"])
            if str(payload["c"]) != str(conversation_id):
                raise ValueError("cursor of another conversation")
        except (KeyError, ValueError, TypeError):
            raise BadRequest(
                "The cursor is invalid or was altered.", title="Invalid cursor"
            ) from None
    rows = await repository.history(session, conversation_id, before_seq=before, limit=limit + 1)
    items = rows[:limit]
    next_cursor = (
        encode_cursor({"c": str(conversation_id), "s": items[-1].seq})
        if len(rows) > limit and items
        else None
    )
    return MessagePage(items=[to_out(m) for m in items], next_cursor=next_cursor)


async def _own_message(
    session: AsyncSession, actor_id: uuid.UUID, conversation_id: uuid.UUID, message_id: uuid.UUID
) -> Message:
    await require_participant(session, conversation_id, actor_id)
    message = await repository.get_in(session, conversation_id, message_id)
    if message is None:
        raise NotFound("No such message.")
    if message.sender_id != actor_id:
        raise Forbidden("Only the sender can change a message.", title="Not your message")
    return message


async def edit(
    session: AsyncSession,
    settings: MessagingSettings,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    body: EditIn,
    now: datetime,
) -> Message:
    """Edit the text of one's own message. 403 for someone else's, 410 when deleted,
    422 for an empty text on a message without attachments."""
    message = await _own_message(session, actor_id, conversation_id, message_id)
    if message.deleted_at is not None:
        raise Gone("This message was deleted.", title="Message deleted")
    text = body.text.strip()
    if not text and not message.attachments:
        raise UnprocessableEntity("A message needs text or at least one attachment.")
    _check_text(text, settings)
    if text != message.text:
        message.text = text
        message.edited_at = now
        await session.flush()
        members = await conversations.participants(session, conversation_id)
        await events.message_edited(session, message, [m.user_id for m in members])
    return message


async def delete_for_everyone(
    session: AsyncSession,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    now: datetime,
) -> None:
    """Delete one's own message for everyone: its text and attachments are erased.
    Deleting again changes nothing."""
    message = await _own_message(session, actor_id, conversation_id, message_id)
    if message.deleted_at is not None:
        return
    message.deleted_at = now
    message.text = ""
    message.attachments = []
    await session.flush()
    members = await conversations.participants(session, conversation_id)
    await events.message_deleted(session, message, [m.user_id for m in members])


async def mark_read(
    session: AsyncSession,
    reader_id: uuid.UUID,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    now: datetime,
) -> ReadOut:
    """Mark the conversation read up to ``message_id`` (never moves back). A read receipt
    is published when the mark moved; the reader's message notifications about this
    conversation are marked read too. 422 when the message is not in the conversation."""
    await require_participant(session, conversation_id, reader_id)
    message = await repository.get_in(session, conversation_id, message_id)
    if message is None:
        raise UnprocessableEntity("message_id is not a message of this conversation.")
    moved = await repository.advance_read(
        session, conversation_id, reader_id, message.seq, message.id
    )
    if moved:
        members = await conversations.participants(session, conversation_id)
        await events.message_read(
            session,
            conversation_id=conversation_id,
            user_id=reader_id,
            participant_ids=[m.user_id for m in members],
            message_id=message.id,
            at=now,
        )
        await notifications.mark_subject_read(
            session,
            reader_id,
            type_="message",
            subject_type="conversation",
            subject_id=conversation_id,
            now=now,
        )
    member = await conversations.participant(session, conversation_id, reader_id)
    assert member is not None
    await session.refresh(member)
    return ReadOut(
        conversation_id=conversation_id,
        last_read_message_id=member.last_read_message_id,
        unread_count=await conversations.unread_for(session, conversation_id, reader_id),
    )
