"""Every query on sessions, refresh tokens and recovery codes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from identity.auth.tokens import RefreshTokenState
from identity.models import AuthSession, RecoveryCode, RefreshToken, User


async def add_session(session: AsyncSession, auth_session: AuthSession) -> None:
    session.add(auth_session)
    await session.flush()


async def add_refresh_token(session: AsyncSession, token: RefreshToken) -> None:
    session.add(token)
    await session.flush()


async def get_refresh_token_for_update(
    session: AsyncSession, token_hash: str
) -> tuple[RefreshToken, AuthSession] | None:
    """The token and its session, row-locked so two refreshes of one token serialize."""
    row = (
        await session.execute(
            select(RefreshToken, AuthSession)
            .join(AuthSession, AuthSession.id == RefreshToken.session_id)
            .where(RefreshToken.token_hash == token_hash)
            .with_for_update(of=[RefreshToken, AuthSession])
        )
    ).first()
    return (row[0], row[1]) if row else None


async def get_session(session: AsyncSession, session_id: uuid.UUID) -> AuthSession | None:
    return await session.get(AuthSession, session_id)


async def list_active_sessions(
    session: AsyncSession, user_id: uuid.UUID, now: datetime
) -> Sequence[AuthSession]:
    result = await session.scalars(
        select(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
        .order_by(AuthSession.last_used_at.desc(), AuthSession.id)
    )
    return result.all()


async def revoke_session(
    session: AsyncSession, session_id: uuid.UUID, *, now: datetime, reason: str
) -> None:
    """Revoke the session and every refresh token of its family."""
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
    )
    await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.session_id == session_id,
            RefreshToken.state == RefreshTokenState.ACTIVE.value,
        )
        .values(state=RefreshTokenState.REVOKED.value)
    )


async def revoke_all_sessions(
    session: AsyncSession, user_id: uuid.UUID, *, now: datetime, reason: str
) -> None:
    """Revoke every live session of the user and their refresh tokens."""
    ids = list(
        await session.scalars(
            select(AuthSession.id).where(
                AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
            )
        )
    )
    for session_id in ids:
        await revoke_session(session, session_id, now=now, reason=reason)


async def replace_recovery_codes(
    session: AsyncSession, user_id: uuid.UUID, codes: Sequence[RecoveryCode]
) -> None:
    await delete_recovery_codes(session, user_id)
    session.add_all(codes)
    await session.flush()


async def delete_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))


async def consume_recovery_code(
    session: AsyncSession, user_id: uuid.UUID, code_hash: str, now: datetime
) -> bool:
    """Mark an unused code used; True when one was found (each code works once)."""
    result = await session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == code_hash,
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .returning(RecoveryCode.id)
    )
    return result.first() is not None


async def lock_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.scalar(select(User).where(User.id == user_id).with_for_update())
