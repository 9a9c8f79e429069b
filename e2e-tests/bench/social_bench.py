"""DeathStarBench's social-network workload through the gateway, plus search.

Phases (one command: ``uv run python e2e-tests/bench/social_bench.py [--quick]``):

1. **Seed** (reused across runs, state in ``.data/bench/social-seed-<size>.json``):
   the users of a generated socfb-Reed98-sized graph (see ``social_graph.py``) are
   registered and logged in through identity's API, every edge becomes two follows
   (identity's API, in parallel), and each user publishes a few posts through content's
   API so home timelines are not empty. Then the script waits until content's and
   search's consumers have applied every identity and content event.
2. **Mix ladder**: a constant-rate (open-loop) mix of 60 % read home timeline, 30 % read
   user timeline, 10 % compose post, sent through a private gateway with raised rate
   limits, each request timed from its *scheduled* send time. The offered rate steps up
   until a step fails (p99 > 200 ms, achieved < 95 % of offered, or > 0.1 % errors), one
   bisection refines the knee, and a longer confirmation run at the knee gives the
   headline p50/p99 and the per-operation percentiles. The target rate (300 req/s) is
   also run on its own when the ladder did not reach it.
3. **Indexing lag** (during every mix step): each composed post carries a per-step
   marker word and a unique token; a poller asks the search service for the marker every
   50 ms (newest first) and stamps when each token first appears. Lag = first seen -
   the compose response (commit happens before the response, so this is a lower bound
   on commit → searchable, up to the poll interval late), and - the request send (an
   upper bound).
4. **Search on 100k posts**: a private search instance (same code, its own Typesense
   collections under the prefix ``bench_social_``, its own consumer group, fed from a
   private topic) indexes ``content.post.created`` events produced straight to Kafka in
   the contract's shape, by the live consumer code path. Then constant-rate post
   queries (1-2 Zipf-drawn words, signed-in callers) go through the private gateway.

Results: a summary table on stdout and everything in ``.data/bench/social-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import social_profile
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from benchlib import (
    BENCH_PASSWORD,
    RESULTS_DIR,
    machine_info,
    pids_by_name,
    private_service,
    save_results,
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
from social_graph import (
    GRAPH_SEED,
    REED98_EDGES,
    REED98_USERS,
    Graph,
    ZipfWords,
    heavy_tailed_graph,
    vocabulary,
)

KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
RAISED_LIMITS = {
    "GATEWAY_RATE_LIMIT_IP_RATE": "1000000",
    "GATEWAY_RATE_LIMIT_IP_BURST": "1000000",
    "GATEWAY_RATE_LIMIT_USER_RATE": "1000000",
    "GATEWAY_RATE_LIMIT_USER_BURST": "1000000",
}
SEARCH_PREFIX = "bench_social_"
SEARCH_TOPIC = "bench.social.content.post.v1"
#: The private search instance consumes only the private post topic; the other topics
#: it must name are private too and stay empty.
SEARCH_UNUSED_TOPICS = {
    "SEARCH_IDENTITY_USER_TOPIC": "bench.social.unused-user.v1",
    "SEARCH_IDENTITY_GRAPH_TOPIC": "bench.social.unused-graph.v1",
    "SEARCH_CONTENT_COMMUNITY_TOPIC": "bench.social.unused-community.v1",
}
OPS = ("home", "user", "compose")
TOKEN_MAX_AGE_S = 10 * 60  # access tokens live 15 min


def _splitmix(x: int) -> int:
    mask = (1 << 64) - 1
    x = (x + 0x9E3779B97F4A7C15) & mask
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
    return x ^ (x >> 31)


# --------------------------------------------------------------------------- workloads


@dataclass(frozen=True)
class SocialMix(RequestFactory):
    """The mixed workload; request ``index`` is a pure function of (salt, index).

    60 % ``GET /v1/content/timeline/home?limit=10`` as a uniformly random user, 30 %
    ``GET /v1/content/users/<random user>/posts?limit=10`` as another random user, 10 %
    ``POST /v1/content/posts`` as a random user, with text ending ``<marker> n<index>q``.
    """

    tokens: tuple[str, ...]
    user_ids: tuple[str, ...]
    salt: int
    marker: str
    home_pct: int = 60
    user_pct: int = 30

    def op_for(self, index: int) -> str:
        roll = _splitmix(self.salt * 1_000_003 + index) % 100
        if roll < self.home_pct:
            return "home"
        return "user" if roll < self.home_pct + self.user_pct else "compose"

    def build(self, target: Target) -> Callable[[int], bytes]:
        words = ZipfWords(vocabulary())
        auth = [{"Authorization": f"Bearer {t}", "Accept": "application/json"} for t in self.tokens]
        base = target.base_path
        n = len(self.tokens)

        def make(index: int) -> bytes:
            h = _splitmix(self.salt * 1_000_003 + index)
            op = self.op_for(index)
            caller = (h >> 8) % n
            if op == "home":
                return encode_request(
                    "GET", f"{base}/v1/content/timeline/home?limit=10", target.host, auth[caller]
                )
            if op == "user":
                owner = self.user_ids[(h >> 24) % n]
                return encode_request(
                    "GET", f"{base}/v1/content/users/{owner}/posts?limit=10", target.host,
                    auth[caller],
                )  # fmt: skip
            text = f"{words.sentence(random.Random(h), 4, 16)} {self.marker} n{index}q"
            body = json.dumps({"text": text}, ensure_ascii=False).encode()
            headers = {**auth[caller], "Content-Type": "application/json"}
            return encode_request("POST", f"{base}/v1/content/posts", target.host, headers, body)

        return make


@dataclass(frozen=True)
class SearchQueries(RequestFactory):
    """``GET /v1/search/posts?q=<1-2 Zipf words>&limit=10`` as a random signed-in user
    (with ``&facets=false`` when ``facets`` is off)."""

    tokens: tuple[str, ...]
    salt: int
    facets: bool = True

    def query_for(self, index: int, words: ZipfWords) -> str:
        return words.query(random.Random(_splitmix(self.salt * 1_000_003 + index)))

    def build(self, target: Target) -> Callable[[int], bytes]:
        words = ZipfWords(vocabulary())
        auth = [{"Authorization": f"Bearer {t}", "Accept": "application/json"} for t in self.tokens]

        def make(index: int) -> bytes:
            h = _splitmix(self.salt * 1_000_003 + index)
            q = quote(self.query_for(index, words))
            path = f"{target.base_path}/v1/search/posts?q={q}&limit=10"
            if not self.facets:
                path += "&facets=false"
            return encode_request("GET", path, target.host, auth[(h >> 8) % len(self.tokens)])

        return make


# --------------------------------------------------------------------------- seeding


@dataclass
class Users:
    """The benchmark's accounts: username, id, and a live token pair each."""

    names: list[str]
    ids: list[str] = field(default_factory=list)
    access: list[str] = field(default_factory=list)
    refresh: list[str] = field(default_factory=list)
    tokens_at: float = 0.0


async def _gather_limited(n: int, coros: Sequence[Any], progress: str = "") -> list[Any]:
    sem = asyncio.Semaphore(n)
    done = 0
    t0 = time.monotonic()

    async def one(c: Any) -> Any:
        nonlocal done
        async with sem:
            out = await c
        done += 1
        if progress and (done % 2000 == 0 or done == len(coros)):
            rate = done / max(time.monotonic() - t0, 1e-9)
            print(f"    {progress}: {done}/{len(coros)} ({rate:.0f}/s)", flush=True)
        return out

    return await asyncio.gather(*(one(c) for c in coros))


async def _login(client: httpx.AsyncClient, username: str) -> tuple[str, str]:
    r = await client.post("/auth/login", json={"login": username, "password": BENCH_PASSWORD})
    if r.status_code != 200:
        raise RuntimeError(f"login {username}: {r.status_code} {r.text[:200]}")
    body = r.json()
    return body["access_token"], body["refresh_token"]


async def _register(client: httpx.AsyncClient, username: str) -> str | None:
    """The new user's id, or None when the username is taken already."""
    r = await client.post(
        "/auth/register",
        json={
            "email": f"{username}@bench.example.com",
            "username": username,
            "password": BENCH_PASSWORD,
        },
    )
    if r.status_code == 409:
        return None
    if r.status_code != 201:
        raise RuntimeError(f"register {username}: {r.status_code} {r.text[:200]}")
    return str(r.json()["id"])


async def ensure_users(identity: str, users: Users, known_ids: list[str] | None) -> None:
    """Register (when ``known_ids`` is None) and log in every user, 4 at a time.

    Registration and login each cost one argon2id hash in identity (~25 ms of CPU), so
    more parallelism would only queue on identity's cores.
    """
    async with httpx.AsyncClient(base_url=identity, timeout=60) as client:
        if known_ids is None:
            ids = await _gather_limited(
                4, [_register(client, n) for n in users.names], "registered"
            )
        else:
            ids = list(known_ids)
        pairs = await _gather_limited(4, [_login(client, n) for n in users.names], "logged in")
        users.access = [a for a, _ in pairs]
        users.refresh = [r for _, r in pairs]
        users.tokens_at = time.monotonic()
        missing = [i for i, uid in enumerate(ids) if uid is None]
        for i in missing:  # taken username from an earlier, unrecorded run: ask who it is
            r = await client.get("/me", headers={"Authorization": f"Bearer {users.access[i]}"})
            r.raise_for_status()
            ids[i] = str(r.json()["id"])
        users.ids = [str(i) for i in ids]


async def refresh_tokens(identity: str, users: Users, *, force: bool = False) -> None:
    """Trade every refresh token for a new pair when the access tokens are getting old."""
    if not force and time.monotonic() - users.tokens_at < TOKEN_MAX_AGE_S:
        return

    async with httpx.AsyncClient(base_url=identity, timeout=60) as client:

        async def one(rt: str) -> tuple[str, str]:
            r = await client.post("/auth/refresh", json={"refresh_token": rt})
            r.raise_for_status()
            body = r.json()
            return body["access_token"], body["refresh_token"]

        pairs = await _gather_limited(16, [one(rt) for rt in users.refresh])
    users.access = [a for a, _ in pairs]
    users.refresh = [r for _, r in pairs]
    users.tokens_at = time.monotonic()
    print(f"  refreshed {len(pairs)} token pairs", flush=True)


async def follow_all(identity: str, users: Users, graph: Graph) -> None:
    """Every edge as two follows through identity's API, 16 requests in flight."""
    follows = graph.follows()
    async with httpx.AsyncClient(base_url=identity, timeout=60) as client:

        async def one(a: int, b: int) -> None:
            for attempt in range(5):
                r = await client.post(
                    f"/users/{users.ids[b]}/follow",
                    headers={"Authorization": f"Bearer {users.access[a]}"},
                )
                if r.status_code == 200:
                    return
                if r.status_code < 500 and r.status_code != 429:
                    raise RuntimeError(f"follow: {r.status_code} {r.text[:200]}")
                await asyncio.sleep(0.2 * 2**attempt)
            raise RuntimeError(f"follow kept failing: {r.status_code}")

        await _gather_limited(16, [one(a, b) for a, b in follows], "follows")


async def seed_posts(content: str, users: Users, per_user: int) -> int:
    """``per_user`` posts by every user through content's API, 8 in flight."""
    words = ZipfWords(vocabulary())
    rng = random.Random(4242)
    jobs = [(u, words.sentence(rng)) for u in range(len(users.ids)) for _ in range(per_user)]
    rng.shuffle(jobs)
    async with httpx.AsyncClient(base_url=content, timeout=60) as client:

        async def one(u: int, text: str) -> None:
            r = await client.post(
                "/posts",
                json={"text": text},
                headers={"Authorization": f"Bearer {users.access[u]}"},
            )
            if r.status_code != 201:
                raise RuntimeError(f"post: {r.status_code} {r.text[:200]}")

        await _gather_limited(8, [one(u, t) for u, t in jobs], "posts")
    return len(jobs)


async def consumer_lag(groups: dict[str, Sequence[str]]) -> dict[str, int]:
    """Records each consumer group still has to apply, summed over its topics' partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA)
    await admin.start()
    await consumer.start()
    try:
        existing = await consumer.topics()
        out: dict[str, int] = {}
        for group, topics in groups.items():
            tps = [
                TopicPartition(t, p)
                for t in topics
                if t in existing
                for p in sorted(consumer.partitions_for_topic(t) or ())
            ]
            ends = await consumer.end_offsets(tps) if tps else {}
            committed = await admin.list_consumer_group_offsets(group)
            lag = 0
            for tp in tps:
                meta = committed.get(tp)
                lag += max(0, ends[tp] - (meta.offset if meta and meta.offset >= 0 else 0))
            out[group] = lag
        return out
    finally:
        await consumer.stop()
        await admin.close()


async def wait_consumers(groups: dict[str, Sequence[str]], timeout_s: float) -> dict[str, int]:
    """Poll the groups' lag until all are at zero; returns the last lag seen."""
    deadline = time.monotonic() + timeout_s
    last_print = 0.0
    while True:
        lag = await consumer_lag(groups)
        if not any(lag.values()):
            return lag
        if time.monotonic() - last_print > 10:
            print(f"    waiting for consumers: lag {lag}", flush=True)
            last_print = time.monotonic()
        if time.monotonic() > deadline:
            print(f"    consumers still behind after {timeout_s:.0f}s: {lag}", flush=True)
            return lag
        await asyncio.sleep(1.0)


# --------------------------------------------------------------------------- seed state


def seed_path(size: str) -> Path:
    return RESULTS_DIR / f"social-seed-{size}.json"


def load_seed(size: str, n: int, m: int) -> dict[str, Any]:
    path = seed_path(size)
    if path.exists():
        state = json.loads(path.read_text())
        if state.get("n") == n and state.get("m") == m and state.get("graph_seed") == GRAPH_SEED:
            return dict(state)
    return {"n": n, "m": m, "graph_seed": GRAPH_SEED, "tag": secrets.token_hex(3)}


def store_seed(size: str, state: dict[str, Any]) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    seed_path(size).write_text(json.dumps(state, indent=1))


# --------------------------------------------------------------------------- lag poller


@dataclass
class SearchablePoller:
    """Asks search for ``marker`` (newest first, no facets) every ``interval_s``; stamps
    first sightings.

    ``seen`` maps a compose's slot index to the CLOCK_MONOTONIC ns at which the response
    that first contained it arrived. Pages further (up to ``max_pages``) while a whole
    page is new, so a burst of indexing cannot hide posts below the first page.
    """

    search_url: str
    marker: str
    interval_s: float = 0.05
    max_pages: int = 8
    seen: dict[int, int] = field(default_factory=dict)
    polls: int = 0
    poll_errors: int = 0

    async def run(self, stop: asyncio.Event, expected: Callable[[], set[int] | None]) -> None:
        pattern = re.compile(rf"{re.escape(self.marker)} n(\d+)q")
        async with httpx.AsyncClient(base_url=self.search_url, timeout=5) as client:
            while True:
                started = time.monotonic()
                cursor: str | None = None
                for _ in range(self.max_pages):
                    # No facets: the poller is the instrument, not user traffic, and
                    # facet counts are most of what a broad query costs Typesense.
                    params = {"q": self.marker, "sort": "newest", "limit": "50", "facets": "false"}
                    if cursor:
                        params["cursor"] = cursor
                    try:
                        r = await client.get("/posts", params=params)
                        arrived = time.monotonic_ns()
                        r.raise_for_status()
                        body = r.json()
                    except (httpx.HTTPError, ValueError):
                        self.poll_errors += 1
                        break
                    self.polls += 1
                    fresh = 0
                    for hit in body.get("items", []):
                        match = pattern.search(hit.get("text", ""))
                        if match and int(match.group(1)) not in self.seen:
                            self.seen[int(match.group(1))] = arrived
                            fresh += 1
                    cursor = body.get("next_cursor")
                    if not cursor or fresh < len(body.get("items", [])):
                        break
                want = expected()
                if stop.is_set() and (want is None or want <= self.seen.keys()):
                    return
                await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))


# --------------------------------------------------------------------------- the bench


def _op_summary(
    records: Sequence[tuple[int, int, int, int, int]], mix: SocialMix
) -> dict[str, Any]:
    by_op: dict[str, list[int]] = {op: [] for op in OPS}
    errors: dict[str, int] = dict.fromkeys(OPS, 0)
    for index, sched, _sent, done, status in records:
        op = mix.op_for(index)
        if 200 <= status < 400:
            by_op[op].append(done - sched)
        else:
            errors[op] += 1
    return {op: {"ok": len(v), "errors": errors[op], **summarize_ns(v)} for op, v in by_op.items()}


def _lag_summary(
    records: Sequence[tuple[int, int, int, int, int]], mix: SocialMix, seen: dict[int, int]
) -> dict[str, Any]:
    lower: list[int] = []
    upper: list[int] = []
    missing = 0
    for index, _sched, sent, done, status in records:
        if mix.op_for(index) != "compose" or status != 201:
            continue
        at = seen.get(index)
        if at is None:
            missing += 1
            continue
        lower.append(at - done)
        upper.append(at - sent)
    return {
        "composed": len(lower) + missing,
        "missing": missing,
        "from_response": summarize_ns(lower),
        "from_send": summarize_ns(upper),
    }


def passes(res: RunResult, slo_p99_ms: float) -> bool:
    return (
        res.achieved_rate >= 0.95 * res.offered_rate
        and res.errors <= 0.001 * res.scheduled
        and res.latency["p99_ms"] <= slo_p99_ms
    )


class Bench:
    def __init__(self, args: argparse.Namespace, users: Users, gateway: str) -> None:
        self.args = args
        self.users = users
        self.gateway = gateway
        self.steps: list[dict[str, Any]] = []
        self.offset = 0
        self.watch = {
            "gateway": pids_listening_on(args.gateway_port),
            "content": pids_listening_on(8202),
            "search": pids_listening_on(8205),
            "identity": pids_listening_on(8201),
            "postgres": [],
            "redis": pids_listening_on(6379),
            "kafka": pids_listening_on(9092),
            "typesense": pids_listening_on(8108),
        }

    def _watch(self) -> dict[str, list[int]]:
        return {**{k: v for k, v in self.watch.items() if v}, "postgres": pids_by_name("postgres")}

    async def mix_step(
        self, label: str, rate: float, duration: float, *, profile: bool = False
    ) -> dict[str, Any]:
        """One constant-rate run of the mix, with the searchable poller beside it."""
        await refresh_tokens(self.args.identity_url, self.users)
        marker = "w" + secrets.token_hex(5)
        mix = SocialMix(
            tuple(self.users.access), tuple(self.users.ids), salt=random.getrandbits(40),
            marker=marker,
        )  # fmt: skip
        cfg = RunConfig(
            self.gateway, rate, duration, mix, connections=self.args.connections,
            timeout_s=10.0, keep_records=True, index_offset=self.offset, watch_pids=self._watch(),
        )  # fmt: skip
        self.offset += round(rate * duration) + 1
        poller = SearchablePoller(self.args.search_url, marker)
        stop = asyncio.Event()
        expected: set[int] | None = None
        poll_task = asyncio.create_task(poller.run(stop, lambda: expected))
        loop = asyncio.get_running_loop()
        prof: dict[str, Any] = {}
        with contextlib.ExitStack() as stack:
            if profile:
                pids = {
                    name: self.watch[name][0]
                    for name in ("gateway", "content", "search")
                    if self.watch.get(name)
                }
                prof = stack.enter_context(
                    social_profile.record(pids, duration, RESULTS_DIR / "social-profile")
                )
            res = await loop.run_in_executor(None, run_in_process, cfg)
        expected = {r[0] for r in res.records if mix.op_for(r[0]) == "compose" and r[4] == 201}
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(poll_task, self.args.lag_drain_s)
        ok = passes(res, self.args.slo_p99_ms)
        row = {
            "label": label,
            "pass": ok,
            "per_op": _op_summary(res.records, mix),
            "indexing_lag": {
                **_lag_summary(res.records, mix, poller.seen),
                "poll_interval_ms": poller.interval_s * 1000,
                "polls": poller.polls,
                "poll_errors": poller.poll_errors,
            },
            **res.to_dict(),
        }
        if profile:
            row["profile"] = prof
        self.steps.append(row)
        per = row["per_op"]
        lag = row["indexing_lag"]["from_response"]
        print(
            f"  {label:10s} {'PASS' if ok else 'FAIL'} {res.brief()}\n"
            f"             home p50/p99 {per['home']['p50_ms']:.1f}/{per['home']['p99_ms']:.1f}"
            f"  user {per['user']['p50_ms']:.1f}/{per['user']['p99_ms']:.1f}"
            f"  compose {per['compose']['p50_ms']:.1f}/{per['compose']['p99_ms']:.1f} ms"
            f"  searchable p50/p99 {lag['p50_ms']:.0f}/{lag['p99_ms']:.0f} ms"
            f" (missing {row['indexing_lag']['missing']}/{row['indexing_lag']['composed']})",
            flush=True,
        )
        await asyncio.sleep(self.args.pause_s if ok else 3 * self.args.pause_s)
        return row

    async def ladder(self) -> tuple[dict[str, Any] | None, float]:
        """Step through ``--rates`` until a step fails, bisect once; (best row, failing rate)."""
        best: dict[str, Any] | None = None
        failed_at = math.inf
        for rate in self.args.rates:
            row = await self.mix_step(f"{rate:g}/s", rate, self.args.step_s)
            if not row["pass"]:
                failed_at = rate
                break
            best = row
        if best is not None and failed_at < math.inf:
            mid = round((best["offered_rate"] + failed_at) / 2)
            if best["offered_rate"] < mid < failed_at:
                row = await self.mix_step(f"{mid}/s", mid, self.args.step_s)
                if row["pass"]:
                    best = row
        return best, failed_at

    async def search_step(self, rate: float, duration: float) -> dict[str, Any]:
        await refresh_tokens(self.args.identity_url, self.users)
        req = SearchQueries(
            tuple(self.users.access), salt=random.getrandbits(40),
            facets=not self.args.search_no_facets,
        )  # fmt: skip
        watch = self._watch()
        watch["search"] = pids_listening_on(self.args.private_search_port)
        cfg = RunConfig(
            self.gateway, rate, duration, req, connections=self.args.connections,
            timeout_s=10.0, watch_pids=watch,
        )  # fmt: skip
        res = await asyncio.get_running_loop().run_in_executor(None, run_in_process, cfg)
        ok = passes(res, self.args.slo_p99_ms)
        row = {"label": f"search {rate:g}/s", "pass": ok, **res.to_dict()}
        print(f"  search {rate:6g}/s {'PASS' if ok else 'FAIL'} {res.brief()}", flush=True)
        await asyncio.sleep(self.args.pause_s)
        return row


# --------------------------------------------------------------------------- search index


def _hashtags(text: str) -> list[str]:
    return sorted({w[1:] for w in text.split() if w.startswith("#") and len(w) > 1})


async def ensure_topics(names: Sequence[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(n, num_partitions=3, replication_factor=1) for n in names if n not in existing
        ]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()


async def produce_posts(count: int, author_ids: Sequence[str], start: int) -> None:
    """``count`` ``content.post.created`` events (contract shape) on the private topic."""
    from kit.events import CloudEvent
    from kit.ids import uuid7

    words = ZipfWords(vocabulary())
    rng = random.Random(100_000 + start)
    now = datetime.now(UTC)
    producer = AIOKafkaProducer(
        bootstrap_servers=KAFKA, linger_ms=20, max_batch_size=256 * 1024, acks="all"
    )
    await producer.start()
    try:
        pending = []
        for i in range(count):
            post_id = str(uuid7())
            text = words.sentence(rng)
            at = (now - timedelta(seconds=rng.randint(0, 365 * 86400))).isoformat()
            at = at.replace("+00:00", "Z")
            event = CloudEvent.create(
                type="content.post.created",
                source="content",
                subject=post_id,
                data={
                    "post_id": post_id,
                    "author_id": author_ids[rng.randrange(len(author_ids))],
                    "community_id": None,
                    "community_visibility": None,
                    "kind": "post",
                    "text": text,
                    "hashtags": _hashtags(text),
                    "mentions": [],
                    "media": [],
                    "visibility": "public",
                    "created_at": at,
                    "updated_at": at,
                    "edited_at": None,
                    "reaction_counts": {},
                    "comment_count": 0,
                },
            )
            msg = event.to_kafka()
            pending.append(
                await producer.send(SEARCH_TOPIC, msg.value, key=msg.key, headers=msg.headers)
            )
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
                print(f"    produced {start + i + 1}", flush=True)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def indexed_count(search_url: str) -> int:
    r = httpx.get(f"{search_url}/posts", params={"limit": "1"}, timeout=10)
    r.raise_for_status()
    return int(r.json().get("found", 0))


BENCH_DATABASE = "platform_bench_search"
ADMIN_DSN = os.environ.get(
    "PLATFORM_PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)


async def ensure_bench_database() -> str:
    """A database of its own for the private search instance, so the benchmark's
    100k posts never enter the platform's search read model. Returns its URL."""
    import asyncpg

    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        exists = await admin.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", BENCH_DATABASE
        )
        if not exists:
            await admin.execute(f"CREATE DATABASE {BENCH_DATABASE}")
        await admin.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {BENCH_DATABASE} TO search")
    finally:
        await admin.close()
    db = await asyncpg.connect(ADMIN_DSN.rsplit("/", 1)[0] + f"/{BENCH_DATABASE}")
    try:
        await db.execute("CREATE SCHEMA IF NOT EXISTS search AUTHORIZATION search")
        await db.execute(f"ALTER ROLE search IN DATABASE {BENCH_DATABASE} SET search_path = search")
    finally:
        await db.close()
    return f"postgresql+asyncpg://search:search@127.0.0.1:5432/{BENCH_DATABASE}"


@contextlib.contextmanager
def private_search(port: int, database_url: str) -> Iterator[str]:
    env = {
        "SEARCH_HTTP_PORT": str(port),
        "SEARCH_DATABASE_URL": database_url,
        "SEARCH_COLLECTION_PREFIX": SEARCH_PREFIX,
        "SEARCH_CONSUMER_GROUP": "search-bench-social",
        "SEARCH_CONTENT_POST_TOPIC": SEARCH_TOPIC,
        "SEARCH_MIGRATE_ON_START": "true",
        **SEARCH_UNUSED_TOPICS,
    }
    url = f"http://127.0.0.1:{port}"
    with private_service("search", ["serve"], env, f"{url}/livez", "search-private-social"):
        yield url


async def build_search_index(
    args: argparse.Namespace, state: dict[str, Any], users: Users, search_url: str
) -> dict[str, Any]:
    """Top the private index up to ``--search-posts`` documents; wait until indexed."""
    target = args.search_posts
    produced = int(state.get("search_produced", 0))
    if produced < target:
        print(f"  producing {target - produced} post events to {SEARCH_TOPIC}", flush=True)
        await produce_posts(target - produced, users.ids, produced)
        state["search_produced"] = target
        store_seed(args.size, state)
    t0 = time.monotonic()
    first = indexed_count(search_url)
    last_print = t0
    count = first
    while count < target and time.monotonic() - t0 < args.index_wait_s:
        await asyncio.sleep(2)
        count = indexed_count(search_url)
        if time.monotonic() - last_print > 15:
            rate = (count - first) / (time.monotonic() - t0)
            print(f"    indexed {count}/{target} ({rate:.0f}/s)", flush=True)
            last_print = time.monotonic()
    took = time.monotonic() - t0
    print(f"  index holds {count} posts ({took:.0f}s waited)", flush=True)
    return {
        "target": target,
        "indexed": count,
        "waited_s": round(took, 1),
        "index_rate_per_s": round((count - first) / took, 1) if took > 1 else None,
    }


# --------------------------------------------------------------------------- main


def _fmt(x: float) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1f}"


def print_summary(report: dict[str, Any]) -> None:
    print("\n== social-network mix (60 % home, 30 % user timeline, 10 % compose) ==")
    print(
        "| step | offered/s | achieved/s | errors | p50 ms | p99 ms | home p50/p99 | user p50/p99 "
        "| compose p50/p99 | searchable p50/p99 ms (missing) | other CPU % |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---|---|---|---:|")
    for s in report["mix_steps"]:
        per, lag = s["per_op"], s["indexing_lag"]
        print(
            f"| {s['label']}{'' if s['pass'] else ' (fail)'} | {s['offered_rate']:g} "
            f"| {s['achieved_rate']:.1f} | {s['errors']} | {_fmt(s['latency']['p50_ms'])} "
            f"| {_fmt(s['latency']['p99_ms'])} "
            + "".join(f"| {_fmt(per[o]['p50_ms'])} / {_fmt(per[o]['p99_ms'])} " for o in OPS)
            + f"| {_fmt(lag['from_response']['p50_ms'])} / {_fmt(lag['from_response']['p99_ms'])}"
            f" ({lag['missing']}/{lag['composed']}) | {_fmt(s['other_cpu_pct'])} |"
        )
    h = report["headline"]
    print(f"\nmax sustainable mix rate (p99 <= {report['params']['slo_p99_ms']:g} ms): "
          f"{h.get('max_rate')} req/s "
          f"(first failing step: {h.get('first_failing_rate')})")  # fmt: skip
    for key in ("confirm", "target_rate"):
        row = h.get(key)
        if row:
            print(f"  {key}: {row}")
    if report.get("search_steps"):
        print(f"\n== search on {report['search_index']['indexed']} posts ==")
        print("| offered/s | achieved/s | errors | p50 ms | p90 ms | p99 ms | search CPU % "
              "| other CPU % |")  # fmt: skip
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s in report["search_steps"]:
            lat = s["latency"]
            print(
                f"| {s['offered_rate']:g} | {s['achieved_rate']:.1f} | {s['errors']} "
                f"| {_fmt(lat['p50_ms'])} | {_fmt(lat['p90_ms'])} | {_fmt(lat['p99_ms'])} "
                f"| {_fmt(s['watched_cpu_pct'].get('search', math.nan))} "
                f"| {_fmt(s['other_cpu_pct'])} |"
            )
    print("\ntargets: home p99 < 50 ms at 300 req/s; post -> searchable p99 < 1 s; "
          "search p99 < 30 ms")  # fmt: skip


def _row_brief(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "rate": row["offered_rate"],
        "achieved": round(row["achieved_rate"], 1),
        "p50_ms": round(row["latency"]["p50_ms"], 2),
        "p99_ms": round(row["latency"]["p99_ms"], 2),
        "per_op_p50_p99_ms": {
            op: (round(v["p50_ms"], 2), round(v["p99_ms"], 2)) for op, v in row["per_op"].items()
        },
        "searchable_p50_p99_ms": (
            round(row["indexing_lag"]["from_response"]["p50_ms"], 1),
            round(row["indexing_lag"]["from_response"]["p99_ms"], 1),
        ),
        "other_cpu_pct": row["other_cpu_pct"],
    }


async def amain(args: argparse.Namespace) -> int:
    identity, content = args.identity_url, args.content_url
    for url in (identity, content, args.search_url):
        print(f"waiting for {url}/livez ...", flush=True)
        wait_ready(f"{url}/livez", timeout_s=120)
    n, m = (args.users, args.edges)
    graph = heavy_tailed_graph(n, m)
    print(f"graph: {n} users, {m} edges ({2 * m} follows), degrees {graph.degree_stats()}")
    state = load_seed(args.size, n, m)
    users = Users([f"sb{state['tag']}_{i:04d}" for i in range(n)])
    t_seed = time.monotonic()
    seed_times: dict[str, float] = {}

    t = time.monotonic()
    await ensure_users(identity, users, state.get("user_ids"))
    if state.get("user_ids") is None:
        state["user_ids"] = users.ids
        store_seed(args.size, state)
    seed_times["users_s"] = round(time.monotonic() - t, 1)
    if not state.get("follows_done"):
        t = time.monotonic()
        await follow_all(identity, users, graph)
        state["follows_done"] = True
        store_seed(args.size, state)
        seed_times["follows_s"] = round(time.monotonic() - t, 1)
    if state.get("posts_per_user", 0) < args.posts_per_user:
        t = time.monotonic()
        await seed_posts(content, users, args.posts_per_user - state.get("posts_per_user", 0))
        state["posts_per_user"] = args.posts_per_user
        store_seed(args.size, state)
        seed_times["posts_s"] = round(time.monotonic() - t, 1)
    t = time.monotonic()
    lag = await wait_consumers(
        {
            "content": ["identity.user.v1", "identity.graph.v1"],
            "content-timelines": ["content.post.v1"],
            "search": ["identity.user.v1", "identity.graph.v1", "content.post.v1"],
        },
        args.consumer_wait_s,
    )
    seed_times["consumers_catch_up_s"] = round(time.monotonic() - t, 1)
    seed_times["total_s"] = round(time.monotonic() - t_seed, 1)
    print(f"seeded in {seed_times} (consumer lag now {lag})", flush=True)

    report: dict[str, Any] = {
        "benchmark": "social_network",
        "machine": machine_info(),
        "params": {k: v for k, v in vars(args).items()},
        "graph": {"users": n, "edges": m, "follows": 2 * m, "degrees": graph.degree_stats()},
        "seed": {**seed_times, "tag": state["tag"], "consumer_lag_after": lag},
        "mix_steps": [],
        "search_steps": [],
    }
    headline: dict[str, Any] = {}
    report["headline"] = headline
    gw_env = {
        **RAISED_LIMITS,
        "GATEWAY_HTTP_PORT": str(args.gateway_port),
        "SEARCH_URL": f"http://127.0.0.1:{args.private_search_port}",
    }
    # Created up front so the private search instance finds its topics when it starts.
    await ensure_topics([SEARCH_TOPIC, *SEARCH_UNUSED_TOPICS.values()])
    bench_db = await ensure_bench_database()
    try:
        with (
            private_search(args.private_search_port, bench_db) as psearch,
            private_service(
                "gateway", [], gw_env, f"http://127.0.0.1:{args.gateway_port}/livez",
                "gateway-private-social",
            ),
        ):  # fmt: skip
            gateway = f"http://127.0.0.1:{args.gateway_port}"
            bench = Bench(args, users, gateway)
            if not args.skip_mix:
                print("warm-up", flush=True)
                await bench.mix_step("warm-up", args.rates[0], min(5.0, args.step_s))
                bench.steps.clear()
                best, failed_at = await bench.ladder()
                headline["max_rate"] = best["offered_rate"] if best else 0
                headline["first_failing_rate"] = failed_at if failed_at < math.inf else None
                if best is not None:
                    row = await bench.mix_step(
                        "confirm", best["offered_rate"], args.confirm_s, profile=args.profile
                    )
                    headline["confirm"] = _row_brief(row)
                if args.target_rate and not any(
                    s["offered_rate"] == args.target_rate for s in bench.steps
                ):
                    row = await bench.mix_step(
                        f"target {args.target_rate:g}", args.target_rate, args.step_s,
                        profile=args.profile and best is None,
                    )  # fmt: skip
                tr = [s for s in bench.steps if s["offered_rate"] == args.target_rate]
                if tr:
                    headline["target_rate"] = _row_brief(tr[-1])
                report["mix_steps"] = bench.steps
            if args.search_posts > 0:
                report["search_index"] = await build_search_index(args, state, users, psearch)
                for rate in args.search_rates:
                    row = await bench.search_step(rate, args.step_s)
                    report["search_steps"].append(row)
                    if not row["pass"]:
                        break
    finally:
        path = save_results("social", report)
    print_summary(report)
    print(f"\nresults: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="DeathStarBench social-network mix + search")
    p.add_argument("--quick", action="store_true", help="small graph, short steps (validation)")
    p.add_argument("--identity-url", default="http://127.0.0.1:8201")
    p.add_argument("--content-url", default="http://127.0.0.1:8202")
    p.add_argument("--search-url", default="http://127.0.0.1:8205", help="for the lag poller")
    p.add_argument("--gateway-port", type=int, default=18082, help="private gateway")
    p.add_argument("--private-search-port", type=int, default=18205)
    p.add_argument("--rates", help="mix ladder, comma-separated req/s")
    p.add_argument("--target-rate", type=float, default=300.0)
    p.add_argument("--search-rates", help="search ladder, comma-separated req/s")
    p.add_argument("--search-posts", type=int, help="posts in the search index (0: skip)")
    p.add_argument("--search-no-facets", action="store_true",
                   help="search queries ask for no facets (facets=false)")  # fmt: skip
    p.add_argument("--posts-per-user", type=int, help="posts seeded per user for timelines")
    p.add_argument("--step-s", type=float)
    p.add_argument("--confirm-s", type=float)
    p.add_argument("--pause-s", type=float, default=2.0)
    p.add_argument("--slo-p99-ms", type=float, default=200.0)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--lag-drain-s", type=float, default=15.0)
    p.add_argument("--consumer-wait-s", type=float, default=900.0)
    p.add_argument("--index-wait-s", type=float, default=3600.0)
    p.add_argument("--skip-mix", action="store_true", help="only the search phase")
    p.add_argument("--profile", action="store_true", help="py-spy gateway/content/search")
    args = p.parse_args(argv)
    quick = args.quick
    args.size = "quick" if quick else "full"
    args.users, args.edges = (120, 1200) if quick else (REED98_USERS, REED98_EDGES)
    args.rates = [float(r) for r in (args.rates or ("20,40,80,160" if quick else
                  "25,50,100,150,200,300,400,500,700,1000")).split(",")]  # fmt: skip
    args.search_rates = [float(r) for r in (args.search_rates or ("10,25,50" if quick else
                         "10,25,50,100,200")).split(",")]  # fmt: skip
    if args.search_posts is None:
        args.search_posts = 5_000 if quick else 100_000
    if args.posts_per_user is None:
        args.posts_per_user = 2 if quick else 5
    args.step_s = args.step_s or (5.0 if quick else 20.0)
    args.confirm_s = args.confirm_s or (10.0 if quick else 60.0)
    if quick and args.target_rate == 300.0:
        args.target_rate = 0.0
    from loadgen import install_fast_loop

    install_fast_loop()
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
