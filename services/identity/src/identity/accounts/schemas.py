"""Request and response bodies of the account endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from identity.accounts.validation import PASSWORD_MAX, PASSWORD_MIN, validate_username

LOCALE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


def _username(value: str) -> str:
    # UsernameError is a ValueError: pydantic turns it into a 422 field error.
    return validate_username(value)


def _email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"email is not valid: {exc}") from None


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith(("http://", "https://")) or len(value) < 10 or " " in value:
        raise ValueError("avatar_url must be an absolute http(s) URL")
    return value


def _display_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("display_name must not be blank")
    return value


Username = Annotated[str, StringConstraints(max_length=64), AfterValidator(_username)]
Password = Annotated[str, Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]
DisplayName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_display_name)]
Bio = Annotated[str, Field(max_length=1000)]
AvatarUrl = Annotated[str, Field(max_length=2048), AfterValidator(_http_url)]
Locale = Annotated[str, Field(max_length=35, pattern=LOCALE_PATTERN)]


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_email)]
    username: Username
    password: Password
    display_name: DisplayName | None = None
    locale: Locale = "ar"


class ProfileUpdate(BaseModel):
    """A partial update: only the fields present change. ``bio`` and ``avatar_url``
    may be set to null to clear them."""

    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName | None = None
    bio: Bio | None = None
    avatar_url: AvatarUrl | None = None
    locale: Locale | None = None


class PublicProfile(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    bio: str | None
    avatar_url: str | None
    locale: str
    created_at: datetime


class Me(PublicProfile):
    email: str
    roles: list[str]
    two_factor_enabled: bool
    updated_at: datetime
