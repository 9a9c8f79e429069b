"""Account endpoints: register, the caller's own profile, public profiles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.encoders import jsonable_encoder
from kit import idempotency
from kit.db import Session
from kit.errors import problem_responses
from kit.idempotency import IdempotencyKeyHeader
from sqlalchemy import Row
from starlette.responses import JSONResponse

from identity.accounts import service
from identity.accounts.schemas import Me, ProfileUpdate, PublicProfile, RegisterRequest
from identity.auth.deps import CurrentUser
from identity.models import User
from identity.runtime import Rt

router = APIRouter(tags=["accounts"])


def me_out(user: User | Row[Any]) -> Me:
    return Me(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        bio=user.bio,
        avatar_url=user.avatar_url,
        locale=user.locale,
        created_at=user.created_at,
        updated_at=user.updated_at,
        email=user.email,
        roles=list(user.roles),
        two_factor_enabled=user.totp_enabled,
    )


def public_out(user: User) -> PublicProfile:
    return PublicProfile(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        bio=user.bio,
        avatar_url=user.avatar_url,
        locale=user.locale,
        created_at=user.created_at,
    )


@router.post(
    "/auth/register",
    status_code=201,
    response_model=Me,
    responses=problem_responses(400, 409, 422),
)
async def register(
    body: RegisterRequest,
    session: Session,
    rt: Rt,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Create an account (argon2id password hash) and publish ``identity.user.registered``.

    With ``Idempotency-Key``, a retry with the same body returns the first answer.
    """

    async def make() -> Any:
        return jsonable_encoder(me_out(await service.register(session, rt, body)))

    return await idempotency.respond_once(
        session,
        key=idempotency_key,
        scope="register",
        request_body=body.model_dump(mode="json"),
        make=make,
        status_code=201,
        ttl=timedelta(seconds=rt.settings.idempotency_ttl_s),
        secret=rt.settings.key_encryption_secret,
    )


@router.get("/me", response_model=Me, responses=problem_responses(401))
async def get_me(principal: CurrentUser, request: Request, session: Session) -> Me:
    """The caller's own account.

    The authentication check already read the account (live, its session live) in the
    same statement; it is reused rather than read again."""
    account = getattr(request.state, "principal_account", None)
    if account is not None and account.id == principal.user_id:
        return me_out(account)
    return me_out(await service.get_me(session, principal.user_id))


@router.patch("/me", response_model=Me, responses=problem_responses(400, 401, 422))
async def update_me(body: ProfileUpdate, principal: CurrentUser, session: Session) -> Me:
    """Change the caller's own profile (display_name, bio, avatar_url, locale).

    Only the token's owner is affected; there is no way to address another user.
    """
    return me_out(await service.update_profile(session, principal.user_id, body))


@router.delete("/me", status_code=204, responses=problem_responses(401))
async def delete_me(principal: CurrentUser, session: Session) -> Response:
    """Delete the caller's account: sessions revoked, ``identity.user.deleted`` published."""
    await service.delete_account(session, principal.user_id)
    return Response(status_code=204)


@router.get(
    "/users/{username_or_id}", response_model=PublicProfile, responses=problem_responses(404)
)
async def get_user(username_or_id: str, session: Session) -> PublicProfile:
    """A public profile by user id or username."""
    return public_out(await service.get_public(session, username_or_id))
