"""The gateway's request handling that needs no server: it answers before any upstream."""

from __future__ import annotations

import httpx
import pytest
from gateway.app import Gateway, create_app
from gateway.proxy import BodyTooLarge, read_body, stream_body
from gateway.ratelimit import Decision
from gateway.routes import RouteTable
from gateway.settings import GatewaySettings

ROUTES = RouteTable.from_mapping(
    # Port 9 (discard) is never listened on here: nothing in these tests reaches it.
    {"routes": {"identity": "http://127.0.0.1:9"}},
    environ={},
)


def client(**settings) -> httpx.AsyncClient:
    gw = Gateway(GatewaySettings(max_body_bytes=100, rate_limit_enabled=False, **settings), ROUTES)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=gw), base_url="http://gw")


async def test_unknown_context_is_404_problem_with_request_id():
    async with client() as c:
        r = await c.get("/v1/nowhere/x", headers={"X-Request-ID": "req-abc-123"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404
    assert r.headers["x-request-id"] == "req-abc-123"


async def test_internal_path_is_never_routed():
    async with client() as c:
        r = await c.get("/v1/identity/internal/users")
    assert r.status_code == 404
    assert len(r.headers["x-request-id"]) == 32


async def test_declared_oversize_body_is_413_before_any_upstream():
    async with client() as c:
        r = await c.post("/v1/identity/auth/login", content=b"x" * 101)
    assert r.status_code == 413
    assert r.json()["title"] == "Content Too Large"


async def test_malformed_content_length_is_400():
    async with client() as c:
        r = await c.post("/v1/identity/x", content=b"abc", headers={"Content-Length": "abc"})
    assert r.status_code == 400


async def test_non_gateway_paths_are_problem_404():
    async with client() as c:
        r = await c.get("/nope")
        live = await c.get("/livez")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert live.json() == {"status": "ok"}


async def test_cors_preflight_answered_for_configured_origin():
    app = create_app(
        GatewaySettings(rate_limit_enabled=False, cors_origins=["https://app.example"]), ROUTES
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        r = await c.options(
            "/v1/identity/me",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
        )
        bad = await c.options(
            "/v1/identity/me",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in bad.headers


def receiver(*chunks: bytes):
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive():
        return messages.pop(0)

    return receive


async def test_read_body_joins_chunks_and_enforces_limit():
    assert await read_body(receiver(b"ab", b"cd", b""), 10) == b"abcd"
    with pytest.raises(BodyTooLarge):
        await read_body(receiver(b"abcdef", b"ghijkl"), 10)


async def test_streamed_chunked_body_is_cut_off_past_limit():
    got = []
    with pytest.raises(BodyTooLarge):
        async for chunk in stream_body(receiver(b"12345", b"67890", b"X", b""), 10):
            got.append(chunk)
    assert got == [b"12345", b"67890"]


def test_rate_limit_headers():
    ok = Decision(allowed=True, limit=10, remaining=3, reset_s=2)
    assert dict(ok.headers()) == {
        b"ratelimit-limit": b"10",
        b"ratelimit-remaining": b"3",
        b"ratelimit-reset": b"2",
    }
    refused = Decision(allowed=False, limit=10, remaining=0, reset_s=5, retry_after_s=1)
    assert dict(refused.headers())[b"retry-after"] == b"1"
