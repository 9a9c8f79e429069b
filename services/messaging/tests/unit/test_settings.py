import pytest
from messaging.settings import MessagingSettings
from pydantic import ValidationError

PRODUCTION = {
    "environment": "production",
    "service_token": "t",
    "cursor_secret": "c",
    "database_url": "postgresql+asyncpg://messaging:strong@db:5432/platform",
}


def test_an_smtp_login_without_a_password_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="smtp_password"):
        MessagingSettings(**PRODUCTION, smtp_username="mailer")
    ok = MessagingSettings(**PRODUCTION, smtp_username="mailer", smtp_password="pw")
    assert ok.default_secrets() == []
    # No login at all (a relay on a private network) needs no password.
    assert MessagingSettings(**PRODUCTION).default_secrets() == []


def test_the_development_database_url_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="database_url"):
        MessagingSettings(**{**PRODUCTION, "database_url": MessagingSettings().database_url})
