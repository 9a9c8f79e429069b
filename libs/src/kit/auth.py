"""Access-token verification against identity's JWKS, and the FastAPI auth dependencies.

Only RS256 is accepted: ``alg=none``, HMAC algorithms (including HS256 signed with the
public key), unknown ``kid``, a bad signature, an expired token, or the wrong issuer or
audience are all a 401 problem. Keys are cached; an unknown ``kid`` triggers a refetch,
at most once per ``min_refetch_interval`` so garbage tokens cannot hammer identity.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from kit.errors import Forbidden, ServiceUnavailable, Unauthorized
from kit.settings import ServiceSettings

log = logging.getLogger("kit.auth")

ALGORITHM = "RS256"
ROLES = ("user", "moderator", "admin")

JWKSFetcher = Callable[[], Awaitable[Mapping[str, Any]]]


class JWKSCache:
    """RSA verification keys from a JWKS document, cached by ``kid``.

    Keys are fetched on first use, refetched when older than ``ttl`` seconds, and
    refetched early when a token names an unknown ``kid`` (at most once per
    ``min_refetch_interval`` seconds). Give ``url`` (fetched with ``client`` or a private
    httpx client) or ``fetch`` (an async callable returning the JWKS dict, e.g. identity's
    own key store). If the JWKS cannot be fetched, stale keys keep working; with none at
    all, :meth:`get_key` raises :class:`ServiceUnavailable`.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        fetch: JWKSFetcher | None = None,
        ttl: float = 300.0,
        min_refetch_interval: float = 30.0,
        timeout: float = 5.0,
    ) -> None:
        if url is None and fetch is None:
            raise ValueError("JWKSCache needs a url or a fetch function")
        self.url = url
        self._fetch_fn = fetch
        self._client = client
        self._own_client = client is None and fetch is None
        self.ttl = ttl
        self.min_refetch_interval = min_refetch_interval
        self.timeout = timeout
        self._keys: dict[str, RSAPublicKey] = {}
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None
        self._lock = asyncio.Lock()
        self.fetch_count = 0

    async def _fetch(self) -> Mapping[str, Any]:
        if self._fetch_fn is not None:
            return await self._fetch_fn()
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        assert self.url is not None
        response = await self._client.get(self.url, timeout=self.timeout)
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError("JWKS document is not an object")
        return document

    @staticmethod
    def parse(document: Mapping[str, Any]) -> dict[str, RSAPublicKey]:
        """The usable RS256 signing keys of a JWKS document, by ``kid``."""
        keys: dict[str, RSAPublicKey] = {}
        for entry in document.get("keys", []) or []:
            if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not entry.get("kid"):
                continue
            if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
                continue
            try:
                key = jwt.PyJWK(entry, algorithm=ALGORITHM).key
            except (jwt.PyJWKError, ValueError, TypeError):
                log.warning("ignoring malformed JWK %s", entry.get("kid"))
                continue
            if isinstance(key, RSAPublicKey):
                keys[str(entry["kid"])] = key
        return keys

    async def refresh(self, *, force: bool = False) -> bool:
        """Refetch the JWKS unless an unforced refetch ran within ``min_refetch_interval``.

        Returns whether a fetch succeeded. ``force`` (first load, TTL expiry) ignores the
        rate limit and does not consume it.
        """
        async with self._lock:
            now = time.monotonic()
            if not force:
                if (
                    self._last_attempt is not None
                    and now - self._last_attempt < self.min_refetch_interval
                ):
                    return False
                self._last_attempt = now
            self.fetch_count += 1
            try:
                document = await self._fetch()
            except Exception as exc:
                log.warning("JWKS fetch failed: %s", exc)
                return False
            self._keys = self.parse(document)
            self._fetched_at = time.monotonic()
            return True

    async def get_key(self, kid: str) -> RSAPublicKey:
        """The key for ``kid``; :class:`Unauthorized` if it is unknown even after a refetch."""
        stale = self._fetched_at is None or time.monotonic() - self._fetched_at > self.ttl
        if stale:
            await self.refresh(force=True)
        key = self._keys.get(kid)
        if key is None:
            await self.refresh()
            key = self._keys.get(kid)
        if key is None:
            if self._fetched_at is None:
                raise ServiceUnavailable("Token keys are unavailable; try again shortly.")
            raise Unauthorized("The token is signed with an unknown key.", title="Invalid token")
        return key

    async def aclose(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: user id (``sub``), session id (``sid``), roles."""

    user_id: uuid.UUID
    session_id: uuid.UUID | None
    roles: frozenset[str]
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def _invalid(detail: str) -> Unauthorized:
    return Unauthorized(detail, title="Invalid token")


class TokenVerifier:
    """Verifies access tokens: RS256 signature by a JWKS key, ``iss``, ``aud``, ``exp``."""

    def __init__(
        self,
        jwks: JWKSCache,
        *,
        issuer: str,
        audience: str,
        leeway: float = 30.0,
        cache_size: int = 10_000,
    ) -> None:
        self.jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        # Verified tokens, by their exact text, until they expire. A signature that
        # verified once verifies again (keys stay published until their tokens
        # expire), so this only skips repeated RSA work for the same token.
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def from_settings(cls, settings: ServiceSettings, **jwks_kwargs: Any) -> TokenVerifier:
        return cls(
            JWKSCache(settings.jwks_url, **jwks_kwargs),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway_s,
        )

    async def verify_access_token(self, token: str) -> Principal:
        """The token's principal; :class:`Unauthorized` for any invalid token."""
        cached = self._verified.get(token)
        if cached is not None:
            principal, expires_at = cached
            if time.time() < expires_at + self.leeway:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
        principal = await self._verify(token)
        self._verified[token] = (principal, float(principal.claims["exp"]))
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _invalid("The token is malformed.") from None
        if header.get("alg") != ALGORITHM:
            raise _invalid("The token's algorithm is not accepted.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _invalid("The token has no key id.")
        key = await self.jwks.get_key(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise _invalid("The token has expired.") from None
        except jwt.InvalidAudienceError:
            raise _invalid("The token is not meant for this audience.") from None
        except jwt.InvalidIssuerError:
            raise _invalid("The token has the wrong issuer.") from None
        except jwt.InvalidTokenError:
            raise _invalid("The token is invalid.") from None
        return principal_from_claims(claims)

    async def aclose(self) -> None:
        await self.jwks.aclose()


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Build a :class:`Principal` from verified claims; :class:`Unauthorized` if malformed."""
    try:
        user_id = uuid.UUID(str(claims["sub"]))
        sid = claims.get("sid")
        session_id = uuid.UUID(str(sid)) if sid else None
    except (KeyError, ValueError):
        raise _invalid("The token's subject is malformed.") from None
    roles = claims.get("roles") or []
    if isinstance(roles, str):
        roles = roles.split()
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise _invalid("The token's roles are malformed.")
    return Principal(user_id, session_id, frozenset(roles), dict(claims))


async def verify_access_token(token: str, verifier: TokenVerifier) -> Principal:
    """Module-level form of :meth:`TokenVerifier.verify_access_token`."""
    return await verifier.verify_access_token(token)


def get_token_verifier(request: Request) -> TokenVerifier:
    """The app's verifier (``app.state.token_verifier``), built from settings on first use."""
    verifier = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        verifier = TokenVerifier.from_settings(request.app.state.settings)
        request.app.state.token_verifier = verifier
    return verifier


_bearer = HTTPBearer(auto_error=False, description="Access token issued by identity")


async def get_optional_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller if an ``Authorization: Bearer`` token is present (401 if it is invalid)."""
    if credentials is None:
        if request.headers.get("authorization"):
            raise _invalid("The Authorization header must be 'Bearer <token>'.")
        return None
    principal = await get_token_verifier(request).verify_access_token(credentials.credentials)
    request.state.principal = principal
    return principal


async def get_current_user(
    principal: Annotated[Principal | None, Depends(get_optional_user)],
) -> Principal:
    """The caller; 401 problem without a valid bearer token."""
    if principal is None:
        raise Unauthorized("Authentication is required.", title="Not authenticated")
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_user)]
OptionalUser = Annotated[Principal | None, Depends(get_optional_user)]


def require_roles(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting callers holding any of ``roles`` (403 otherwise).

    ``Annotated[Principal, Depends(require_roles("moderator", "admin"))]`` or
    ``dependencies=[Depends(require_roles("admin"))]``.
    """
    wanted = frozenset(roles)
    if not wanted:
        raise ValueError("require_roles needs at least one role")

    async def dependency(principal: CurrentUser) -> Principal:
        if not principal.roles & wanted:
            raise Forbidden(
                "This action needs one of the roles: " + ", ".join(sorted(wanted)) + ".",
                title="Insufficient role",
            )
        return principal

    dependency.__name__ = "require_roles_" + "_".join(sorted(wanted))
    return dependency


_service_token_header = APIKeyHeader(
    name="X-Service-Token", auto_error=False, description="Internal service token"
)


async def get_service_caller(
    request: Request, token: Annotated[str | None, Depends(_service_token_header)]
) -> str:
    """For internal endpoints: the calling service's name (``X-Service-Name``, default
    ``service``) when ``X-Service-Token`` matches ``settings.service_token``; else 401."""
    expected: str = request.app.state.settings.service_token
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized(
            "A valid service token is required.",
            title="Service authentication failed",
            headers={"WWW-Authenticate": "ServiceToken"},
        )
    return request.headers.get("x-service-name", "service")[:64]


ServiceCaller = Annotated[str, Depends(get_service_caller)]
