"""An offline recipient who chose email gets the message notification in a digest, sent
by the running messaging service to the SMTP server its settings name (127.0.0.1:1025
by default; this test runs one there)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from e2e_support import open_direct

pytestmark = pytest.mark.integration

SMTP_HOST = os.environ.get("PLATFORM_SMTP_HOST", "127.0.0.1")
SMTP_PORT = int(os.environ.get("PLATFORM_SMTP_PORT", "1025"))


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    with socket.socket() as probe:
        try:
            probe.bind((SMTP_HOST, SMTP_PORT))
        except OSError:
            pytest.skip(f"{SMTP_HOST}:{SMTP_PORT} is taken; cannot receive the digest")
    inbox = Inbox()
    controller = Controller(inbox, hostname=SMTP_HOST, port=SMTP_PORT)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


async def test_offline_recipient_with_email_preference_gets_one_digest(
    api, make_user, smtp: Inbox
) -> None:
    a, b = await make_user(), await make_user()
    conversation = await open_direct(api, a, b)
    address = f"{b.username}@example.org"
    prefs = await api.put(
        "/v1/messaging/notifications/preferences",
        json={"channels": {"message": "email"}, "email": address},
        headers=b.auth,
    )
    assert prefs.status_code == 200, prefs.text
    resp = await api.post(
        f"/v1/messaging/conversations/{conversation}/messages",
        json={"text": "تعال الآن"},
        headers=a.auth,
    )
    assert resp.status_code == 201

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    mine: list[Any] = []
    while loop.time() < deadline and not mine:
        mine = [m for m in smtp.messages if m["To"] == address]
        await asyncio.sleep(0.5)
    assert len(mine) == 1, "no digest arrived"
    assert "رسالة جديدة" in mine[0].get_content()
    await asyncio.sleep(6)  # a later job tick must not send it again
    assert len([m for m in smtp.messages if m["To"] == address]) == 1
