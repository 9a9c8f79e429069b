"""Message path: send a chat message → the recipient's WebSocket receives it.

The whole path: ``POST /v1/messaging/conversations/{id}/messages`` through the gateway
→ messaging (row + outbox in one transaction) → the outbox relay → Kafka
(``messaging.message.v1``) → the platform's realtime node → the recipient's socket,
itself connected through the gateway (``/v1/realtime``).

Setup: ``--pairs`` sender/recipient pairs are registered with identity, each pair gets
its direct conversation through messaging's API (retried until messaging has consumed
both ``identity.user.registered`` events), every recipient opens a socket and waits
for its ``welcome`` (a socket is subscribed to its own ``user:<id>`` channel, which
every message of its conversations reaches).

Load: the open-loop generator of ``loadgen.py`` sends message *k* at ``t0 + k/rate``
(pair ``k mod pairs``, text ``"mpb <tag> <k>"``), in its own process. Three stamps per
message, all ``CLOCK_MONOTONIC``:

* ``scheduled``  — when it was due (the latency origin: no coordinated omission);
* ``done``       — the HTTP response (201) arrived: gateway + messaging + commit;
* ``kafka``      — a tap consuming ``messaging.message.v1`` read the event;
* ``received``   — the recipient's socket delivered the frame.

Reported per rate: scheduled → received (the headline), and the split
scheduled → done (request), done → kafka (outbox relay), kafka → received (realtime
and the WebSocket hops). Messages not received within ``--drain`` seconds are counted
missing.

Rate limits: the platform gateway throttles per IP (50/s) and per user (20/s), which
would measure the limiter; by default this script starts a private gateway (same code,
port 18082) with the limits raised, routed to the platform's services. ``--gateway-url``
points it at another gateway instead (raise its limits first).

Usage::

    uv run python e2e-tests/bench/message_path_bench.py [--rates 100,250,500] [--pairs 50]
    uv run python e2e-tests/bench/message_path_bench.py --quick
    uv run python e2e-tests/bench/message_path_bench.py --ws direct   # sockets on :8090

Raw results: ``.data/bench/message_path-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from benchlib import (
    machine_info,
    pids_by_name,
    private_service,
    register_and_login,
    save_results,
    unique_tag,
    wait_ready,
)
from loadgen import (
    RequestFactory,
    RunConfig,
    RunResult,
    Target,
    encode_request,
    install_fast_loop,
    pids_listening_on,
    process_cpu_seconds,
    run_in_process,
    summarize_ns,
)
from websockets.asyncio.client import ClientConnection, connect

IDENTITY_URL = "http://127.0.0.1:8201"
REALTIME_DIRECT = "ws://127.0.0.1:8090/"
KAFKA = "127.0.0.1:9092"
TOPIC = "messaging.message.v1"
RAISED_LIMITS = {
    "GATEWAY_RATE_LIMIT_IP_RATE": "1000000",
    "GATEWAY_RATE_LIMIT_IP_BURST": "1000000",
    "GATEWAY_RATE_LIMIT_USER_RATE": "1000000",
    "GATEWAY_RATE_LIMIT_USER_BURST": "1000000",
}


@dataclass(frozen=True)
class Pair:
    sender: str
    sender_token: str
    recipient: str
    recipient_token: str
    conversation_id: str


@dataclass
class SendFactory(RequestFactory):
    """Message ``k`` goes to pair ``k mod len(pairs)``, text ``"<prefix><k>"``."""

    prefix: str
    routes: tuple[tuple[str, str], ...]  # (conversation id, sender token)

    def build(self, target: Target) -> Callable[[int], bytes]:
        def make(index: int) -> bytes:
            cid, token = self.routes[index % len(self.routes)]
            body = orjson.dumps({"text": f"{self.prefix}{index}"})
            return encode_request(
                "POST",
                f"{target.base_path}/v1/messaging/conversations/{cid}/messages",
                target.host,
                {
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
                body,
            )

        return make


# --------------------------------------------------------------------------------- setup


def open_direct(gateway: str, pair_tokens: tuple[str, str, str, str]) -> Pair:
    """Open (or find) the pair's direct conversation; retry while messaging has not yet
    consumed the users' registration events (404)."""
    sender, s_token, _, r_token = pair_tokens
    me = httpx.get(
        f"{gateway}/v1/identity/me", headers={"Authorization": f"Bearer {r_token}"}, timeout=30
    )
    me.raise_for_status()
    recipient_id = me.json()["id"]
    deadline = time.monotonic() + 120
    while True:
        r = httpx.post(
            f"{gateway}/v1/messaging/conversations/direct",
            json={"user_id": recipient_id},
            headers={"Authorization": f"Bearer {s_token}"},
            timeout=30,
        )
        if r.status_code in (200, 201):
            return Pair(sender, s_token, recipient_id, r_token, r.json()["id"])
        if r.status_code != 404 or time.monotonic() > deadline:
            raise RuntimeError(f"open direct conversation: {r.status_code} {r.text[:300]}")
        time.sleep(0.5)


def make_pairs(gateway: str, n: int, tag: str) -> list[Pair]:
    """Register 2n accounts (identity, production hashing: a few per second) and open
    n direct conversations."""
    names = [(f"mps{tag}{i}", f"mpr{tag}{i}") for i in range(n)]
    with ThreadPoolExecutor(4) as pool:
        tokens = list(
            pool.map(
                lambda pr: (
                    pr[0],
                    register_and_login(IDENTITY_URL, pr[0]),
                    pr[1],
                    register_and_login(IDENTITY_URL, pr[1]),
                ),
                names,
            )
        )
        return list(pool.map(lambda t: open_direct(gateway, t), tokens))


@contextlib.contextmanager
def private_gateway(port: int) -> Iterator[str]:
    env = {**RAISED_LIMITS, "GATEWAY_HTTP_PORT": str(port), "GATEWAY_LOG_LEVEL": "WARNING"}
    with private_service(
        "gateway", [], env, f"http://127.0.0.1:{port}/livez", "message-path-gateway"
    ):
        yield f"http://127.0.0.1:{port}"


# ----------------------------------------------------------------------------- receivers


class Receivers:
    """One socket per recipient; stamps every benchmark message it receives."""

    def __init__(self, url: str, pairs: list[Pair], prefix: str) -> None:
        self.url = url
        self.pairs = pairs
        self.prefix = prefix
        self.received: dict[int, int] = {}
        self.duplicates = 0
        self.closed: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._waiting: set[int] = set()
        self._all_in = asyncio.Event()

    async def wait_for(self, indexes: set[int], timeout_s: float) -> None:
        """Return once every index in ``indexes`` was received, or after ``timeout_s``."""
        self._waiting = indexes - self.received.keys()
        if not self._waiting:
            return
        self._all_in.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_in.wait(), timeout_s)

    async def start(self) -> None:
        ready = [asyncio.get_running_loop().create_future() for _ in self.pairs]
        for pair, fut in zip(self.pairs, ready, strict=True):
            self._tasks.append(asyncio.create_task(self._run(pair, fut)))
        await asyncio.wait_for(asyncio.gather(*ready), 60)

    async def _run(self, pair: Pair, ready: asyncio.Future[None]) -> None:
        marker = self.prefix.encode()
        ws: ClientConnection
        try:
            async with connect(
                self.url,
                additional_headers={"Authorization": f"Bearer {pair.recipient_token}"},
                subprotocols=["realtime.v1"],  # type: ignore[list-item]
                max_size=1 << 20,
                compression=None,
            ) as ws:
                async for raw in ws:
                    now = time.monotonic_ns()
                    data = raw.encode() if isinstance(raw, str) else raw
                    if not ready.done():
                        frame = orjson.loads(data)
                        if frame.get("type") == "welcome":
                            ready.set_result(None)
                        elif frame.get("type") == "error":
                            ready.set_exception(RuntimeError(f"realtime refused: {frame}"))
                        continue
                    if marker not in data:
                        continue
                    frame = orjson.loads(data)
                    if frame.get("event_type") != "messaging.message.sent":
                        continue
                    text = frame["data"].get("text") or ""
                    index = int(text[len(self.prefix) :])
                    if index in self.received:
                        self.duplicates += 1
                    else:
                        self.received[index] = now
                        if index in self._waiting:
                            self._waiting.discard(index)
                            if not self._waiting:
                                self._all_in.set()
                self.closed.append(f"{pair.recipient}: {ws.close_code} {ws.close_reason}")
        except Exception as exc:
            if not ready.done():
                ready.set_exception(exc)
            self.closed.append(f"{pair.recipient}: {exc!r}")

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t


class KafkaTap:
    """Reads ``messaging.message.v1`` from the end and stamps the benchmark's messages."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.seen: dict[int, int] = {}
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=KAFKA,
            enable_auto_commit=False,
            group_id=None,
            fetch_max_wait_ms=5,
            fetch_min_bytes=1,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        parts: set[int] | None = None
        for _ in range(100):
            await self.consumer._client.force_metadata_update()
            parts = self.consumer.partitions_for_topic(TOPIC)
            if parts:
                break
            await asyncio.sleep(0.2)
        if not parts:
            raise RuntimeError(f"topic {TOPIC} has no partitions")
        tps = [TopicPartition(TOPIC, p) for p in sorted(parts)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        marker = self.prefix.encode()
        while True:
            batches = await self.consumer.getmany(timeout_ms=100, max_records=10_000)
            now = time.monotonic_ns()
            for records in batches.values():
                for rec in records:
                    if not rec.value or marker not in rec.value:
                        continue
                    text = orjson.loads(rec.value).get("text") or ""
                    if text.startswith(self.prefix):
                        self.seen.setdefault(int(text[len(self.prefix) :]), now)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()


# ------------------------------------------------------------------------------ measuring


async def measure(
    gateway: str,
    ws_url: str,
    pairs: list[Pair],
    rate: float,
    args: argparse.Namespace,
    duration_s: float,
) -> dict[str, Any]:
    prefix = f"mpb {unique_tag()} "
    receivers = Receivers(ws_url, pairs, prefix)
    tap = KafkaTap(prefix)
    await receivers.start()
    await tap.start()
    watch = {
        "gateway": pids_listening_on(int(gateway.rsplit(":", 1)[1])),
        "messaging": service_tree(pids_listening_on(8203)),
        "realtime": pids_listening_on(8090),
        "postgres": pids_by_name("postgres"),
        "kafka": pids_listening_on(9092),
        "redis": pids_listening_on(6379),
    }
    cfg = RunConfig(
        gateway,
        rate,
        duration_s,
        SendFactory(prefix, tuple((p.conversation_id, p.sender_token) for p in pairs)),
        connections=args.connections,
        timeout_s=30.0,
        keep_records=True,
        watch_pids=watch,
    )
    # The HTTP server process(es) alone; the rest of "messaging" is its relay, consumer
    # and jobs when they run as processes of their own.
    http_pids = pids_listening_on(8203)
    http_cpu0 = sum(process_cpu_seconds(p) for p in http_pids)
    try:
        res: RunResult = await asyncio.to_thread(run_in_process, cfg)
        http_cpu_s = sum(process_cpu_seconds(p) for p in http_pids) - http_cpu0
        sent = {r[0]: r for r in res.records if r[4] == 201}
        await receivers.wait_for(set(sent), args.drain)
    finally:
        await tap.stop()
        await receivers.stop()

    total, request, relay, deliver, done_to_recv = [], [], [], [], []
    missing = 0
    for index, (_, sched, _sent, done, _status) in sent.items():
        got = receivers.received.get(index)
        if got is None:
            missing += 1
            continue
        total.append(got - sched)
        request.append(done - sched)
        done_to_recv.append(got - done)
        k = tap.seen.get(index)
        if k is not None:
            relay.append(k - done)
            deliver.append(got - k)
    return {
        "rate": rate,
        "duration_s": duration_s,
        "pairs": len(pairs),
        "ws_url": ws_url,
        "http": res.to_dict(),
        "messaging_http_cpu_s": http_cpu_s,
        "sent_ok": len(sent),
        "received": len(total),
        "missing": missing,
        "duplicates": receivers.duplicates,
        "closed_sockets": receivers.closed,
        "scheduled_to_received": summarize_ns(total),
        "scheduled_to_response": summarize_ns(request),
        "response_to_received": summarize_ns(done_to_recv),
        # Negative: the relay published before the HTTP response left messaging.
        "response_to_kafka": summarize_ns(relay),
        "kafka_to_received": summarize_ns(deliver),
    }


def _parents() -> dict[int, int]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as fh:
                out[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
    return out


def service_tree(listeners: list[int]) -> list[int]:
    """The processes of the service that listens: its listeners, the process that started
    them when it is the service's own (uvicorn's worker supervisor, ``messaging serve``
    running its relay and consumer as children) and every descendant of those, so the
    CPU of a relay or consumer process that holds no socket is counted too."""
    parent_of = _parents()
    roots = set(listeners)
    for pid in listeners:
        ppid = parent_of.get(pid, 0)
        with contextlib.suppress(OSError), open(f"/proc/{ppid}/cmdline", "rb") as fh:
            if b"messaging" in fh.read():
                roots.add(ppid)
    tree = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, ppid in parent_of.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sorted(tree)


def line(m: dict[str, Any]) -> str:
    t, h = m["scheduled_to_received"], m["http"]

    def pp(key: str) -> str:
        s = m[key]
        return f"{s['p50_ms']:.1f}/{s['p99_ms']:.1f}"

    cpu = " ".join(f"{k} {v:.0f}%" for k, v in h["watched_cpu_pct"].items())
    return (
        f"rate {m['rate']:>6g}/s achieved {h['achieved_rate']:7.1f}/s ok {m['sent_ok']:6d} "
        f"err {h['errors']:4d} missing {m['missing']:4d} | send→socket p50 {t['p50_ms']:.1f} "
        f"p99 {t['p99_ms']:.1f} max {t['max_ms']:.1f} ms | request {pp('scheduled_to_response')} "
        f"relay {pp('response_to_kafka')} kafka→socket {pp('kafka_to_received')} (p50/p99 ms) | "
        f"CPU {cpu} other {h['other_cpu_pct']:.0f}% | messaging {cpu_ms_per_message(m):.1f} ms "
        f"CPU per message (HTTP {http_cpu_ms_per_message(m):.1f})"
    )


def cpu_ms_per_message(m: dict[str, Any]) -> float:
    """Messaging's CPU (every process of it) per message sent in the step, in ms."""
    h = m["http"]
    sent = max(m["sent_ok"], 1)
    return h["watched_cpu_pct"].get("messaging", 0.0) / 100.0 * h["wall_s"] * 1000 / sent


def http_cpu_ms_per_message(m: dict[str, Any]) -> float:
    """The HTTP server processes' share of :func:`cpu_ms_per_message`."""
    return float(m["messaging_http_cpu_s"]) * 1000 / max(m["sent_ok"], 1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="3 pairs, 20 messages/s for 5 s")
    p.add_argument("--rates", default="100,250,500")
    p.add_argument("--duration", type=float, default=20.0, help="seconds per rate")
    p.add_argument("--pairs", type=int, default=50)
    p.add_argument("--connections", type=int, default=64, help="HTTP connections of the sender")
    p.add_argument("--drain", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=3.0, help="untimed seconds at 10/s first")
    p.add_argument("--slo-p99-ms", type=float, default=100.0)
    p.add_argument("--gateway-url", default="", help="use this gateway instead of a private one")
    p.add_argument("--private-gateway-port", type=int, default=18082)
    p.add_argument("--ws", choices=("gateway", "direct"), default="gateway")
    args = p.parse_args(argv)
    if args.quick:
        args.rates, args.duration, args.pairs, args.drain = "20", 5.0, 3, 5.0
    rates = [float(r) for r in args.rates.split(",")]

    wait_ready(f"{IDENTITY_URL}/readyz")
    with contextlib.ExitStack() as stack:
        gateway = args.gateway_url.rstrip("/") or stack.enter_context(
            private_gateway(args.private_gateway_port)
        )
        wait_ready(f"{gateway}/readyz")
        ws_url = (
            gateway.replace("http://", "ws://") + "/v1/realtime"
            if args.ws == "gateway"
            else REALTIME_DIRECT
        )
        tag = unique_tag()
        print(f"registering {2 * args.pairs} accounts and opening {args.pairs} conversations...")
        t0 = time.monotonic()
        pairs = make_pairs(gateway, args.pairs, tag)
        print(f"  ready in {time.monotonic() - t0:.0f}s; sockets via {ws_url}")
        install_fast_loop()
        if args.warmup > 0:
            # Connection pools, caches and the first Kafka fetches warm up here, untimed.
            w = asyncio.run(measure(gateway, ws_url, pairs, 10.0, args, args.warmup))
            print(f"warm-up: {w['sent_ok']} messages, {w['missing']} missing")
        results = []
        for rate in rates:
            m = asyncio.run(measure(gateway, ws_url, pairs, rate, args, args.duration))
            results.append(m)
            print(line(m), flush=True)
    print()
    for m in results:
        p99 = m["scheduled_to_received"]["p99_ms"]
        ok = (
            not math.isnan(p99)
            and p99 < args.slo_p99_ms
            and m["missing"] == 0
            and m["http"]["achieved_rate"] >= 0.95 * m["rate"]
        )
        verdict = "meets" if ok else "MISSES"
        p50 = m["scheduled_to_received"]["p50_ms"]
        print(
            f"{m['rate']:g} messages/s: send→socket p50 {p50:.1f} ms, "
            f"p99 {p99:.1f} ms — {verdict} the target (p99 < {args.slo_p99_ms:g} ms, none missing)"
        )
    path = save_results(
        "message_path",
        {"machine": machine_info(), "args": vars(args), "results": results},
    )
    print(f"raw results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
