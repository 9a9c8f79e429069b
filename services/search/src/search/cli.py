"""``search`` command: serve, migrate, consume, reindex, prune-stats."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from kit import cli
from kit.db import Database

from search.settings import SearchSettings


def _serve(settings: SearchSettings) -> int:
    from search.app import create_app

    return cli.serve(create_app(settings), settings)


def _migrate(settings: SearchSettings) -> int:
    from search.app import migrations_dir

    return cli.migrate(settings, migrations_dir(settings))


async def _consume(settings: SearchSettings) -> None:
    from search.app import make_consumer
    from search.runtime import Runtime

    db = Database(settings)
    runtime = Runtime.from_settings(settings)
    await runtime.collections.ensure_all()

    async def close() -> None:
        await runtime.aclose()
        await db.dispose()

    await cli.run_until_signalled(make_consumer(settings, db, runtime), close=close)


async def _reindex(settings: SearchSettings, kinds: list[str], source: str) -> list[dict]:
    from search.reindex.service import reindex
    from search.runtime import Runtime

    db = Database(settings)
    runtime = Runtime.from_settings(settings)
    try:
        await runtime.collections.ensure_all()
        jobs = []
        for kind in kinds:
            job = await reindex(runtime, db, kind, source=source)  # type: ignore[arg-type]
            jobs.append(job)
        return jobs
    finally:
        await runtime.aclose()
        await db.dispose()


async def _prune(settings: SearchSettings) -> int:
    from search.stats.service import prune

    db = Database(settings)
    try:
        async with db.session() as session:
            return await prune(session, retention_days=settings.stats_retention_days)
    finally:
        await db.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``search`` console script."""
    parser = argparse.ArgumentParser(prog="search", description="Search service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP service (migrates and runs the consumer)")
    sub.add_parser("migrate", help="upgrade the search schema to head")
    sub.add_parser("consume", help="run only the event consumer")
    reindex = sub.add_parser("reindex", help="build new collection versions and swap their aliases")
    reindex.add_argument(
        "collections",
        nargs="*",
        choices=["users", "posts", "communities"],
        help="which collections (default: all)",
    )
    reindex.add_argument(
        "--source",
        choices=["backfill", "replay"],
        default="backfill",
        help="backfill from the read model, or first replay every topic from the beginning",
    )
    sub.add_parser("prune-stats", help="delete query statistics past the retention period")
    args = parser.parse_args(argv)
    settings = SearchSettings()
    if args.command == "serve":
        return _serve(settings)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "consume":
        asyncio.run(_consume(settings))
        return 0
    if args.command == "reindex":
        kinds = args.collections or ["users", "posts", "communities"]
        jobs = asyncio.run(_reindex(settings, kinds, args.source))
        for job in jobs:
            print(json.dumps(job, default=str))
        return 0
    if args.command == "prune-stats":
        print(f"deleted {asyncio.run(_prune(settings))} statistics rows")
        return 0
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
