"""The authenticated caller, verified against identity's own keys and sessions.

Unlike other services (which trust any unexpired token), identity also checks
that the token's session is still live and its user not deleted, so logout,
session revocation and account deletion take effect here at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from kit.auth import Principal
from kit.db import Session
from kit.errors import Unauthorized

from identity.auth import repository
from identity.auth.tokens import InvalidToken, verify_access_token
from identity.runtime import Rt

_bearer = HTTPBearer(auto_error=False, description="Access token issued by identity")


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
    found = await repository.get_session_with_user(session, claims.session_id)
    if found is None:
        raise _invalid("The token's session does not exist.")
    auth_session, user = found
    if (
        auth_session.user_id != claims.user_id
        or auth_session.revoked_at is not None
        or user.deleted_at is not None
    ):
        raise _invalid("The token's session has ended.")
    principal = Principal(claims.user_id, claims.session_id, frozenset(claims.roles))
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_principal)]
