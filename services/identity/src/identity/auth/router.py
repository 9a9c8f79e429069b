"""Auth endpoints: login (with 2FA), refresh, logout, sessions, 2FA management."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from kit.db import Session
from kit.errors import problem_response, problem_responses
from starlette.responses import JSONResponse

from identity.auth import service
from identity.auth.deps import CurrentUser
from identity.auth.schemas import (
    CodeRequest,
    LoginRequest,
    MfaLoginRequest,
    RecoveryCodes,
    RefreshRequest,
    SessionList,
    SessionOut,
    TokenPair,
    TotpEnrollment,
)
from identity.runtime import Rt, client_ip

router = APIRouter(tags=["auth"])


def _client(request: Request, rt: Rt) -> service.ClientInfo:
    return service.ClientInfo(
        ip=client_ip(request, rt.settings), user_agent=request.headers.get("user-agent")
    )


@router.post(
    "/auth/login",
    response_model=TokenPair,
    responses={
        **problem_responses(400, 422, 429),
        401: {
            "description": "Invalid credentials, or (with `mfa_required: true` and an "
            "`mfa_token`) the password was right and a second factor is needed",
        },
    },
)
async def login(
    body: LoginRequest, request: Request, session: Session, rt: Rt
) -> TokenPair | JSONResponse:
    """Sign in with email or username and password.

    Accounts with 2FA get a 401 problem carrying ``mfa_required: true`` and a
    short-lived ``mfa_token`` for ``POST /auth/login/2fa``.
    """
    result = await service.login(
        session,
        rt,
        identifier=body.identifier,
        password=body.password,
        client=_client(request, rt),
    )
    if isinstance(result, TokenPair):
        return result
    return problem_response(
        401,
        title="Second factor required",
        detail="Complete the sign-in with POST /auth/login/2fa.",
        headers={"WWW-Authenticate": "Bearer"},
        mfa_required=True,
        mfa_token=result.mfa_token,
        expires_in=result.expires_in,
    )


@router.post(
    "/auth/login/2fa", response_model=TokenPair, responses=problem_responses(400, 401, 422, 429)
)
async def login_2fa(body: MfaLoginRequest, request: Request, session: Session, rt: Rt) -> TokenPair:
    """Finish a 2FA sign-in with the ``mfa_token`` and a TOTP code or a recovery code
    (each recovery code works once)."""
    return await service.complete_mfa_login(
        session, rt, mfa_token=body.mfa_token, code=body.code, client=_client(request, rt)
    )


@router.post("/auth/refresh", response_model=TokenPair, responses=problem_responses(400, 401, 422))
async def refresh(body: RefreshRequest, request: Request, session: Session, rt: Rt) -> TokenPair:
    """Trade a refresh token for a new pair; the old refresh token is spent.

    Presenting a spent token again revokes the whole session (every token of
    its family) and answers 401.
    """
    try:
        return await service.refresh(session, rt, refresh_token=body.refresh_token)
    except service.RefreshTokenReused as reused:
        # The request's transaction rolls back on the 401 and holds row locks on
        # this session: release them, then revoke in a transaction that commits.
        await session.rollback()
        async with request.app.state.db.session() as own:
            await service.revoke_family(own, reused.session_id, datetime.now(UTC))
        raise service.invalid_refresh() from None


@router.post("/auth/logout", status_code=204, responses=problem_responses(401))
async def logout(principal: CurrentUser, session: Session) -> Response:
    """End the current session: its refresh tokens and access tokens stop working."""
    assert principal.session_id is not None
    await service.logout(session, session_id=principal.session_id)
    return Response(status_code=204)


@router.get("/sessions", response_model=SessionList, responses=problem_responses(401))
async def list_sessions(principal: CurrentUser, session: Session) -> SessionList:
    """The caller's live sessions (never anyone else's)."""
    rows = await service.list_sessions(session, user_id=principal.user_id)
    return SessionList(
        items=[
            SessionOut(
                id=s.id,
                created_at=s.created_at,
                last_used_at=s.last_used_at,
                expires_at=s.expires_at,
                user_agent=s.user_agent,
                ip=s.ip,
                current=s.id == principal.session_id,
            )
            for s in rows
        ]
    )


@router.delete(
    "/sessions/{session_id}", status_code=204, responses=problem_responses(401, 404, 422)
)
async def revoke_session(
    session_id: Annotated[uuid.UUID, PathParam()], principal: CurrentUser, session: Session
) -> Response:
    """Revoke one of the caller's sessions; 404 for a session of another user."""
    await service.revoke_own_session(session, user_id=principal.user_id, session_id=session_id)
    return Response(status_code=204)


@router.post("/2fa/enroll", response_model=TotpEnrollment, responses=problem_responses(401, 409))
async def enroll_2fa(principal: CurrentUser, session: Session, rt: Rt) -> TotpEnrollment:
    """Start TOTP enrollment: the secret and an ``otpauth://`` URI (issuer "Platform")."""
    secret, uri = await service.enroll_totp(session, rt, user_id=principal.user_id)
    return TotpEnrollment(secret=secret, otpauth_uri=uri)


@router.post(
    "/2fa/confirm", response_model=RecoveryCodes, responses=problem_responses(401, 409, 422)
)
async def confirm_2fa(
    body: CodeRequest, principal: CurrentUser, session: Session, rt: Rt
) -> RecoveryCodes:
    """Turn 2FA on with a current code; returns 10 one-time recovery codes, shown once."""
    codes = await service.confirm_totp(session, rt, user_id=principal.user_id, code=body.code)
    return RecoveryCodes(recovery_codes=codes)


@router.post("/2fa/disable", status_code=204, responses=problem_responses(401, 409, 422))
async def disable_2fa(
    body: CodeRequest, principal: CurrentUser, session: Session, rt: Rt
) -> Response:
    """Turn 2FA off; needs a valid TOTP code or recovery code."""
    await service.disable_totp(session, rt, user_id=principal.user_id, code=body.code)
    return Response(status_code=204)
