"""Helpers for system tests that drive the running platform through the gateway.

`make test` starts the platform first (`make up`); these tests talk to it over HTTP
and read Kafka directly, as an outside client and an outside data consumer would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

GATEWAY = os.environ.get("PLATFORM_GATEWAY_URL", "http://127.0.0.1:8080")
KAFKA = os.environ.get("PLATFORM_KAFKA", "127.0.0.1:9092")
REDIS = os.environ.get("PLATFORM_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class User:
    id: str
    username: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def new_credentials() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {
        "email": f"user_{tag}@example.org",
        "username": f"user_{tag}",
        "password": f"correct horse {tag}",
    }


async def register(api: httpx.AsyncClient, **overrides: str) -> tuple[dict[str, str], dict]:
    creds = {**new_credentials(), **overrides}
    resp = await api.post("/v1/identity/auth/register", json=creds)
    assert resp.status_code == 201, resp.text
    return creds, resp.json()


async def login(api: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    return await api.post("/v1/identity/auth/login", json={"login": login, "password": password})


class TopicTail:
    """Reads a topic from the offsets it had when created; an outside data consumer."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)

    async def start(self) -> None:
        await self.consumer.start()
        partitions = await self._partitions()
        tps = [TopicPartition(self.topic, p) for p in partitions]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:  # resolve positions now, before the events under test are written
            await self.consumer.position(tp)

    async def _partitions(self) -> set[int]:
        """The topic's partitions, creating the topic if no event has been written yet."""
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic
        from aiokafka.errors import TopicAlreadyExistsError

        admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
        await admin.start()
        try:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(self.topic, 3, 1)])
            for _ in range(50):
                described = await admin.describe_topics([self.topic])
                parts = {p["partition"] for p in described[0]["partitions"]}
                if parts:
                    return parts
                await asyncio.sleep(0.2)
        finally:
            await admin.close()
        raise AssertionError(f"topic {self.topic} has no partitions")

    async def collect(
        self, match: Callable[[Any], bool], *, timeout: float = 20, settle: float = 1.0
    ) -> list[Any]:
        """Records for which `match` holds, read until `timeout`, or `settle` seconds
        after the first match (so that a duplicate would be seen too)."""
        found: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            batch = await self.consumer.getmany(timeout_ms=200)
            for records in batch.values():
                found.extend(r for r in records if match(r))
            if found:
                deadline = min(deadline, loop.time() + settle)
        return found

    async def stop(self) -> None:
        await self.consumer.stop()


def headers_of(record: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


def data_of(record: Any) -> dict:
    return json.loads(record.value)


def stack(*args: str) -> str:
    """Run infra/stack.py (e.g. `ctl stop servers:kafka`) and return its output."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "stack.py"), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return out.stdout


async def wait_for_kafka(timeout: float = 120) -> None:
    """Block until the broker answers metadata and group requests again."""
    import logging

    from aiokafka.admin import AIOKafkaAdminClient

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=2000)
        try:
            await admin.start()
            await admin.list_consumer_groups()
            return
        except Exception:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


async def open_direct(api: httpx.AsyncClient, a: User, b: User, *, within: float = 20) -> str:
    """The id of a's direct conversation with b (messaging), once messaging has learnt of
    b from identity's events (until then b is an unknown user there: 404)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        resp = await api.post(
            "/v1/messaging/conversations/direct", json={"user_id": b.id}, headers=a.auth
        )
        if resp.status_code in (200, 201):
            conversation_id: str = resp.json()["id"]
            return conversation_id
        assert resp.status_code == 404, resp.text
        if loop.time() > deadline:
            raise AssertionError(f"messaging never learnt of user {b.id}")
        await asyncio.sleep(0.2)
