"""Service settings read from the environment.

Each service subclasses :class:`ServiceSettings` with its own prefix::

    class IdentitySettings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="IDENTITY_")
        service_name: str = "identity"
        http_port: int = 8201

``database_url`` and ``db_schema`` default from ``service_name`` (role, password and
schema all named after the service, database ``platform``), which is the local stack's
layout. Outside ``development``/``test`` the settings refuse to load while any secret
still has its development default (``ValueError`` at construction).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

DEV_SERVICE_TOKEN = "dev-service-token"  # noqa: S105 - refused outside development/test
DEV_CURSOR_SECRET = "dev-cursor-secret"  # noqa: S105 - refused outside development/test


class ServiceSettings(BaseSettings):
    """Settings every service has; subclasses set ``env_prefix`` and add their own."""

    model_config = SettingsConfigDict(
        env_prefix="SERVICE_", extra="ignore", case_sensitive=False, validate_default=True
    )

    #: Names of fields that hold secrets (string fields); a subclass extends the tuple.
    #: ``SecretStr`` fields are always treated as secrets too.
    secret_fields: ClassVar[tuple[str, ...]] = ("service_token", "cursor_secret")
    #: False for a service that owns no database (its ``database_url`` is a placeholder).
    uses_database: ClassVar[bool] = True

    service_name: str = "service"
    environment: Environment = "development"
    database_url: str = ""
    db_schema: str = ""
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_echo: bool = False
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    redis_url: str = "redis://127.0.0.1:6379/0"
    jwks_url: str = "http://127.0.0.1:8201/.well-known/jwks.json"
    jwt_issuer: str = "platform-identity"
    jwt_audience: str = "platform"
    jwt_leeway_s: float = 30.0
    service_token: str = DEV_SERVICE_TOKEN
    cursor_secret: str = DEV_CURSOR_SECRET
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    otlp_endpoint: str | None = None
    readiness_timeout_s: float = 2.0
    outbox_poll_interval_s: float = 5.0
    outbox_batch_size: int = 200
    #: Published outbox rows are deleted this long after publication (kit.housekeeping).
    outbox_retention_s: float = 3 * 24 * 3600
    #: Inbox rows are kept this long; must exceed the consumed topics' retention.
    inbox_retention_s: float = 14 * 24 * 3600
    #: How often the relay and consumers prune their tables; rows per delete statement.
    housekeeping_interval_s: float = 600.0
    housekeeping_batch_size: int = 5000
    #: Events a consumer applies in one transaction (1 = one transaction per event).
    consumer_batch_size: int = 100
    #: Seconds between a consumer's offset commits (also on revoke and stop). Events
    #: applied since the last commit are redelivered after a crash; the inbox skips them.
    consumer_commit_interval_s: float = 1.0

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _derive_and_check(self) -> ServiceSettings:
        derived_url = False
        if not self.db_schema:
            self.db_schema = self.service_name.replace("-", "_")
        if not _SCHEMA_RE.match(self.db_schema):
            raise ValueError(f"db_schema {self.db_schema!r} is not a plain lower-case identifier")
        if not self.database_url:
            role = self.db_schema
            self.database_url = f"postgresql+asyncpg://{role}:{role}@127.0.0.1:5432/platform"
            derived_url = True
        if not self.database_url.startswith("postgresql+asyncpg://"):
            raise ValueError("database_url must use the postgresql+asyncpg:// driver")
        if self.environment not in ("development", "test"):
            defaults = self.default_secrets()
            declared = type(self).model_fields["database_url"].default
            if self.uses_database and (derived_url or self.database_url == declared):
                # The local development DSN (role = password): never a production one.
                defaults.append("database_url")
            if defaults:
                raise ValueError(
                    f"refusing to start in {self.environment} with default secrets: "
                    + ", ".join(sorted(defaults))
                )
        return self

    def default_secrets(self) -> list[str]:
        """Names of secret fields whose value is still the field's default."""
        names = set(self.secret_fields)
        for name, info in type(self).model_fields.items():
            if info.annotation is SecretStr or info.annotation == (SecretStr | None):
                names.add(name)
        found = []
        for name in names:
            field_info = type(self).model_fields.get(name)
            if field_info is None:
                continue
            value: Any = getattr(self, name)
            default: Any = field_info.default
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(default, SecretStr):
                default = default.get_secret_value()
            if value == default or value in ("", None):
                found.append(name)
        return found

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def asyncpg_dsn(self) -> str:
        """``database_url`` in the plain ``postgresql://`` form asyncpg itself accepts."""
        return "postgresql://" + self.database_url.split("://", 1)[1]
