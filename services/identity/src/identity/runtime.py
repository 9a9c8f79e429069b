"""Process-wide collaborators of the identity service, kept on ``app.state.identity``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from identity.auth.passwords import Passwords
from identity.auth.throttle import LoginThrottle
from identity.keys.service import KeyRing
from identity.settings import IdentitySettings


@dataclass
class Runtime:
    settings: IdentitySettings
    passwords: Passwords
    keyring: KeyRing
    redis: Redis
    throttle: LoginThrottle

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> Runtime:
        redis = Redis.from_url(settings.redis_url)
        return cls(
            settings=settings,
            passwords=Passwords(
                time_cost=settings.argon2_time_cost,
                memory_cost=settings.argon2_memory_cost_kib,
                parallelism=settings.argon2_parallelism,
            ),
            keyring=KeyRing(settings),
            redis=redis,
            throttle=LoginThrottle(
                redis,
                max_per_account=settings.login_max_failures_per_account,
                max_per_ip=settings.login_max_failures_per_ip,
                window_s=settings.login_failure_window_s,
            ),
        )

    async def aclose(self) -> None:
        await self.redis.aclose()


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.identity
    return runtime


Rt = Annotated[Runtime, Depends(get_runtime)]


def client_ip(request: Request, settings: IdentitySettings) -> str | None:
    """The client's IP: the first X-Forwarded-For hop when the proxy is trusted
    (the gateway sets it), else the socket peer."""
    if settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            first = forwarded.split(",")[0].strip()
            if first:
                return first[:64]
    return request.client.host if request.client else None
