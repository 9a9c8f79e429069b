"""The live consumer against real Kafka: indexing, edits, deletes, redelivery, ordering,
dead letters, and catching up after downtime."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from kit.events import CloudEvent
from kit.testing import consume, wait_until
from search.runtime import Runtime
from search.settings import SearchSettings

from .conftest import Publish, new_id, now, post_data, running_consumer, user_data

pytestmark = pytest.mark.integration


async def _hits(client: httpx.AsyncClient, q: str) -> list[dict[str, Any]]:
    resp = await client.get("/posts", params={"q": q})
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


async def test_created_edited_deleted_posts_follow_the_events(
    app: FastAPI, settings: SearchSettings, client: httpx.AsyncClient, publish: Publish
) -> None:
    word, edited = f"اصلي{new_id()[:6]}", f"معدل{new_id()[:6]}"
    author = new_id()
    post = post_data(author, f"نص {word}", updated_at=now(-10))
    async with running_consumer(app, settings):
        await publish("identity.user.registered", user_data(author))
        await publish("content.post.created", post)

        async def indexed() -> bool:
            return [h["id"] for h in await _hits(client, word)] == [post["post_id"]]

        await wait_until(indexed, within_s=15)
        await publish(
            "content.post.updated",
            {**post, "text": f"نص {edited}", "updated_at": now(), "edited_at": now()},
        )

        async def replaced() -> bool:
            return len(await _hits(client, edited)) == 1 and not await _hits(client, word)

        await wait_until(replaced, within_s=15)
        await publish(
            "content.post.deleted",
            {
                "post_id": post["post_id"],
                "author_id": author,
                "community_id": None,
                "deleted_at": now(),
            },
        )

        async def gone() -> bool:
            return not await _hits(client, edited)

        await wait_until(gone, within_s=15)


async def test_redelivered_and_stale_events_change_nothing(
    app: FastAPI, settings: SearchSettings, client: httpx.AsyncClient, publish: Publish
) -> None:
    word, newer = f"قديم{new_id()[:6]}", f"جديد{new_id()[:6]}"
    author = new_id()
    created = post_data(author, word, updated_at=now(-100))
    async with running_consumer(app, settings) as consumer:
        first = await publish("content.post.created", created)
        update = {**created, "text": newer, "updated_at": now(-50)}
        await publish("content.post.updated", update)

        async def updated() -> bool:
            return len(await _hits(client, newer)) == 1

        await wait_until(updated, within_s=15)
        duplicates = consumer.duplicates
        # The very same event again (same ce_id): the inbox turns it into a no-op.
        await publish("content.post.created", created, event=first)
        # A different event carrying an older state than the index holds: ignored.
        await publish("content.post.updated", {**created, "text": word, "updated_at": now(-75)})
        marker = post_data(author, f"علامة{new_id()[:6]}")
        await publish("content.post.created", marker)

        async def marker_seen() -> bool:
            return bool(await _hits(client, marker["text"]))

        await wait_until(marker_seen, within_s=15)
        assert consumer.duplicates == duplicates + 1
        assert len(await _hits(client, newer)) == 1
        assert await _hits(client, word) == []


async def test_unusable_event_is_dead_lettered_and_consumption_goes_on(
    app: FastAPI, settings: SearchSettings, client: httpx.AsyncClient, publish: Publish
) -> None:
    author = new_id()
    bad = post_data(author, "بلا نوع")
    del bad["visibility"]
    good = post_data(author, f"سليم{new_id()[:6]}")
    async with running_consumer(app, settings) as consumer:
        bad_event = await publish("content.post.created", bad, validate=False)
        await publish("content.post.created", good)

        async def good_indexed() -> bool:
            return bool(await _hits(client, good["text"]))

        async def dead_lettered() -> bool:
            return consumer.dead_lettered >= 1

        # Different keys, different partitions: either may be handled first.
        await wait_until(good_indexed, within_s=20)
        await wait_until(dead_lettered, within_s=20)
    dlq = f"{settings.content_post_topic}.dlq.{settings.consumer_group}"
    records = await consume(settings.kafka_bootstrap_servers, dlq, count=1, within_s=10)
    ids = [CloudEvent.from_kafka(r).id for r in records]
    assert bad_event.id in ids
    headers = dict(records[ids.index(bad_event.id)].headers)
    assert headers["dlq_error_type"] == b"PermanentError"


async def test_search_catches_up_after_being_down(
    app: FastAPI, settings: SearchSettings, client: httpx.AsyncClient, publish: Publish
) -> None:
    author = new_id()
    async with running_consumer(app, settings):
        warm = post_data(author, f"قبل{new_id()[:6]}")
        await publish("content.post.created", warm)

        async def warm_seen() -> bool:
            return bool(await _hits(client, warm["text"]))

        await wait_until(warm_seen, within_s=15)
    # The consumer is down: events pile up in Kafka.
    missed = [post_data(author, f"اثناء{uuid.uuid4().hex[:6]}") for _ in range(5)]
    for post in missed:
        await publish("content.post.created", post)
    assert not await _hits(client, missed[0]["text"])
    async with running_consumer(app, settings):

        async def all_seen() -> bool:
            for post in missed:
                if not await _hits(client, post["text"]):
                    return False
            return True

        await wait_until(all_seen, within_s=20)


async def test_typesense_outage_is_retried_not_dead_lettered(runtime: Runtime) -> None:
    from search.indexing.service import Indexer, IndexOp
    from search.typesense import Typesense, TypesenseUnavailable

    unreachable = Typesense("http://127.0.0.1:9", "k", timeout=0.5)
    try:
        indexer = Indexer(unreachable, runtime.collections)
        with pytest.raises(TypesenseUnavailable) as info:
            await indexer.execute([IndexOp("delete", "posts", doc_id=new_id())])
        # The kit's consumer retries ConnectionErrors without limit instead of dead-lettering.
        assert isinstance(info.value, ConnectionError)
    finally:
        await unreachable.aclose()
