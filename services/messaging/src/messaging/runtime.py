"""Process-wide collaborators of the messaging service, kept on ``app.state.messaging``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from messaging.settings import MessagingSettings


@dataclass
class Runtime:
    settings: MessagingSettings
    redis: Redis

    @classmethod
    def from_settings(cls, settings: MessagingSettings) -> Runtime:
        return cls(settings=settings, redis=Redis.from_url(settings.redis_url))

    async def aclose(self) -> None:
        await self.redis.aclose()


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.messaging
    return runtime


Rt = Annotated[Runtime, Depends(get_runtime)]
