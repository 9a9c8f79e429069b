"""The token-bucket Lua script against the real Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from gateway.ratelimit import Limit, RateLimiter
from gateway.redis_pipe import RedisPipe
from redis.asyncio import Redis

from .conftest import REDIS_URL

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis():
    client = RedisPipe(REDIS_URL, timeout_s=2)
    yield client
    await client.aclose()


def limiter(redis: RedisPipe, **kw) -> RateLimiter:
    return RateLimiter(
        redis,
        ip_limit=kw.pop("ip", Limit(rate=1, burst=3)),
        user_limit=kw.pop("user", Limit(rate=1, burst=2)),
        key_prefix=f"gwtest:{uuid.uuid4().hex}:",
        **kw,
    )


async def test_burst_then_refusal_with_retry_after(redis):
    rl = limiter(redis)
    decisions = [await rl.check("1.2.3.4") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    refused = decisions[3]
    assert refused.retry_after_s == 1 and refused.scope == "ip"
    assert refused.limit == 3


async def test_tokens_refill_over_time(redis):
    rl = limiter(redis, ip=Limit(rate=20, burst=1))
    assert (await rl.check("5.5.5.5")).allowed
    assert not (await rl.check("5.5.5.5")).allowed
    await asyncio.sleep(0.1)
    assert (await rl.check("5.5.5.5")).allowed


async def test_user_bucket_refuses_without_charging_ip_bucket(redis):
    rl = limiter(redis, ip=Limit(rate=0.01, burst=10), user=Limit(rate=0.01, burst=2))
    assert (await rl.check("9.9.9.9", "u1")).allowed
    assert (await rl.check("9.9.9.9", "u1")).allowed
    refused = await rl.check("9.9.9.9", "u1")
    assert not refused.allowed and refused.scope == "user"
    # The refused request took nothing from the IP bucket: 10 - 2 left.
    other = await rl.check("9.9.9.9", "u2")
    assert other.allowed
    ip_only = await rl.check("9.9.9.9")
    assert ip_only.remaining == 10 - 4


async def test_concurrent_checks_never_overspend(redis):
    rl = limiter(redis, ip=Limit(rate=0.001, burst=25))
    results = await asyncio.gather(*(rl.check("7.7.7.7") for _ in range(60)))
    assert sum(d.allowed for d in results) == 25


async def test_script_is_reloaded_after_redis_forgets_it(redis):
    rl = limiter(redis)
    assert (await rl.check("8.8.8.8")).allowed
    admin = Redis.from_url(REDIS_URL)
    try:
        await admin.script_flush()
    finally:
        await admin.aclose()
    d = await rl.check("8.8.8.8")
    assert d.allowed and not d.failed_open and d.remaining == 1


async def test_unreachable_redis_fails_open_and_backs_off():
    dead = RedisPipe("redis://127.0.0.1:1/0", timeout_s=0.2)
    opened = []
    rl = limiter(dead, backoff_s=60, on_fail_open=lambda: opened.append(1))
    try:
        first = await rl.check("1.1.1.1")
        second = await rl.check("1.1.1.1")
    finally:
        await dead.aclose()
    assert first.allowed and first.failed_open
    assert second.allowed and second.failed_open
    assert len(opened) == 2


async def test_pipelined_commands_get_their_own_replies(redis):
    key = f"gwtest:{uuid.uuid4().hex}"
    replies = await asyncio.gather(*(redis.execute(b"INCRBY", key, i) for i in range(1, 51)))
    # Each INCRBY saw every earlier one: replies are the running sums, in send order.
    assert replies == [i * (i + 1) // 2 for i in range(1, 51)]
    await redis.execute(b"DEL", key)


async def test_error_reply_raises_without_breaking_connection(redis):
    from gateway.redis_pipe import RedisReplyError

    with pytest.raises(RedisReplyError):
        await redis.execute(b"NOSUCHCOMMAND")
    await redis.ping()
