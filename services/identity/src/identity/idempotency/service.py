"""``Idempotency-Key`` for creating POSTs.

The first successful answer to a key is stored in the same transaction as the
change it reports; a retry with the same key and the same body gets that answer
again without repeating the change; the same key with another body is a 422.
Failed requests store nothing (their transaction rolls back), so they can be
retried with the same key.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from kit.errors import BadRequest, UnprocessableEntity
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse

from identity.idempotency import repository
from identity.models import IdempotencyRecord

MAX_KEY_LENGTH = 255


def check_key(key: str | None) -> str | None:
    """The key, or None when absent; 400 when it is empty or too long."""
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters.",
            title="Invalid Idempotency-Key",
        )
    return key


def request_fingerprint(body: Any, *, secret: str) -> str:
    """Keyed hash of the request body (keyed, because bodies may hold passwords)."""
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hmac.new(secret.encode(), canonical, hashlib.sha256).hexdigest()


async def replay(
    session: AsyncSession, *, scope: str, key: str, fingerprint: str, now: datetime | None = None
) -> JSONResponse | None:
    """The stored answer for ``key``, or None when the key is new (or expired)."""
    record = await repository.get_live(session, scope, key, now or datetime.now(UTC))
    if record is None:
        return None
    if not hmac.compare_digest(record.request_hash, fingerprint):
        raise UnprocessableEntity(
            "This Idempotency-Key was already used with a different request body.",
            title="Idempotency-Key reused",
        )
    return JSONResponse(
        record.response_body,
        status_code=record.status_code,
        headers={"Idempotent-Replayed": "true"},
    )


async def remember(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    fingerprint: str,
    status_code: int,
    body: Any,
    ttl: timedelta,
    now: datetime | None = None,
) -> None:
    """Store the answer for ``key`` in the caller's transaction."""
    now = now or datetime.now(UTC)
    await repository.put(
        session,
        IdempotencyRecord(
            scope=scope,
            key=key,
            request_hash=fingerprint,
            status_code=status_code,
            response_body=body,
            created_at=now,
            expires_at=now + ttl,
        ),
    )
