"""Gateway settings (environment prefix `GATEWAY_`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from kit.settings import ServiceSettings
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

DEFAULT_ROUTES_FILE = Path(__file__).resolve().parents[2] / "routes.yaml"


class GatewaySettings(ServiceSettings):
    """Everything the gateway reads from its environment.

    Lists (`cors_origins`, `trusted_proxies`) are given as JSON arrays, e.g.
    `GATEWAY_CORS_ORIGINS='["https://app.example"]'`.
    """

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", extra="ignore", case_sensitive=False, validate_default=True
    )

    service_name: str = "gateway"
    http_port: int = 8080
    # The gateway owns no database; a fixed placeholder keeps the kit's derived
    # development DSN (and its production refusal) out of the way.
    uses_database: ClassVar[bool] = False
    database_url: str = "postgresql+asyncpg://gateway@127.0.0.1:5432/none"

    routes_file: Path = DEFAULT_ROUTES_FILE

    # Token buckets: refill per second and burst, per client IP and per user.
    rate_limit_enabled: bool = True
    rate_limit_ip_rate: float = Field(default=50.0, gt=0)
    rate_limit_ip_burst: int = Field(default=100, ge=1)
    rate_limit_user_rate: float = Field(default=20.0, gt=0)
    rate_limit_user_burst: int = Field(default=60, ge=1)
    rate_limit_key_prefix: str = "gw:rl:"
    redis_timeout_s: float = Field(default=0.25, gt=0)

    max_body_bytes: int = Field(default=1024 * 1024, ge=0)

    cors_origins: list[str] = []
    cors_allow_credentials: bool = True
    cors_max_age_s: int = 600

    upstream_connect_timeout_s: float = Field(default=2.0, gt=0)
    upstream_read_timeout_s: float = Field(default=30.0, gt=0)
    upstream_write_timeout_s: float = Field(default=30.0, gt=0)
    upstream_pool_timeout_s: float = Field(default=5.0, gt=0)
    upstream_max_connections: int = Field(default=100, ge=1)
    upstream_max_keepalive: int = Field(default=50, ge=0)
    upstream_keepalive_expiry_s: float = Field(default=30.0, gt=0)

    # Peers (CIDRs) whose X-Forwarded-For/-Proto/-Host are believed; empty trusts nobody.
    trusted_proxies: list[str] = []

    openapi_cache_ttl_s: float = Field(default=30.0, ge=0)
    openapi_fetch_timeout_s: float = Field(default=2.0, gt=0)
    jwt_cache_size: int = Field(default=10_000, ge=0)

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_cidrs(cls, value: list[str]) -> list[str]:
        import ipaddress

        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)
        return value
