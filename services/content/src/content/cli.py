"""``content`` command: serve, migrate, relay, consume, flush-views, rebuild-timelines."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import uuid
from collections.abc import Sequence

from kit import cli
from kit.db import Database
from kit.outbox import OutboxRelay

from content.settings import ContentSettings

log = logging.getLogger("content.cli")


def _serve(settings: ContentSettings) -> int:
    from content.app import create_app

    return cli.serve(create_app(settings), settings)


def _migrate(settings: ContentSettings) -> int:
    from content.app import migrations_dir

    return cli.migrate(settings, migrations_dir(settings))


async def _run_workers(settings: ContentSettings, which: str) -> None:
    from content.runtime import Runtime
    from content.workers import (
        ViewFlusher,
        Worker,
        identity_consumer,
        run_until_signalled,
        timeline_consumer,
    )

    db = Database(settings)
    rt = Runtime.from_settings(settings)
    workers: list[tuple[str, Worker]] = []
    if which in ("relay",):
        workers.append(("outbox-relay", OutboxRelay(settings, db)))
    if which in ("consume",):
        workers.append(("identity-consumer", identity_consumer(rt, db)))
        workers.append(("timeline-consumer", timeline_consumer(rt, db)))
        workers.append(("view-flusher", ViewFlusher(rt, db)))

    async def close() -> None:
        await rt.aclose()
        await db.dispose()

    await run_until_signalled(workers, close)


async def _rebuild(settings: ContentSettings, users: list[uuid.UUID]) -> tuple[int, int]:
    from content.graph import repository as graph
    from content.runtime import Runtime
    from content.timelines.service import rebuild

    db = Database(settings)
    rt = Runtime.from_settings(settings)
    try:
        if not users:
            await rt.timelines.drop_all()
            async with db.session() as session:
                users = await graph.all_user_ids(session)
        entries = 0
        for user_id in users:
            async with db.session() as session:
                entries += await rebuild(session, rt, user_id)
        return len(users), entries
    finally:
        await rt.aclose()
        await db.dispose()


async def _flush(settings: ContentSettings) -> int:
    from content.runtime import Runtime
    from content.workers import flush_views_once

    db = Database(settings)
    rt = Runtime.from_settings(settings)
    try:
        return await flush_views_once(rt, db)
    finally:
        await rt.aclose()
        await db.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``content`` console script."""
    parser = argparse.ArgumentParser(prog="content", description="Content service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP service (migrates; runs relay and consumers)")
    sub.add_parser("migrate", help="upgrade the content schema to head")
    sub.add_parser("relay", help="run only the outbox relay")
    sub.add_parser("consume", help="run only the consumers and the view flusher")
    sub.add_parser("flush-views", help="write buffered view counts to the database once")
    rebuild = sub.add_parser(
        "rebuild-timelines", help="rebuild home timelines in Redis from the database"
    )
    rebuild.add_argument(
        "--user", action="append", type=uuid.UUID, default=[], help="only this user (repeatable)"
    )
    args = parser.parse_args(argv)
    settings = ContentSettings()
    if args.command == "serve":
        return _serve(settings)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command in ("relay", "consume"):
        asyncio.run(_run_workers(settings, args.command))
        return 0
    if args.command == "flush-views":
        print(f"updated {asyncio.run(_flush(settings))} posts")
        return 0
    if args.command == "rebuild-timelines":
        count, entries = asyncio.run(_rebuild(settings, args.user))
        print(f"rebuilt {count} home timelines ({entries} entries)")
        return 0
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
