"""``messaging`` command: serve, migrate, relay, consume, jobs."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence

from kit import cli
from kit.consumer import EventConsumer
from kit.db import Database
from kit.logging import configure_logging
from kit.outbox import OutboxRelay

from messaging.settings import MessagingSettings

log = logging.getLogger("messaging.cli")


def _serve(settings: MessagingSettings) -> int:
    from messaging.app import create_app

    if not settings.workers_apart and settings.http_workers == 1:
        return cli.serve(create_app(settings), settings)
    if not settings.workers_apart:
        raise SystemExit("messaging: http_workers > 1 needs workers_apart")
    return _serve_apart(settings)


def _serve_apart(settings: MessagingSettings) -> int:
    """Migrate once, start the relay, the consumer and the jobs (those switched on) as
    child processes, then serve HTTP with ``http_workers`` processes that run none of
    them. When a child exits on its own, the server is stopped too and the command
    exits non-zero, so whatever supervises it restarts the whole; when the server
    stops, the children are asked to stop (SIGTERM) and waited for."""
    import uvicorn

    if settings.migrate_on_start:
        _migrate(settings)
    parts = [
        (settings.run_outbox_relay, "relay", "MESSAGING_RUN_OUTBOX_RELAY"),
        (settings.run_consumer, "consume", "MESSAGING_RUN_CONSUMER"),
        (settings.run_jobs, "jobs", "MESSAGING_RUN_JOBS"),
    ]
    # The HTTP workers read their settings from the environment (uvicorn starts them).
    os.environ["MESSAGING_MIGRATE_ON_START"] = "false"
    for _, _, variable in parts:
        os.environ[variable] = "false"
    children = [
        subprocess.Popen([sys.executable, "-m", "messaging.cli", command])  # noqa: S603
        for enabled, command, _ in parts
        if enabled
    ]
    stopping = threading.Event()
    failed = threading.Event()

    def watch(child: subprocess.Popen[bytes]) -> None:
        code = child.wait()
        if not stopping.is_set():
            log.error("messaging %s exited with %s; stopping the service", child.args, code)
            failed.set()
            os.kill(os.getpid(), signal.SIGTERM)

    for child in children:
        threading.Thread(target=watch, args=(child,), daemon=True).start()
    try:
        uvicorn.run(
            "messaging.app:create_app",
            factory=True,
            workers=settings.http_workers,
            host=settings.http_host,
            port=settings.http_port,
            proxy_headers=False,
            log_config=None,
        )
    finally:
        stopping.set()
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
    return 1 if failed.is_set() else 0


def _migrate(settings: MessagingSettings) -> int:
    from messaging.app import migrations_dir

    return cli.migrate(settings, migrations_dir(settings))


async def _run_alone(settings: MessagingSettings, what: str) -> None:
    from messaging.app import make_consumer
    from messaging.consumers.handler import EventHandler
    from messaging.digests.service import done_digest_pruner
    from messaging.jobs import Jobs

    configure_logging(settings.log_level, settings.service_name)
    db = Database(settings)
    worker: OutboxRelay | Jobs | EventConsumer
    if what == "relay":
        worker = OutboxRelay(settings, db, housekeeping=[done_digest_pruner(settings)])
    elif what == "jobs":
        worker = Jobs(settings, db)
    else:
        worker = make_consumer(settings, db)

    async def close() -> None:
        if isinstance(worker, EventConsumer) and isinstance(worker.handler, EventHandler):
            await worker.handler.aclose()
        await db.dispose()

    await cli.run_until_signalled(worker, close=close)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``messaging`` console script."""
    parser = argparse.ArgumentParser(prog="messaging", description="Messaging service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "serve",
        help="run the HTTP service (migrates; runs relay, consumer, jobs, in child processes "
        "with MESSAGING_WORKERS_APART=true)",
    )
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
    # uvloop (there with uvicorn[standard]) is the HTTP server's loop too: less CPU per
    # relayed or consumed event than asyncio's own.
    import uvloop

    uvloop.run(_run_alone(settings, args.command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
