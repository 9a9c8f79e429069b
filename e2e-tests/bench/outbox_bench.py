"""Outbox latency: a registration's commit to its event being readable on Kafka.

Registrations (``POST /auth/register`` straight to identity) are sent open loop at a
constant rate by a child process. Before the load starts, a Kafka consumer in this
process is assigned every partition of ``identity.user.v1`` at the end of the log. It
matches each ``identity.user.registered`` event to its request by ``username`` and
stamps the moment it was handed the record (CLOCK_MONOTONIC, the clock the generator
uses too, so the two processes' stamps compare directly).

The commit is not visible from outside, but it lies between the request being written
(``sent``) and its response arriving (``done``): identity commits before it answers.
So for every event::

    consumed - done  <=  consumed - commit  <=  consumed - sent

and both bounds are reported. The lower bound is the honest headline for "commit →
readable" (it can only flatter by the time between commit and the response reaching
the client, typically well under a millisecond on loopback); the upper bound adds the
whole request (with argon2id hashing). ``created_at`` in the event is stamped in
Python *before* the password is hashed, so it is not used as the commit time.

Two phases by default:

* ``platform``: the identity that ``make up`` runs, production argon2id parameters.
  Hashing costs ~0.2 s of CPU per registration here, so the rate ladder stops far
  below 200/s; this phase reports the sustainable rate and the outbox latency there.
* ``cheap-hash``: a private identity instance (port 18201, same code and database,
  its own relay) with argon2id lowered to ``t=1, m=1 MiB, p=1`` so the write path, not
  the hash, is what is loaded: 200 registrations/s, the target rate.

Usage: ``uv run python e2e-tests/bench/outbox_bench.py [--phase both|platform|cheap-hash]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiokafka import AIOKafkaConsumer, TopicPartition
from benchlib import (
    BENCH_PASSWORD,
    machine_info,
    pids_by_name,
    private_service,
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
    pids_listening_on,
    run_in_process,
    summarize_ns,
)

TOPIC = "identity.user.v1"
CHEAP_HASH_ENV = {
    "IDENTITY_ARGON2_TIME_COST": "1",
    "IDENTITY_ARGON2_MEMORY_COST_KIB": "1024",
    "IDENTITY_ARGON2_PARALLELISM": "1",
}


@dataclass(frozen=True)
class RegisterFactory(RequestFactory):
    """``POST /auth/register`` with a unique username per slot: ``<prefix><index>``."""

    prefix: str

    def build(self, target: Target) -> Callable[[int], bytes]:
        path = target.base_path + "/auth/register"

        def make(index: int) -> bytes:
            username = f"{self.prefix}{index}"
            body = json.dumps(
                {
                    "email": f"{username}@bench.example.com",
                    "username": username,
                    "password": BENCH_PASSWORD,
                }
            ).encode()
            return encode_request(
                "POST",
                path,
                target.host,
                {"Content-Type": "application/json", "Accept": "application/json"},
                body,
            )

        return make


class EventTap:
    """Reads ``identity.user.v1`` from the end of the log and stamps each registration."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.prefix = prefix
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            group_id=None,
            fetch_max_wait_ms=5,
            fetch_min_bytes=1,
        )
        #: username -> (consumed_ns monotonic, kafka timestamp ms, ce_type)
        self.seen: dict[str, tuple[int, int, str]] = {}
        self.others = 0
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
            raise RuntimeError(f"topic {TOPIC} has no partitions (nothing published yet?)")
        tps = [TopicPartition(TOPIC, p) for p in sorted(parts)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the end offsets now, before any load
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100, max_records=10_000)
            now = time.monotonic_ns()
            for records in batches.values():
                for rec in records:
                    headers = {k: v for k, v in (rec.headers or ())}
                    ce_type = headers.get("ce_type", b"").decode()
                    try:
                        data = json.loads(rec.value or b"null")
                    except ValueError:
                        continue
                    name = data.get("username") if isinstance(data, dict) else None
                    if (
                        isinstance(name, str)
                        and name.startswith(self.prefix)
                        and ce_type.endswith("registered")
                    ):
                        self.seen.setdefault(name, (now, rec.timestamp, ce_type))
                    else:
                        self.others += 1

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()


async def measure(
    url: str, rate: float, duration_s: float, bootstrap: str, connections: int, drain_s: float
) -> dict[str, Any]:
    """One constant-rate registration run with the event tap; returns the measurements."""
    prefix = f"bo{unique_tag()}_"
    tap = EventTap(bootstrap, prefix)
    await tap.start()
    port = urlsplit(url).port or 80
    cfg = RunConfig(
        url,
        rate,
        duration_s,
        RegisterFactory(prefix),
        connections=connections,
        timeout_s=30.0,
        keep_records=True,
        watch_pids={
            "identity": pids_listening_on(port),
            "postgres": pids_by_name("postgres"),
            "kafka": pids_listening_on(9092),
        },
    )
    try:
        res: RunResult = await asyncio.to_thread(run_in_process, cfg)
        created = {r[0]: r for r in res.records if r[4] == 201}
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline:
            if all(f"{prefix}{i}" in tap.seen for i in created):
                break
            await asyncio.sleep(0.1)
    finally:
        await tap.stop()

    lower, upper, kafka_ts_to_consumed = [], [], []
    missing = 0
    wall_minus_mono = time.time_ns() - time.monotonic_ns()
    for index, (_, _sched, sent, done, _status) in created.items():
        hit = tap.seen.get(f"{prefix}{index}")
        if hit is None:
            missing += 1
            continue
        consumed, kafka_ms, _ = hit
        lower.append(consumed - done)
        upper.append(consumed - sent)
        kafka_ts_to_consumed.append(consumed + wall_minus_mono - kafka_ms * 1_000_000)
    return {
        "rate": rate,
        "duration_s": duration_s,
        "http": res.to_dict(),
        "registered": len(created),
        "events_matched": len(lower),
        "events_missing": missing,
        "other_events_seen": tap.others,
        # Negative lower-bound values mean the event was read before the HTTP response.
        "commit_to_consumed_lower_bound": summarize_ns(lower),
        "commit_to_consumed_upper_bound": summarize_ns(upper),
        "kafka_timestamp_to_consumed": summarize_ns(kafka_ts_to_consumed),
    }


def line(m: dict[str, Any]) -> str:
    lo, up, http = (
        m["commit_to_consumed_lower_bound"],
        m["commit_to_consumed_upper_bound"],
        m["http"],
    )
    return (
        f"rate {m['rate']:6.1f}/s  achieved {http['achieved_rate']:6.1f}/s  "
        f"http.p99 {http['latency']['p99_ms']:8.1f} ms  registered {m['registered']:5d}  "
        f"missing {m['events_missing']:3d}  outbox lower p50 {lo['p50_ms']:6.2f} "
        f"p99 {lo['p99_ms']:6.2f}  upper p50 {up['p50_ms']:7.2f} p99 {up['p99_ms']:7.2f} ms  "
        f"cpu {http['watched_cpu_pct']}  other {http['other_cpu_pct']}"
    )


async def platform_phase(args: argparse.Namespace) -> dict[str, Any]:
    """The running identity, production hashing: ladder up while HTTP keeps up."""
    rate, runs = args.platform_start_rate, []
    while rate <= args.rate:
        m = await measure(args.identity_url, rate, args.duration_s, args.kafka, 32, args.drain_s)
        runs.append(m)
        print("  platform   " + line(m), flush=True)
        if m["http"]["achieved_rate"] < 0.95 * rate or m["http"]["errors"]:
            break
        rate *= 2
        await asyncio.sleep(2)
    return {"identity_url": args.identity_url, "runs": runs}


@contextlib.contextmanager
def cheap_identity(args: argparse.Namespace) -> Iterator[str]:
    port = args.private_identity_port
    env = {**CHEAP_HASH_ENV, "IDENTITY_HTTP_PORT": str(port)}
    with private_service(
        "identity", ["serve"], env, f"http://127.0.0.1:{port}/livez", "identity-cheap-hash"
    ):
        yield f"http://127.0.0.1:{port}"


async def cheap_phase(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """Private identity with cheap hashing at the target rate, repeated ``rounds`` times."""
    await measure(url, 50, 2.0, args.kafka, 64, args.drain_s)  # warm pools and the relay
    runs = []
    for rnd in range(1, args.rounds + 1):
        m = await measure(url, args.rate, args.duration_s, args.kafka, 64, args.drain_s)
        runs.append(m)
        print(f"  cheap r{rnd}   " + line(m), flush=True)
        await asyncio.sleep(2)

    def med(key: str, q: str) -> float:
        vals = sorted(r[key][q] for r in runs)
        return vals[len(vals) // 2] if vals else math.nan

    return {
        "identity_url": url,
        "argon2": CHEAP_HASH_ENV,
        "runs": runs,
        "median_of_rounds": {
            "lower_p50_ms": med("commit_to_consumed_lower_bound", "p50_ms"),
            "lower_p99_ms": med("commit_to_consumed_lower_bound", "p99_ms"),
            "upper_p50_ms": med("commit_to_consumed_upper_bound", "p50_ms"),
            "upper_p99_ms": med("commit_to_consumed_upper_bound", "p99_ms"),
        },
    }


async def amain(args: argparse.Namespace) -> int:
    report: dict[str, Any] = {"benchmark": "outbox_latency", "machine": machine_info()}
    report["params"] = dict(vars(args))
    if args.phase in ("both", "platform"):
        print(f"waiting for {args.identity_url}/livez ...", flush=True)
        wait_ready(f"{args.identity_url}/livez", timeout_s=120)
        report["platform"] = await platform_phase(args)
    if args.phase in ("both", "cheap-hash"):
        with cheap_identity(args) as url:
            report["cheap_hash"] = await cheap_phase(args, url)
            print("  cheap-hash median of rounds:", report["cheap_hash"]["median_of_rounds"])
    print(f"results: {save_results('outbox', report)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Outbox commit → Kafka latency")
    p.add_argument("--identity-url", default="http://127.0.0.1:8201")
    p.add_argument("--kafka", default="127.0.0.1:9092")
    p.add_argument("--phase", choices=("both", "platform", "cheap-hash"), default="both")
    p.add_argument("--rate", type=float, default=200.0, help="target registrations/s")
    p.add_argument("--platform-start-rate", type=float, default=2.0)
    p.add_argument("--duration-s", type=float, default=10.0)
    p.add_argument("--drain-s", type=float, default=15.0, help="wait for late events")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--private-identity-port", type=int, default=18201)
    args = p.parse_args(argv)
    args.identity_url = args.identity_url.rstrip("/")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
