"""Email digests of unread notifications.

:func:`build_digests` runs periodically: for every user with a digest address whose
last run is at least ``digest_interval_s`` old, it gathers the unread notifications of
the types the user wants by email that were created or grew since that run, stores
them as one pending :class:`~messaging.models.Digest` and moves the user's cursor, in
one transaction: each notification state goes into one digest only.

:func:`deliver_due` sends pending digests one at a time, each under a row lock held
through the SMTP conversation, and marks it ``sent`` in the same transaction, so two
workers never send the same digest. A failed send is retried with exponential backoff
(``digest_retry_*``) until ``digest_max_attempts``, then marked ``failed``. The only
window for a repeat is a crash after the SMTP server accepted the mail and before the
commit; the resend carries the same Message-ID.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from kit.db import Database
from kit.ids import uuid7
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.digests import repository
from messaging.digests.mailer import SEND_ERRORS, Email, Mailer
from messaging.digests.schedule import retry_delay
from messaging.models import Digest, Notification
from messaging.notifications import repository as notifications
from messaging.notifications.preferences import email_types
from messaging.settings import MessagingSettings

log = logging.getLogger("messaging.digests")


def render(notifications_: Sequence[Notification]) -> tuple[str, str]:
    """Subject and plain-text body of a digest (Arabic)."""
    count = len(notifications_)
    subject = "لديك إشعار جديد" if count == 1 else f"لديك {count} إشعارات جديدة"
    lines = [f"• {n.summary}" for n in notifications_]
    body = "\n".join(["مرحبًا،", "", "إليك ما فاتك منذ آخر رسالة:", "", *lines, "", "— المنصة"])
    return subject, body


async def build_digests(
    session: AsyncSession, settings: MessagingSettings, now: datetime, *, limit: int = 200
) -> int:
    """Create the digests that are due; how many were created. Nothing is sent here."""
    cutoff = now - timedelta(seconds=settings.digest_interval_s)
    created = 0
    for recipient in await repository.due_recipients(session, cutoff, limit):
        types = email_types(await notifications.preferences(session, recipient.user_id))
        items: Sequence[Notification] = []
        if types:
            items = await repository.unread_since(
                session, recipient.user_id, types, recipient.digest_cursor, now
            )
        if items and recipient.email:
            subject, body = render(items)
            session.add(
                Digest(
                    id=uuid7(),
                    user_id=recipient.user_id,
                    email=recipient.email,
                    notification_ids=[n.id for n in items],
                    subject=subject,
                    body=body,
                    status="pending",
                    attempts=0,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
            created += 1
        recipient.digest_cursor = now
    await session.flush()
    return created


async def deliver_due(
    db: Database,
    settings: MessagingSettings,
    mailer: Mailer,
    now: datetime,
    *,
    limit: int = 50,
) -> tuple[int, int]:
    """Send the digests due at ``now``; (sent, failed attempts)."""
    sent = failed = 0
    for _ in range(limit):
        async with db.session() as session:
            digest = await repository.next_due(session, now)
            if digest is None:
                break
            digest.attempts += 1
            try:
                await mailer.send(
                    Email(
                        to=digest.email,
                        subject=digest.subject,
                        body=digest.body,
                        message_id=f"<digest-{digest.id}@messaging.platform>",
                    )
                )
            except SEND_ERRORS as exc:
                failed += 1
                digest.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                if digest.attempts >= settings.digest_max_attempts:
                    digest.status = "failed"
                    log.error("digest %s failed for good: %s", digest.id, digest.last_error)
                else:
                    digest.next_attempt_at = now + retry_delay(
                        digest.attempts,
                        initial_s=settings.digest_retry_initial_s,
                        max_s=settings.digest_retry_max_s,
                    )
                    log.warning(
                        "digest %s attempt %d failed, retry at %s: %s",
                        digest.id,
                        digest.attempts,
                        digest.next_attempt_at.isoformat(),
                        digest.last_error,
                    )
            else:
                digest.status = "sent"
                digest.sent_at = now
                digest.last_error = None
                sent += 1
    return sent, failed


def done_digest_pruner(settings: MessagingSettings) -> Callable[[Database], Awaitable[int]]:
    """``prune(db)`` for :class:`kit.outbox.OutboxRelay`'s ``housekeeping``: sent and
    given-up digests (they hold an address and notification summaries) are deleted
    ``digest_retention_s`` after they were built."""

    async def prune(db: Database) -> int:
        before = datetime.now(UTC) - timedelta(seconds=settings.digest_retention_s)
        return await repository.prune_done(
            db, before=before, batch=settings.housekeeping_batch_size
        )

    return prune
