"""Signing keys: creation, rotation, lookup for signing and verifying, JWKS.

One key is active (signs new tokens).  Rotation makes a new active key and
gives the old one a ``retire_at`` of rotation time plus the access-token TTL;
until then it stays in JWKS so tokens it signed keep verifying everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from sqlalchemy.ext.asyncio import AsyncSession

from identity.keys import repository
from identity.keys.crypto import (
    decrypt_private_key,
    encrypt_private_key,
    generate_private_key,
    key_id,
    public_jwk,
    public_key_from_jwk,
    published_in_jwks,
    retire_at,
)
from identity.models import SigningKey
from identity.settings import IdentitySettings

log = logging.getLogger("identity.keys")


class NoActiveSigningKey(RuntimeError):
    """No active key exists (the service start creates one; this is a deployment fault)."""


def _new_key(settings: IdentitySettings, now: datetime) -> SigningKey:
    private_key = generate_private_key()
    kid = key_id(private_key.public_key())
    return SigningKey(
        kid=kid,
        private_key_enc=encrypt_private_key(
            private_key, secret=settings.key_encryption_secret, kid=kid
        ),
        public_jwk=public_jwk(private_key.public_key(), kid),
        active=True,
        created_at=now,
    )


async def ensure_active_key(
    session: AsyncSession, settings: IdentitySettings, now: datetime | None = None
) -> SigningKey:
    """Return the active key, creating one when there is none.

    Safe to run from several processes at once (advisory lock).  Flushes, never commits.
    """
    await repository.lock_for_rotation(session)
    active = await repository.get_active(session)
    if active is not None:
        return active
    key = _new_key(settings, now or datetime.now(UTC))
    await repository.add(session, key)
    log.info("created signing key %s", key.kid)
    return key


async def rotate_signing_keys(
    session: AsyncSession, settings: IdentitySettings, now: datetime | None = None
) -> SigningKey:
    """Make a new active key and schedule the current one for retirement.

    The old key gets ``rotated_at = now`` and ``retire_at = now + access-token TTL``
    and stays in JWKS until then.  Returns the new key.  Flushes, never commits.
    """
    now = now or datetime.now(UTC)
    await repository.lock_for_rotation(session)
    current = await repository.get_active(session)
    if current is not None:
        current.active = False
        current.rotated_at = now
        current.retire_at = retire_at(now, settings.access_token_ttl)
        # The partial unique index allows one active key: retire first.
        await session.flush()
    key = _new_key(settings, now)
    await repository.add(session, key)
    log.info("rotated signing key %s -> %s", current.kid if current else None, key.kid)
    return key


async def jwks(session: AsyncSession, now: datetime | None = None) -> dict[str, Any]:
    """The JWK Set of every key whose tokens may still be live."""
    keys = await repository.list_published(session, now or datetime.now(UTC))
    return {"keys": [k.public_jwk for k in keys]}


@dataclass
class KeyRing:
    """Process-local cache of decoded keys (parsing and decrypting RSA keys is slow).

    The database stays the source of truth: the active kid is read on every
    signing so a rotation by another process takes effect at once.
    """

    settings: IdentitySettings
    #: How long an active key's row is trusted before it is read again. A rotation
    #: leaves the old key valid until its tokens expire, so a short delay in noticing
    #: it changes no verification outcome; it saves a query on every request.
    active_recheck: timedelta = timedelta(seconds=30)
    _private: dict[str, RSAPrivateKey] = field(default_factory=dict)
    _public: dict[str, tuple[RSAPublicKey, datetime | None, bool, datetime]] = field(
        default_factory=dict
    )

    async def signing_key(self, session: AsyncSession) -> tuple[str, RSAPrivateKey]:
        """The active key id and private key; raises :class:`NoActiveSigningKey`."""
        active = await repository.get_active(session)
        if active is None:
            raise NoActiveSigningKey("no active signing key")
        private = self._private.get(active.kid)
        if private is None:
            private = decrypt_private_key(
                active.private_key_enc, secret=self.settings.key_encryption_secret, kid=active.kid
            )
            self._private[active.kid] = private
        return active.kid, private

    async def public_key(
        self, session: AsyncSession, kid: str, now: datetime | None = None
    ) -> RSAPublicKey | None:
        """The public key for ``kid`` while it is published in JWKS, else ``None``."""
        now = now or datetime.now(UTC)
        cached = self._public.get(kid)
        if cached is not None:
            public, until, active, fetched_at = cached
            # Retired keys are final; active ones may be rotated out by another process.
            if not active or now - fetched_at < self.active_recheck:
                published = published_in_jwks(active=active, retire_at=until, now=now)
                return public if published else None
        row = await repository.get(session, kid)
        if row is None:
            return None
        public = public_key_from_jwk(row.public_jwk)
        self._public[kid] = (public, row.retire_at, row.active, now)
        if not published_in_jwks(active=row.active, retire_at=row.retire_at, now=now):
            return None
        return public

    async def resolver_for(
        self, session: AsyncSession, token: str, now: datetime | None = None
    ) -> Callable[[str], RSAPublicKey | None]:
        """A ``resolve_key`` for verifying ``token``: its key, preloaded from the database.

        A malformed token gets a resolver that knows no key (verification then
        reports the malformation itself).
        """
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return lambda _kid: None
        if not isinstance(kid, str) or not kid:
            return lambda _kid: None
        public = await self.public_key(session, kid, now)
        return lambda wanted: public if wanted == kid else None
