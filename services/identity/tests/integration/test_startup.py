from __future__ import annotations

import uuid

import httpx
import pytest
from identity.app import create_app
from kit.testing import fresh_database, wait_until
from sqlalchemy import text

from .conftest import PASSWORD, base_settings

pytestmark = pytest.mark.integration


async def test_service_starts_on_empty_database_and_relays_events_to_kafka() -> None:
    settings = base_settings(migrate_on_start=True, run_outbox_relay=True)
    async with fresh_database(settings) as settings:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://identity") as c:
                jwks = (await c.get("/.well-known/jwks.json")).json()
                assert len(jwks["keys"]) == 1
                username = f"relay_{uuid.uuid4().hex[:8]}"
                resp = await c.post(
                    "/auth/register",
                    json={
                        "email": f"{username}@example.com",
                        "username": username,
                        "password": PASSWORD,
                    },
                )
                assert resp.status_code == 201

            async def published() -> bool:
                async with app.state.db.session() as session:
                    status = await session.scalar(
                        text("SELECT status FROM outbox WHERE subject = :s"),
                        {"s": resp.json()["id"]},
                    )
                return status == "published"

            await wait_until(published, within_s=30)
