"""Sending email over SMTP (aiosmtplib)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

import aiosmtplib

from messaging.settings import MessagingSettings

#: What a failed send raises: the SMTP server refused, or could not be reached in time.
SEND_ERRORS: tuple[type[BaseException], ...] = (aiosmtplib.SMTPException, OSError, TimeoutError)


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str
    #: Stable per digest, so a receiving system can recognise a resend.
    message_id: str


class Mailer(Protocol):
    async def send(self, email: Email) -> None:
        """Hand ``email`` to the mail system; raises one of :data:`SEND_ERRORS` on failure."""


class SmtpMailer:
    """Sends through the SMTP server named in the settings (STARTTLS and login optional)."""

    def __init__(self, settings: MessagingSettings) -> None:
        self.settings = settings

    def build(self, email: Email) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = email.message_id
        message.set_content(email.body)
        return message

    async def send(self, email: Email) -> None:
        s = self.settings
        await aiosmtplib.send(
            self.build(email),
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username or None,
            password=s.smtp_password or None,
            start_tls=s.smtp_starttls,
            use_tls=False,
            timeout=s.smtp_timeout_s,
        )
