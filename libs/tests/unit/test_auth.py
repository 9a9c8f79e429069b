import asyncio
import base64
import json
import time
import uuid
from datetime import timedelta

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import Depends, FastAPI
from kit.auth import (
    CurrentUser,
    JWKSCache,
    OptionalUser,
    Principal,
    ServiceCaller,
    TokenVerifier,
    require_roles,
)
from kit.errors import Unauthorized, install_error_handlers
from kit.settings import ServiceSettings
from kit.testing import TokenFactory

JWKS_URL = "http://identity.test/.well-known/jwks.json"


class JWKSServer:
    """Serves a mutable JWKS through httpx.MockTransport and counts fetches."""

    def __init__(self, *factories: TokenFactory) -> None:
        self.keys = [f.jwk() for f in factories]
        self.hits = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.hits += 1
        return httpx.Response(200, json={"keys": self.keys})

    def cache(self, **kwargs: object) -> JWKSCache:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        return JWKSCache(JWKS_URL, client=client, **kwargs)


@pytest.fixture
def factory() -> TokenFactory:
    return TokenFactory(kid="k1")


@pytest.fixture
def server(factory: TokenFactory) -> JWKSServer:
    return JWKSServer(factory)


@pytest.fixture
def verifier(server: JWKSServer) -> TokenVerifier:
    return TokenVerifier(server.cache(), issuer="platform-identity", audience="platform")


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_valid_token_gives_principal(factory: TokenFactory, verifier: TokenVerifier) -> None:
    user, sid = uuid.uuid4(), uuid.uuid4()
    p = await verifier.verify_access_token(
        factory.token(sub=user, sid=sid, roles=["user", "admin"])
    )
    assert p.user_id == user
    assert p.session_id == sid
    assert p.roles == frozenset({"user", "admin"})


async def test_expired_token_is_rejected(factory: TokenFactory, verifier: TokenVerifier) -> None:
    with pytest.raises(Unauthorized, match="expired"):
        await verifier.verify_access_token(factory.token(ttl=timedelta(minutes=-5)))


@pytest.mark.parametrize(
    ("claims", "reason"), [({"iss": "evil"}, "issuer"), ({"aud": "other"}, "audience")]
)
async def test_wrong_issuer_and_audience_are_rejected(
    factory: TokenFactory, verifier: TokenVerifier, claims: dict[str, str], reason: str
) -> None:
    with pytest.raises(Unauthorized, match=reason):
        await verifier.verify_access_token(factory.token(**claims))


async def test_alg_none_is_rejected(factory: TokenFactory, verifier: TokenVerifier) -> None:
    claims = jwt.decode(factory.token(), options={"verify_signature": False})
    unsigned = _b64({"alg": "none", "kid": "k1", "typ": "JWT"}) + "." + _b64(claims) + "."
    with pytest.raises(Unauthorized, match="algorithm"):
        await verifier.verify_access_token(unsigned)


async def test_hs256_signed_with_public_key_is_rejected(
    factory: TokenFactory, verifier: TokenVerifier
) -> None:
    claims = jwt.decode(factory.token(), options={"verify_signature": False})
    public_pem = factory.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64({"alg": "HS256", "kid": "k1", "typ": "JWT"})
    import hashlib
    import hmac

    signing_input = f"{header}.{_b64(claims)}"
    sig = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = signing_input + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()
    with pytest.raises(Unauthorized):
        await verifier.verify_access_token(forged)


async def test_tampered_payload_is_rejected(factory: TokenFactory, verifier: TokenVerifier) -> None:
    header, _payload, sig = factory.token(roles=["user"]).split(".")
    claims = jwt.decode(factory.token(), options={"verify_signature": False})
    claims["roles"] = ["admin"]
    with pytest.raises(Unauthorized, match="invalid"):
        await verifier.verify_access_token(f"{header}.{_b64(claims)}.{sig}")


async def test_token_from_untrusted_key_with_known_kid_is_rejected(
    verifier: TokenVerifier,
) -> None:
    with pytest.raises(Unauthorized):
        await verifier.verify_access_token(TokenFactory(kid="k1").token())


async def test_malformed_tokens_are_rejected(verifier: TokenVerifier) -> None:
    for token in ("", "abc", "a.b.c", "x.y"):
        with pytest.raises(Unauthorized):
            await verifier.verify_access_token(token)


async def test_keys_are_cached_between_verifications(
    factory: TokenFactory, server: JWKSServer, verifier: TokenVerifier
) -> None:
    for _ in range(5):
        await verifier.verify_access_token(factory.token())
    assert server.hits == 1


async def test_unknown_kid_refetches_once_then_rate_limits(factory: TokenFactory) -> None:
    server = JWKSServer(factory)
    verifier = TokenVerifier(
        server.cache(min_refetch_interval=60), issuer="platform-identity", audience="platform"
    )
    await verifier.verify_access_token(factory.token())
    rotated = TokenFactory(kid="k2")
    server.keys.append(rotated.jwk())
    # The new kid is unknown to the cache: it refetches and accepts the rotated key.
    await verifier.verify_access_token(rotated.token())
    assert server.hits == 2
    # A flood of unknown kids does not hammer identity.
    for _ in range(10):
        with pytest.raises(Unauthorized, match="unknown key"):
            await verifier.verify_access_token(TokenFactory(kid="bogus").token())
    assert server.hits == 2


def make_app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.settings = ServiceSettings(service_token="internal-secret")
    app.state.token_verifier = verifier

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"user_id": str(user.user_id)}

    @app.get("/maybe")
    async def maybe(user: OptionalUser) -> dict[str, bool]:
        return {"anonymous": user is None}

    @app.get("/mod", dependencies=[Depends(require_roles("moderator", "admin"))])
    async def mod() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/internal")
    async def internal(caller: ServiceCaller) -> dict[str, str]:
        return {"caller": caller}

    return app


@pytest.fixture
def client(verifier: TokenVerifier) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_app(verifier)), base_url="http://svc"
    )


async def test_current_user_requires_bearer_token(
    client: httpx.AsyncClient, factory: TokenFactory
) -> None:
    r = await client.get("/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"] == "application/problem+json"
    user = uuid.uuid4()
    r = await client.get("/me", headers={"Authorization": f"Bearer {factory.token(sub=user)}"})
    assert r.json() == {"user_id": str(user)}


async def test_optional_user_is_none_without_token_but_401_with_bad_one(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/maybe")).json() == {"anonymous": True}
    r = await client.get("/maybe", headers={"Authorization": "Bearer not-a-jwt"})
    assert r.status_code == 401


async def test_require_roles_forbids_other_roles(
    client: httpx.AsyncClient, factory: TokenFactory
) -> None:
    user = {"Authorization": f"Bearer {factory.token(roles=['user'])}"}
    mod = {"Authorization": f"Bearer {factory.token(roles=['user', 'moderator'])}"}
    assert (await client.get("/mod", headers=user)).status_code == 403
    assert (await client.get("/mod", headers=mod)).status_code == 200


async def test_service_token_guards_internal_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/internal")).status_code == 401
    bad = {"X-Service-Token": "guess"}
    assert (await client.get("/internal", headers=bad)).status_code == 401
    good = {"X-Service-Token": "internal-secret", "X-Service-Name": "gateway"}
    r = await client.get("/internal", headers=good)
    assert r.json() == {"caller": "gateway"}


async def test_jwks_unreachable_without_cached_keys_is_503(factory: TokenFactory) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    cache = JWKSCache(JWKS_URL, client=httpx.AsyncClient(transport=httpx.MockTransport(down)))
    verifier = TokenVerifier(cache, issuer="platform-identity", audience="platform")
    from kit.errors import ServiceUnavailable

    with pytest.raises(ServiceUnavailable):
        await verifier.verify_access_token(factory.token())


def test_principal_role_helpers() -> None:
    p = Principal(uuid.uuid4(), None, frozenset({"admin"}))
    assert p.is_admin and p.has_role("moderator", "admin") and not p.has_role("moderator")


async def test_a_verified_token_is_not_verified_again_until_it_expires(
    factory: TokenFactory, server: JWKSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(
        server.cache(), issuer="platform-identity", audience="platform", leeway=0
    )
    token = factory.token(ttl=timedelta(seconds=2))
    first = await verifier.verify_access_token(token)
    calls = 0
    real_decode = jwt.decode

    def counting_decode(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return real_decode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting_decode)
    assert await verifier.verify_access_token(token) == first
    assert calls == 0

    # Past its expiry the cached entry is dropped and the token refused.
    await asyncio.sleep(max(0.0, first.claims["exp"] - time.time()) + 1.1)
    with pytest.raises(Unauthorized):
        await verifier.verify_access_token(token)
    assert calls == 1


async def test_a_tampered_copy_of_a_cached_token_is_still_refused(
    factory: TokenFactory, verifier: TokenVerifier
) -> None:
    token = factory.token()
    await verifier.verify_access_token(token)
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["roles"] = ["admin"]
    with pytest.raises(Unauthorized):
        await verifier.verify_access_token(".".join([header, _b64(claims), signature]))
