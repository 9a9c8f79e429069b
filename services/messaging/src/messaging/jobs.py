"""Periodic work: build and send email digests, expire call rooms.

Runs in the HTTP process (``run_jobs``) or alone (``messaging jobs``). Every tick it
expires due rooms, builds the digests that are due and sends the ones waiting; several
processes may run it at once (rows are taken with ``FOR UPDATE SKIP LOCKED``). A failing
tick is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kit.db import Database

from messaging.calls.service import expire_rooms
from messaging.clock import utcnow
from messaging.digests.mailer import Mailer, SmtpMailer
from messaging.digests.service import build_digests, deliver_due
from messaging.settings import MessagingSettings

log = logging.getLogger("messaging.jobs")


class Jobs:
    def __init__(
        self, settings: MessagingSettings, db: Database, mailer: Mailer | None = None
    ) -> None:
        self.settings = settings
        self.db = db
        self.mailer = mailer or SmtpMailer(settings)
        self._stopping = asyncio.Event()

    async def tick(self) -> None:
        """One round of every job."""
        now = utcnow()
        async with self.db.session() as session:
            expired = await expire_rooms(session, now)
        async with self.db.session() as session:
            built = await build_digests(session, self.settings, now)
        sent, failed = await deliver_due(self.db, self.settings, self.mailer, now)
        if expired or built or sent or failed:
            log.info(
                "jobs: %d rooms expired, %d digests built, %d sent, %d failed sends",
                expired,
                built,
                sent,
                failed,
            )

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("jobs tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.jobs_tick_s)

    async def stop(self) -> None:
        self._stopping.set()
