"""Tokens, sessions and accounts resist the usual attacks, through the gateway."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from e2e_support import login

pytestmark = pytest.mark.integration


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _forge(header: dict, claims: dict, signature: bytes = b"") -> str:
    return ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature)]
    )


async def _assert_refused(api, token: str) -> None:
    for path in ("/v1/identity/me",):
        resp = await api.get(path, headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")


async def test_a_valid_token_is_accepted(api, make_user):
    user = await make_user()
    resp = await api.get("/v1/identity/me", headers=user.auth)
    assert resp.status_code == 200
    assert resp.json()["username"] == user.username


async def test_tampered_token_is_refused(api, make_user):
    user = await make_user()
    header, _payload, signature = user.access_token.split(".")
    claims = _claims(user.access_token)
    claims["roles"] = ["admin"]
    tampered = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    await _assert_refused(api, tampered)


async def test_alg_none_token_is_refused(api, make_user):
    user = await make_user()
    claims = _claims(user.access_token)
    kid = jwt.get_unverified_header(user.access_token)["kid"]
    await _assert_refused(api, _forge({"alg": "none", "typ": "JWT", "kid": kid}, claims))


async def test_hs256_signed_with_the_public_key_is_refused(api, make_user):
    user = await make_user()
    jwks = (await api.get("/v1/identity/.well-known/jwks.json")).json()
    kid = jwt.get_unverified_header(user.access_token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    public_pem = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk)).public_bytes(
        encoding=__import__(
            "cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]
        ).Encoding.PEM,
        format=__import__(
            "cryptography.hazmat.primitives.serialization", fromlist=["PublicFormat"]
        ).PublicFormat.SubjectPublicKeyInfo,
    )
    import hashlib
    import hmac

    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    claims = _claims(user.access_token)
    signing_input = ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode())]
    ).encode()
    signature = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    await _assert_refused(api, _forge(header, claims, signature))


async def test_expired_token_is_refused(api, make_user):
    user = await make_user()
    claims = _claims(user.access_token)
    claims["exp"] = int(time.time()) - 60
    header = jwt.get_unverified_header(user.access_token)
    # Re-signing needs identity's private key, which no client has; an expired token
    # with a foreign signature must fail either way, and one with an unknown kid too.
    await _assert_refused(api, _forge(header, claims, b"x" * 256))
    header["kid"] = "unknown-kid"
    await _assert_refused(api, _forge(header, claims, b"x" * 256))


async def test_spent_refresh_token_revokes_its_family(api, make_user):
    user = await make_user()
    first = await api.post("/v1/identity/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200, first.text
    fresh = first.json()

    reuse = await api.post("/v1/identity/auth/refresh", json={"refresh_token": user.refresh_token})
    assert reuse.status_code == 401

    # The whole family is gone: the token issued by the legitimate rotation too.
    after = await api.post(
        "/v1/identity/auth/refresh", json={"refresh_token": fresh["refresh_token"]}
    )
    assert after.status_code == 401
    me = await api.get(
        "/v1/identity/me", headers={"Authorization": f"Bearer {fresh['access_token']}"}
    )
    assert me.status_code == 401


async def test_a_user_cannot_change_another_users_profile(api, make_user):
    alice, mallory = await make_user(), await make_user()
    resp = await api.patch(
        "/v1/identity/me", headers=mallory.auth, json={"display_name": "changed by mallory"}
    )
    assert resp.status_code == 200
    alice_profile = (await api.get(f"/v1/identity/users/{alice.id}")).json()
    assert alice_profile["display_name"] != "changed by mallory"
    # Another user's session cannot be revoked by guessing its id.
    sessions = (await api.get("/v1/identity/sessions", headers=alice.auth)).json()["items"]
    resp = await api.delete(f"/v1/identity/sessions/{sessions[0]['id']}", headers=mallory.auth)
    assert resp.status_code == 404
    assert (await api.get("/v1/identity/me", headers=alice.auth)).status_code == 200


async def test_login_throttling_engages_per_account(api, make_user):
    user = await make_user()
    statuses = [(await login(api, user.username, "wrong password!")).status_code for _ in range(6)]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    # Even the right password is refused while throttled, with a Retry-After.
    resp = await login(api, user.username, user.password)
    assert resp.status_code == 429
    assert int(resp.headers["retry-after"]) > 0


async def test_unknown_user_and_wrong_password_get_the_same_answer(api, make_user):
    user = await make_user()
    wrong = await login(api, user.username, "not the password")
    unknown = await login(api, "nobody_" + user.username, "not the password")
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda body: {k: v for k, v in body.items() if k not in ("instance", "request_id")}  # noqa: E731
    assert strip(wrong.json()) == strip(unknown.json())
