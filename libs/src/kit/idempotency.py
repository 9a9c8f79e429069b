"""``Idempotency-Key`` for creating POSTs.

A client that may retry a create (a flaky network, a timeout after the server committed)
sends ``Idempotency-Key: <its own unique string>``. The first successful answer to a key
is stored in the same transaction as the change it reports, so either both commit or
neither does. A retry with the same key and the same body gets the stored answer again
(with ``Idempotent-Replayed: true``) without repeating the change; the same key with a
different body is a 422. A failed request stores nothing (its transaction rolls back), so
it can be retried with the same key. Concurrent requests with one key are serialised by
a transaction-scoped advisory lock: the second waits for the first and then replays it.

Keys are only unique within a *scope*: a scope names the operation and, for
authenticated calls, the caller (``f"posts:{user_id}"``), so two clients that pick the
same key never see each other's answers.

A route hands its work to :func:`respond_once`, inside the request's transaction::

    async def make() -> dict[str, Any]:
        ...  # the change; returns the JSON answer
    return await idempotency.respond_once(
        session, key=idempotency_key, scope=f"posts:{user_id}",
        request_body=body.model_dump(mode="json"), make=make, status_code=201, ttl=...,
    )

(:func:`claim` and :meth:`Claim.remember` are the two steps, for routes that need them
apart.)

The table lives in the service's own schema (``create_idempotency_table`` from a
migration); expired rows are replaced when their key is reused and removed by
:func:`prune_expired`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import Header
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, delete, select, text
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse

from kit.errors import BadRequest, UnprocessableEntity

MAX_KEY_LENGTH = 255

#: The raw header, for a route's signature; pass it through :func:`check_key`.
IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key")]


def idempotency_table(metadata: MetaData) -> Table:
    """Define ``idempotency_keys`` in ``metadata`` (its schema is the metadata's)."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("scope", String(100), primary_key=True),
        Column("key", String(MAX_KEY_LENGTH), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response_body", JSONB, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    )


def create_idempotency_table(op: Any, schema: str) -> None:
    """Create ``idempotency_keys`` in ``schema`` from an Alembic migration (``op``)."""
    idempotency_table(MetaData(schema=schema)).create(op.get_bind())


def drop_idempotency_table(op: Any, schema: str) -> None:
    """Drop the table made by :func:`create_idempotency_table` (a downgrade)."""
    idempotency_table(MetaData(schema=schema)).drop(op.get_bind())


# Unqualified: statements resolve through the session's search_path (the service schema).
IDEMPOTENCY_KEYS = idempotency_table(MetaData())


def check_key(key: str | None) -> str | None:
    """The key, or None when absent; 400 when it is empty, too long or not printable."""
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters.",
            title="Invalid Idempotency-Key",
        )
    return key


def request_fingerprint(body: Any, *, secret: str | None = None) -> str:
    """Hash of the request body in canonical JSON (sorted keys).

    Pass ``secret`` when bodies hold secrets (passwords): the stored hash is then an
    HMAC that cannot be used to test guesses.
    """
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    if secret is None:
        return hashlib.sha256(canonical).hexdigest()
    return hmac.new(secret.encode(), canonical, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Claim:
    """A key held for the rest of the transaction: a stored answer, or the right to make one."""

    scope: str
    key: str
    fingerprint: str
    #: The stored answer to return instead of doing the work; None for a new key.
    replay: JSONResponse | None

    async def remember(
        self,
        session: AsyncSession,
        *,
        status_code: int,
        body: Any,
        ttl: timedelta,
        now: datetime | None = None,
    ) -> None:
        """Store the answer in the caller's transaction (replacing an expired record)."""
        now = now or datetime.now(UTC)
        row = {
            "scope": self.scope,
            "key": self.key,
            "request_hash": self.fingerprint,
            "status_code": status_code,
            "response_body": body,
            "created_at": now,
            "expires_at": now + ttl,
        }
        stmt = insert(IDEMPOTENCY_KEYS).values(row)
        stmt = stmt.on_conflict_do_update(
            index_elements=["scope", "key"],
            set_={name: stmt.excluded[name] for name in row if name not in ("scope", "key")},
            where=IDEMPOTENCY_KEYS.c.expires_at <= stmt.excluded.created_at,
        )
        await session.execute(stmt)


async def claim(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    fingerprint: str,
    now: datetime | None = None,
) -> Claim:
    """Lock ``scope``/``key`` until the transaction ends and look up its live answer.

    Raises :class:`~kit.errors.UnprocessableEntity` (422) when the key's live answer was
    made for a different body. Blocks while another transaction holds the same key.
    """
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 17))"),
        {"k": f"{scope}\n{key}"},  # keys are printable: no newline
    )
    row = (
        await session.execute(
            select(
                IDEMPOTENCY_KEYS.c.request_hash,
                IDEMPOTENCY_KEYS.c.status_code,
                IDEMPOTENCY_KEYS.c.response_body,
            ).where(
                IDEMPOTENCY_KEYS.c.scope == scope,
                IDEMPOTENCY_KEYS.c.key == key,
                IDEMPOTENCY_KEYS.c.expires_at > (now or datetime.now(UTC)),
            )
        )
    ).first()
    if row is None:
        return Claim(scope, key, fingerprint, None)
    if not hmac.compare_digest(row.request_hash, fingerprint):
        raise UnprocessableEntity(
            "This Idempotency-Key was already used with a different request body.",
            title="Idempotency-Key reused",
        )
    replay = JSONResponse(
        row.response_body, status_code=row.status_code, headers={"Idempotent-Replayed": "true"}
    )
    return Claim(scope, key, fingerprint, replay)


async def respond_once(
    session: AsyncSession,
    *,
    key: str | None,
    scope: str,
    request_body: Any,
    make: Callable[[], Awaitable[Any]],
    status_code: int,
    ttl: timedelta,
    secret: str | None = None,
) -> JSONResponse:
    """Answer with ``await make()``, at most once per live ``key`` in ``scope``.

    Without a key, ``make`` simply runs. With one, a replay of a stored answer skips
    ``make``; otherwise ``make``'s JSON-serialisable result is stored in the same
    transaction. Raises 400 for a malformed key and 422 for a key reused with another
    body; whatever ``make`` raises propagates (and the transaction stores nothing).
    """
    checked = check_key(key)
    if checked is None:
        return JSONResponse(await make(), status_code=status_code)
    held = await claim(
        session,
        scope=scope,
        key=checked,
        fingerprint=request_fingerprint(request_body, secret=secret),
    )
    if held.replay is not None:
        return held.replay
    payload = await make()
    await held.remember(session, status_code=status_code, body=payload, ttl=ttl)
    return JSONResponse(payload, status_code=status_code)


async def prune_expired(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete expired answers; returns how many. Safe to run at any time."""
    result = await session.execute(
        delete(IDEMPOTENCY_KEYS).where(IDEMPOTENCY_KEYS.c.expires_at <= (now or datetime.now(UTC)))
    )
    return int(getattr(result, "rowcount", 0) or 0)
