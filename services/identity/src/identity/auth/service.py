"""Sign-in, token refresh, sessions and TOTP 2FA.

Functions add and flush; the request scope commits.  Credential failures are
all the same 401 body, so nothing tells whether an account exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from kit.errors import Conflict, NotFound, Unauthorized, UnprocessableEntity
from kit.ids import uuid7
from sqlalchemy.ext.asyncio import AsyncSession

from identity.accounts import repository as users
from identity.accounts.validation import username_key
from identity.auth import repository
from identity.auth.schemas import MfaRequired, TokenPair
from identity.auth.tokens import (
    InvalidToken,
    RefreshDecision,
    RefreshTokenState,
    decide_refresh,
    hash_refresh_token,
    issue_access_token,
    issue_mfa_token,
    new_refresh_token,
    verify_mfa_token,
)
from identity.auth.totp import (
    generate_recovery_codes,
    hash_recovery_code,
    looks_like_recovery_code,
    new_totp_secret,
    provisioning_uri,
    verify_totp,
)
from identity.keys.crypto import seal, unseal
from identity.models import AuthSession, RecoveryCode, RefreshToken, User
from identity.runtime import Runtime


def invalid_credentials() -> Unauthorized:
    """The one answer to every failed credential check."""
    return Unauthorized("The login or password is incorrect.", title="Invalid credentials")


def invalid_refresh() -> Unauthorized:
    return Unauthorized("The refresh token is not valid.", title="Invalid refresh token")


class RefreshTokenReused(Exception):
    """A spent refresh token was presented: the family must be revoked (in a
    transaction of its own, since the request's transaction rolls back)."""

    def __init__(self, session_id: uuid.UUID) -> None:
        super().__init__(f"refresh token reuse in session {session_id}")
        self.session_id = session_id


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None
    user_agent: str | None


def _totp_context(user_id: uuid.UUID) -> str:
    return f"totp:{user_id}"


async def _issue_pair(
    session: AsyncSession,
    rt: Runtime,
    *,
    user: User,
    auth_session: AuthSession,
    now: datetime,
) -> TokenPair:
    settings = rt.settings
    refresh = new_refresh_token()
    refresh_expires = min(now + settings.refresh_token_ttl, auth_session.expires_at)
    await repository.add_refresh_token(
        session,
        RefreshToken(
            id=uuid7(),
            session_id=auth_session.id,
            token_hash=hash_refresh_token(refresh),
            state=RefreshTokenState.ACTIVE.value,
            created_at=now,
            expires_at=refresh_expires,
        ),
    )
    kid, private_key = await rt.keyring.signing_key(session)
    access = issue_access_token(
        private_key=private_key,
        kid=kid,
        user_id=user.id,
        session_id=auth_session.id,
        roles=user.roles,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=settings.access_token_ttl,
        now=now,
    )
    return TokenPair(
        access_token=access.token,
        expires_in=int(settings.access_token_ttl.total_seconds()),
        refresh_token=refresh,
        refresh_expires_in=int((refresh_expires - now).total_seconds()),
        session_id=auth_session.id,
    )


async def start_session(
    session: AsyncSession, rt: Runtime, *, user: User, client: ClientInfo, now: datetime
) -> TokenPair:
    """Open a new session (refresh-token family) for ``user`` and issue its first pair."""
    auth_session = AuthSession(
        id=uuid7(),
        user_id=user.id,
        created_at=now,
        last_used_at=now,
        expires_at=now + rt.settings.session_ttl,
        user_agent=(client.user_agent or "")[:512] or None,
        ip=client.ip,
    )
    await repository.add_session(session, auth_session)
    return await _issue_pair(session, rt, user=user, auth_session=auth_session, now=now)


def _account_key(identifier: str) -> str:
    return username_key(identifier)


async def _find_user(session: AsyncSession, identifier: str) -> User | None:
    key = _account_key(identifier)
    if "@" in key:
        return await users.get_live_by_email_key(session, key)
    return await users.get_live_by_username_key(session, key)


async def login(
    session: AsyncSession,
    rt: Runtime,
    *,
    identifier: str,
    password: str,
    client: ClientInfo,
    now: datetime | None = None,
) -> TokenPair | MfaRequired:
    """Check the password and open a session, or hand out an MFA challenge.

    Raises 429 when the account or IP is throttled and the same 401 for an
    unknown account and a wrong password (an unknown account still costs one
    argon2 verification, so timing tells nothing either).
    """
    now = now or datetime.now(UTC)
    account = _account_key(identifier)
    await rt.throttle.check(account, client.ip)
    user = await _find_user(session, identifier)
    ok = await rt.passwords.verify_async(user.password_hash if user else None, password)
    if not ok or user is None:
        await rt.throttle.record_failure(account, client.ip)
        raise invalid_credentials()
    await rt.throttle.reset_account(account)
    if rt.passwords.needs_rehash(user.password_hash):
        user.password_hash = await rt.passwords.hash_async(password)
    if user.totp_enabled:
        kid, private_key = await rt.keyring.signing_key(session)
        mfa = issue_mfa_token(
            private_key=private_key,
            kid=kid,
            user_id=user.id,
            issuer=rt.settings.jwt_issuer,
            ttl=rt.settings.mfa_token_ttl,
            now=now,
        )
        return MfaRequired(
            mfa_token=mfa.token, expires_in=int(rt.settings.mfa_token_ttl.total_seconds())
        )
    return await start_session(session, rt, user=user, client=client, now=now)


async def _check_second_factor(
    session: AsyncSession, rt: Runtime, user: User, code: str, now: datetime
) -> bool:
    """True when ``code`` is a fresh TOTP code or an unused recovery code (consumed)."""
    if looks_like_recovery_code(code):
        return await repository.consume_recovery_code(
            session, user.id, hash_recovery_code(code), now
        )
    if user.totp_secret_enc is None:
        return False
    secret = unseal(
        user.totp_secret_enc,
        secret=rt.settings.key_encryption_secret,
        context=_totp_context(user.id),
    ).decode()
    step = verify_totp(secret, code, now=now, last_used_step=user.totp_last_step)
    if step is None:
        return False
    user.totp_last_step = step
    return True


async def complete_mfa_login(
    session: AsyncSession,
    rt: Runtime,
    *,
    mfa_token: str,
    code: str,
    client: ClientInfo,
    now: datetime | None = None,
) -> TokenPair:
    """Finish a 2FA sign-in with the MFA token and a TOTP or recovery code.

    Raises 401 for an invalid/expired MFA token or a wrong code, 429 when throttled.
    """
    now = now or datetime.now(UTC)
    resolve_key = await rt.keyring.resolver_for(session, mfa_token, now)
    try:
        user_id = verify_mfa_token(
            mfa_token,
            resolve_key=resolve_key,
            issuer=rt.settings.jwt_issuer,
        )
    except InvalidToken:
        raise Unauthorized(
            "The MFA token is invalid or has expired; sign in again.", title="Invalid MFA token"
        ) from None
    account = f"mfa:{user_id}"
    await rt.throttle.check(account, client.ip)
    user = await repository.lock_user(session, user_id)
    if user is None or user.deleted_at is not None or not user.totp_enabled:
        raise invalid_credentials()
    if not await _check_second_factor(session, rt, user, code, now):
        await rt.throttle.record_failure(account, client.ip)
        raise Unauthorized("The code is incorrect.", title="Invalid code")
    await rt.throttle.reset_account(account)
    return await start_session(session, rt, user=user, client=client, now=now)


async def refresh(
    session: AsyncSession, rt: Runtime, *, refresh_token: str, now: datetime | None = None
) -> TokenPair:
    """Spend ``refresh_token`` and issue a new pair in the same session.

    Raises :class:`RefreshTokenReused` when the token was already spent (the
    caller revokes the family), 401 when it is unknown, expired or revoked.
    """
    now = now or datetime.now(UTC)
    found = await repository.get_refresh_token_for_update(
        session, hash_refresh_token(refresh_token)
    )
    if found is None:
        raise invalid_refresh()
    token, auth_session = found
    decision = decide_refresh(
        token_state=RefreshTokenState(token.state),
        token_expires_at=token.expires_at,
        session_revoked=auth_session.revoked_at is not None,
        session_expires_at=auth_session.expires_at,
        now=now,
    )
    if decision is RefreshDecision.REUSE_DETECTED:
        raise RefreshTokenReused(auth_session.id)
    if decision is RefreshDecision.REJECT:
        raise invalid_refresh()
    user = await users.get_live(session, auth_session.user_id)
    if user is None:
        raise invalid_refresh()
    token.state = RefreshTokenState.SPENT.value
    token.spent_at = now
    auth_session.last_used_at = now
    await session.flush()
    return await _issue_pair(session, rt, user=user, auth_session=auth_session, now=now)


async def revoke_family(session: AsyncSession, session_id: uuid.UUID, now: datetime) -> None:
    """Revoke a session and all its refresh tokens after reuse was detected."""
    await repository.revoke_session(session, session_id, now=now, reason="refresh_reuse")


async def logout(
    session: AsyncSession, *, session_id: uuid.UUID, now: datetime | None = None
) -> None:
    """End the caller's current session (its access token stops working here at once)."""
    await repository.revoke_session(
        session, session_id, now=now or datetime.now(UTC), reason="logout"
    )


async def list_sessions(
    session: AsyncSession, *, user_id: uuid.UUID, now: datetime | None = None
) -> Sequence[AuthSession]:
    """The caller's live sessions, most recently used first."""
    return await repository.list_active_sessions(session, user_id, now or datetime.now(UTC))


async def revoke_own_session(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    now: datetime | None = None,
) -> None:
    """Revoke one of the caller's sessions; 404 when it is not theirs (or does not exist),
    so other users' session ids cannot be probed."""
    target = await repository.get_session(session, session_id)
    if target is None or target.user_id != user_id:
        raise NotFound("No such session.")
    await repository.revoke_session(
        session, session_id, now=now or datetime.now(UTC), reason="revoked_by_user"
    )


async def enroll_totp(session: AsyncSession, rt: Runtime, *, user_id: uuid.UUID) -> tuple[str, str]:
    """Start 2FA enrollment: a pending secret and its otpauth URI.

    Re-enrolling before confirming replaces the pending secret. 409 when 2FA is on.
    """
    user = await users.get_live(session, user_id, lock=True)
    if user is None:
        raise NotFound("No such user.")
    if user.totp_enabled:
        raise Conflict("Two-factor authentication is already enabled.")
    secret = new_totp_secret()
    user.totp_pending_secret_enc = seal(
        secret.encode(), secret=rt.settings.key_encryption_secret, context=_totp_context(user.id)
    )
    await session.flush()
    uri = provisioning_uri(secret, account_name=user.username, issuer=rt.settings.totp_issuer)
    return secret, uri


async def confirm_totp(
    session: AsyncSession,
    rt: Runtime,
    *,
    user_id: uuid.UUID,
    code: str,
    now: datetime | None = None,
) -> list[str]:
    """Turn 2FA on with a code from the pending secret; returns 10 fresh recovery codes
    (shown once; stored hashed). 409 without a pending enrollment or when already on,
    422 for a wrong code."""
    now = now or datetime.now(UTC)
    user = await users.get_live(session, user_id, lock=True)
    if user is None:
        raise NotFound("No such user.")
    if user.totp_enabled:
        raise Conflict("Two-factor authentication is already enabled.")
    if user.totp_pending_secret_enc is None:
        raise Conflict("Start enrollment first (POST /2fa/enroll).")
    secret = unseal(
        user.totp_pending_secret_enc,
        secret=rt.settings.key_encryption_secret,
        context=_totp_context(user.id),
    ).decode()
    step = verify_totp(secret, code, now=now)
    if step is None:
        raise UnprocessableEntity("The code does not match; check the device clock.")
    user.totp_secret_enc = user.totp_pending_secret_enc
    user.totp_pending_secret_enc = None
    user.totp_enabled = True
    user.totp_last_step = step
    user.updated_at = now
    codes = generate_recovery_codes()
    await repository.replace_recovery_codes(
        session,
        user.id,
        [
            RecoveryCode(
                id=uuid7(), user_id=user.id, code_hash=hash_recovery_code(c), created_at=now
            )
            for c in codes
        ],
    )
    return codes


async def disable_totp(
    session: AsyncSession,
    rt: Runtime,
    *,
    user_id: uuid.UUID,
    code: str,
    now: datetime | None = None,
) -> None:
    """Turn 2FA off; needs a valid TOTP or recovery code. 409 when it is off, 422 for a
    wrong code."""
    now = now or datetime.now(UTC)
    user = await users.get_live(session, user_id, lock=True)
    if user is None:
        raise NotFound("No such user.")
    if not user.totp_enabled:
        raise Conflict("Two-factor authentication is not enabled.")
    if not await _check_second_factor(session, rt, user, code, now):
        raise UnprocessableEntity("The code is incorrect.")
    user.totp_enabled = False
    user.totp_secret_enc = None
    user.totp_pending_secret_enc = None
    user.totp_last_step = None
    user.updated_at = now
    await repository.delete_recovery_codes(session, user.id)
