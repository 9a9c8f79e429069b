import pytest
from kit.settings import ServiceSettings
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_")
    service_name: str = "demo"
    api_secret: SecretStr = SecretStr("dev-api-secret")


def test_env_prefix_is_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_HTTP_PORT", "8299")
    monkeypatch.setenv("SERVICE_HTTP_PORT", "1")
    assert DemoSettings().http_port == 8299


def test_database_url_and_schema_default_from_service_name() -> None:
    s = DemoSettings()
    assert s.db_schema == "demo"
    assert s.database_url == "postgresql+asyncpg://demo:demo@127.0.0.1:5432/platform"
    assert s.asyncpg_dsn == "postgresql://demo:demo@127.0.0.1:5432/platform"


def test_production_refuses_default_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_ENVIRONMENT", "production")
    with pytest.raises(ValidationError) as err:
        DemoSettings()
    message = str(err.value)
    for name in ("service_token", "cursor_secret", "api_secret", "database_url"):
        assert name in message


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "ENVIRONMENT": "production",
        "SERVICE_TOKEN": "s3cr3t-token",
        "CURSOR_SECRET": "s3cr3t-cursor",
        "API_SECRET": "s3cr3t-api",
        "DATABASE_URL": "postgresql+asyncpg://demo:strong@db:5432/platform",
    }.items():
        monkeypatch.setenv(f"DEMO_{key}", value)
    s = DemoSettings()
    assert s.is_production
    assert s.default_secrets() == []


def test_test_environment_accepts_defaults() -> None:
    assert DemoSettings(environment="test").service_token == "dev-service-token"


def test_rejects_non_asyncpg_url_and_odd_schema() -> None:
    with pytest.raises(ValidationError):
        DemoSettings(database_url="postgresql://x@y/z")
    with pytest.raises(ValidationError):
        DemoSettings(db_schema="Robert'); DROP")


class DeclaredUrlSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DECL_")
    service_name: str = "decl"
    database_url: str = "postgresql+asyncpg://decl:decl@127.0.0.1:5432/platform"


class NoDatabaseSettings(DeclaredUrlSettings):
    uses_database = False


def test_a_declared_development_database_url_is_refused_in_production() -> None:
    real = {"service_token": "t", "cursor_secret": "c", "environment": "production"}
    with pytest.raises(ValidationError, match="database_url"):
        DeclaredUrlSettings(**real)
    ok = DeclaredUrlSettings(**real, database_url="postgresql+asyncpg://decl:x@db/platform")
    assert ok.is_production
    # A service without a database keeps its placeholder URL in production.
    assert NoDatabaseSettings(**real).is_production
