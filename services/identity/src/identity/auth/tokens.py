"""Access, refresh and MFA tokens: issuing and verifying, with no I/O.

Access tokens are RS256 JWTs with a ``kid`` header.  Verification accepts RS256
only and checks the algorithm in the header *before* looking up a key, so
``alg=none`` and HS256-signed-with-the-public-key tokens never reach a verifier.
Refresh tokens are opaque random strings; only their SHA-256 is stored.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

ALGORITHM = "RS256"
MFA_TOKEN_USE = "mfa"  # noqa: S105 - a claim value
ACCESS_TOKEN_USE = "access"  # noqa: S105 - a claim value


class InvalidToken(Exception):
    """The token is malformed, expired, signed by an unknown key or otherwise not acceptable."""


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    roles: tuple[str, ...]
    jti: str
    expires_at: datetime


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def issue_access_token(
    *,
    private_key: RSAPrivateKey,
    kid: str,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    roles: Sequence[str],
    issuer: str,
    audience: str,
    ttl: timedelta,
    now: datetime,
) -> IssuedToken:
    """Sign an access token carrying ``sub``, ``sid``, ``roles``, ``iss``, ``aud``,
    ``iat``, ``exp`` and a random ``jti``."""
    expires_at = now + ttl
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": str(user_id),
        "sid": str(session_id),
        "roles": list(roles),
        "iat": _ts(now),
        "nbf": _ts(now),
        "exp": _ts(expires_at),
        "jti": secrets.token_urlsafe(16),
        "use": ACCESS_TOKEN_USE,
    }
    token = jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": kid})
    return IssuedToken(token=token, expires_at=expires_at)


def _decode(
    token: str,
    *,
    resolve_key: Callable[[str], RSAPublicKey | None],
    issuer: str,
    audience: str,
    now: datetime | None,
    required: list[str],
) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("malformed token") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("unsupported signing algorithm")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("token has no key id")
    key = resolve_key(kid)
    if key is None:
        raise InvalidToken("unknown signing key")
    options: Any = {"require": required}
    if now is not None:
        # PyJWT compares against the wall clock; a caller-supplied clock is
        # checked here instead so tests can move time.
        options["verify_exp"] = False
        options["verify_nbf"] = False
        options["verify_iat"] = False
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options=options,
            leeway=5,
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if now is not None and _ts(now) >= int(claims["exp"]) + 5:
        raise InvalidToken("token has expired")
    return claims


def verify_access_token(
    token: str,
    *,
    resolve_key: Callable[[str], RSAPublicKey | None],
    issuer: str,
    audience: str,
    now: datetime | None = None,
) -> AccessClaims:
    """Verify an access token and return its claims.

    ``resolve_key(kid)`` returns the public key for a key id or ``None``.
    Raises :class:`InvalidToken` for anything but a valid, unexpired RS256
    access token from ``issuer`` for ``audience``.
    """
    claims = _decode(
        token,
        resolve_key=resolve_key,
        issuer=issuer,
        audience=audience,
        now=now,
        required=["exp", "iat", "sub", "sid", "jti", "iss", "aud"],
    )
    if claims.get("use", ACCESS_TOKEN_USE) != ACCESS_TOKEN_USE:
        raise InvalidToken("not an access token")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidToken("malformed roles claim")
    try:
        user_id = uuid.UUID(str(claims["sub"]))
        session_id = uuid.UUID(str(claims["sid"]))
    except ValueError as exc:
        raise InvalidToken("malformed subject") from exc
    return AccessClaims(
        user_id=user_id,
        session_id=session_id,
        roles=tuple(roles),
        jti=str(claims["jti"]),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC),
    )


def mfa_audience(issuer: str) -> str:
    """The audience of MFA tokens: distinct from every access-token audience, so an
    MFA token can never be used as an access token anywhere."""
    return f"{issuer}#mfa"


def issue_mfa_token(
    *,
    private_key: RSAPrivateKey,
    kid: str,
    user_id: uuid.UUID,
    issuer: str,
    ttl: timedelta,
    now: datetime,
) -> IssuedToken:
    """Sign a short-lived token proving the password step of a 2FA login passed."""
    expires_at = now + ttl
    claims = {
        "iss": issuer,
        "aud": mfa_audience(issuer),
        "sub": str(user_id),
        "iat": _ts(now),
        "exp": _ts(expires_at),
        "jti": secrets.token_urlsafe(16),
        "use": MFA_TOKEN_USE,
    }
    token = jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": kid})
    return IssuedToken(token=token, expires_at=expires_at)


def verify_mfa_token(
    token: str,
    *,
    resolve_key: Callable[[str], RSAPublicKey | None],
    issuer: str,
    now: datetime | None = None,
) -> uuid.UUID:
    """Return the user id an MFA token was issued for; raise :class:`InvalidToken` otherwise."""
    claims = _decode(
        token,
        resolve_key=resolve_key,
        issuer=issuer,
        audience=mfa_audience(issuer),
        now=now,
        required=["exp", "iat", "sub", "jti", "iss", "aud"],
    )
    if claims.get("use") != MFA_TOKEN_USE:
        raise InvalidToken("not an MFA token")
    try:
        return uuid.UUID(str(claims["sub"]))
    except ValueError as exc:
        raise InvalidToken("malformed subject") from exc


def new_refresh_token() -> str:
    """A fresh opaque refresh token (256 bits of randomness, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """The SHA-256 hex digest stored in place of the refresh token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class RefreshTokenState(enum.StrEnum):
    ACTIVE = "active"
    SPENT = "spent"
    REVOKED = "revoked"


class RefreshDecision(enum.Enum):
    """What to do with a presented refresh token."""

    ROTATE = "rotate"
    """Valid: spend it and hand out a new pair in the same session."""
    REUSE_DETECTED = "reuse_detected"
    """Already spent: someone replayed it, revoke the whole session (family)."""
    REJECT = "reject"
    """Expired, revoked or its session is over: refuse without side effects."""


def decide_refresh(
    *,
    token_state: RefreshTokenState,
    token_expires_at: datetime,
    session_revoked: bool,
    session_expires_at: datetime,
    now: datetime,
) -> RefreshDecision:
    """Decide the outcome of a refresh attempt from the stored state alone.

    Reuse is checked first: a spent token presented again means the family
    leaked, whatever else is true, unless the family is already revoked.
    """
    if session_revoked or token_state is RefreshTokenState.REVOKED:
        return RefreshDecision.REJECT
    if token_state is RefreshTokenState.SPENT:
        return RefreshDecision.REUSE_DETECTED
    if now >= token_expires_at or now >= session_expires_at:
        return RefreshDecision.REJECT
    return RefreshDecision.ROTATE
