"""Open-loop (constant-rate) HTTP/1.1 load generator.

Request ``k`` of a run is *scheduled* at ``t0 + k / rate``. Its latency is measured
from that scheduled instant to the last byte of its response, not from the moment it
was actually written to a socket. When the server (or the generator) falls behind,
the requests that had to wait are charged with the wait, so a stall shows up in the
percentiles the way a user would feel it instead of being hidden by a client that
politely stopped sending (coordinated omission).

Design, chosen to keep the generator cheap on a small machine it shares with the
servers it measures:

* raw asyncio protocol on keep-alive HTTP/1.1 connections (no HTTP library), the
  pool opened before the clock starts, uvloop when installed;
* one worker coroutine per connection; a worker claims the next slot index, sleeps
  until its scheduled time (or not at all when it is already late), sends, reads the
  response, records. No task per request;
* each run can be executed in a dedicated child process (:func:`run_in_process`) so
  it has its own event loop and its CPU time is measured alone (``getrusage``);
* latencies are kept as integer nanoseconds in an ``array`` and percentiles are
  taken from the sorted list (nearest rank), exact rather than bucketed.

Also reported: the *send lag* (actual send minus scheduled time, the generator's own
contribution to latency) and the *service time* (response minus actual send, what a
closed-loop tool would report).

Run ``python e2e-tests/bench/loadgen.py --selftest`` to check the generator against a
trivial local server and to find its own ceiling on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import resource
import socket
import sys
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

# --------------------------------------------------------------------------- statistics


def percentile(sorted_values: Sequence[int] | Sequence[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0..100) of an already sorted sequence.

    Returns ``nan`` for an empty sequence. ``q=100`` is the maximum, ``q=0`` the minimum.
    """
    n = len(sorted_values)
    if n == 0:
        return math.nan
    if q <= 0:
        return float(sorted_values[0])
    rank = math.ceil(q / 100.0 * n)
    return float(sorted_values[min(max(rank, 1), n) - 1])


def summarize_ns(values: Sequence[int]) -> dict[str, float]:
    """p50/p90/p99/p99.9/max and mean of nanosecond samples, in milliseconds."""
    ordered = sorted(values)
    out = {
        f"p{label}_ms": percentile(ordered, q) / 1e6
        for label, q in (("50", 50), ("90", 90), ("99", 99), ("999", 99.9))
    }
    out["max_ms"] = (ordered[-1] / 1e6) if ordered else math.nan
    out["mean_ms"] = (sum(ordered) / len(ordered) / 1e6) if ordered else math.nan
    return out


def median(values: Sequence[float]) -> float:
    """Median of a non-empty list (mean of the middle two for an even count); nan if empty."""
    ordered = sorted(v for v in values if not math.isnan(v))
    n = len(ordered)
    if n == 0:
        return math.nan
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Target:
    """Where requests go: ``http://host:port``, parsed from a URL."""

    host: str
    port: int
    base_path: str = ""

    @classmethod
    def from_url(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise ValueError(f"only plain http:// targets are supported, got {url!r}")
        return cls(parts.hostname or "127.0.0.1", parts.port or 80, parts.path.rstrip("/"))


def encode_request(
    method: str,
    path: str,
    host: str,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    """Serialize one HTTP/1.1 keep-alive request (adds Host and Content-Length)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True)
class StaticRequest:
    """The same request every time (picklable, so it can cross into a child process)."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def build(self, target: Target) -> Callable[[int], bytes]:
        raw = encode_request(
            self.method, target.base_path + self.path, target.host, dict(self.headers), self.body
        )
        return lambda _index: raw


class RequestFactory:
    """Interface for per-request payloads: ``build(target)`` returns ``index -> raw bytes``.

    Subclasses must be picklable (defined at module level) to run in a child process.
    """

    def build(self, target: Target) -> Callable[[int], bytes]:  # pragma: no cover - interface
        raise NotImplementedError


# --------------------------------------------------------------------------- HTTP/1.1 client


class ConnectionLost(Exception):
    """The server closed the connection before a full response arrived."""


class _HttpProtocol(asyncio.Protocol):
    """Minimal HTTP/1.1 response reader: Content-Length, chunked, or read-to-close."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._try_complete(eof=False)

    def eof_received(self) -> bool | None:
        self._try_complete(eof=True)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._try_complete(eof=True)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionLost(str(exc) if exc else "connection closed"))

    def send(self, raw: bytes) -> asyncio.Future[tuple[int, bytes, bool]]:
        if self.closed or self.transport is None:
            raise ConnectionLost("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return self.waiter

    def _try_complete(self, *, eof: bool) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        parsed = _parse_response(self.buf, eof=eof)
        if parsed is None:
            return
        status, body, consumed, keep_alive = parsed
        del self.buf[:consumed]
        waiter.set_result((status, body, keep_alive))


def _parse_response(buf: bytearray, *, eof: bool) -> tuple[int, bytes, int, bool] | None:
    """Return (status, body, bytes consumed, keep_alive) once ``buf`` holds a full response."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buf[:head_end]).decode("latin-1").split("\r\n")
    status_parts = head[0].split(" ", 2)
    status = int(status_parts[1])
    length: int | None = None
    chunked = False
    keep_alive = status_parts[0] == "HTTP/1.1"
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif name == "connection":
            keep_alive = value.strip().lower() != "close"
    start = head_end + 4
    if status in (204, 304) or 100 <= status < 200:
        return status, b"", start, keep_alive
    if chunked:
        pos, body = start, bytearray()
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(bytes(buf[pos:line_end]).split(b";", 1)[0], 16)
            pos = line_end + 2
            if size == 0:
                trailer_end = buf.find(b"\r\n\r\n", pos - 2)
                if trailer_end < 0:
                    return None
                return status, bytes(body), trailer_end + 4, keep_alive
            if len(buf) < pos + size + 2:
                return None
            body += buf[pos : pos + size]
            pos += size + 2
    if length is not None:
        if len(buf) < start + length:
            return None
        return status, bytes(buf[start : start + length]), start + length, keep_alive
    if eof:
        return status, bytes(buf[start:]), len(buf), False
    return None


async def _open(target: Target, connect_timeout: float) -> _HttpProtocol:
    loop = asyncio.get_running_loop()
    _, proto = await asyncio.wait_for(
        loop.create_connection(_HttpProtocol, target.host, target.port), connect_timeout
    )
    return proto


# --------------------------------------------------------------------------- the run


@dataclass
class RunConfig:
    """One constant-rate run. ``rate`` in requests/s, ``duration_s`` of scheduling."""

    url: str
    rate: float
    duration_s: float
    request: Any  # StaticRequest | RequestFactory
    connections: int = 64
    timeout_s: float = 10.0
    connect_timeout_s: float = 5.0
    #: Keep per-request timing records (index, scheduled, sent, done, status) in the result.
    keep_records: bool = False
    #: Slot indexes start here (lets a factory produce unique payloads across runs).
    index_offset: int = 0
    #: Processes whose CPU to measure over the run, by group name (e.g. the servers).
    watch_pids: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class RunResult:
    """What one run measured. Latencies are milliseconds from the *scheduled* send time."""

    offered_rate: float
    duration_s: float
    scheduled: int
    completed: int
    ok: int
    errors: int
    error_kinds: dict[str, int]
    status_counts: dict[str, int]
    achieved_rate: float
    latency: dict[str, float]
    service_time: dict[str, float]
    send_lag: dict[str, float]
    wall_s: float
    generator_cpu_s: float
    generator_cpu_pct: float
    connections: int
    #: CPU of each watched group over the run, in % of one core (200 = both cores here).
    watched_cpu_pct: dict[str, float] = field(default_factory=dict)
    #: Whole-machine CPU busy over the run, in % of all cores.
    machine_busy_pct: float = math.nan
    #: CPU of everything else on the machine (% of one core): neither watched nor the
    #: generator. High values mean the run shared the machine and is not clean.
    other_cpu_pct: float = math.nan
    #: (index, scheduled_ns, sent_ns, done_ns, status) on CLOCK_MONOTONIC; status -1 = error.
    records: list[tuple[int, int, int, int, int]] = field(default_factory=list)

    def brief(self) -> str:
        lat = self.latency
        return (
            f"offered {self.offered_rate:8.1f}/s  achieved {self.achieved_rate:8.1f}/s  "
            f"ok {self.ok:6d}  err {self.errors:5d}  p50 {lat['p50_ms']:8.2f}  "
            f"p90 {lat['p90_ms']:8.2f}  p99 {lat['p99_ms']:8.2f}  max {lat['max_ms']:8.2f} ms  "
            f"lag.p99 {self.send_lag['p99_ms']:6.2f} ms  gen.cpu {self.generator_cpu_pct:5.1f}%"
            + "".join(f"  {k}.cpu {v:5.1f}%" for k, v in self.watched_cpu_pct.items())
            + f"  busy {self.machine_busy_pct:5.1f}%  other.cpu {self.other_cpu_pct:5.1f}%"
        )

    def to_dict(self, *, with_records: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_records:
            data.pop("records")
        return data


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_open_loop(config: RunConfig) -> RunResult:
    """Run one constant-rate schedule in the current event loop and measure it.

    The connection pool is opened before the clock starts. A request that gets no
    complete response within ``timeout_s`` of its scheduled time, or whose connection
    fails, counts as an error and its connection is replaced. Non-2xx/3xx statuses
    count as errors too (``status_counts`` has the breakdown). Raises ``OSError`` when
    the pool cannot be opened at all.
    """
    target = Target.from_url(config.url)
    build = config.request.build(target)
    total = max(1, round(config.rate * config.duration_s))
    interval_ns = 1e9 / config.rate
    n_conn = max(1, min(config.connections, total))
    pool = [await _open(target, config.connect_timeout_s) for _ in range(n_conn)]

    lat = array("q")
    svc = array("q")
    lag = array("q")
    records: list[tuple[int, int, int, int, int]] = []
    status_counts: dict[str, int] = {}
    error_kinds: dict[str, int] = {}
    next_slot = 0
    last_done = 0
    timeout_ns = int(config.timeout_s * 1e9)
    clock = time.monotonic_ns
    loop = asyncio.get_running_loop()

    meter = CpuMeter(config.watch_pids)
    busy = total_cpu_busy_fraction()
    meter.start()
    cpu0 = _cpu_seconds()
    t0 = clock() + 20_000_000  # 20 ms to let every worker reach its first sleep
    deadline_all = t0 + int(config.duration_s * 1e9) + timeout_ns + 1_000_000_000

    async def worker(slot: int) -> None:
        nonlocal next_slot, last_done
        conn = pool[slot]
        while True:
            k = next_slot
            if k >= total:
                return
            next_slot = k + 1
            sched = t0 + int(k * interval_ns)
            delay = sched - clock()
            if delay > 0:
                await asyncio.sleep(delay / 1e9)
            index = config.index_offset + k
            raw = build(index)
            sent = clock()
            status = -1
            try:
                if conn.closed:
                    conn = await _open(target, config.connect_timeout_s)
                    pool[slot] = conn
                    sent = clock()
                remaining = (sched + timeout_ns - sent) / 1e9
                if remaining <= 0:
                    raise TimeoutError
                status, _body, keep_alive = await asyncio.wait_for(conn.send(raw), remaining)
                done = clock()
                if not keep_alive and conn.transport is not None:
                    conn.transport.close()
                    conn.closed = True
            except TimeoutError:
                done = clock()
                error_kinds["timeout"] = error_kinds.get("timeout", 0) + 1
                if conn.transport is not None:
                    conn.transport.abort()
                conn.closed = True
            except (OSError, ConnectionLost, ValueError) as exc:
                done = clock()
                kind = type(exc).__name__
                error_kinds[kind] = error_kinds.get(kind, 0) + 1
                if conn.transport is not None:
                    conn.transport.abort()
                conn.closed = True
            if status >= 0:
                key = str(status)
                status_counts[key] = status_counts.get(key, 0) + 1
            if 200 <= status < 400:
                lat.append(done - sched)
                svc.append(done - sent)
                lag.append(max(0, sent - sched))
                last_done = max(last_done, done)
            if config.keep_records:
                records.append((index, sched, sent, done, status))

    tasks = [loop.create_task(worker(i)) for i in range(n_conn)]
    try:
        await asyncio.wait_for(
            asyncio.gather(*tasks), max(1.0, (deadline_all - clock()) / 1e9 + 5.0)
        )
    finally:
        for t in tasks:
            t.cancel()
        for conn in pool:
            if conn.transport is not None:
                conn.transport.close()
    wall_ns = max(clock() - t0, 1)
    cpu = _cpu_seconds() - cpu0
    watched = {name: round(pct, 1) for name, pct in meter.stop().items()}
    machine_busy = busy()
    ok = len(lat)
    non_ok = sum(c for s, c in status_counts.items() if not 200 <= int(s) < 400)
    if non_ok:
        error_kinds["http_status"] = non_ok
    errors = total - ok
    # Throughput over the span from the first scheduled send to the last good response:
    # a server that cannot keep up stretches the span and the rate drops below offered.
    span_s = max((last_done - t0) / 1e9, config.duration_s) if ok else config.duration_s
    return RunResult(
        offered_rate=config.rate,
        duration_s=config.duration_s,
        scheduled=total,
        completed=ok + non_ok,
        ok=ok,
        errors=errors,
        error_kinds=error_kinds,
        status_counts=status_counts,
        achieved_rate=ok / span_s,
        latency=summarize_ns(lat),
        service_time=summarize_ns(svc),
        send_lag=summarize_ns(lag),
        wall_s=wall_ns / 1e9,
        generator_cpu_s=cpu,
        generator_cpu_pct=100.0 * cpu / (wall_ns / 1e9),
        connections=n_conn,
        watched_cpu_pct=watched,
        machine_busy_pct=round(machine_busy, 1),
        other_cpu_pct=round(
            machine_busy * (os.cpu_count() or 1)
            - sum(watched.values())
            - 100.0 * cpu / (wall_ns / 1e9),
            1,
        ),
        records=records,
    )


def install_fast_loop() -> str:
    """Use uvloop's event loop policy when it is installed; return the loop's name."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def _child_main(config: RunConfig, conn: Any) -> None:
    install_fast_loop()
    try:
        result = asyncio.run(run_open_loop(config))
        conn.send(("ok", result))
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def run_in_process(config: RunConfig) -> RunResult:
    """Run :func:`run_open_loop` in a fresh child process (spawned, uvloop) and return its result.

    The child has nothing else on its event loop, and ``generator_cpu_*`` is its CPU
    alone. Raises ``RuntimeError`` with the child's error when the run failed.
    """
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(config, child), daemon=True)
    proc.start()
    child.close()
    try:
        kind, payload = parent.recv()
    except EOFError as exc:
        raise RuntimeError(f"load generator process died (exit code {proc.exitcode})") from exc
    finally:
        proc.join(timeout=10)
    if kind != "ok":
        raise RuntimeError(f"load generator failed: {payload}")
    return payload


# --------------------------------------------------------------------------- process CPU


def pids_listening_on(port: int) -> list[int]:
    """PIDs of processes with a listening TCP socket on ``port`` (reads /proc; Linux only).

    Processes of other users are silently skipped when their fds can't be read.
    """
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as fh:
            next(fh)
            for line in fh:
                cols = line.split()
                local, state, inode = cols[1], cols[3], cols[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(inode)
    found: list[int] = []
    if not inodes:
        return found
    wanted = {f"socket:[{i}]" for i in inodes}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = f"/proc/{entry}/fd"
        with contextlib.suppress(OSError):
            for fd in os.listdir(fd_dir):
                with contextlib.suppress(OSError):
                    if os.readlink(f"{fd_dir}/{fd}") in wanted:
                        found.append(int(entry))
                        break
    return found


def process_cpu_seconds(pid: int) -> float:
    """User+system CPU seconds used so far by ``pid`` (and its reaped children); nan if gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    ticks = os.sysconf("SC_CLK_TCK")
    # fields[0] is field 3 (state): utime=14, stime=15, cutime=16, cstime=17.
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks


class CpuMeter:
    """CPU used by named groups of processes between :meth:`start` and :meth:`stop`.

    A process that exits in between is left out of its group's total.
    """

    def __init__(self, pids: Mapping[str, Sequence[int]]) -> None:
        self.pids = {name: list(p) for name, p in pids.items()}
        self._start: dict[int, float] = {}
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._start = {p: process_cpu_seconds(p) for ps in self.pids.values() for p in ps}

    def stop(self) -> dict[str, float]:
        """Percent of one core used by each named group since :meth:`start`."""
        wall = max(time.monotonic() - self._t0, 1e-9)
        out = {}
        for name, ps in self.pids.items():
            used = 0.0
            for p in ps:
                delta = process_cpu_seconds(p) - self._start.get(p, math.nan)
                if not math.isnan(delta):
                    used += delta
            out[name] = 100.0 * used / wall
        return out


def total_cpu_busy_fraction() -> Callable[[], float]:
    """Start a whole-machine CPU meter; calling the returned function gives busy % since start."""

    def read() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            vals = [int(v) for v in fh.readline().split()[1:]]
        idle = vals[3] + vals[4]
        return sum(vals), idle

    total0, idle0 = read()

    def done() -> float:
        total1, idle1 = read()
        dt = max(total1 - total0, 1)
        return 100.0 * (1 - (idle1 - idle0) / dt)

    return done


# --------------------------------------------------------------------------- self-test


class _TrivialServer(asyncio.Protocol):
    """Answers every request with a fixed 200; pauses once for ``stall_s`` when told to."""

    stall_at: float | None = None  # CLOCK_MONOTONIC seconds; set per process
    stall_s: float = 0.0
    body = b'{"ok":true}'
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n" + body
    )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buf = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        count = 0
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = bytes(self.buf[:end]).lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                length = int(head[marker + 15 :].split(b"\r\n", 1)[0])
            if len(self.buf) < end + 4 + length:
                break
            del self.buf[: end + 4 + length]
            count += 1
        if not count:
            return
        cls = type(self)
        if cls.stall_at is not None and time.monotonic() >= cls.stall_at:
            cls.stall_at = None
            # Block the whole server, like a GC pause or a stuck worker would.
            time.sleep(cls.stall_s)
        self.transport.write(self.response * count)


def _serve_trivial(port_conn: Any, stall_after_s: float | None, stall_s: float) -> None:
    install_fast_loop()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_TrivialServer, "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        if stall_after_s is not None:
            _TrivialServer.stall_at = time.monotonic() + stall_after_s
            _TrivialServer.stall_s = stall_s
        port_conn.send(port)
        await asyncio.Event().wait()

    asyncio.run(main())


@contextlib.contextmanager
def trivial_server(stall_after_s: float | None = None, stall_s: float = 0.0):  # type: ignore[no-untyped-def]
    """A fixed-response HTTP/1.1 server in a child process; yields its base URL."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_serve_trivial, args=(child, stall_after_s, stall_s), daemon=True)
    proc.start()
    try:
        if not parent.poll(20):
            raise RuntimeError("trivial server did not start")
        port = parent.recv()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.join(5)


def selftest(
    rates: Sequence[float] = (1000, 2000, 4000, 6000, 8000, 10000, 12000),
    duration_s: float = 3.0,
    stall_check: bool = True,
) -> dict[str, Any]:
    """Check correctness and find the generator's ceiling against a trivial server.

    Returns a dict with ``ladder`` (one result per rate), ``ceiling`` (the highest rate
    sustained at >= 95 % with no errors) and ``stall`` (a run with a 0.5 s server stall,
    where open-loop measurement must charge the stall to the ~rate*0.5 requests behind it).
    Raises ``AssertionError`` when a correctness check fails.
    """
    report: dict[str, Any] = {"loop": "uvloop" if _has_uvloop() else "asyncio", "ladder": []}
    get = StaticRequest("GET", "/x", (("Accept", "application/json"),))
    ceiling = 0.0
    with trivial_server() as url:
        for rate in rates:
            res = run_in_process(RunConfig(url, rate, duration_s, get, connections=32))
            report["ladder"].append(res.to_dict())
            print("  selftest", res.brief(), flush=True)
            if res.errors == 0 and res.achieved_rate >= 0.95 * rate:
                ceiling = rate
            else:
                break
    assert ceiling >= rates[0], "generator could not sustain even the lowest self-test rate"
    report["ceiling_rps"] = ceiling

    if stall_check:
        rate, stall = 500.0, 0.5
        with trivial_server(stall_after_s=1.0, stall_s=stall) as url:
            res = run_in_process(RunConfig(url, rate, 3.0, get, connections=32, keep_records=True))
        print("  stall   ", res.brief(), flush=True)
        delayed = sum(1 for r in res.records if r[3] - r[1] > 0.1e9)
        report["stall"] = {**res.to_dict(), "requests_over_100ms": delayed}
        # About rate*stall requests were scheduled during the stall; each must be charged.
        expected = rate * stall
        assert delayed >= 0.6 * expected, (
            f"open-loop accounting lost the stall: {delayed} requests over 100 ms, "
            f"expected about {expected:.0f}"
        )
        assert res.latency["max_ms"] >= 0.8 * stall * 1000
        assert res.errors == 0
    return report


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--selftest", action="store_true", help="check against a local server")
    parser.add_argument("--url", help="run one constant-rate GET against this URL")
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--header", action="append", default=[], help="Name: value")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.selftest:
        report = selftest()
        print(json.dumps({"ceiling_rps": report["ceiling_rps"], "loop": report["loop"]}))
        return 0
    if not args.url:
        parser.error("give --url or --selftest")
    parts = urlsplit(args.url)
    headers = tuple((h.split(":", 1)[0].strip(), h.split(":", 1)[1].strip()) for h in args.header)
    req = StaticRequest("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers)
    base = f"{parts.scheme}://{parts.netloc}"
    res = run_in_process(RunConfig(base, args.rate, args.duration, req, args.connections))
    print(json.dumps(res.to_dict(), indent=2) if args.json else res.brief())
    return 0


if __name__ == "__main__":
    sys.exit(main())
