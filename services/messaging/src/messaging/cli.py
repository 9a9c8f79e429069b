"""``messaging`` command: serve, migrate, relay, consume, jobs."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from kit import cli
from kit.consumer import EventConsumer
from kit.db import Database
from kit.outbox import OutboxRelay

from messaging.settings import MessagingSettings


def _serve(settings: MessagingSettings) -> int:
    from messaging.app import create_app

    return cli.serve(create_app(settings), settings)


def _migrate(settings: MessagingSettings) -> int:
    from messaging.app import migrations_dir

    return cli.migrate(settings, migrations_dir(settings))


async def _run_alone(settings: MessagingSettings, what: str) -> None:
    from messaging.app import make_consumer
    from messaging.jobs import Jobs

    db = Database(settings)
    worker: OutboxRelay | Jobs | EventConsumer
    if what == "relay":
        worker = OutboxRelay(settings, db)
    elif what == "jobs":
        worker = Jobs(settings, db)
    else:
        worker = make_consumer(settings, db)
    await cli.run_until_signalled(worker, close=db.dispose)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``messaging`` console script."""
    parser = argparse.ArgumentParser(prog="messaging", description="Messaging service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP service (migrates; runs relay, consumer, jobs)")
    sub.add_parser("migrate", help="upgrade the messaging schema to head")
    sub.add_parser("relay", help="run only the outbox relay")
    sub.add_parser("consume", help="run only the event consumer")
    sub.add_parser("jobs", help="run only the periodic jobs (digests, room expiry)")
    args = parser.parse_args(argv)
    settings = MessagingSettings()
    if args.command == "serve":
        return _serve(settings)
    if args.command == "migrate":
        return _migrate(settings)
    asyncio.run(_run_alone(settings, args.command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
