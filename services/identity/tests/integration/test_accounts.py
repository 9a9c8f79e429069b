from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from contracts import validate

from .conftest import PASSWORD, new_username, outbox_events, register

pytestmark = pytest.mark.integration


async def test_register_then_me_returns_own_account_without_secrets(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    me = await register(client)
    resp = await client.get("/me", headers=me.auth)
    assert resp.status_code == 200
    body = resp.json()
    assert body["id"] == me.id and body["username"] == me.username and body["email"] == me.email
    assert body["roles"] == ["user"] and body["two_factor_enabled"] is False
    assert "password" not in resp.text and "password_hash" not in body


async def test_register_records_user_registered_event_without_email(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    me = await register(client, login=False)
    events = await outbox_events(app, me.id)
    assert [t for t, _ in events] == ["identity.user.registered"]
    data = events[0][1]
    validate("identity.user.registered", data)
    assert data["user_id"] == me.id and data["username"] == me.username
    assert "email" not in data


async def test_duplicate_email_or_username_is_409_case_insensitively(
    client: httpx.AsyncClient,
) -> None:
    me = await register(client, login=False)
    resp = await client.post(
        "/auth/register",
        json={"email": me.email.upper(), "username": new_username(), "password": PASSWORD},
    )
    assert resp.status_code == 409
    assert resp.headers["content-type"].startswith("application/problem+json")
    resp = await client.post(
        "/auth/register",
        json={
            "email": f"{new_username()}@example.com",
            "username": me.username.upper(),
            "password": PASSWORD,
        },
    )
    assert resp.status_code == 409


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/auth/register", content=b'{"email": "x@', headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "body",
    [
        {"email": 5, "username": "valid_name", "password": PASSWORD},
        {"email": "a@example.com", "username": ["x"], "password": PASSWORD},
        {"email": "a@example.com", "username": "valid_name", "password": PASSWORD, "role": "admin"},
        {"email": "not-an-email", "username": "valid_name", "password": PASSWORD},
        {"email": "a@example.com", "username": "no spaces", "password": PASSWORD},
        {"email": "a@example.com", "username": "valid_name", "password": "short"},
        {"email": "a@example.com", "username": "valid_name", "password": "x" * 129},
    ],
    ids=[
        "email-int",
        "username-list",
        "unknown-field",
        "bad-email",
        "bad-username",
        "short-pw",
        "long-pw",
    ],
)
async def test_invalid_register_bodies_are_422(client: httpx.AsyncClient, body: dict) -> None:
    resp = await client.post("/auth/register", json=body)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")


async def test_arabic_username_registers_and_resolves(client: httpx.AsyncClient) -> None:
    username = "سارة_" + uuid.uuid4().hex[:6]
    resp = await client.post(
        "/auth/register",
        json={
            "email": f"{uuid.uuid4().hex}@example.com",
            "username": username,
            "password": PASSWORD,
        },
    )
    assert resp.status_code == 201, resp.text
    found = await client.get(f"/users/{username}")
    assert found.status_code == 200 and found.json()["id"] == resp.json()["id"]
    assert "email" not in found.json()


async def test_idempotency_key_replays_first_response(client: httpx.AsyncClient) -> None:
    username = new_username()
    body = {"email": f"{username}@example.com", "username": username, "password": PASSWORD}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/auth/register", json=body, headers=key)
    second = await client.post("/auth/register", json=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    changed = {**body, "username": new_username()}
    third = await client.post("/auth/register", json=changed, headers=key)
    assert third.status_code == 422


async def test_patch_me_changes_only_the_token_owner(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    alice, bob = await register(client), await register(client)
    resp = await client.patch(
        "/me", headers=bob.auth, json={"display_name": "بوب", "bio": "مرحبا", "locale": "ar-EG"}
    )
    assert resp.status_code == 200 and resp.json()["id"] == bob.id
    alice_view = (await client.get(f"/users/{alice.id}")).json()
    assert alice_view["display_name"] == alice.username and alice_view["bio"] is None
    bob_view = (await client.get(f"/users/{bob.id}")).json()
    assert bob_view["display_name"] == "بوب" and bob_view["locale"] == "ar-EG"
    events = await outbox_events(app, bob.id)
    assert [t for t, _ in events][-1] == "identity.user.updated"
    validate("identity.user.updated", events[-1][1])
    assert (await client.patch("/me", headers=bob.auth, json={"id": alice.id})).status_code == 422
    assert (await client.patch("/me", json={"bio": "x"})).status_code == 401


async def test_delete_me_soft_deletes_revokes_sessions_and_records_event(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    me = await register(client)
    assert (await client.delete("/me", headers=me.auth)).status_code == 204
    assert (await client.get("/me", headers=me.auth)).status_code == 401
    assert (await client.get(f"/users/{me.id}")).status_code == 404
    resp = await client.post("/auth/refresh", json={"refresh_token": me.refresh})
    assert resp.status_code == 401
    resp = await client.post("/auth/login", json={"login": me.username, "password": PASSWORD})
    assert resp.status_code == 401
    events = await outbox_events(app, me.id)
    assert events[-1][0] == "identity.user.deleted"
    validate("identity.user.deleted", events[-1][1])
    async with app.state.db.session() as session:
        row = (
            await session.execute(
                text("SELECT email, username, display_name, bio FROM users WHERE id = :id"),
                {"id": me.id},
            )
        ).one()
    assert tuple(row) == ("", "", "", None)  # nothing identifying is kept
    # The address and the name are free for a new account.
    again = await client.post(
        "/auth/register",
        json={"email": me.email, "username": me.username, "password": PASSWORD},
    )
    assert again.status_code == 201, again.text
