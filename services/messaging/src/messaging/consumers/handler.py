"""The consumer of other contexts' events, and of messaging's own sent messages (group
``messaging``).

It keeps the read models (users, follows, blocks from ``identity.*``; comment authors
from ``content.comment.*``) and turns events into notifications, among them the
``message`` notification of each recipient of ``messaging.message.sent`` who is offline
(no presence key in Redis when the event is applied) and has not muted the
conversation; sending a message leaves that to this consumer so the sender's request
does not wait for it. Each event runs in the
kit consumer's transaction together with its inbox row, so a redelivered event changes
nothing. Event data is checked against its contract first; a contract violation or data
the handler cannot use raises :class:`PermanentError` (dead-lettered at once, the
consumer moves on). Types it does not use are ignored.

``moderation.decision.*`` has no contract yet: its data is checked against
:class:`~messaging.notifications.sources.ModerationDecision` instead, until the
moderation context publishes one (then the contract check takes over).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from kit.consumer import PermanentError
from kit.events import CloudEvent
from pydantic import ValidationError
from redis.asyncio import Redis
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import ContractError, event_types, validate
from messaging.clock import parse_time, utcnow
from messaging.conversations import repository as conversations
from messaging.graph import repository as graph
from messaging.models import CommentRef
from messaging.notifications import presence, sources
from messaging.notifications import repository as notification_store
from messaging.notifications.service import Intent, notify
from messaging.settings import MessagingSettings

log = logging.getLogger("messaging.consumer")

Apply = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]


class EventHandler:
    """``handler(session, event)`` for :class:`kit.consumer.EventConsumer`.

    ``redis`` answers presence; without one, the handler opens its own on first use
    (closed by :meth:`aclose`)."""

    def __init__(self, settings: MessagingSettings, redis: Redis | None = None) -> None:
        self.settings = settings
        self._redis = redis
        self._own_redis: Redis | None = None
        self._routes: dict[str, Apply] = {
            "messaging.message.sent": self._message_sent,
            "identity.user.registered": self._user_profile,
            "identity.user.updated": self._user_profile,
            "identity.user.deleted": self._user_deleted,
            "identity.follow.created": self._follow_created,
            "identity.follow.removed": self._follow_removed,
            "identity.block.created": self._block_created,
            "identity.block.removed": self._block_removed,
            "content.post.created": self._post_created,
            "content.comment.created": self._comment_created,
            "content.comment.deleted": self._comment_deleted,
            "content.reaction.added": self._reaction_added,
        }

    async def __call__(self, session: AsyncSession, event: CloudEvent) -> None:
        apply = self._routes.get(event.type)
        if apply is None and event.type.startswith("moderation.decision."):
            apply = self._moderation_decision
        if apply is None:
            return
        if event.type in event_types():
            try:
                validate(event.type, event.data)
            except ContractError as exc:
                raise PermanentError(f"{event.type} breaks its contract: {exc}") from exc
        try:
            await apply(session, event.data)
        except (KeyError, ValueError, TypeError) as exc:
            raise PermanentError(f"{event.type} data unusable: {exc!r}") from exc

    async def aclose(self) -> None:
        """Close the Redis client the handler opened itself, if any."""
        if self._own_redis is not None:
            await self._own_redis.aclose()
            self._own_redis = None

    def _presence(self) -> Redis:
        if self._redis is not None:
            return self._redis
        if self._own_redis is None:
            self._own_redis = Redis.from_url(self.settings.redis_url)
        return self._own_redis

    async def _notify(self, session: AsyncSession, intents: list[Intent]) -> None:
        now = utcnow()
        for intent in intents:
            await notify(session, self.settings, intent, now)

    # --- messaging -----------------------------------------------------------------

    async def wants(self, event: CloudEvent) -> bool:
        """Whether ``event`` can have an effect now (the consumer's ``wants`` hook).

        Declined without a transaction: types this handler does not apply, and sent
        messages with no recipient to notify (all online, or past notifying), which at
        chat rates are nearly all of them. Anything undecidable here is accepted.
        """
        if event.type not in self._routes:
            return event.type.startswith("moderation.decision.")
        if event.type == "messaging.message.sent":
            return bool(await self._offline_recipients(event.data))
        return True

    async def _offline_recipients(self, data: dict[str, Any]) -> list[uuid.UUID]:
        """The recipients of a sent message to notify: those not online, as long as the
        message is not past notifying.

        The message's own time counts, not the time of applying: batching windows and
        the notification's order follow when the message was sent. A message older
        than the batch window is past notifying (its conversation shows it unread):
        that also keeps a first start of this consumer on the topic's history from
        notifying again what the service notified when it still did so while sending.
        """
        sent_at = parse_time(data["created_at"])
        if (utcnow() - sent_at).total_seconds() > self.settings.notification_batch_window_s:
            log.debug("message %s is past notifying", data.get("message_id"))
            return []
        sender = uuid.UUID(data["sender_id"])
        others = [u for p in data["participant_ids"] if (u := uuid.UUID(p)) != sender]
        # Presence first: most recipients are online, and then the database is not asked.
        here = await presence.online(self._presence(), self.settings.presence_key_prefix, others)
        return [u for u in others if u not in here]

    async def _message_sent(self, session: AsyncSession, data: dict[str, Any]) -> None:
        offline = await self._offline_recipients(data)
        if not offline:
            return
        sent_at = parse_time(data["created_at"])
        sender = uuid.UUID(data["sender_id"])
        conversation_id = uuid.UUID(data["conversation_id"])
        for recipient in await conversations.unmuted_among(session, conversation_id, offline):
            await notify(
                session,
                self.settings,
                Intent(
                    recipient_id=recipient,
                    type="message",
                    actor_id=sender,
                    subject_type="conversation",
                    subject_id=conversation_id,
                ),
                sent_at,
            )

    # --- identity ------------------------------------------------------------------

    async def _user_profile(self, session: AsyncSession, data: dict[str, Any]) -> None:
        await graph.upsert_user(
            session,
            user_id=uuid.UUID(data["user_id"]),
            username=str(data["username"]),
            display_name=str(data["display_name"]),
            updated_at=parse_time(data["updated_at"]),
        )

    async def _user_deleted(self, session: AsyncSession, data: dict[str, Any]) -> None:
        user_id = uuid.UUID(data["user_id"])
        await graph.mark_deleted(session, user_id, parse_time(data["deleted_at"]))
        await notification_store.forget_user(session, user_id)

    async def _follow_created(self, session: AsyncSession, data: dict[str, Any]) -> None:
        follower = uuid.UUID(data["follower_id"])
        followee = uuid.UUID(data["followee_id"])
        if await graph.add_follow(session, follower, followee, parse_time(data["created_at"])):
            await self._notify(session, sources.from_follow(data))

    async def _follow_removed(self, session: AsyncSession, data: dict[str, Any]) -> None:
        await graph.remove_follow(
            session, uuid.UUID(data["follower_id"]), uuid.UUID(data["followee_id"])
        )

    async def _block_created(self, session: AsyncSession, data: dict[str, Any]) -> None:
        await graph.add_block(
            session,
            uuid.UUID(data["blocker_id"]),
            uuid.UUID(data["blocked_id"]),
            parse_time(data["created_at"]),
        )

    async def _block_removed(self, session: AsyncSession, data: dict[str, Any]) -> None:
        await graph.remove_block(
            session, uuid.UUID(data["blocker_id"]), uuid.UUID(data["blocked_id"])
        )

    # --- content -------------------------------------------------------------------

    async def _post_created(self, session: AsyncSession, data: dict[str, Any]) -> None:
        await self._notify(session, sources.from_post_created(data))

    async def _comment_created(self, session: AsyncSession, data: dict[str, Any]) -> None:
        comment_id = uuid.UUID(data["comment_id"])
        await session.execute(
            insert(CommentRef)
            .values(
                id=comment_id,
                post_id=uuid.UUID(data["post_id"]),
                author_id=uuid.UUID(data["author_id"]),
            )
            .on_conflict_do_nothing()
        )
        parent_author = None
        if data.get("parent_id"):
            parent = await session.get(CommentRef, uuid.UUID(str(data["parent_id"])))
            if parent is None:
                log.info("reply to unknown comment %s: no reply notification", data["parent_id"])
            else:
                parent_author = parent.author_id
        await self._notify(session, sources.from_comment_created(data, parent_author))

    async def _comment_deleted(self, session: AsyncSession, data: dict[str, Any]) -> None:
        await session.execute(
            delete(CommentRef).where(CommentRef.id == uuid.UUID(data["comment_id"]))
        )

    async def _reaction_added(self, session: AsyncSession, data: dict[str, Any]) -> None:
        await self._notify(session, sources.from_reaction_added(data))

    # --- moderation ----------------------------------------------------------------

    async def _moderation_decision(self, session: AsyncSession, data: dict[str, Any]) -> None:
        try:
            decision = sources.ModerationDecision.model_validate(data)
        except ValidationError as exc:
            raise PermanentError(f"moderation decision unusable: {exc}") from exc
        await self._notify(session, sources.from_moderation_decision(decision))
