"""Helpers for integration tests against the real local stack.

* :func:`fresh_database` — a throwaway database ``platform_test_<hex>`` on the cluster
  (made through the admin DSN), the service's role and schema in it, the service's
  migrations run, settings pointing at it; dropped afterwards.
* :func:`unique_topic` / :func:`create_topics` — a fresh Kafka topic per test.
* :func:`consume` — read records from a topic from the beginning, with a deadline.
* :class:`TokenFactory` — an RSA key, its JWKS and RS256 access tokens for auth tests.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from kit.migrations import migrate
from kit.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)

DEFAULT_ADMIN_URL = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    """The cluster's superuser DSN (``PLATFORM_PG_ADMIN_URL``)."""
    return os.environ.get("PLATFORM_PG_ADMIN_URL", DEFAULT_ADMIN_URL)


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@asynccontextmanager
async def fresh_database(
    settings: S,
    migrations_dir: str | Path | None = None,
    *,
    admin_dsn: str | None = None,
    keep: bool = False,
) -> AsyncIterator[S]:
    """Yield a copy of ``settings`` whose ``database_url`` names a new, migrated database.

    The service role (the user in ``settings.database_url``) is created if the cluster
    lacks it, the schema ``settings.db_schema`` is created owned by it, and
    ``migrations_dir`` (if given) is upgraded to head as that role. The database is
    dropped (``WITH (FORCE)``) on exit unless ``keep``.
    """
    admin = admin_dsn or admin_url()
    name = f"platform_test_{uuid.uuid4().hex[:16]}"
    url = urlsplit(settings.database_url)
    role = url.username or settings.db_schema
    password = url.password or role
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f"CREATE DATABASE {_quote(name)}")
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        if not exists:
            await conn.execute(
                f"CREATE ROLE {_quote(role)} LOGIN PASSWORD "
                + "'"
                + password.replace("'", "''")
                + "'"
            )
    finally:
        await conn.close()
    conn = await asyncpg.connect(_with_database(admin, name))
    try:
        await conn.execute(
            f"CREATE SCHEMA IF NOT EXISTS {_quote(settings.db_schema)} AUTHORIZATION {_quote(role)}"
        )
    finally:
        await conn.close()
    test_settings = settings.model_copy(
        update={"database_url": _with_database(settings.database_url, name)}
    )
    try:
        if migrations_dir is not None:
            await migrate(test_settings, migrations_dir)
        yield test_settings
    finally:
        if not keep:
            conn = await asyncpg.connect(admin)
            try:
                await conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
            finally:
                await conn.close()


#: Every name :func:`unique_topic` handed out in this process (see :func:`delete_test_topics`).
issued_topic_names: set[str] = set()


def unique_topic(prefix: str = "test") -> str:
    """A topic name no other test uses (``<prefix>.<hex>``); remembered, so that the
    session can delete the topic (and its dead-letter topics) at the end."""
    name = f"{prefix}.{uuid.uuid4().hex[:12]}"
    issued_topic_names.add(name)
    return name


async def delete_test_topics(bootstrap_servers: str, names: Iterable[str]) -> int:
    """Delete the topics named ``names`` and those derived from them (``<name>.dlq.*``);
    returns how many. Names that never became topics (group ids) are simply absent."""
    from aiokafka.admin import AIOKafkaAdminClient

    wanted = set(names)
    if not wanted:
        return 0
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    await admin.start()
    try:
        existing = await admin.list_topics()
        doomed = [t for t in existing if t in wanted or any(t.startswith(n + ".") for n in wanted)]
        if doomed:
            await admin.delete_topics(doomed)
        return len(doomed)
    finally:
        await admin.close()


async def create_topics(
    bootstrap_servers: str, names: Iterable[str], *, partitions: int = 3
) -> None:
    """Create topics (ignoring ones that exist) and wait until their metadata is visible."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    wanted = list(names)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        with suppress(TopicAlreadyExistsError):
            await admin.create_topics(
                [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in wanted]
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            listed = set(await admin.list_topics())
            if all(n in listed for n in wanted):
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"topics not visible: {wanted}")
    finally:
        await admin.close()


async def consume(
    bootstrap_servers: str,
    topic: str,
    *,
    count: int,
    within_s: float = 20.0,
) -> list[Any]:
    """Read at least ``count`` records of ``topic`` from the beginning (no group).

    Returns what arrived by the deadline (possibly fewer; the caller asserts).
    """
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + within_s
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], *, within_s: float = 15.0, interval: float = 0.05
) -> None:
    """Poll ``predicate`` until it is true; ``TimeoutError`` at the deadline."""
    deadline = time.monotonic() + within_s
    while True:
        if await predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


class TokenFactory:
    """An RSA signing key with its JWKS, issuing RS256 access tokens like identity does."""

    def __init__(
        self,
        *,
        kid: str | None = None,
        issuer: str = "platform-identity",
        audience: str = "platform",
    ) -> None:
        self.kid = kid or uuid.uuid4().hex[:16]
        self.issuer = issuer
        self.audience = audience
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        from jwt.algorithms import RSAAlgorithm

        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return jwk

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk()]}

    def token(
        self,
        *,
        sub: uuid.UUID | str | None = None,
        sid: uuid.UUID | str | None = None,
        roles: Iterable[str] = ("user",),
        ttl: timedelta = timedelta(minutes=5),
        headers: Mapping[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        now = datetime.now(UTC)
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(sub or uuid.uuid4()),
            "sid": str(sid or uuid.uuid4()),
            "roles": list(roles),
            "iat": now,
            "exp": now + ttl,
        }
        payload.update(claims)
        return jwt.encode(
            payload,
            self.private_key,
            algorithm="RS256",
            headers={"kid": self.kid, **(headers or {})},
        )
