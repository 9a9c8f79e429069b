"""An offline recipient who chose email gets the message notification in a digest, sent
by the running messaging service to the SMTP server its settings name (127.0.0.1:1025
by default; this test runs one there)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import Callable, Iterator
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
    assert prefs.json()["pending_email"] == address and prefs.json()["email"] is None
    # The address is used once confirmed with the code mailed to it.
    code_mail = await wait_for_mail(smtp, address, lambda m: "تأكيد" in str(m["Subject"]))
    code = re.search(r"\b([0-9]{6})\b", code_mail.get_content())
    assert code, code_mail.get_content()
    confirmed = await api.post(
        "/v1/messaging/notifications/preferences/email/confirm",
        json={"code": code.group(1)},
        headers=b.auth,
    )
    assert confirmed.status_code == 200 and confirmed.json()["email"] == address
    resp = await api.post(
        f"/v1/messaging/conversations/{conversation}/messages",
        json={"text": "تعال الآن"},
        headers=a.auth,
    )
    assert resp.status_code == 201

    def is_digest(m: Any) -> bool:
        return "رسالة جديدة" in m.get_content()

    digest = await wait_for_mail(smtp, address, is_digest)
    assert "تعال" not in str(digest["Subject"])  # a summary, not the message itself
    await asyncio.sleep(6)  # a later job tick must not send it again
    assert len([m for m in smtp.messages if m["To"] == address and is_digest(m)]) == 1


async def wait_for_mail(
    inbox: Inbox, address: str, match: Callable[[Any], bool], within: float = 30
) -> Any:
    """The first mail to ``address`` for which ``match`` holds (sent by messaging's job
    loop, which wakes every few seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        for message in inbox.messages:
            if message["To"] == address and match(message):
                return message
        await asyncio.sleep(0.5)
    raise AssertionError(f"no matching mail to {address}")
