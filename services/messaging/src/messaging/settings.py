"""Messaging service settings (environment prefix ``MESSAGING_``)."""

from __future__ import annotations

from typing import ClassVar

from kit.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class MessagingSettings(ServiceSettings):
    """Everything the messaging service reads from its environment.

    Outside ``development``/``test`` construction fails while a kit secret still has its
    default (see :class:`kit.settings.ServiceSettings`); ``smtp_password`` counts as a
    secret only when ``smtp_username`` is set.
    """

    model_config = SettingsConfigDict(env_prefix="MESSAGING_")

    secret_fields: ClassVar[tuple[str, ...]] = ServiceSettings.secret_fields

    def default_secrets(self) -> list[str]:
        """The kit's, plus ``smtp_password`` when the SMTP server wants a login."""
        found = super().default_secrets()
        if self.smtp_username and not self.smtp_password:
            found.append("smtp_password")
        return found

    service_name: str = "messaging"
    database_url: str = "postgresql+asyncpg://messaging:messaging@127.0.0.1:5432/platform"
    db_schema: str = "messaging"
    http_port: int = 8203

    #: Upgrade the schema to head when the HTTP service starts.
    migrate_on_start: bool = True
    #: Where the Alembic scripts are (default: ``migrations/`` beside the source tree).
    migrations_dir: str = ""
    #: Run the outbox relay inside the HTTP process (off when ``messaging relay`` runs apart).
    run_outbox_relay: bool = True
    #: Run the event consumer (group ``consumer_group``) inside the HTTP process.
    run_consumer: bool = True
    #: Run the periodic jobs (email digests, room expiry) inside the HTTP process.
    run_jobs: bool = True
    #: ``messaging serve`` runs the relay, the consumer and the jobs (those switched on
    #: above) each in a child process of its own instead of on the HTTP server's event
    #: loop, so sending a message and relaying it use separate cores.
    workers_apart: bool = False
    #: HTTP server processes (uvicorn workers) ``messaging serve`` runs; they share the
    #: port. More than one needs ``workers_apart`` (the relay, consumer and jobs run once).
    http_workers: int = Field(default=1, ge=1, le=16)
    consumer_group: str = "messaging"
    #: Topics the consumer reads; a test points these at its own fresh topics.
    #: ``messaging.message.v1``: offline recipients' notifications are made from it.
    consumed_topics: list[str] = [
        "messaging.message.v1",
        "identity.user.v1",
        "identity.graph.v1",
        "content.post.v1",
        "content.comment.v1",
        "content.reaction.v1",
        "moderation.decision.v1",
    ]

    #: Idempotency-Key answers are kept this long.
    idempotency_ttl_s: int = 24 * 3600
    message_max_chars: int = 4000
    group_max_members: int = 256

    #: Presence: a user is online while ``<presence_key_prefix><user id>`` exists in Redis
    #: (kept by the realtime service while the user has a live socket).
    presence_key_prefix: str = "presence:user:"

    #: Events of one type about one subject for one user within this window update one
    #: notification instead of creating another.
    notification_batch_window_s: int = 3600
    #: How many of the most recent actors a batched notification lists.
    notification_actor_cap: int = 10

    #: Email digests.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout_s: float = 10.0
    mail_from: str = "notifications@platform.example"
    digest_interval_s: int = 3600
    #: A new digest address must be confirmed with the code mailed to it within this
    #: long, in at most ``email_code_max_attempts`` tries.
    email_code_ttl_s: int = 1800
    email_code_max_attempts: int = 5
    #: Sent and given-up digests are deleted this long after they were built.
    digest_retention_s: int = 30 * 24 * 3600
    digest_max_attempts: int = 8
    digest_retry_initial_s: float = 30.0
    digest_retry_max_s: float = 3600.0
    #: How often the job loop wakes to send due digests and expire rooms.
    jobs_tick_s: float = 5.0

    #: Call rooms expire this long after creation unless the owner asks for less.
    call_room_ttl_s: int = 3600
    call_room_max_ttl_s: int = 4 * 3600
