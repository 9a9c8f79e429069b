from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from identity.auth.tokens import issue_access_token
from identity.auth.totp import current_code
from identity.keys.service import rotate_signing_keys

from .conftest import PASSWORD, login_ok, register

pytestmark = pytest.mark.integration


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


async def test_login_issues_rs256_token_with_required_claims(client: httpx.AsyncClient) -> None:
    me = await register(client)
    header = jwt.get_unverified_header(me.access)
    assert header["alg"] == "RS256" and header["kid"]
    claims = jwt.decode(me.access, options={"verify_signature": False})
    assert claims["sub"] == me.id and claims["sid"] == me.session_id
    assert claims["roles"] == ["user"]
    assert claims["iss"] == "platform-identity" and claims["aud"] == "platform"
    assert 850 <= claims["exp"] - claims["iat"] <= 950 and claims["jti"]


async def test_login_by_email_works(client: httpx.AsyncClient) -> None:
    me = await register(client, login=False)
    resp = await client.post("/auth/login", json={"email": me.email.upper(), "password": PASSWORD})
    assert resp.status_code == 200


async def test_unknown_user_and_wrong_password_get_identical_401(
    client: httpx.AsyncClient,
) -> None:
    me = await register(client, login=False)
    wrong = await client.post("/auth/login", json={"login": me.username, "password": "x" * 12})
    unknown = await client.post(
        "/auth/login", json={"login": f"nobody_{uuid.uuid4().hex[:8]}", "password": "x" * 12}
    )
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda r: {k: v for k, v in r.json().items() if k != "instance"}  # noqa: E731
    assert strip(wrong) == strip(unknown)


async def test_refresh_rotates_and_spent_token_revokes_family(client: httpx.AsyncClient) -> None:
    me = await register(client)
    first = await client.post("/auth/refresh", json={"refresh_token": me.refresh})
    assert first.status_code == 200
    pair = first.json()
    assert pair["refresh_token"] != me.refresh and pair["session_id"] == me.session_id
    reuse = await client.post("/auth/refresh", json={"refresh_token": me.refresh})
    assert reuse.status_code == 401
    # The whole family is gone: the newest refresh token and the access token too.
    after = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert after.status_code == 401
    me_resp = await client.get("/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me_resp.status_code == 401


async def test_unknown_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    resp = await client.post("/auth/refresh", json={"refresh_token": "nope"})
    assert resp.status_code == 401


async def test_logout_ends_session(client: httpx.AsyncClient) -> None:
    me = await register(client)
    assert (await client.post("/auth/logout", headers=me.auth)).status_code == 204
    assert (await client.get("/me", headers=me.auth)).status_code == 401
    resp = await client.post("/auth/refresh", json={"refresh_token": me.refresh})
    assert resp.status_code == 401


async def test_sessions_list_own_and_revoking_anothers_is_404(client: httpx.AsyncClient) -> None:
    alice, bob = await register(client), await register(client)
    second = await login_ok(client, alice.username, PASSWORD)
    listed = (await client.get("/sessions", headers=alice.auth)).json()["items"]
    assert {s["id"] for s in listed} == {alice.session_id, second["session_id"]}
    assert [s["current"] for s in listed if s["id"] == alice.session_id] == [True]
    resp = await client.delete(f"/sessions/{bob.session_id}", headers=alice.auth)
    assert resp.status_code == 404
    assert (await client.get("/me", headers=bob.auth)).status_code == 200
    resp = await client.delete(f"/sessions/{second['session_id']}", headers=alice.auth)
    assert resp.status_code == 204
    gone = {"Authorization": f"Bearer {second['access_token']}"}
    assert (await client.get("/me", headers=gone)).status_code == 401


async def test_account_throttle_engages_after_five_failures(client: httpx.AsyncClient) -> None:
    me = await register(client, login=False)
    for _ in range(5):
        resp = await client.post("/auth/login", json={"login": me.username, "password": "x" * 12})
        assert resp.status_code == 401
    resp = await client.post("/auth/login", json={"login": me.username, "password": PASSWORD})
    assert resp.status_code == 429
    assert 0 < int(resp.headers["Retry-After"]) <= 900


async def test_ip_throttle_engages_across_accounts(client: httpx.AsyncClient) -> None:
    ip = {"X-Forwarded-For": f"203.0.113.{uuid.uuid4().int % 250}, 10.0.0.1"}
    for i in range(20):
        resp = await client.post(
            "/auth/login",
            json={"login": f"ghost_{i}_{uuid.uuid4().hex[:6]}", "password": "x" * 12},
            headers=ip,
        )
        assert resp.status_code == 401
    me = await register(client, login=False)
    resp = await client.post(
        "/auth/login", json={"login": me.username, "password": PASSWORD}, headers=ip
    )
    assert resp.status_code == 429 and "Retry-After" in resp.headers
    # Another address is unaffected.
    assert (
        await client.post("/auth/login", json={"login": me.username, "password": PASSWORD})
    ).status_code == 200


async def test_two_factor_flow(client: httpx.AsyncClient) -> None:
    me = await register(client)
    enroll = (await client.post("/2fa/enroll", headers=me.auth)).json()
    secret = enroll["secret"]
    assert (
        enroll["otpauth_uri"].startswith("otpauth://totp/")
        and "issuer=Platform" in enroll["otpauth_uri"]
    )
    now = datetime.now(UTC)
    bad = await client.post("/2fa/confirm", headers=me.auth, json={"code": "000000"})
    assert bad.status_code == 422
    confirm = await client.post(
        "/2fa/confirm", headers=me.auth, json={"code": current_code(secret, now)}
    )
    assert confirm.status_code == 200
    codes = confirm.json()["recovery_codes"]
    assert len(codes) == 10

    challenge = await client.post("/auth/login", json={"login": me.username, "password": PASSWORD})
    assert challenge.status_code == 401
    body = challenge.json()
    assert body["mfa_required"] is True
    mfa_token = body["mfa_token"]
    # The MFA token is no access token.
    assert (
        await client.get("/me", headers={"Authorization": f"Bearer {mfa_token}"})
    ).status_code == 401

    wrong = await client.post("/auth/login/2fa", json={"mfa_token": mfa_token, "code": "123456"})
    assert wrong.status_code == 401
    next_step = current_code(secret, now + timedelta(seconds=30))
    ok = await client.post("/auth/login/2fa", json={"mfa_token": mfa_token, "code": next_step})
    assert ok.status_code == 200 and ok.json()["access_token"]
    replay = await client.post("/auth/login/2fa", json={"mfa_token": mfa_token, "code": next_step})
    assert replay.status_code == 401

    first = await client.post("/auth/login/2fa", json={"mfa_token": mfa_token, "code": codes[0]})
    assert first.status_code == 200
    again = await client.post("/auth/login/2fa", json={"mfa_token": mfa_token, "code": codes[0]})
    assert again.status_code == 401

    assert (
        await client.post("/2fa/disable", headers=me.auth, json={"code": "654321"})
    ).status_code == 422
    assert (
        await client.post("/2fa/disable", headers=me.auth, json={"code": codes[1]})
    ).status_code == 204
    await login_ok(client, me.username, PASSWORD)


async def test_jwks_keeps_rotated_key_and_old_tokens_still_work(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    me = await register(client)
    before = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    old_kid = jwt.get_unverified_header(me.access)["kid"]
    assert old_kid in before
    async with app.state.db.session() as session:
        new_key = await rotate_signing_keys(session, app.state.identity.settings)
    jwks = (await client.get("/.well-known/jwks.json")).json()["keys"]
    kids = {k["kid"] for k in jwks}
    assert {old_kid, new_key.kid} <= kids
    assert all("d" not in k and k["alg"] == "RS256" for k in jwks)
    assert (await client.get("/me", headers=me.auth)).status_code == 200
    fresh = await login_ok(client, me.username, PASSWORD)
    assert jwt.get_unverified_header(fresh["access_token"])["kid"] == new_key.kid


async def test_forged_and_expired_tokens_are_refused_on_me(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    me = await register(client)
    rt = app.state.identity
    async with app.state.db.session() as session:
        kid, private_key = await rt.keyring.signing_key(session)
    expired = issue_access_token(
        private_key=private_key,
        kid=kid,
        user_id=uuid.UUID(me.id),
        session_id=uuid.UUID(me.session_id),
        roles=["user"],
        issuer=rt.settings.jwt_issuer,
        audience=rt.settings.jwt_audience,
        ttl=timedelta(minutes=15),
        now=datetime.now(UTC) - timedelta(hours=1),
    ).token
    header, payload, sig = me.access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered = f"{header}.{_b64({**claims, 'roles': ['admin']})}.{sig}"
    none_alg = f"{_b64({'alg': 'none', 'kid': kid})}.{payload}."
    pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{_b64({'alg': 'HS256', 'kid': kid, 'typ': 'JWT'})}.{payload}"
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    hs256 = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    for token in (expired, tampered, none_alg, hs256, "garbage"):
        resp = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401, token
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/me", headers=me.auth)).status_code == 200
