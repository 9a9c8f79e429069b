"""Identity service settings (environment prefix ``IDENTITY_``)."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from kit.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict

DEV_KEY_ENCRYPTION_SECRET = "dev-identity-key-encryption-secret"  # noqa: S105 - refused in production


class IdentitySettings(ServiceSettings):
    """Everything the identity service reads from its environment.

    Outside ``development``/``test`` construction fails while a secret
    (``key_encryption_secret``, and the kit's own) still has its default.
    """

    model_config = SettingsConfigDict(env_prefix="IDENTITY_")

    secret_fields: ClassVar[tuple[str, ...]] = (
        *ServiceSettings.secret_fields,
        "key_encryption_secret",
    )

    service_name: str = "identity"
    database_url: str = "postgresql+asyncpg://identity:identity@127.0.0.1:5432/platform"
    db_schema: str = "identity"
    http_port: int = 8201

    #: Seals signing keys and TOTP secrets at rest (AES-256-GCM, key = SHA-256 of this).
    key_encryption_secret: str = DEV_KEY_ENCRYPTION_SECRET

    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    session_ttl_s: int = 90 * 24 * 3600
    mfa_token_ttl_s: int = 5 * 60
    totp_issuer: str = "Platform"

    #: argon2id parameters. The defaults are OWASP's Password Storage Cheat Sheet
    #: minimum (19 MiB, 2 passes, 1 lane): about 20 ms of one core per hash, so
    #: registration and login stay affordable on small machines. Raise them where
    #: CPU allows; stored hashes carry their own parameters and keep verifying.
    argon2_time_cost: int = 2
    argon2_memory_cost_kib: int = 19 * 1024
    argon2_parallelism: int = 1

    #: Failed logins tolerated per account / per client IP within the window.
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 20
    login_failure_window_s: int = 15 * 60
    #: Take the client IP from X-Forwarded-For (only behind the gateway, which sets it).
    trust_forwarded_for: bool = False

    #: Upgrade the schema to head when the HTTP service starts.
    migrate_on_start: bool = True
    #: Where the Alembic scripts are (default: ``migrations/`` beside the source tree).
    migrations_dir: str = ""
    #: Sessions (with their refresh tokens) and retired signing keys are deleted this
    #: long after they expired, were revoked or retired.
    session_retention_s: int = 30 * 24 * 3600
    idempotency_ttl_s: int = 24 * 3600
    #: Run the outbox relay inside the HTTP process (off when ``identity relay`` runs apart).
    run_outbox_relay: bool = True

    @property
    def access_token_ttl(self) -> timedelta:
        return timedelta(seconds=self.access_token_ttl_s)

    @property
    def refresh_token_ttl(self) -> timedelta:
        return timedelta(seconds=self.refresh_token_ttl_s)

    @property
    def session_ttl(self) -> timedelta:
        return timedelta(seconds=self.session_ttl_s)

    @property
    def mfa_token_ttl(self) -> timedelta:
        return timedelta(seconds=self.mfa_token_ttl_s)
