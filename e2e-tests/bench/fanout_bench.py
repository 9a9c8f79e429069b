"""Realtime fanout: N WebSocket clients on one channel, events published to Kafka.

Three targets, each measured by the Go load program in ``e2e-tests/bench/fanout/``
(one process holds every client and the Kafka producer, so all timestamps share one
monotonic clock; see its package comment for what it measures):

* ``realtime``   — a private realtime-go node (same code, port 18090), clients
  connected to it directly, events published as ``content.reaction.removed`` on
  ``content.reaction.v1`` and delivered to the public ``post:<id>`` channel;
* ``gateway``    — the same node behind a private gateway (same code, port 18081,
  rate limits raised), clients on ``ws://127.0.0.1:18081/v1/realtime``;
* ``centrifugo`` — Centrifugo (built from its Go module, cached under
  ``~/.cache/platform/``) on port 18100, fed by its own Kafka consumer from a fresh
  topic in publication-data mode, with the same event bytes, one channel, Redis engine
  and a 500-event history like realtime-go's.

Each target gets a fresh server, the clients connect, memory is sampled, then the
publish rate steps up (open loop) until a step fails: fewer than 99.9 % of the expected
deliveries, p99 (Kafka ack → client receipt) above the SLO, or clients dropped.

The platform's own realtime node (8090) also consumes ``content.reaction.v1`` and so
appends the benchmark's events to the same Redis history (as a second node would);
messaging's consumer reads them too and ignores ``reaction.removed``. Nothing the
platform serves is stopped or restarted.

Usage::

    uv run python e2e-tests/bench/fanout_bench.py            # full run (>= 10 000 clients)
    uv run python e2e-tests/bench/fanout_bench.py --quick    # a 300-client validation run
    uv run python e2e-tests/bench/fanout_bench.py --targets realtime,centrifugo --clients 15000

Raw results: ``.data/bench/fanout-<UTC>.json`` (plus one file per target run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from benchlib import (
    BENCH_PASSWORD,
    RESULTS_DIR,
    ROOT,
    machine_info,
    private_service,
    register_and_login,
    save_results,
    unique_tag,
    wait_ready,
)
from loadgen import pids_listening_on

CENTRIFUGO_MODULE = "github.com/centrifugal/centrifugo/v6"
CENTRIFUGO_VERSION = "v6.9.1"
CACHE_DIR = Path.home() / ".cache" / "platform"
BIN_DIR = RESULTS_DIR / "bin"
FANOUT_SRC = Path(__file__).resolve().parent / "fanout"
IDENTITY_URL = "http://127.0.0.1:8201"
KAFKA = "127.0.0.1:9092"
REALTIME_PORT = 18090
GATEWAY_PORT = 18081
CENTRIFUGO_PORT = 18100
RAISED_LIMITS = {
    "GATEWAY_RATE_LIMIT_IP_RATE": "1000000",
    "GATEWAY_RATE_LIMIT_IP_BURST": "1000000",
    "GATEWAY_RATE_LIMIT_USER_RATE": "1000000",
    "GATEWAY_RATE_LIMIT_USER_BURST": "1000000",
}
# Sockets a process needs besides its clients (listeners, Kafka, Redis, logs...).
FD_HEADROOM = 400
PY_SPY = "/root/.pyenv/shims/py-spy"


# ------------------------------------------------------------------------------- builds


def go_build(src: Path, package: str, out: Path) -> Path:
    """``go build -o out package`` in ``src``; raises ``RuntimeError`` with the output."""
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["go", "build", "-o", str(out), package], cwd=src, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"go build in {src} failed:\n{proc.stdout}{proc.stderr}")
    return out


def centrifugo_binary(version: str) -> Path:
    """The cached Centrifugo binary, built from its Go module on first use.

    ``go install`` fetches the module and its dependencies through the Go module proxy
    only; nothing of Centrifugo is stored in this repository.
    """
    target = CACHE_DIR / f"centrifugo-{version}"
    exe = target / "centrifugo"
    if exe.exists():
        return exe
    target.mkdir(parents=True, exist_ok=True)
    print(f"building Centrifugo {version} from the Go module proxy (a few minutes, once)...")
    env = {**os.environ, "GOBIN": str(target), "GOFLAGS": "-buildvcs=false"}
    proc = subprocess.run(
        ["go", "install", f"{CENTRIFUGO_MODULE}@{version}"],
        env=env,
        capture_output=True,
        text=True,
        cwd=CACHE_DIR,
    )
    if proc.returncode != 0 or not exe.exists():
        raise RuntimeError(f"go install {CENTRIFUGO_MODULE}@{version} failed:\n{proc.stderr}")
    return exe


# ---------------------------------------------------------------------------- accounts


def login(username: str) -> str:
    """A fresh access token for an existing benchmark account (tokens live 15 min)."""
    r = httpx.post(
        f"{IDENTITY_URL}/auth/login",
        json={"login": username, "password": BENCH_PASSWORD},
        timeout=30.0,
    )
    if r.status_code != 200:
        raise RuntimeError(f"login failed: {r.status_code} {r.text[:300]}")
    return str(r.json()["access_token"])


def write_tokens(usernames: list[str], path: Path) -> Path:
    path.write_text("".join(login(u) + "\n" for u in usernames))
    return path


# ------------------------------------------------------------------------------ servers


def raise_file_limit() -> int:
    """Lift this process' soft open-files limit to the hard one; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def realtime_env(tag: str) -> dict[str, str]:
    return {
        "REALTIME_HTTP_PORT": str(REALTIME_PORT),
        "REALTIME_NODE_ID": f"bench-{REALTIME_PORT}",
        "REALTIME_KAFKA_TOPICS": "content.reaction.v1",
        "REALTIME_KAFKA_START_LOOKBACK": "1s",
        "REALTIME_JWKS_URL": f"{IDENTITY_URL}/.well-known/jwks.json",
        "REALTIME_LOG_LEVEL": "WARNING",
    }


@contextlib.contextmanager
def realtime_node(exe: Path, tag: str) -> Iterator[int]:
    with private_service(
        str(exe),
        [],
        realtime_env(tag),
        f"http://127.0.0.1:{REALTIME_PORT}/readyz",
        "fanout-realtime",
    ) as proc:
        yield proc.pid


@contextlib.contextmanager
def private_gateway() -> Iterator[int]:
    env = {
        **RAISED_LIMITS,
        "GATEWAY_HTTP_PORT": str(GATEWAY_PORT),
        "REALTIME_URL": f"ws://127.0.0.1:{REALTIME_PORT}",
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    with private_service(
        "gateway", [], env, f"http://127.0.0.1:{GATEWAY_PORT}/livez", "fanout-gateway"
    ) as proc:
        yield proc.pid


async def _create_topic(topic: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


def centrifugo_config(topic: str, secret: str, tag: str) -> dict[str, Any]:
    """Centrifugo configured like the realtime node for this workload: one channel any
    authenticated client may join, events from Kafka, Redis engine, 500-event history."""
    return {
        "http_server": {"address": "127.0.0.1", "port": CENTRIFUGO_PORT},
        "log": {"level": "warn"},
        "usage_stats": {"disabled": True},
        "health": {"enabled": True},
        "debug": {"enabled": True},
        "client": {"token": {"hmac_secret_key": secret}, "allowed_origins": ["*"]},
        "http_api": {"key": secrets.token_hex(16)},
        "engine": {
            "type": "redis",
            "redis": {"address": ["redis://127.0.0.1:6379"], "prefix": f"bench-centrifugo-{tag}"},
        },
        "channel": {
            "without_namespace": {
                "allow_subscribe_for_client": True,
                "history_size": 500,
                "history_ttl": "600s",
            }
        },
        "consumers": [
            {
                "name": "bench",
                "enabled": True,
                "type": "kafka",
                "kafka": {
                    "brokers": [KAFKA],
                    "topics": [topic],
                    "consumer_group": f"bench-centrifugo-{tag}",
                    "publication_data_mode": {"enabled": True},
                },
            }
        ],
    }


@contextlib.contextmanager
def centrifugo(exe: Path, topic: str, secret: str, tag: str) -> Iterator[int]:
    asyncio.run(_create_topic(topic))
    cfg_path = RESULTS_DIR / "centrifugo-bench.json"
    cfg_path.write_text(json.dumps(centrifugo_config(topic, secret, tag), indent=2))
    check = subprocess.run(
        [str(exe), "checkconfig", "--config", str(cfg_path)], capture_output=True, text=True
    )
    if check.returncode != 0:
        raise RuntimeError(f"centrifugo checkconfig: {check.stdout}{check.stderr}")
    with private_service(
        str(exe),
        ["--config", str(cfg_path)],
        {},
        f"http://127.0.0.1:{CENTRIFUGO_PORT}/health",
        "fanout-centrifugo",
    ) as proc:
        # Let its Kafka consumer join the group before anything is published.
        time.sleep(3)
        yield proc.pid


# ------------------------------------------------------------------------------ running


def infra_watch() -> list[str]:
    """Kafka and Redis, metered for context (not counted as the server under test)."""
    out = []
    for name, port in (("kafka", 9092), ("redis", 6379)):
        pids = pids_listening_on(port)
        if len(pids) == 1:
            out += ["-watch", f"{name}={pids[0]}"]
    return out


def profile_hook(label: str, watch: dict[str, int], stamp: str) -> tuple[str, dict[str, Path]]:
    """A shell command profiling every watched server for one step: ``perf`` (CPU clock,
    call graphs) for Go processes, ``py-spy`` for the gateway."""
    cmds, files = [], {}
    for name, pid in watch.items():
        if name == "gateway":
            files[name] = RESULTS_DIR / f"profile-{label}-{name}-{stamp}.pyspy.txt"
            cmds.append(
                f"{PY_SPY} record --pid {pid} --duration $STEP_SECONDS --rate 100 "
                f"--format raw --nonblocking -o {files[name]} >/dev/null 2>&1"
            )
        else:
            files[name] = RESULTS_DIR / f"profile-{label}-{name}-{stamp}.perf.data"
            cmds.append(
                f"perf record -e cpu-clock -F 499 -g -p {pid} -o {files[name]} "
                f"-- sleep $STEP_SECONDS >/dev/null 2>&1"
            )
    return " & ".join(cmds) + " & wait", files


def profile_report(name: str, path: Path, top: int = 25) -> str:
    """The hottest functions of a profile as text (also written beside the profile)."""
    if not path.exists():
        return f"{name}: no profile written"
    if path.suffix == ".data":
        proc = subprocess.run(
            [
                "perf",
                "report",
                "-i",
                str(path),
                "--stdio",
                "--no-children",
                "-g",
                "none",
                "--sort",
                "dso,symbol",
                "--percent-limit",
                "0.5",
            ],
            capture_output=True,
            text=True,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
    else:
        leaf: dict[str, int] = {}
        inclusive: dict[str, int] = {}
        total = 0
        for ln in path.read_text().splitlines():
            stack, _, count = ln.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = stack.split(";")
            leaf[frames[-1]] = leaf.get(frames[-1], 0) + n
            for f in set(frames):
                inclusive[f] = inclusive.get(f, 0) + n
        lines = [
            f"{100 * v / max(total, 1):6.2f}%  self  {k}"
            for k, v in sorted(leaf.items(), key=lambda kv: -kv[1])[:top]
        ]
        lines += [
            f"{100 * v / max(total, 1):6.2f}%  incl  {k}"
            for k, v in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]
        ]
    text = "\n".join(lines[: 2 * top])
    path.with_suffix(".top.txt").write_text(text + "\n")
    return f"{name} ({path.name}):\n{text}"


def run_fanout(
    fanout: Path, label: str, proto_args: list[str], watch: dict[str, int], args: Any, clients: int
) -> dict[str, Any]:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = RESULTS_DIR / f"fanout-{label}-{stamp}.json"
    cmd = [
        str(fanout),
        "-label",
        label,
        "-clients",
        str(clients),
        "-rates",
        args.rates,
        "-step",
        f"{args.step}s",
        "-drain",
        f"{args.drain}s",
        "-slo-p99",
        f"{args.slo_p99_ms}ms",
        "-connect-concurrency",
        str(args.connect_concurrency),
        "-brokers",
        KAFKA,
        "-out",
        str(out),
        *proto_args,
        *infra_watch(),
    ]
    for name, pid in watch.items():
        cmd += ["-watch", f"{name}={pid}"]
    if args.keep_going:
        cmd.append("-keep-going")
    files: dict[str, Path] = {}
    if args.profile_rate:
        hook, files = profile_hook(label, watch, stamp)
        cmd += ["-hook-rate", str(args.profile_rate), "-hook", hook]
    print(f"\n=== {label}: {clients} clients ===", flush=True)
    proc = subprocess.run(cmd, cwd=ROOT)
    if proc.returncode != 0 and not out.exists():
        raise RuntimeError(f"fanout {label} exited with {proc.returncode}")
    report: dict[str, Any] = json.loads(out.read_text())
    report["file"] = str(out.relative_to(ROOT))
    if files:
        report["profiles"] = {}
        for name, path in files.items():
            text = profile_report(name, path)
            print(text)
            report["profiles"][name] = str(path.relative_to(ROOT))
    return report


def background_cpu(seconds: float = 3.0) -> float:
    """Machine CPU in cores over a short sample before the run (other people's load)."""

    def busy() -> float:
        with open("/proc/stat") as fh:
            vals = [float(v) for v in fh.readline().split()[1:9]]
        return sum(vals) - vals[3] - vals[4]

    b0 = busy()
    time.sleep(seconds)
    return round((busy() - b0) / 100.0 / seconds, 2)


# ------------------------------------------------------------------------------ summary


def best_step(report: dict[str, Any]) -> dict[str, Any] | None:
    """The highest-rate passing step (the max sustained load), if any."""
    passing = [s for s in report.get("steps", []) if s["pass"]]
    return max(passing, key=lambda s: s["rate"]) if passing else None


def server_cores(step: dict[str, Any]) -> float:
    return sum(v for k, v in step["cpu"]["procs"].items() if k not in ("kafka", "redis"))


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per target: connect, memory, max sustained step; and the ratios the issue asks for."""
    by: dict[str, dict[str, Any]] = {}
    print("\n" + "=" * 100)
    print(
        f"{'target':<11} {'clients':>7} {'rate/s':>7} {'delivered/s':>12} {'complete':>9} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'server cores':>13} {'deliv/CPU-s':>12} "
        f"{'clients cores':>13} {'other':>6}"
    )
    for rep in runs:
        label = rep["label"]
        for s in rep.get("steps", []):
            cores = server_cores(s)
            print(
                f"{label:<11} {s['clients']:>7} {s['rate']:>7g} {s['delivered_per_s']:>12.0f} "
                f"{100 * s['complete']:>8.2f}% {s['ack_to_receive']['p50_ms']:>8.1f} "
                f"{s['ack_to_receive']['p99_ms']:>8.1f} {cores:>13.2f} "
                f"{s['deliveries_per_cpu_s'].get('server_total', 0):>12.0f} "
                f"{s['cpu']['clients']:>13.2f} {s['cpu']['other']:>6.2f}"
                + ("" if s["pass"] else f"  FAIL: {s['why']}")
            )
        best = best_step(rep)
        mem = {k: v["per_connection_kib"] for k, v in rep.get("memory", {}).items()}
        by[label] = {
            "clients": rep["connect"]["connected"],
            "connect_per_s": rep["connect"]["per_second"],
            "connect_errors": rep["connect"]["errors"],
            "memory_per_connection_kib": mem,
            "max_sustained": None
            if best is None
            else {
                "rate": best["rate"],
                "delivered_per_s": best["delivered_per_s"],
                "p50_ms": best["ack_to_receive"]["p50_ms"],
                "p99_ms": best["ack_to_receive"]["p99_ms"],
                "server_cores": round(server_cores(best), 3),
                # all of the step's deliveries per CPU-second of the server(s) under test
                "delivered_per_s_per_core": best["deliveries_per_cpu_s"].get("server_total", 0),
            },
        }
    print("=" * 100)
    for label, t in by.items():
        print(
            f"{label:<11} {t['clients']} clients, {t['connect_per_s']:.0f} connects/s, "
            f"memory per connection (KiB): {t['memory_per_connection_kib']}"
        )
        if t["max_sustained"]:
            m = t["max_sustained"]
            print(
                f"{'':<11} max sustained: {m['rate']:g} events/s = {m['delivered_per_s']:.0f} "
                f"deliveries/s, p99 {m['p99_ms']:.1f} ms, {m['server_cores']:.2f} server cores "
                f"-> {m['delivered_per_s_per_core']:.0f} deliveries/s per core"
            )
        else:
            print(f"{'':<11} no step passed")
    ratios: dict[str, Any] = {}
    rt, cf, gw = by.get("realtime"), by.get("centrifugo"), by.get("gateway")
    if rt and cf and rt["max_sustained"] and cf["max_sustained"]:
        a, b = rt["max_sustained"], cf["max_sustained"]
        ratios["realtime_vs_centrifugo"] = {
            "delivered_per_s_per_core": round(
                a["delivered_per_s_per_core"] / max(b["delivered_per_s_per_core"], 1), 3
            ),
            "max_delivered_per_s": round(a["delivered_per_s"] / max(b["delivered_per_s"], 1), 3),
            "p99_ms": [a["p99_ms"], b["p99_ms"]],
        }
    ratios["equal_rate"] = equal_rate_table(runs)
    if rt and gw and rt["max_sustained"] and gw["max_sustained"]:
        ratios["gateway_vs_direct_max_delivered_per_s"] = round(
            gw["max_sustained"]["delivered_per_s"] / max(rt["max_sustained"]["delivered_per_s"], 1),
            3,
        )
    print(json.dumps(ratios, indent=2))
    return {"targets": by, "ratios": ratios}


def equal_rate_table(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each publish rate every target ran: deliveries per server CPU-second and p99."""
    rows: dict[float, dict[str, Any]] = {}
    for rep in runs:
        for s in rep.get("steps", []):
            rows.setdefault(s["rate"], {"rate": s["rate"]})[rep["label"]] = {
                "clients": s["clients"],
                "pass": s["pass"],
                "delivered_per_cpu_s": s["deliveries_per_cpu_s"].get("server_total"),
                "p99_ms": s["ack_to_receive"]["p99_ms"],
                "server_cores": round(server_cores(s), 3),
            }
    return [rows[k] for k in sorted(rows)]


# --------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="300 clients, two short steps")
    p.add_argument("--targets", default="realtime,centrifugo,gateway")
    p.add_argument("--clients", type=int, default=10_000)
    p.add_argument(
        "--gateway-clients",
        type=int,
        default=0,
        help="clients through the gateway (default: --clients, capped so the gateway's "
        "two sockets per client fit its open-files limit)",
    )
    p.add_argument("--users", type=int, default=4, help="accounts the realtime clients share")
    p.add_argument("--rates", default="1,2,5,10,20,50,100")
    p.add_argument("--step", type=float, default=10.0, help="seconds per step")
    p.add_argument("--drain", type=float, default=5.0)
    p.add_argument("--slo-p99-ms", type=int, default=250)
    p.add_argument("--connect-concurrency", type=int, default=64)
    p.add_argument("--rounds", type=int, default=1, help="repeat, alternating target order")
    p.add_argument("--keep-going", action="store_true", help="run every rate even after a fail")
    p.add_argument("--centrifugo-version", default=CENTRIFUGO_VERSION)
    p.add_argument(
        "--baseline-src",
        type=Path,
        default=None,
        help="a realtime-go source tree (e.g. an earlier revision exported with git archive) "
        "built and run as target 'baseline', for before/after figures in one run",
    )
    p.add_argument(
        "--profile-rate",
        type=float,
        default=0,
        help="profile the servers (perf, py-spy) during the step with this publish rate",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.clients, args.rates, args.step, args.drain = 300, "2,10", 3.0, 3.0
        args.users = 2

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    hard = raise_file_limit()
    gw_cap = (hard - FD_HEADROOM) // 2
    gw_clients = min(args.gateway_clients or args.clients, gw_cap)
    if args.clients > hard - FD_HEADROOM:
        print(f"open-files limit {hard}: clients capped at {hard - FD_HEADROOM}")
        args.clients = hard - FD_HEADROOM
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(targets) - {"realtime", "centrifugo", "gateway", "baseline"}
    if unknown:
        p.error(f"unknown targets {sorted(unknown)}")
    if "baseline" in targets and args.baseline_src is None:
        p.error("target 'baseline' needs --baseline-src")

    wait_ready(f"{IDENTITY_URL}/readyz")
    bg = background_cpu()
    print(f"background CPU before the run: {bg:.2f} cores of {os.cpu_count()}")
    print("building the load program and realtime-go...")
    fanout = go_build(FANOUT_SRC, ".", BIN_DIR / "fanout")
    realtime = go_build(ROOT / "realtime-go", "./cmd/realtime", BIN_DIR / "realtime")
    baseline = (
        go_build(args.baseline_src, "./cmd/realtime", BIN_DIR / "realtime-baseline")
        if "baseline" in targets
        else None
    )
    centrifugo_exe = centrifugo_binary(args.centrifugo_version) if "centrifugo" in targets else None
    tag = unique_tag()
    usernames = [f"fanout{tag}{i}" for i in range(args.users)]
    for u in usernames:
        register_and_login(IDENTITY_URL, u)
    tokens = RESULTS_DIR / f"fanout-tokens-{tag}.txt"
    post_channel = f"post:{uuid.uuid4()}"
    secret = secrets.token_hex(24)

    runs: list[dict[str, Any]] = []
    try:
        for rnd in range(args.rounds):
            order = targets if rnd % 2 == 0 else list(reversed(targets))
            for target in order:
                if target in ("realtime", "baseline"):
                    exe = realtime if target == "realtime" else baseline
                    assert exe is not None
                    with realtime_node(exe, tag) as pid:
                        write_tokens(usernames, tokens)
                        runs.append(
                            run_fanout(
                                fanout,
                                target,
                                [
                                    "-proto",
                                    "realtime",
                                    "-url",
                                    f"ws://127.0.0.1:{REALTIME_PORT}/",
                                    "-tokens",
                                    str(tokens),
                                    "-channel",
                                    post_channel,
                                ],
                                {"realtime": pid},
                                args,
                                args.clients,
                            )
                        )
                elif target == "gateway":
                    with realtime_node(realtime, tag) as rt_pid, private_gateway() as gw_pid:
                        write_tokens(usernames, tokens)
                        runs.append(
                            run_fanout(
                                fanout,
                                "gateway",
                                [
                                    "-proto",
                                    "realtime",
                                    "-url",
                                    f"ws://127.0.0.1:{GATEWAY_PORT}/v1/realtime",
                                    "-tokens",
                                    str(tokens),
                                    "-channel",
                                    post_channel,
                                ],
                                {"realtime": rt_pid, "gateway": gw_pid},
                                args,
                                gw_clients,
                            )
                        )
                else:
                    assert centrifugo_exe is not None
                    topic = f"bench.fanout.centrifugo.{tag}.{rnd}"
                    with centrifugo(centrifugo_exe, topic, secret, tag) as pid:
                        runs.append(
                            run_fanout(
                                fanout,
                                "centrifugo",
                                [
                                    "-proto",
                                    "centrifugo",
                                    "-url",
                                    f"ws://127.0.0.1:{CENTRIFUGO_PORT}/connection/websocket",
                                    "-centrifugo-secret",
                                    secret,
                                    "-channel",
                                    "bench",
                                    "-topic",
                                    topic,
                                ],
                                {"centrifugo": pid},
                                args,
                                args.clients,
                            )
                        )
                runs[-1]["round"] = rnd + 1
    finally:
        tokens.unlink(missing_ok=True)
    summary = summarize(runs)
    path = save_results(
        "fanout",
        {
            "machine": machine_info(),
            "background_cpu_cores_before": bg,
            "loadavg_after": Path("/proc/loadavg").read_text().split()[:3],
            "args": vars(args),
            "centrifugo": f"{CENTRIFUGO_MODULE}@{args.centrifugo_version}",
            "go": shutil.which("go"),
            "summary": summary,
            "runs": runs,
        },
    )
    print(f"\nraw results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
