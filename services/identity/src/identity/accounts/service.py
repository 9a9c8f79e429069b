"""Registration, profiles and account deletion.

Functions add and flush; the request scope commits, so each change and its
event are stored together.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from kit.errors import Conflict, NotFound, UnprocessableEntity
from kit.ids import uuid7
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from identity.accounts import events, repository
from identity.accounts.schemas import ProfileUpdate, RegisterRequest
from identity.accounts.validation import PasswordPolicyError, check_password_policy, username_key
from identity.auth import repository as auth_repository
from identity.graph import service as graph_service
from identity.models import User
from identity.runtime import Runtime


def email_key(email: str) -> str:
    """Emails are unique case-insensitively (local parts are, in practice)."""
    return email.casefold()


async def register(
    session: AsyncSession, rt: Runtime, body: RegisterRequest, now: datetime | None = None
) -> User:
    """Create an account and record ``identity.user.registered``.

    Raises 422 for a password that breaks the policy and 409 when the email
    or the username is taken (case-insensitively).
    """
    now = now or datetime.now(UTC)
    try:
        check_password_policy(body.password, username=body.username, email=body.email)
    except PasswordPolicyError as exc:
        raise UnprocessableEntity(str(exc), title="Password rejected") from None
    ekey, ukey = email_key(body.email), username_key(body.username)
    email_taken, username_taken = await repository.email_or_username_taken(
        session, email_key=ekey, username_key=ukey
    )
    if email_taken:
        raise Conflict("An account with this email already exists.", title="Email taken")
    if username_taken:
        raise Conflict("This username is taken.", title="Username taken")
    user = User(
        id=uuid7(),
        email=body.email,
        email_key=ekey,
        username=body.username,
        username_key=ukey,
        password_hash=await rt.passwords.hash_async(body.password),
        display_name=body.display_name or body.username,
        bio=None,
        avatar_url=None,
        locale=body.locale,
        roles=["user"],
        totp_enabled=False,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            await repository.add(session, user)
    except IntegrityError:
        # Lost a race with a concurrent registration of the same email/username.
        raise Conflict(
            "An account with this email or username already exists.", title="Account exists"
        ) from None
    await events.user_registered(session, user)
    return user


async def get_me(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await repository.get_live(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def update_profile(
    session: AsyncSession, user_id: uuid.UUID, changes: ProfileUpdate, now: datetime | None = None
) -> User:
    """Apply the fields present in ``changes`` to the user's own profile.

    Records ``identity.user.updated`` (the whole profile) only when something
    actually changed. ``display_name`` and ``locale`` cannot be null.
    """
    user = await repository.get_live(session, user_id, lock=True)
    if user is None:
        raise NotFound("No such user.")
    given = changes.model_dump(exclude_unset=True)
    for required in ("display_name", "locale"):
        if required in given and given[required] is None:
            raise UnprocessableEntity(f"{required} cannot be null.", title="Validation failed")
    changed = False
    for field, value in given.items():
        if getattr(user, field) != value:
            setattr(user, field, value)
            changed = True
    if changed:
        user.updated_at = now or datetime.now(UTC)
        await session.flush()
        await events.user_updated(session, user)
    return user


async def get_public(session: AsyncSession, username_or_id: str) -> User:
    """A live user by id (UUID form) or by username (case-insensitive); 404 otherwise."""
    try:
        user_id = uuid.UUID(username_or_id)
    except ValueError:
        user = await repository.get_live_by_username_key(session, username_key(username_or_id))
    else:
        user = await repository.get_live(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def delete_account(
    session: AsyncSession, user_id: uuid.UUID, now: datetime | None = None
) -> None:
    """Soft-delete the caller's account.

    Clears the profile and 2FA secrets, makes the password unusable, revokes
    every session, ends the account's follows and blocks (with their events)
    and records ``identity.user.deleted``. The email address, username and profile are
    erased, so both become free for new accounts.
    """
    now = now or datetime.now(UTC)
    user = await repository.get_live(session, user_id, lock=True)
    if user is None:
        raise NotFound("No such user.")
    await graph_service.remove_all_for_user(session, user.id, now)
    await auth_repository.revoke_all_sessions(session, user.id, now=now, reason="account_deleted")
    await auth_repository.delete_recovery_codes(session, user.id)
    user.deleted_at = now
    user.updated_at = now
    user.password_hash = "!deleted"  # noqa: S105 - not a hash: never verifies
    # Nothing that identifies the person stays: the row is only a tombstone for the id.
    user.email = user.email_key = ""
    user.username = user.username_key = ""
    user.display_name = ""
    user.bio = None
    user.avatar_url = None
    user.totp_enabled = False
    user.totp_secret_enc = None
    user.totp_pending_secret_enc = None
    await session.flush()
    await events.user_deleted(session, user, now)
