"""What every service's command line does the same way: serve, migrate, run a worker.

Each service keeps its own ``cli.py`` for its own commands and calls these for the
shared ones, so a change to how services are served or stopped is made once.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from kit.migrations import migrate_sync
from kit.settings import ServiceSettings


class Worker(Protocol):
    """A long-running part (outbox relay, consumer, job loop)."""

    async def run(self) -> None: ...

    async def stop(self) -> None: ...


def serve(app: Any, settings: ServiceSettings) -> int:
    """Serve ``app`` with uvicorn on the settings' host and port until stopped.

    Logging stays as the kit configured it (JSON); proxy headers are not trusted by
    uvicorn itself (the gateway's X-Forwarded-For is read where settings allow).
    """
    import uvicorn

    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        proxy_headers=False,
        log_config=None,
    )
    return 0


def migrate(settings: ServiceSettings, migrations_dir: str | Path) -> int:
    """Upgrade the service's schema to head and say so. Raises on a failed migration."""
    migrate_sync(settings, migrations_dir)
    print(f"{settings.db_schema} schema is at head")
    return 0


async def run_until_signalled(
    worker: Worker, *, close: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Run ``worker`` until SIGINT or SIGTERM asks it to stop, then ``close``."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(worker.stop()))
    try:
        await worker.run()
    finally:
        if close is not None:
            await close()
