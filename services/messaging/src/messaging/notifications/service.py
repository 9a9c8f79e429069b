"""The notification inbox: recording (with batching), reading, marking read, preferences.

:func:`notify` is called by the event handlers and by message sending, inside the
caller's transaction; it records ``messaging.notification.created`` or ``.updated`` in
the outbox with the change. Nothing here commits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from kit.errors import Conflict, NotFound, ProblemError, UnprocessableEntity
from kit.ids import uuid7
from kit.pagination import decode_position, encode_position
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.graph import repository as graph
from messaging.models import Digest, Notification, NotificationSettings
from messaging.notifications import events, repository
from messaging.notifications.batching import (
    BatchCandidate,
    can_coalesce,
    merge_actors,
    summarize,
)
from messaging.notifications.preferences import check_choice, effective_preferences, resolve_channel
from messaging.notifications.schemas import (
    NotificationOut,
    NotificationPage,
    PreferencesIn,
    PreferencesOut,
)
from messaging.settings import MessagingSettings

#: The subject of the mail carrying a new digest address's confirmation code.
CONFIRM_SUBJECT = "تأكيد عنوان البريد لرسائل الملخص"


@dataclass(frozen=True)
class Intent:
    """Something that may deserve a notification for ``recipient_id``."""

    recipient_id: uuid.UUID
    type: str
    actor_id: uuid.UUID | None
    subject_type: str | None
    subject_id: uuid.UUID | None
    detail: str | None = None


async def notify(
    session: AsyncSession, settings: MessagingSettings, intent: Intent, now: datetime
) -> Notification | None:
    """Record ``intent`` in the recipient's inbox; the notification, or None when skipped.

    Skipped: the actor is the recipient, either blocks the other, or the recipient turned
    the type off. Otherwise an unread notification of the same type and subject younger
    than the batch window grows (a new distinct actor raises ``actor_count``; an actor
    already counted changes nothing, except for messages, which move it up again);
    else a new one is created.
    """
    if intent.actor_id is not None:
        if intent.actor_id == intent.recipient_id:
            return None
        if await graph.blocked_between(session, intent.actor_id, intent.recipient_id):
            return None
    prefs = await repository.preferences(session, intent.recipient_id)
    if resolve_channel(prefs, intent.type) == "off":
        return None
    await repository.lock_batch(
        session, intent.recipient_id, intent.type, intent.subject_type, intent.subject_id
    )
    existing = await repository.latest_in_batch(
        session, intent.recipient_id, intent.type, intent.subject_type, intent.subject_id
    )
    window = timedelta(seconds=settings.notification_batch_window_s)
    candidate = (
        BatchCandidate(created_at=existing.created_at, read=existing.read_at is not None)
        if existing is not None
        else None
    )
    if existing is not None and can_coalesce(intent.type, candidate, now, window):
        counted = True
        if intent.actor_id is not None:
            counted = await repository.add_actor(session, existing.id, intent.actor_id)
        if not counted and intent.type != "message":
            return existing
        if counted and intent.actor_id is not None:
            existing.actor_count += 1
        existing.actor_ids = merge_actors(
            existing.actor_ids, intent.actor_id, settings.notification_actor_cap
        )
        existing.summary = await _summary(session, intent, existing.actor_ids, existing.actor_count)
        existing.updated_at = max(now, existing.updated_at)
        await session.flush()
        await events.notification_changed(session, existing, new=False)
        return existing

    actors = [intent.actor_id] if intent.actor_id is not None else []
    notification = Notification(
        id=uuid7(),
        user_id=intent.recipient_id,
        type=intent.type,
        subject_type=intent.subject_type,
        subject_id=intent.subject_id,
        actor_ids=actors,
        actor_count=len(actors),
        summary=await _summary(session, intent, actors, len(actors)),
        created_at=now,
        updated_at=now,
    )
    session.add(notification)
    await session.flush()
    if intent.actor_id is not None:
        await repository.add_actor(session, notification.id, intent.actor_id)
    await events.notification_changed(session, notification, new=True)
    return notification


async def _summary(
    session: AsyncSession, intent: Intent, actor_ids: list[uuid.UUID], count: int
) -> str:
    names = await graph.display_names(session, actor_ids[:1])
    first = [names[actor_ids[0]]] if actor_ids and actor_ids[0] in names else []
    return summarize(intent.type, first, count, intent.subject_type, detail=intent.detail)[:500]


def to_out(n: Notification) -> NotificationOut:
    return NotificationOut(
        id=n.id,
        type=n.type,
        actor_ids=list(n.actor_ids),
        actor_count=n.actor_count,
        subject_type=n.subject_type,
        subject_id=n.subject_id,
        summary=n.summary,
        created_at=n.created_at,
        updated_at=n.updated_at,
        read=n.read_at is not None,
    )


async def list_page(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
    unread_only: bool,
) -> NotificationPage:
    """The user's notifications, most recently updated first; 400 for a tampered cursor."""
    after = decode_position(cursor)
    rows = await repository.page(
        session, user_id, after=after, limit=limit + 1, unread_only=unread_only
    )
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit and items:
        last = items[-1]
        next_cursor = encode_position(last.updated_at, last.id)
    return NotificationPage(items=[to_out(n) for n in items], next_cursor=next_cursor)


async def unread_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    return await repository.unread_count(session, user_id)


async def mark_one_read(
    session: AsyncSession, user_id: uuid.UUID, notification_id: uuid.UUID, now: datetime
) -> Notification:
    """Mark one notification read (idempotent); 404 when it is not the caller's."""
    notification = await session.get(Notification, notification_id)
    if notification is None or notification.user_id != user_id:
        raise NotFound("No such notification.")
    changed = await repository.mark_read(session, user_id, now, ids=[notification_id])
    if changed:
        await session.refresh(notification)
        await events.notifications_read(session, user_id, changed, now)
    return notification


async def mark_all_read(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> int:
    """Mark every unread notification read; how many changed (an event only when any did)."""
    changed = await repository.mark_read(session, user_id, now)
    if changed:
        await events.notifications_read(session, user_id, [], now)
    return len(changed)


async def mark_subject_read(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    type_: str,
    subject_type: str,
    subject_id: uuid.UUID,
    now: datetime,
) -> None:
    """Mark read the user's notifications of one type about one subject (with an event)."""
    changed = await repository.mark_read(
        session, user_id, now, type_=type_, subject_type=subject_type, subject_id=subject_id
    )
    if changed:
        await events.notifications_read(session, user_id, changed, now)


async def get_preferences(session: AsyncSession, user_id: uuid.UUID) -> PreferencesOut:
    prefs = await repository.preferences(session, user_id)
    settings = await repository.get_settings(session, user_id)
    return PreferencesOut(
        channels=effective_preferences(prefs),
        email=settings.email if settings else None,
        pending_email=settings.pending_email if settings else None,
    )


def _normalise_email(address: str) -> str:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise UnprocessableEntity(f"email: {exc}", title="Invalid email address") from None


def _code_hash(user_id: uuid.UUID, code: str) -> str:
    return hashlib.sha256(f"{user_id}:{code}".encode()).hexdigest()


def _clear_pending(row: NotificationSettings) -> None:
    row.pending_email = row.email_code_hash = row.email_code_expires_at = None
    row.email_code_attempts = 0


async def update_preferences(
    session: AsyncSession,
    settings: MessagingSettings,
    user_id: uuid.UUID,
    body: PreferencesIn,
    now: datetime,
) -> PreferencesOut:
    """Apply the given channel choices and digest address (fields left out stay as they
    are; ``email: null`` removes the address). 422 for an unknown type or channel, for
    turning off a mandatory type, or for a malformed address; nothing is changed then.

    A new address is not used at once: it becomes ``pending_email`` and a 6-digit code
    is mailed to it (through the digest queue, with its retries); :func:`confirm_email`
    with that code makes it the digest address. Nobody can have digests sent to an
    address they cannot read.
    """
    problems = [p for t, c in (body.channels or {}).items() if (p := check_choice(t, c))]
    if problems:
        raise UnprocessableEntity("; ".join(problems), title="Invalid notification preferences")
    email_given = "email" in body.model_fields_set
    email = _normalise_email(body.email) if email_given and body.email else None
    for type_, channel in (body.channels or {}).items():
        await repository.put_preference(session, user_id, type_, channel)
    if email_given:
        row = await repository.settings_for_update(session, user_id, now)
        row.updated_at = now
        if email is None:
            row.email = None
            _clear_pending(row)
        elif email == row.email:
            _clear_pending(row)
        else:
            code = f"{secrets.randbelow(1_000_000):06d}"
            row.pending_email = email
            row.email_code_hash = _code_hash(user_id, code)
            row.email_code_expires_at = now + timedelta(seconds=settings.email_code_ttl_s)
            row.email_code_attempts = 0
            minutes = settings.email_code_ttl_s // 60
            session.add(
                Digest(
                    id=uuid7(),
                    user_id=user_id,
                    email=email,
                    notification_ids=[],
                    subject=CONFIRM_SUBJECT,
                    body="\n".join(
                        [
                            "مرحبًا،",
                            "",
                            f"رمز تأكيد هذا العنوان لرسائل الملخص: {code}",
                            f"الرمز صالح لمدة {minutes} دقيقة. إن لم تطلبه فتجاهل هذه الرسالة.",
                            "",
                            "— المنصة",
                        ]
                    ),
                    status="pending",
                    attempts=0,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
    return await get_preferences(session, user_id)


async def confirm_email(
    session: AsyncSession,
    settings: MessagingSettings,
    user_id: uuid.UUID,
    code: str,
    now: datetime,
) -> PreferencesOut | ProblemError:
    """Make the pending address the digest address if ``code`` is the one mailed to it.

    A wrong or late code is *returned* as a problem (422; 409 when nothing is pending),
    not raised, so that the failed attempt is committed: after
    ``email_code_max_attempts`` wrong codes, or once the code expired, the pending
    address is dropped and must be set again for a new code.
    """
    row = await repository.settings_for_update(session, user_id, now)
    if row.pending_email is None or row.email_code_hash is None:
        return Conflict("No address is waiting for confirmation.", title="Nothing to confirm")
    expires = row.email_code_expires_at
    if expires is None or expires <= now:
        _clear_pending(row)
        return UnprocessableEntity(
            "The code expired; set the address again to get a new one.", title="Code expired"
        )
    if not hmac.compare_digest(_code_hash(user_id, code), row.email_code_hash):
        row.email_code_attempts += 1
        left = settings.email_code_max_attempts - row.email_code_attempts
        if left <= 0:
            _clear_pending(row)
            return UnprocessableEntity(
                "Too many wrong codes; set the address again to get a new one.",
                title="Wrong code",
            )
        return UnprocessableEntity("That is not the code.", title="Wrong code", attempts_left=left)
    row.email = row.pending_email
    row.updated_at = now
    _clear_pending(row)
    return await get_preferences(session, user_id)
