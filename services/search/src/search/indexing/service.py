"""Applying consumed events: first to the read model, then to the Typesense collections.

:func:`apply_to_read_model` records what an event changes in the search schema and
returns the index operations that follow from it (none when the event is stale: older
than what is stored, or about something already deleted). :class:`Indexer` carries
those operations out against the collection aliases. The live consumer does both in
one transaction (a failure rolls the read model back and the event is retried); a
replay for reindexing only rebuilds the read model.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kit.consumer import PermanentError
from kit.events import CloudEvent
from pydantic import BaseModel, ValidationError
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

import contracts
from search.collections import (
    Collections,
    Kind,
    community_document,
    post_document,
    user_document,
)
from search.indexing import events as ev
from search.indexing import repository as repo
from search.query.filters import quote
from search.typesense import Typesense, TypesenseError

log = logging.getLogger("search.indexing")


@dataclass(frozen=True)
class IndexOp:
    """One change to a collection: upsert a document, delete one, or delete by filter."""

    action: Literal["upsert", "delete", "delete_by"]
    kind: Kind
    document: dict[str, Any] = field(default_factory=dict)
    doc_id: str = ""
    filter_by: str = ""


def _parse(model: type[ev._Event], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PermanentError(f"unusable event data: {exc.errors()[:3]}") from exc


def check_contract(event: CloudEvent) -> None:
    """Validate against the published contract when the contracts package knows the type.

    :class:`PermanentError` when the data breaks it (the event is dead-lettered).
    """
    if event.type not in _known_types():
        return
    try:
        contracts.validate(event.type, event.data)
    except contracts.ContractError as exc:
        raise PermanentError(f"contract violation: {exc}") from exc


_KNOWN: set[str] = set()


def _known_types() -> set[str]:
    if not _KNOWN:
        _KNOWN.update(contracts.event_types())
    return _KNOWN


def _json_source(model: BaseModel) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json")
    return data


async def apply_to_read_model(session: AsyncSession, event: CloudEvent) -> list[IndexOp]:
    """Record ``event``'s effect on the read model; the index operations it requires.

    Raises :class:`PermanentError` for data that cannot be used. Event types search does
    not use are ignored.
    """
    handler = _HANDLERS.get(event.type)
    if handler is None:
        return []
    return await handler(session, event.data)


async def _user_profile(session: AsyncSession, data: dict[str, Any]) -> list[IndexOp]:
    user = _parse(ev.UserProfile, data)
    source = _json_source(user)
    written = await repo.put_document(
        session, "users", user.user_id, version_at=user.updated_at, source=source
    )
    return [IndexOp("upsert", "users", document=user_document(source))] if written else []


async def _user_deleted(session: AsyncSession, data: dict[str, Any]) -> list[IndexOp]:
    deleted = _parse(ev.UserDeleted, data)
    await repo.tombstone_document(session, "users", deleted.user_id, deleted_at=deleted.deleted_at)
    await repo.tombstone_posts_of(session, deleted.user_id, deleted.deleted_at)
    await repo.deactivate_user_edges(session, deleted.user_id, deleted.deleted_at)
    uid = str(deleted.user_id)
    return [
        IndexOp("delete", "users", doc_id=uid),
        IndexOp("delete_by", "posts", filter_by=f"author_id:={quote(uid)}"),
    ]


def _edge_time(change: ev.FollowChanged | ev.BlockChanged, created: bool) -> Any:
    at = change.created_at if created else change.removed_at
    if at is None:
        raise PermanentError("created_at/removed_at missing")
    return at


async def _follow(session: AsyncSession, data: dict[str, Any], created: bool) -> list[IndexOp]:
    change = _parse(ev.FollowChanged, data)
    await repo.set_edge(
        session,
        "follows",
        a=("follower_id", change.follower_id),
        b=("followee_id", change.followee_id),
        active=created,
        at=_edge_time(change, created),
    )
    return []


async def _block(session: AsyncSession, data: dict[str, Any], created: bool) -> list[IndexOp]:
    change = _parse(ev.BlockChanged, data)
    await repo.set_edge(
        session,
        "blocks",
        a=("blocker_id", change.blocker_id),
        b=("blocked_id", change.blocked_id),
        active=created,
        at=_edge_time(change, created),
    )
    return []


async def _post_state(session: AsyncSession, data: dict[str, Any]) -> list[IndexOp]:
    post = _parse(ev.PostState, data)
    if await repo.is_deleted(session, "users", post.author_id):
        return []
    source = _json_source(post)
    written = await repo.put_document(
        session,
        "posts",
        post.post_id,
        version_at=post.updated_at,
        source=source,
        author_id=post.author_id,
        community_id=post.community_id,
    )
    if not written:
        return []
    visibility = (
        await repo.community_visibility(session, post.community_id) if post.community_id else None
    )
    return [IndexOp("upsert", "posts", document=post_document(source, visibility))]


async def _post_deleted(session: AsyncSession, data: dict[str, Any]) -> list[IndexOp]:
    deleted = _parse(ev.PostDeleted, data)
    await repo.tombstone_document(
        session,
        "posts",
        deleted.post_id,
        deleted_at=deleted.deleted_at,
        author_id=deleted.author_id,
        community_id=deleted.community_id,
    )
    return [IndexOp("delete", "posts", doc_id=str(deleted.post_id))]


async def _community_state(session: AsyncSession, data: dict[str, Any]) -> list[IndexOp]:
    community = _parse(ev.CommunityState, data)
    before = await repo.get_document(
        session, "communities", community.community_id, for_update=True
    )
    source = _json_source(community)
    written = await repo.put_document(
        session,
        "communities",
        community.community_id,
        version_at=community.updated_at,
        source=source,
        author_id=community.owner_id,
    )
    if not written:
        return []
    ops = [IndexOp("upsert", "communities", document=community_document(source))]
    old_visibility = (before.source or {}).get("visibility") if before else None
    if old_visibility != community.visibility:
        # Posts carry the gate of their community; re-derive them all with the new one.
        for post in await repo.live_posts_in(session, community.community_id):
            ops.append(
                IndexOp("upsert", "posts", document=post_document(post, community.visibility))
            )
    return ops


async def _membership(session: AsyncSession, data: dict[str, Any], joined: bool) -> list[IndexOp]:
    change = _parse(ev.MembershipChanged, data)
    await repo.set_edge(
        session,
        "memberships",
        a=("community_id", change.community_id),
        b=("user_id", change.user_id),
        active=joined,
        at=change.at,
        role=change.role,
    )
    return []


Apply = Callable[[AsyncSession, dict[str, Any]], Awaitable[list[IndexOp]]]


def _flag(
    fn: Callable[[AsyncSession, dict[str, Any], bool], Awaitable[list[IndexOp]]], on: bool
) -> Apply:
    async def apply(session: AsyncSession, data: dict[str, Any]) -> list[IndexOp]:
        return await fn(session, data, on)

    return apply


_HANDLERS: dict[str, Apply] = {
    "identity.user.registered": _user_profile,
    "identity.user.updated": _user_profile,
    "identity.user.deleted": _user_deleted,
    "identity.follow.created": _flag(_follow, True),
    "identity.follow.removed": _flag(_follow, False),
    "identity.block.created": _flag(_block, True),
    "identity.block.removed": _flag(_block, False),
    "content.post.created": _post_state,
    "content.post.updated": _post_state,
    "content.post.deleted": _post_deleted,
    "content.community.created": _community_state,
    "content.community.updated": _community_state,
    "content.community.member_joined": _flag(_membership, True),
    "content.community.member_left": _flag(_membership, False),
}

HANDLED_TYPES = frozenset(_HANDLERS)


#: Event type -> the data fields naming users whose viewer context (follows, blocks,
#: memberships) the event changes.
_VIEWER_FIELDS: dict[str, tuple[str, ...]] = {
    "identity.follow.created": ("follower_id",),
    "identity.follow.removed": ("follower_id",),
    "identity.block.created": ("blocker_id", "blocked_id"),
    "identity.block.removed": ("blocker_id", "blocked_id"),
    "content.community.member_joined": ("user_id",),
    "content.community.member_left": ("user_id",),
}


def viewers_touched(event: CloudEvent) -> tuple[str, ...] | None:
    """Users whose viewer context ``event`` changes: none (``()``), some, or None for
    anyone (a deleted user's edges are all deactivated)."""
    if event.type == "identity.user.deleted":
        return None
    data = event.data if isinstance(event.data, dict) else {}
    return tuple(str(data[f]) for f in _VIEWER_FIELDS.get(event.type, ()) if data.get(f))


class Indexer:
    """Carries out :class:`IndexOp` s against the collection aliases.

    ``on_graph_change`` (set by the runtime) is told which viewers' follows, blocks or
    memberships an applied event changed, once its transaction has committed.
    """

    def __init__(self, client: Typesense, collections: Collections) -> None:
        self.client = client
        self.collections = collections
        self.on_graph_change: Callable[[tuple[str, ...] | None], None] | None = None

    async def execute(self, ops: Sequence[IndexOp]) -> None:
        """Apply ``ops`` in order. Raises ``TypesenseUnavailable`` (retry later) or
        ``TypesenseError`` (the server rejected a document)."""
        upserts: dict[Kind, list[dict[str, Any]]] = {}
        for op in ops:
            if op.action == "upsert":
                upserts.setdefault(op.kind, []).append(op.document)
                continue
            await self._flush(upserts)
            alias = self.collections.alias(op.kind)
            if op.action == "delete":
                await self.client.delete(alias, op.doc_id)
            else:
                await self.client.delete_by_filter(alias, op.filter_by)
        await self._flush(upserts)

    async def _flush(self, upserts: dict[Kind, list[dict[str, Any]]]) -> None:
        for kind, documents in upserts.items():
            alias = self.collections.alias(kind)
            if len(documents) == 1:
                await self.client.upsert(alias, documents[0])
            else:
                await self.client.import_documents(alias, documents)
        upserts.clear()


def make_handler(indexer: Indexer) -> Callable[[AsyncSession, CloudEvent], Awaitable[None]]:
    """The live consumer's handler: contract check, read model, then the index.

    A document Typesense rejects is a :class:`PermanentError` (dead letter); Typesense
    being unreachable propagates as ``ConnectionError`` and is retried until it is back.
    """

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        if event.type not in HANDLED_TYPES:
            return
        check_contract(event)
        await repo.lock_index_shared(session)
        ops = await apply_to_read_model(session, event)
        notify = indexer.on_graph_change
        touched = viewers_touched(event)
        if notify is not None and touched != ():
            # After commit: a query reloading the context earlier would read the old edges.
            sa_event.listen(
                session.sync_session, "after_commit", lambda _s: notify(touched), once=True
            )
        try:
            await indexer.execute(ops)
        except TypesenseError as exc:
            raise PermanentError(f"index rejected {event.type} {event.subject}: {exc}") from exc

    return handle
