"""Email digests through a real SMTP server (aiosmtpd) running in the test."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from messaging.clock import utcnow
from messaging.digests.mailer import SmtpMailer
from messaging.digests.service import build_digests, deliver_due
from messaging.settings import MessagingSettings
from sqlalchemy import text

from .conftest import apply, confirmed_email, now_iso, person

pytestmark = pytest.mark.integration


class Inbox:
    """An SMTP handler keeping every accepted message; refuses the first ``fail`` ones."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.fail = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail > 0:
            self.fail -= 1
            return "451 4.3.0 Try again later"
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def subscriber(client: httpx.AsyncClient, app: FastAPI) -> tuple[Any, str]:
    me = await person(app)
    address = f"u{me.id.hex[:10]}@example.org"
    await confirmed_email(client, app, me, address, {"reaction": "email"})
    return me, address


async def react(app: FastAPI, author: uuid.UUID, times: int = 1) -> None:
    post = uuid.uuid4()
    for _ in range(times):
        await apply(
            app,
            "content.reaction.added",
            {
                "target_type": "post",
                "target_id": str(post),
                "post_id": str(post),
                "target_author_id": str(author),
                "user_id": str((await person(app, "سارة")).id),
                "kind": "love",
                "at": now_iso(),
                "counts": {"love": 1},
            },
        )


async def digest_rows(app: FastAPI, user_id: uuid.UUID) -> list[tuple[str, int]]:
    async with app.state.db.session() as session:
        rows = await session.execute(
            text("SELECT status, attempts FROM digests WHERE user_id = :u ORDER BY created_at"),
            {"u": user_id},
        )
        return [(r[0], r[1]) for r in rows]


async def test_digest_email_arrives_once(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: MessagingSettings,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    mail_settings = settings.model_copy(update={"smtp_port": port})
    mailer = SmtpMailer(mail_settings)
    me, address = await subscriber(client, app)
    await react(app, me.id, times=3)
    await react(app, me.id)
    now = utcnow()
    async with app.state.db.session() as session:
        assert await build_digests(session, mail_settings, now) >= 1
    await deliver_due(app.state.db, mail_settings, mailer, now)
    [mail] = inbox.to(address)
    assert mail["Subject"] == "لديك 2 إشعارات جديدة"
    body = mail.get_content()
    assert "سارة و2 آخرون تفاعلوا مع منشورك" in body
    assert mail["Message-ID"].startswith("<digest-")

    # Later runs send nothing more: nothing new since the last digest.
    later = now + timedelta(seconds=mail_settings.digest_interval_s)
    async with app.state.db.session() as session:
        await build_digests(session, mail_settings, later)
    await deliver_due(app.state.db, mail_settings, mailer, later)
    await deliver_due(app.state.db, mail_settings, mailer, later + timedelta(hours=5))
    assert len(inbox.to(address)) == 1
    assert await digest_rows(app, me.id) == [("sent", 1)]


async def test_digest_is_retried_after_an_smtp_failure_and_sent_once(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: MessagingSettings,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    mail_settings = settings.model_copy(update={"smtp_port": port, "digest_retry_initial_s": 30.0})
    mailer = SmtpMailer(mail_settings)
    me, address = await subscriber(client, app)
    await react(app, me.id)
    now = utcnow()
    async with app.state.db.session() as session:
        await build_digests(session, mail_settings, now)
    inbox.fail = 1
    await deliver_due(app.state.db, mail_settings, mailer, now)
    assert inbox.to(address) == []
    assert await digest_rows(app, me.id) == [("pending", 1)]
    # Not due again before the backoff has passed.
    await deliver_due(app.state.db, mail_settings, mailer, now + timedelta(seconds=10))
    assert inbox.to(address) == []
    await deliver_due(app.state.db, mail_settings, mailer, now + timedelta(seconds=31))
    await deliver_due(app.state.db, mail_settings, mailer, now + timedelta(seconds=120))
    assert len(inbox.to(address)) == 1
    assert await digest_rows(app, me.id) == [("sent", 2)]


async def test_unreachable_smtp_server_leaves_the_digest_pending(
    client: httpx.AsyncClient, app: FastAPI, settings: MessagingSettings
) -> None:
    mail_settings = settings.model_copy(
        update={"smtp_port": free_port(), "smtp_timeout_s": 2.0, "digest_max_attempts": 2}
    )
    me, _ = await subscriber(client, app)
    await react(app, me.id)
    now = utcnow()
    async with app.state.db.session() as session:
        await build_digests(session, mail_settings, now)
    mailer = SmtpMailer(mail_settings)
    await deliver_due(app.state.db, mail_settings, mailer, now)
    assert await digest_rows(app, me.id) == [("pending", 1)]
    await deliver_due(app.state.db, mail_settings, mailer, now + timedelta(hours=1))
    assert await digest_rows(app, me.id) == [("failed", 2)]
