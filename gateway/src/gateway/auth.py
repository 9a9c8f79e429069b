"""Bearer-token pre-check: fail fast on a bad token, learn the user id for rate limits.

Verification itself is `kit.auth` (RS256 against identity's JWKS, keys cached there).
A token that verified is remembered until its `exp`, so a client sending the same token
on every request costs one dictionary lookup instead of an RSA verification.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from kit.errors import ProblemError, Unauthorized

Verify = Callable[[str], Awaitable[Any]]


def bearer_token(authorization: bytes | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for no header or
    another scheme. An empty bearer token is returned as `""` (and will not verify)."""
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    return token.strip().decode("latin-1")


def token_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT, read without verification (only after verifying)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        exp = orjson.loads(base64.urlsafe_b64decode(payload)).get("exp")
    except (IndexError, ValueError, binascii.Error, orjson.JSONDecodeError, AttributeError):
        return None
    return float(exp) if isinstance(exp, int | float) else None


class TokenChecker:
    """Verifies bearer tokens through `verify` and caches the user id of good ones.

    `verify(token)` (e.g. `kit.auth.TokenVerifier.verify_access_token`) must return an
    object with a `user_id` attribute, or raise `Unauthorized` for a bad token (other
    `ProblemError`s, such as 503 while no keys can be fetched, pass through).
    `max_entries` bounds the cache (oldest entries go first); 0 disables it.
    """

    def __init__(self, verify: Verify, *, max_entries: int = 10_000) -> None:
        self._verify = verify
        self.max_entries = max_entries
        self._cache: dict[str, tuple[str, float]] = {}

    async def user_id(self, token: str) -> str:
        """The user id the token was issued to. Raises `Unauthorized` for a bad token."""
        hit = self._cache.get(token)
        now = time.time()
        if hit is not None:
            if hit[1] > now:
                return hit[0]
            del self._cache[token]
        try:
            principal = await self._verify(token)
        except ProblemError:
            raise
        except Exception as exc:
            raise Unauthorized("The token is invalid.", title="Invalid token") from exc
        user_id = str(principal.user_id)
        if self.max_entries:
            exp = token_expiry(token)
            if exp is not None and exp > now:
                if len(self._cache) >= self.max_entries:
                    self._evict(now)
                self._cache[token] = (user_id, exp)
        return user_id

    def _evict(self, now: float) -> None:
        expired = [t for t, (_, exp) in self._cache.items() if exp <= now]
        for t in expired:
            del self._cache[t]
        while len(self._cache) >= self.max_entries:
            del self._cache[next(iter(self._cache))]
