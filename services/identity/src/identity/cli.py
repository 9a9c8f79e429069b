"""``identity`` command: serve, migrate, rotate-keys, relay."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from kit import cli
from kit.db import Database
from kit.outbox import OutboxRelay

from identity.settings import IdentitySettings

log = logging.getLogger("identity.cli")


def _serve(settings: IdentitySettings) -> int:
    from identity.app import create_app

    return cli.serve(create_app(settings), settings)


def _migrate(settings: IdentitySettings) -> int:
    from identity.app import migrations_dir

    return cli.migrate(settings, migrations_dir(settings))


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
    from identity.auth.housekeeping import auth_state_pruner

    db = Database(settings)
    relay = OutboxRelay(settings, db, housekeeping=[auth_state_pruner(settings)])
    await cli.run_until_signalled(relay, close=db.dispose)


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
