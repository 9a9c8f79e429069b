from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from identity.auth.housekeeping import auth_state_pruner
from identity.settings import IdentitySettings
from sqlalchemy import text

from .conftest import login_ok, register

pytestmark = pytest.mark.integration


async def test_old_sessions_and_retired_keys_are_pruned_live_ones_stay(
    client: httpx.AsyncClient, app: FastAPI, settings: IdentitySettings
) -> None:
    me = await register(client)
    old_login = await login_ok(client, me.username, me.password)
    live_login = await login_ok(client, me.username, me.password)
    long_ago = datetime.now(UTC) - timedelta(days=60)
    kid = f"old-{uuid.uuid4().hex[:8]}"
    async with app.state.db.session() as session:
        sessions = list(
            (
                await session.execute(
                    text("SELECT id FROM sessions WHERE user_id = :u ORDER BY created_at"),
                    {"u": me.id},
                )
            ).scalars()
        )
        assert len(sessions) == 3  # register's login and the two above
        await session.execute(
            text("UPDATE sessions SET expires_at = :t WHERE id = :id"),
            {"t": long_ago, "id": sessions[0]},
        )
        await session.execute(
            text("UPDATE sessions SET revoked_at = :t WHERE id = :id"),
            {"t": long_ago, "id": sessions[1]},
        )
        await session.execute(
            text(
                "INSERT INTO signing_keys (kid, private_key_enc, public_jwk, active,"
                " created_at, rotated_at, retire_at) VALUES (:k, '\\x00', '{}', false,"
                " :t, :t, :t)"
            ),
            {"k": kid, "t": long_ago},
        )
    deleted = await auth_state_pruner(settings)(app.state.db)
    assert deleted >= 3  # two sessions (their refresh tokens went with them) and the key
    async with app.state.db.session() as session:
        left = list(
            (
                await session.execute(
                    text("SELECT id FROM sessions WHERE user_id = :u"), {"u": me.id}
                )
            ).scalars()
        )
        keys = await session.scalar(
            text("SELECT count(*) FROM signing_keys WHERE kid = :k"), {"k": kid}
        )
        active = await session.scalar(text("SELECT count(*) FROM signing_keys WHERE active"))
    assert left == [sessions[2]] and keys == 0 and active == 1
    # The live session still refreshes.
    resp = await client.post("/auth/refresh", json={"refresh_token": live_login["refresh_token"]})
    assert resp.status_code == 200
    assert old_login["refresh_token"] != live_login["refresh_token"]
