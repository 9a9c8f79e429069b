"""``identity`` command: serve, migrate, rotate-keys, relay."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from kit.db import Database
from kit.migrations import migrate_sync
from kit.outbox import OutboxRelay

from identity.settings import IdentitySettings

log = logging.getLogger("identity.cli")


def _serve(settings: IdentitySettings) -> int:
    import uvicorn

    from identity.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        proxy_headers=False,
        log_config=None,
    )
    return 0


def _migrate(settings: IdentitySettings) -> int:
    from identity.app import migrations_dir

    migrate_sync(settings, migrations_dir(settings))
    print("identity schema is at head")
    return 0


async def _rotate(settings: IdentitySettings) -> str:
    from identity.keys.service import rotate_signing_keys

    db = Database(settings)
    try:
        async with db.session() as session:
            key = await rotate_signing_keys(session, settings)
            return key.kid
    finally:
        await db.dispose()


async def _relay(settings: IdentitySettings) -> None:
    db = Database(settings)
    relay = OutboxRelay(settings, db)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(relay.stop()))
    try:
        await relay.run()
    finally:
        await db.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``identity`` console script."""
    parser = argparse.ArgumentParser(prog="identity", description="Identity service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP service (migrates and starts the relay)")
    sub.add_parser("migrate", help="upgrade the identity schema to head")
    sub.add_parser("rotate-keys", help="make a new active signing key; the old one retires")
    sub.add_parser("relay", help="run only the outbox relay")
    args = parser.parse_args(argv)
    settings = IdentitySettings()
    if args.command == "serve":
        return _serve(settings)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "rotate-keys":
        kid = asyncio.run(_rotate(settings))
        print(f"new active signing key: {kid}")
        return 0
    if args.command == "relay":
        asyncio.run(_relay(settings))
        return 0
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
