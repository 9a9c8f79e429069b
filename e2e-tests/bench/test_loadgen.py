"""The load generator's own behaviour, against a trivial local server (no platform)."""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
from loadgen import (
    RunConfig,
    StaticRequest,
    _parse_response,
    encode_request,
    median,
    percentile,
    run_in_process,
    run_open_loop,
    trivial_server,
)

GET = StaticRequest("GET", "/x", (("Accept", "application/json"),))


def test_percentile_is_nearest_rank_over_the_sorted_samples() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 99.9) == 100
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([7], 99) == 7
    assert math.isnan(percentile([], 50))


def test_median_of_even_count_is_mean_of_middle_pair_and_ignores_nan() -> None:
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median([5.0, math.nan, 1.0, 3.0]) == 3.0
    assert math.isnan(median([]))


def test_parse_response_waits_for_the_whole_content_length_body() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"
    assert _parse_response(bytearray(raw), eof=False) is None
    assert _parse_response(bytearray(raw + b"lo" + b"HTTP/1.1"), eof=False) == (
        200,
        b"hello",
        len(raw) + 2,
        True,
    )


def test_parse_response_decodes_chunked_bodies_and_connection_close() -> None:
    raw = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    body = b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    assert _parse_response(bytearray(raw + body[:-4]), eof=False) is None
    status, data, used, keep_alive = _parse_response(bytearray(raw + body), eof=False) or (
        0,
        b"",
        0,
        True,
    )
    assert (status, data, used, keep_alive) == (201, b"abcde", len(raw + body), False)


def test_encode_request_adds_host_and_content_length() -> None:
    raw = encode_request("POST", "/auth/register", "127.0.0.1", {"X-A": "1"}, b"{}")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"POST /auth/register HTTP/1.1"
    assert b"Host: 127.0.0.1" in head and b"Content-Length: 2" in head and b"X-A: 1" in head
    assert body == b"{}"


def test_constant_rate_run_sends_exactly_rate_times_duration_and_counts_them() -> None:
    with trivial_server() as url:
        res = run_in_process(RunConfig(url, 200, 1.0, GET, connections=8, keep_records=True))
    assert res.scheduled == 200 and res.ok == 200 and res.errors == 0
    assert res.achieved_rate == pytest.approx(200, rel=0.1)
    indexes = sorted(r[0] for r in res.records)
    assert indexes == list(range(200))
    # Slots are 5 ms apart on the schedule, whatever the responses did.
    scheds = sorted(r[1] for r in res.records)
    assert scheds[1] - scheds[0] == pytest.approx(5_000_000, abs=1)
    assert res.latency["p50_ms"] < 50
    assert res.generator_cpu_pct > 0


def test_a_server_stall_is_charged_to_every_request_scheduled_during_it() -> None:
    rate, stall = 400.0, 0.4
    with trivial_server(stall_after_s=0.8, stall_s=stall) as url:
        res = run_in_process(RunConfig(url, rate, 2.0, GET, connections=4, keep_records=True))
    delayed = sum(1 for r in res.records if r[3] - r[1] > 100e6)
    # A closed-loop client would count ~4 slow requests (one per connection); open loop
    # counts the ~rate*stall requests that were due while the server was stuck.
    assert delayed >= 0.5 * rate * stall
    assert res.latency["max_ms"] >= 0.8 * stall * 1000
    assert res.errors == 0


def test_requests_without_an_answer_in_time_are_errors_not_latencies() -> None:
    async def main() -> loadgen.RunResult:
        async def silent(_r: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
            await asyncio.sleep(5)

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await run_open_loop(
                RunConfig(f"http://127.0.0.1:{port}", 50, 0.2, GET, connections=2, timeout_s=0.3)
            )

    res = asyncio.run(main())
    assert res.ok == 0
    assert res.errors == res.scheduled == 10
    assert res.error_kinds.get("timeout") == 10
    assert res.achieved_rate == 0
