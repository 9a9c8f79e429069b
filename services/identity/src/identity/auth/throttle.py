"""Login throttling in Redis: failures counted per account and per client IP.

Counters are fixed windows that start at the first failure.  The account key is
the login name as typed (normalized), so unknown accounts are throttled exactly
like real ones and the 429 reveals nothing about which exist.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kit.errors import TooManyRequests
from redis.asyncio import Redis

_PREFIX = "identity:login-failures"


def _digest(value: str) -> str:
    # Keys hold a hash so emails do not sit in Redis in clear.
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


@dataclass
class LoginThrottle:
    redis: Redis
    max_per_account: int
    max_per_ip: int
    window_s: int

    def _keys(self, account: str, ip: str | None) -> list[tuple[str, int]]:
        keys = [(f"{_PREFIX}:account:{_digest(account)}", self.max_per_account)]
        if ip:
            keys.append((f"{_PREFIX}:ip:{_digest(ip)}", self.max_per_ip))
        return keys

    async def check(self, account: str, ip: str | None) -> None:
        """Raise 429 (with ``Retry-After``) when the account or the IP is over its limit."""
        keys = self._keys(account, ip)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, _ in keys:
                pipe.get(key)
                pipe.ttl(key)
            values = await pipe.execute()
        retry_after = 0
        for index, (_, limit) in enumerate(keys):
            count, ttl = values[2 * index], values[2 * index + 1]
            if count is not None and int(count) >= limit:
                retry_after = max(retry_after, ttl if ttl and ttl > 0 else self.window_s)
        if retry_after:
            raise TooManyRequests(retry_after, "Too many failed sign-in attempts; try again later.")

    async def record_failure(self, account: str, ip: str | None) -> None:
        """Count one failure against the account and the IP (window starts at the first)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for key, _ in self._keys(account, ip):
                pipe.incr(key)
                pipe.expire(key, self.window_s, nx=True)
            await pipe.execute()

    async def reset_account(self, account: str) -> None:
        """Forget the account's failures after a successful sign-in (the IP count stays)."""
        await self.redis.delete(self._keys(account, None)[0][0])
