"""The authenticated caller, verified against identity's own keys and sessions.

Unlike other services (which trust any unexpired token), identity also checks
that the token's session is still live and its user not deleted, so logout,
session revocation and account deletion take effect here at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from kit.auth import Principal
from kit.db import Database, Session
from kit.errors import Unauthorized
from sqlalchemy import Row, bindparam, select

from identity.auth.tokens import InvalidToken, verify_access_token
from identity.models import AuthSession, User
from identity.runtime import Rt

_bearer = HTTPBearer(auto_error=False, description="Access token issued by identity")


_sessions = AuthSession.__table__
_users = User.__table__

#: The token's session joined with its user: the liveness check and, for ``GET /me``,
#: the caller's account, in one statement (built once; SQLAlchemy caches its SQL).
_SESSION_AND_USER = (
    select(
        _sessions.c.user_id.label("session_user_id"),
        _sessions.c.revoked_at.label("session_revoked_at"),
        *_users.c,
    )
    .join_from(_sessions, _users, _users.c.id == _sessions.c.user_id)
    .where(_sessions.c.id == bindparam("session_id"))
)


async def _session_and_user(db: Database, session_id: object) -> Row[Any] | None:
    """Read the row outside the request's transaction, in autocommit mode.

    A single statement is its own consistent snapshot, so no BEGIN/COMMIT round trips
    are needed, and a read-only request (``GET /me``) never opens a transaction at all.
    The connection goes back to the pool before the endpoint runs.
    """
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        result = await conn.execute(_SESSION_AND_USER, {"session_id": session_id})
        return result.first()


def _invalid(detail: str) -> Unauthorized:
    return Unauthorized(detail, title="Invalid token")


async def get_current_principal(
    request: Request,
    session: Session,
    rt: Rt,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller of this request; 401 problem for a missing or unacceptable token."""
    if credentials is None:
        raise Unauthorized("Authentication is required.", title="Not authenticated")
    token = credentials.credentials
    resolve_key = await rt.keyring.resolver_for(session, token, datetime.now(UTC))
    try:
        claims = verify_access_token(
            token,
            resolve_key=resolve_key,
            issuer=rt.settings.jwt_issuer,
            audience=rt.settings.jwt_audience,
        )
    except InvalidToken as exc:
        raise _invalid(f"The token is not acceptable: {exc}.") from None
    row = await _session_and_user(request.app.state.db, claims.session_id)
    if row is None:
        raise _invalid("The token's session does not exist.")
    if (
        row.session_user_id != claims.user_id
        or row.session_revoked_at is not None
        or row.deleted_at is not None
    ):
        raise _invalid("The token's session has ended.")
    principal = Principal(claims.user_id, claims.session_id, frozenset(claims.roles))
    request.state.principal = principal
    request.state.principal_account = row
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_principal)]
