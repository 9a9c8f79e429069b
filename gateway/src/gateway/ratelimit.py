"""Token-bucket rate limits per client IP and per user, kept in Redis.

One `EVALSHA` per request checks (and, when allowed, charges) every bucket that applies
to the request atomically, so concurrent gateway replicas share the same limits. The
clock is Redis' own (`TIME`), so replicas with skewed clocks agree too.

If Redis cannot be reached the limiter fails open: the request is let through, a
warning is logged (at most once per `log_interval_s`) and a metric counts it. After a
failure Redis is not asked again for `backoff_s`, so an outage does not add a timeout
to every request.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from gateway.redis_pipe import RedisPipe, RedisReplyError, RedisUnavailable

log = logging.getLogger("gateway.ratelimit")

# KEYS: one bucket key per limit that applies.
# ARGV: cost, then (rate_per_s, burst) for each key in the same order.
# Returns {allowed (0/1), remaining (floor, of the tightest bucket), retry_after_ms,
#          limit (burst of the tightest bucket), reset_ms (until that bucket is full),
#          index (1-based key that refused, 0 when allowed)}.
BUCKET_SCRIPT = """
local cost = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local tokens = {}
local allowed = 1
local refused = 0
local retry_ms = 0
for i = 1, n do
  local rate = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tk = tonumber(state[1])
  local ts = tonumber(state[2])
  if tk == nil or ts == nil then
    tk = burst
    ts = now
  end
  local elapsed = now - ts
  if elapsed < 0 then elapsed = 0 end
  tk = math.min(burst, tk + elapsed * rate / 1000)
  tokens[i] = tk
  if tk < cost then
    allowed = 0
    local wait = math.ceil((cost - tk) * 1000 / rate)
    if wait > retry_ms then
      retry_ms = wait
      refused = i
    end
  end
end
local remaining = -1
local limit = 0
local reset_ms = 0
for i = 1, n do
  local rate = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local tk = tokens[i]
  if allowed == 1 then tk = tk - cost end
  redis.call('HSET', KEYS[i], 'tokens', tostring(tk), 'ts', now)
  redis.call('PEXPIRE', KEYS[i], math.ceil(burst * 1000 / rate) + 1000)
  if remaining < 0 or tk < remaining then
    remaining = tk
    limit = burst
    reset_ms = math.ceil((burst - tk) * 1000 / rate)
  end
end
if remaining < 0 then remaining = 0 end
return {allowed, math.floor(remaining), retry_ms, limit, reset_ms, refused}
"""


@dataclass(frozen=True, slots=True)
class Limit:
    """A bucket: `rate` tokens per second refill, up to `burst` tokens."""

    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one check.

    `retry_after_s` is whole seconds (rounded up) when refused, else 0. `scope` names the
    bucket that refused (`"ip"`/`"user"`), or is None. `failed_open` is True when Redis was
    not asked or did not answer and the request was let through.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    retry_after_s: int = 0
    scope: str | None = None
    failed_open: bool = False

    def headers(self) -> list[tuple[bytes, bytes]]:
        """`RateLimit-*` response headers (IETF draft), plus `Retry-After` when refused."""
        out = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_s).encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(self.retry_after_s).encode()))
        return out


class RateLimiter:
    """Checks the per-IP and (for authenticated requests) per-user buckets in one call."""

    def __init__(
        self,
        redis: RedisPipe,
        *,
        ip_limit: Limit,
        user_limit: Limit,
        key_prefix: str = "gw:rl:",
        backoff_s: float = 1.0,
        log_interval_s: float = 10.0,
        on_fail_open: Any = None,
    ) -> None:
        self.redis = redis
        self.ip_limit = ip_limit
        self.user_limit = user_limit
        self.key_prefix = key_prefix
        self.backoff_s = backoff_s
        self.log_interval_s = log_interval_s
        self.on_fail_open = on_fail_open
        self._sha: str | None = None
        self._skip_until = 0.0
        self._last_log = -math.inf

    async def load_script(self) -> str:
        """Load the Lua script into Redis and remember its SHA.

        Raises `RedisUnavailable` or `RedisReplyError`."""
        sha = await self.redis.execute(b"SCRIPT", b"LOAD", BUCKET_SCRIPT)
        self._sha = sha.decode() if isinstance(sha, bytes) else str(sha)
        return self._sha

    async def check(self, ip: str, user_id: str | None = None, cost: int = 1) -> Decision:
        """Charge `cost` tokens to the IP bucket and the user's bucket, or refuse.

        Never raises for Redis trouble: the decision is then allowed with
        `failed_open=True`.
        """
        now = time.monotonic()
        if now < self._skip_until:
            return self._fail_open(None)
        if user_id is None:
            args: tuple[Any, ...] = (
                1,
                self.key_prefix + "ip:" + ip,
                cost,
                self.ip_limit.rate,
                self.ip_limit.burst,
            )
        else:
            args = (
                2,
                self.key_prefix + "ip:" + ip,
                self.key_prefix + "user:" + user_id,
                cost,
                self.ip_limit.rate,
                self.ip_limit.burst,
                self.user_limit.rate,
                self.user_limit.burst,
            )
        try:
            if self._sha is None:
                await self.load_script()
            try:
                res = await self.redis.execute(b"EVALSHA", self._sha, *args)  # type: ignore[arg-type]
            except RedisReplyError as exc:
                if not exc.is_noscript:
                    raise
                # Redis restarted or flushed its script cache.
                await self.load_script()
                res = await self.redis.execute(b"EVALSHA", self._sha, *args)  # type: ignore[arg-type]
        except (RedisUnavailable, RedisReplyError, OSError) as exc:
            self._skip_until = now + self.backoff_s
            return self._fail_open(exc)
        allowed, remaining, retry_ms, limit, reset_ms, refused = res
        if not allowed:
            return Decision(
                allowed=False,
                limit=limit,
                remaining=max(0, remaining),
                reset_s=-(-reset_ms // 1000),
                retry_after_s=max(1, -(-retry_ms // 1000)),
                scope="ip" if refused == 1 else "user",
            )
        return Decision(True, limit, max(0, remaining), -(-reset_ms // 1000))

    def _fail_open(self, exc: BaseException | None) -> Decision:
        if self.on_fail_open is not None:
            self.on_fail_open()
        now = time.monotonic()
        if exc is not None and now - self._last_log >= self.log_interval_s:
            self._last_log = now
            log.warning("rate limiter failing open, Redis unavailable: %r", exc)
        return Decision(
            allowed=True,
            limit=self.ip_limit.burst,
            remaining=self.ip_limit.burst,
            reset_s=0,
            failed_open=True,
        )
