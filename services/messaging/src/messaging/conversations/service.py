"""Direct conversations and groups.

Rules: a direct conversation exists at most once per pair of users (the unique
constraint on the ordered pair enforces it, also under concurrency); nobody opens a
direct conversation with, adds to a group, or is added by someone they block or who
blocks them (403); users must be known and live (404). Only participants see a
conversation: for anyone else it does not exist (404). Admins rename a group and add
or remove members; anyone may leave a group; when the last admin leaves, the earliest
remaining member becomes admin, and when the last member leaves the group is deleted.
Each change records its event in the caller's transaction; nothing here commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from kit.errors import Forbidden, NotFound, UnprocessableEntity
from kit.ids import uuid7
from kit.pagination import decode_position, encode_position
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.conversations import events, repository
from messaging.conversations.pairs import ordered_pair
from messaging.conversations.schemas import (
    ConversationOut,
    ConversationPage,
    ConversationSummary,
    ParticipantOut,
    UnreadTotals,
)
from messaging.graph import repository as graph
from messaging.models import Conversation, Participant
from messaging.settings import MessagingSettings

NOT_FOUND = "No such conversation."


async def require_participant(
    session: AsyncSession,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> tuple[Conversation, Participant]:
    """The conversation and the caller's membership; 404 when either is missing."""
    conversation = await repository.get(session, conversation_id, for_update=for_update)
    if conversation is None:
        raise NotFound(NOT_FOUND)
    member = await repository.participant(session, conversation_id, user_id)
    if member is None:
        raise NotFound(NOT_FOUND)
    return conversation, member


async def _require_live_users(session: AsyncSession, ids: set[uuid.UUID]) -> None:
    missing = ids - await graph.live_users(session, ids)
    if missing:
        raise NotFound(
            "No such user: " + ", ".join(sorted(str(m) for m in missing)) + ".",
            title="Unknown user",
        )


async def _require_no_blocks(
    session: AsyncSession, actor_id: uuid.UUID, others: set[uuid.UUID]
) -> None:
    if await graph.blocked_among(session, actor_id, others):
        raise Forbidden(
            "You cannot start a conversation with this user.", title="Messaging not allowed"
        )


async def open_direct(
    session: AsyncSession, actor_id: uuid.UUID, other_id: uuid.UUID, now: datetime
) -> tuple[ConversationOut, bool]:
    """The direct conversation between the two users, created if missing; True when new.

    422 with oneself, 404 for an unknown user, 403 when either blocks the other.
    """
    if actor_id == other_id:
        raise UnprocessableEntity("You cannot start a conversation with yourself.")
    await _require_live_users(session, {other_id})
    await _require_no_blocks(session, actor_id, {other_id})
    low, high = ordered_pair(actor_id, other_id)
    created = await repository.insert_direct(
        session, conversation_id=uuid7(), low=low, high=high, created_by=actor_id, now=now
    )
    conversation = await repository.direct_between(session, low, high)
    assert conversation is not None  # inserted above or already there; never deleted
    if created:
        await repository.add_participants(
            session, conversation.id, [(low, "member"), (high, "member")], now
        )
        members = await repository.participants(session, conversation.id)
        await events.conversation_changed(session, conversation, members, new=True)
    return await describe(session, conversation, actor_id), created


async def create_group(
    session: AsyncSession,
    settings: MessagingSettings,
    actor_id: uuid.UUID,
    title: str,
    member_ids: list[uuid.UUID],
    now: datetime,
) -> ConversationOut:
    """A new group with the caller as its admin. 422 when too many members, 404 for an
    unknown member, 403 when the caller and a member block one another."""
    others = {m for m in member_ids if m != actor_id}
    if not others:
        raise UnprocessableEntity("A group needs at least one member besides you.")
    if len(others) + 1 > settings.group_max_members:
        raise UnprocessableEntity(f"A group has at most {settings.group_max_members} members.")
    await _require_live_users(session, others)
    await _require_no_blocks(session, actor_id, others)
    conversation = Conversation(
        id=uuid7(), kind="group", title=title, created_by=actor_id, created_at=now, updated_at=now
    )
    session.add(conversation)
    await session.flush()
    await repository.add_participants(
        session,
        conversation.id,
        [(actor_id, "admin"), *((m, "member") for m in sorted(others, key=lambda u: u.int))],
        now,
    )
    members = await repository.participants(session, conversation.id)
    await events.conversation_changed(session, conversation, members, new=True)
    return await describe(session, conversation, actor_id)


async def describe(
    session: AsyncSession, conversation: Conversation, viewer_id: uuid.UUID
) -> ConversationOut:
    members = await repository.participants(session, conversation.id)
    me = next((m for m in members if m.user_id == viewer_id), None)
    return ConversationOut(
        id=conversation.id,
        kind=conversation.kind,
        title=conversation.title,
        participants=[
            ParticipantOut(
                user_id=m.user_id,
                role=m.role,
                joined_at=m.joined_at,
                last_read_message_id=m.last_read_message_id,
            )
            for m in members
        ],
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        last_message_at=conversation.last_message_at,
        unread_count=await repository.unread_for(session, conversation.id, viewer_id),
        muted=bool(me and me.muted),
    )


async def get(
    session: AsyncSession, viewer_id: uuid.UUID, conversation_id: uuid.UUID
) -> ConversationOut:
    conversation, _ = await require_participant(session, conversation_id, viewer_id)
    return await describe(session, conversation, viewer_id)


async def list_page(
    session: AsyncSession, user_id: uuid.UUID, *, cursor: str | None, limit: int
) -> ConversationPage:
    after = decode_position(cursor)
    rows = await repository.list_for_user(session, user_id, after=after, limit=limit + 1)
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit and items:
        last = items[-1][0]
        activity = last.last_message_at or last.created_at
        next_cursor = encode_position(activity, last.id)
    return ConversationPage(
        items=[
            ConversationSummary(
                id=c.id,
                kind=c.kind,
                title=c.title,
                created_at=c.created_at,
                last_message_at=c.last_message_at,
                unread_count=unread,
                muted=p.muted,
            )
            for c, p, unread in items
        ],
        next_cursor=next_cursor,
    )


async def unread_totals(session: AsyncSession, user_id: uuid.UUID) -> UnreadTotals:
    conversations, messages = await repository.unread_totals(session, user_id)
    return UnreadTotals(conversations=conversations, messages=messages)


async def _require_admin_of_group(
    session: AsyncSession, conversation_id: uuid.UUID, actor_id: uuid.UUID
) -> Conversation:
    conversation, member = await require_participant(
        session, conversation_id, actor_id, for_update=True
    )
    if conversation.kind != "group":
        raise UnprocessableEntity(
            "Direct conversations have no title, admins or members to change."
        )
    if member.role != "admin":
        raise Forbidden("Only the group's admins can do this.", title="Not a group admin")
    return conversation


async def _changed(session: AsyncSession, conversation: Conversation, now: datetime) -> None:
    conversation.updated_at = max(now, conversation.updated_at)
    await session.flush()
    members = await repository.participants(session, conversation.id)
    await events.conversation_changed(session, conversation, members, new=False)


async def rename(
    session: AsyncSession,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    title: str,
    now: datetime,
) -> ConversationOut:
    conversation = await _require_admin_of_group(session, conversation_id, actor_id)
    if conversation.title != title:
        conversation.title = title
        await _changed(session, conversation, now)
    return await describe(session, conversation, actor_id)


async def add_members(
    session: AsyncSession,
    settings: MessagingSettings,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    user_ids: list[uuid.UUID],
    now: datetime,
) -> ConversationOut:
    """Add members (admins only); current members are skipped."""
    conversation = await _require_admin_of_group(session, conversation_id, actor_id)
    current = {m.user_id for m in await repository.participants(session, conversation_id)}
    new = set(user_ids) - current
    if len(current) + len(new) > settings.group_max_members:
        raise UnprocessableEntity(f"A group has at most {settings.group_max_members} members.")
    await _require_live_users(session, new)
    await _require_no_blocks(session, actor_id, new)
    added = await repository.add_participants(
        session,
        conversation_id,
        [(u, "member") for u in sorted(new, key=lambda u: u.int)],
        now,
        last_seq=conversation.last_seq,
    )
    if added:
        await _changed(session, conversation, now)
    return await describe(session, conversation, actor_id)


async def make_admin(
    session: AsyncSession,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
) -> ConversationOut:
    conversation = await _require_admin_of_group(session, conversation_id, actor_id)
    target = await repository.participant(session, conversation_id, user_id)
    if target is None:
        raise NotFound("That user is not a member of this group.")
    if target.role != "admin":
        await repository.set_role(session, conversation_id, user_id, "admin")
        await _changed(session, conversation, now)
    return await describe(session, conversation, actor_id)


async def remove_member(
    session: AsyncSession,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
) -> ConversationOut | None:
    """An admin removes a member; removing oneself is leaving. None when the caller left."""
    if user_id == actor_id:
        await leave(session, actor_id, conversation_id, now)
        return None
    conversation = await _require_admin_of_group(session, conversation_id, actor_id)
    if not await repository.remove_participant(session, conversation_id, user_id):
        raise NotFound("That user is not a member of this group.")
    await _changed(session, conversation, now)
    return await describe(session, conversation, actor_id)


async def leave(
    session: AsyncSession, actor_id: uuid.UUID, conversation_id: uuid.UUID, now: datetime
) -> None:
    """Leave a group (422 for a direct conversation)."""
    conversation, _ = await require_participant(session, conversation_id, actor_id, for_update=True)
    if conversation.kind != "group":
        raise UnprocessableEntity("You cannot leave a direct conversation.")
    await repository.remove_participant(session, conversation_id, actor_id)
    remaining = await repository.participants(session, conversation_id)
    if not remaining:
        await repository.delete_conversation(session, conversation_id)
        return
    if not any(m.role == "admin" for m in remaining):
        await repository.set_role(session, conversation_id, remaining[0].user_id, "admin")
        await session.refresh(remaining[0])
    await _changed(session, conversation, now)


async def set_muted(
    session: AsyncSession, actor_id: uuid.UUID, conversation_id: uuid.UUID, muted: bool
) -> ConversationOut:
    """Mute or unmute a conversation for the caller: no message notifications while muted."""
    conversation, _ = await require_participant(session, conversation_id, actor_id)
    await repository.set_muted(session, conversation_id, actor_id, muted)
    return await describe(session, conversation, actor_id)
