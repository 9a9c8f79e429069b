from __future__ import annotations

import asyncio

import httpx
import pytest

from .conftest import RunningGateway, Stack, running_gateway

pytestmark = pytest.mark.integration


def upstream_headers(body: dict) -> dict[str, str]:
    return {k: v for k, v in body["headers"]}


async def test_get_with_query_is_proxied_with_prefix_stripped(gateway: RunningGateway):
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.get("/v1/identity/echo?a=1&b=%D8%B9%D8%B1%D8%A8%D9%8A")
    assert r.status_code == 200
    body = r.json()
    assert body["path"] == "/echo"
    assert body["query"] == "a=1&b=%D8%B9%D8%B1%D8%A8%D9%8A"
    assert r.headers["x-upstream"] == "fake"


async def test_upstream_base_path_and_encoded_path_preserved(gateway: RunningGateway):
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.get("/v1/content/a%2Fb/c")
    assert r.status_code == 200
    assert r.json()["raw_path"] == "/echo/a%2Fb/c"


async def test_post_body_and_headers_reach_upstream(gateway: RunningGateway):
    payload = b'{"text": "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7"}'
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.post(
            "/v1/identity/echo",
            content=payload,
            headers={
                "Content-Type": "application/json",
                "X-Request-ID": "client-req-0001",
                "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "X-Forwarded-For": "6.6.6.6",
                "Connection": "keep-alive",
            },
        )
    assert r.status_code == 200
    body = r.json()
    assert body["method"] == "POST"
    assert body["body"].encode("latin-1") == payload
    sent = upstream_headers(body)
    assert sent["content-type"] == "application/json"
    assert sent["x-request-id"] == "client-req-0001"
    assert sent["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert not sent["traceparent"].endswith("00f067aa0ba902b7-01")
    # The client is not a trusted proxy: its X-Forwarded-For is replaced, not extended.
    assert sent["x-forwarded-for"] == "127.0.0.1"
    assert sent["x-forwarded-proto"] == "http"
    assert sent["x-forwarded-host"] == gateway.url.removeprefix("http://")
    assert r.headers["x-request-id"] == "client-req-0001"
    # Hop-by-hop headers of the upstream response do not reach the client.
    assert "x-secret" not in r.headers


async def test_generated_request_id_is_sent_upstream_and_echoed(gateway: RunningGateway):
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.get("/v1/identity/echo", headers={"X-Request-ID": "bad id with spaces"})
    rid = r.headers["x-request-id"]
    assert rid != "bad id with spaces" and len(rid) == 32
    assert upstream_headers(r.json())["x-request-id"] == rid


async def test_chunked_request_body_is_streamed_upstream(gateway: RunningGateway):
    async def body():
        for i in range(10):
            yield f"part{i}|".encode()
            await asyncio.sleep(0)

    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.put("/v1/identity/echo", content=body())
    assert r.status_code == 200
    assert r.json()["body"] == "".join(f"part{i}|" for i in range(10))


async def test_large_bodies_stream_both_ways(gateway: RunningGateway):
    payload = b"q" * 200_000
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        up = await c.post("/v1/identity/echo", content=payload)
        down = await c.get("/v1/identity/big")
    assert up.json()["body_len"] == 200_000
    assert down.content == b"z" * 300_000


async def test_streaming_response_arrives_in_chunks(gateway: RunningGateway):
    async with (
        httpx.AsyncClient(base_url=gateway.url) as c,
        c.stream("GET", "/v1/identity/stream") as r,
    ):
        chunks = [chunk async for chunk in r.aiter_raw()]
    assert b"".join(chunks) == b"".join(f"chunk-{i};".encode() for i in range(5))


async def test_upstream_status_and_problem_pass_through(gateway: RunningGateway):
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.get("/v1/identity/status/418")
    assert r.status_code == 418
    assert r.json() == {"code": 418}


async def test_internal_paths_are_404_and_never_reach_upstream(gateway: RunningGateway):
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.get("/v1/identity/internal/secret")
        encoded = await c.get("/v1/identity/%69nternal/secret")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert encoded.status_code == 404
    assert "upstream" not in encoded.text


async def test_unknown_context_is_404_problem(gateway: RunningGateway):
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.get("/v1/nosuch/echo")
    assert r.status_code == 404
    assert r.json()["status"] == 404


async def test_down_upstream_is_503_problem(gateway: RunningGateway):
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.get("/v1/search/anything")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert "search" in r.json()["detail"]


async def test_upstream_timeout_is_504_problem(gateway: RunningGateway):
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.get("/v1/identity/slow?s=2")
    assert r.status_code == 504
    assert r.json()["status"] == 504


async def test_upstream_protocol_error_is_502_problem(gateway: RunningGateway):
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.get("/v1/broken/x")
    assert r.status_code == 502
    assert r.headers["content-type"] == "application/problem+json"


async def test_oversize_declared_body_is_413(gateway: RunningGateway):
    too_big = b"x" * (gateway.settings.max_body_bytes + 1)
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.post("/v1/identity/echo", content=too_big)
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"


async def test_oversize_chunked_body_is_413(gateway: RunningGateway):
    limit = gateway.settings.max_body_bytes

    async def body():
        sent = 0
        while sent <= limit:
            yield b"y" * 16384
            sent += 16384

    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.post("/v1/identity/echo", content=body())
    assert r.status_code == 413


async def test_bad_bearer_token_fails_fast_with_401(gateway: RunningGateway, stack: Stack):
    expired = stack.keys.token(exp_in=-3600)
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        garbage = await c.get("/v1/identity/me", headers={"Authorization": "Bearer not.a.jwt"})
        old = await c.get("/v1/identity/me", headers={"Authorization": f"Bearer {expired}"})
        forged = await c.get(
            "/v1/identity/me",
            headers={"Authorization": f"Bearer {stack.keys.token()[:-4]}AAAA"},
        )
    for r in (garbage, old, forged):
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert "upstream" not in r.text
    assert "expired" in old.json()["detail"]


async def test_valid_token_and_anonymous_requests_pass_through(
    gateway: RunningGateway, stack: Stack
):
    token = stack.keys.token()
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        authed = await c.get("/v1/identity/me", headers={"Authorization": f"Bearer {token}"})
        anon = await c.get("/v1/identity/me")
        basic = await c.get("/v1/identity/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert authed.status_code == 200
    assert upstream_headers(authed.json())["authorization"] == f"Bearer {token}"
    assert anon.status_code == 200
    assert basic.status_code == 200
    assert int(authed.headers["ratelimit-limit"]) == 5


async def test_user_is_rate_limited_after_burst(gateway: RunningGateway, stack: Stack):
    token = stack.keys.token()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        statuses = [
            (await c.get("/v1/identity/echo", headers=headers)).status_code for _ in range(5)
        ]
        refused = await c.get("/v1/identity/echo", headers=headers)
        other_user = await c.get(
            "/v1/identity/echo", headers={"Authorization": f"Bearer {stack.keys.token()}"}
        )
    assert statuses == [200] * 5
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["ratelimit-limit"] == "5"
    assert other_user.status_code == 200


async def test_ip_is_rate_limited_after_burst(stack: Stack):
    async with (
        running_gateway(stack, rate_limit_ip_burst=3, rate_limit_ip_rate=0.1) as gw,
        httpx.AsyncClient(base_url=gw.url) as c,
    ):
        statuses = [(await c.get("/v1/identity/echo")).status_code for _ in range(4)]
        metrics = (await c.get("/metrics")).text
    assert statuses == [200, 200, 200, 429]
    assert 'gateway_rate_limited_total{scope="ip"}' in metrics


async def test_redis_down_fails_open(stack: Stack):
    async with (
        running_gateway(stack, redis_url="redis://127.0.0.1:1/0", rate_limit_ip_burst=1) as gw,
        httpx.AsyncClient(base_url=gw.url) as c,
    ):
        statuses = [(await c.get("/v1/identity/echo")).status_code for _ in range(3)]
        ready = await c.get("/readyz")
        metrics = (await c.get("/metrics")).text
    assert statuses == [200, 200, 200]
    assert ready.status_code == 503
    assert "gateway_rate_limit_fail_open_total" in metrics


async def test_readyz_reports_redis_and_upstreams(gateway: RunningGateway):
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        r = await c.get("/readyz")
        live = await c.get("/livez")
    assert r.status_code == 200
    checks = r.json()["checks"]
    assert checks["redis"] == "ok"
    assert checks["upstream:identity"] == "ok"
    assert checks["upstream:search"] != "ok"
    assert r.json()["status"] == "degraded"
    assert live.status_code == 200


async def test_metrics_count_requests_by_context_and_status(gateway: RunningGateway):
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        await c.get("/v1/identity/echo")
        text = (await c.get("/metrics")).text
    assert 'gateway_requests_total{context="identity",route="/v1/{context}",status="200"}' in text
    assert 'gateway_upstream_latency_seconds_bucket{context="identity"' in text


async def test_merged_openapi_and_docs(gateway: RunningGateway):
    async with httpx.AsyncClient(base_url=gateway.url) as c:
        doc = (await c.get("/openapi.json")).json()
        docs = await c.get("/docs")
    assert "/v1/identity/echo" in doc["paths"]
    assert "/v1/messaging/echo" in doc["paths"]
    ref = doc["paths"]["/v1/identity/echo"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    assert ref == "#/components/schemas/identity.Echo"
    assert {"identity.Echo", "messaging.Echo"} <= set(doc["components"]["schemas"])
    # search is down; content's /openapi.json (under its /echo base) is not a spec.
    down = {u["context"]: u["reason"] for u in doc["x-unavailable-upstreams"]}
    assert set(down) == {"search", "content"}
    assert down["content"] == "not an OpenAPI document"
    assert not any(p.startswith("/v1/content") for p in doc["paths"])
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
