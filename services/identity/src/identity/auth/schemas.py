"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=1024)


class LoginRequest(_Strict):
    """Sign in with ``login`` (email or username); ``email`` or ``username`` are accepted
    as synonyms. Exactly one of the three must be given."""

    login: str | None = Field(default=None, min_length=1, max_length=320)
    email: str | None = Field(default=None, min_length=1, max_length=320)
    username: str | None = Field(default=None, min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=128)

    @model_validator(mode="after")
    def _one_identifier(self) -> LoginRequest:
        given = [v for v in (self.login, self.email, self.username) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of login, email or username")
        return self

    @property
    def identifier(self) -> str:
        return (self.login or self.email or self.username or "").strip()


class MfaLoginRequest(_Strict):
    mfa_token: str = Field(min_length=1, max_length=4096)
    code: str = Field(min_length=6, max_length=32, description="TOTP code or recovery code")


class RefreshRequest(_Strict):
    refresh_token: str = Field(min_length=1, max_length=512)


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str
    refresh_expires_in: int
    session_id: uuid.UUID


class MfaRequired(BaseModel):
    """Answer (401) to a correct password for an account with 2FA on."""

    mfa_required: Literal[True] = True
    mfa_token: str
    expires_in: int


class SessionOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool


class SessionList(BaseModel):
    items: list[SessionOut]


class TotpEnrollment(BaseModel):
    secret: str
    otpauth_uri: str


class CodeRequest(_Strict):
    code: str = Field(min_length=6, max_length=32)


class RecoveryCodes(BaseModel):
    recovery_codes: list[str]
