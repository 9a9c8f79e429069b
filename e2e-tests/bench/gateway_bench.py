"""Gateway overhead: `GET /me` through the gateway versus straight to identity.

For each target the offered rate is stepped up geometrically (open loop, constant rate)
until a step fails: achieved rate below 95 % of offered, more than 0.1 % errors, or p99
above the SLO. One bisection between the last passing and the first failing rate
refines the knee. The highest passing rate is the target's max sustainable throughput.
Rounds alternate the order of the targets (direct, gateway / gateway, direct, ...) so
drift on the machine hits both alike; medians over rounds are reported. Then both
targets run at the same rate (half the lower max) to compare latency at equal load.

Rate limits: the gateway throttles per IP and per user (defaults 50/s and 20/s), which
would measure the limiter, not the gateway. By default this script therefore starts a
private gateway (same code, port 18080) with the limits raised far out of reach, so
every request still pays the Redis token-bucket call. To measure an already running
gateway instead, start it with raised limits, e.g.::

    GATEWAY_RATE_LIMIT_IP_RATE=1000000 GATEWAY_RATE_LIMIT_IP_BURST=1000000 \\
    GATEWAY_RATE_LIMIT_USER_RATE=1000000 GATEWAY_RATE_LIMIT_USER_BURST=1000000 make up

and pass ``--gateway-url http://127.0.0.1:8080``.

Usage: ``uv run python e2e-tests/bench/gateway_bench.py [--rounds 3] [--quick]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
from benchlib import (
    machine_info,
    pids_by_name,
    private_service,
    register_and_login,
    save_results,
    unique_tag,
    wait_ready,
)
from loadgen import RunConfig, RunResult, StaticRequest, median, pids_listening_on, run_in_process

RAISED_LIMITS = {
    "GATEWAY_RATE_LIMIT_IP_RATE": "1000000",
    "GATEWAY_RATE_LIMIT_IP_BURST": "1000000",
    "GATEWAY_RATE_LIMIT_USER_RATE": "1000000",
    "GATEWAY_RATE_LIMIT_USER_BURST": "1000000",
}


def passes(res: RunResult, slo_p99_ms: float) -> bool:
    """A step is sustained: >= 95 % of offered, <= 0.1 % errors, p99 within the SLO."""
    return (
        res.achieved_rate >= 0.95 * res.offered_rate
        and res.errors <= 0.001 * res.scheduled
        and res.latency["p99_ms"] <= slo_p99_ms
    )


def step_row(target: str, rnd: int, res: RunResult, ok: bool) -> dict[str, Any]:
    return {
        "target": target,
        "round": rnd,
        "pass": ok,
        **res.to_dict(),
    }


class Bench:
    def __init__(self, args: argparse.Namespace, targets: dict[str, tuple[str, StaticRequest]]):
        self.args = args
        self.targets = targets
        self.steps: list[dict[str, Any]] = []
        self.watch = self._watch_pids()

    def _watch_pids(self) -> dict[str, list[int]]:
        watch = {
            "identity": pids_listening_on(urlsplit(self.args.identity_url).port or 80),
            "gateway": pids_listening_on(self.args.gateway_port),
            "postgres": pids_by_name("postgres"),
            "redis": pids_listening_on(6379),
        }
        return {k: v for k, v in watch.items() if v}

    def run(self, target: str, rate: float, duration: float) -> RunResult:
        url, req = self.targets[target]
        cfg = RunConfig(
            url,
            rate,
            duration,
            req,
            connections=self.args.connections,
            timeout_s=5.0,
            # Postgres backends come and go with pools: look again before each step.
            watch_pids={**self.watch, "postgres": pids_by_name("postgres")},
        )
        res = run_in_process(cfg)
        return res

    def ladder(self, target: str, rnd: int) -> tuple[float, RunResult | None]:
        """Step the rate up until a step fails; return (max passing rate, its result)."""
        a = self.args
        rate = a.start_rate
        best: tuple[float, RunResult | None] = (0.0, None)
        failed_at = math.inf
        while rate <= a.max_rate:
            res = self.run(target, rate, a.step_s)
            ok = passes(res, a.slo_p99_ms)
            self.steps.append(step_row(target, rnd, res, ok))
            print(f"  r{rnd} {target:8s} {'PASS' if ok else 'FAIL'} {res.brief()}", flush=True)
            time.sleep(a.pause_s if ok else 2 * a.pause_s)
            if not ok:
                failed_at = rate
                break
            best = (rate, res)
            rate = round(rate * a.growth)
        if best[1] is not None and failed_at < math.inf:
            mid = round((best[0] + failed_at) / 2)
            if best[0] < mid < failed_at:
                res = self.run(target, mid, a.step_s)
                ok = passes(res, a.slo_p99_ms)
                self.steps.append(step_row(target, rnd, res, ok))
                print(f"  r{rnd} {target:8s} {'PASS' if ok else 'FAIL'} {res.brief()}", flush=True)
                time.sleep(a.pause_s)
                if ok:
                    best = (mid, res)
        return best


def summarize(per_round: dict[str, list[tuple[float, RunResult | None]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for target, results in per_round.items():
        good = [r for _, r in results if r is not None]
        out[target] = {
            "max_rate_per_round": [rate for rate, _ in results],
            "max_rate_median": median([rate for rate, _ in results]),
            "achieved_at_max_median": median([r.achieved_rate for r in good]),
            "p50_ms_at_max_median": median([r.latency["p50_ms"] for r in good]),
            "p99_ms_at_max_median": median([r.latency["p99_ms"] for r in good]),
            "generator_cpu_pct_at_max_median": median([r.generator_cpu_pct for r in good]),
            "cpu_pct_at_max_median": {
                name: median([r.watched_cpu_pct.get(name, math.nan) for r in good])
                for name in (good[0].watched_cpu_pct if good else {})
            },
            "other_cpu_pct_at_max_median": median([r.other_cpu_pct for r in good]),
            "machine_busy_pct_at_max_median": median([r.machine_busy_pct for r in good]),
        }
    return out


@contextlib.contextmanager
def gateway_under_test(args: argparse.Namespace) -> Iterator[str]:
    if args.gateway_url:
        args.gateway_port = urlsplit(args.gateway_url).port or 80
        yield args.gateway_url.rstrip("/")
        return
    port = args.private_gateway_port
    args.gateway_port = port
    env = {**RAISED_LIMITS, "GATEWAY_HTTP_PORT": str(port)}
    with private_service("gateway", [], env, f"http://127.0.0.1:{port}/livez", "gateway-private"):
        yield f"http://127.0.0.1:{port}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Gateway overhead on GET /me")
    p.add_argument("--identity-url", default="http://127.0.0.1:8201")
    p.add_argument("--gateway-url", help="use this running gateway (limits raised!)")
    p.add_argument("--private-gateway-port", type=int, default=18080)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--step-s", type=float, default=4.0, help="seconds per ladder step")
    p.add_argument("--pause-s", type=float, default=1.0)
    p.add_argument("--start-rate", type=float, default=25.0)
    p.add_argument("--growth", type=float, default=1.3)
    p.add_argument("--max-rate", type=float, default=20000.0)
    p.add_argument("--slo-p99-ms", type=float, default=100.0)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--quick", action="store_true", help="1 round, 2 s steps (a smoke run)")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.step_s = 1, 2.0

    identity = args.identity_url.rstrip("/")
    print(f"waiting for {identity}/livez ...", flush=True)
    wait_ready(f"{identity}/livez", timeout_s=120)
    token = register_and_login(identity, f"bench_gw_{unique_tag()}")
    auth = (("Authorization", f"Bearer {token}"), ("Accept", "application/json"))

    with gateway_under_test(args) as gateway:
        targets = {
            "direct": (identity, StaticRequest("GET", "/me", auth)),
            "gateway": (gateway, StaticRequest("GET", "/v1/identity/me", auth)),
        }
        for name, (base, req) in targets.items():
            r = httpx.get(base + req.path, headers=dict(req.headers), timeout=10)
            if r.status_code != 200:
                print(f"{name}: GET {req.path} -> {r.status_code} {r.text[:300]}", file=sys.stderr)
                return 1
        bench = Bench(args, targets)
        print(f"watching CPU of: { {k: v for k, v in bench.watch.items()} }", flush=True)
        for name in targets:  # warm caches, JIT-less but pools and JWKS
            bench.run(name, 100.0, 2.0)

        per_round: dict[str, list[tuple[float, RunResult | None]]] = {t: [] for t in targets}
        order = list(targets)
        for rnd in range(1, args.rounds + 1):
            for target in order if rnd % 2 else reversed(order):
                per_round[target].append(bench.ladder(target, rnd))
        summary = summarize(per_round)

        equal_rate = round(
            0.5 * min(summary[t]["max_rate_median"] for t in targets) or args.start_rate
        )
        equal: dict[str, list[RunResult]] = {t: [] for t in targets}
        for rnd in range(1, args.rounds + 1):
            for target in order if rnd % 2 else reversed(order):
                res = bench.run(target, equal_rate, args.step_s)
                equal[target].append(res)
                print(f"  eq{rnd} {target:8s} {res.brief()}", flush=True)
                time.sleep(args.pause_s)

    direct_max = summary["direct"]["max_rate_median"]
    gw_max = summary["gateway"]["max_rate_median"]
    ratio = gw_max / direct_max if direct_max else math.nan
    equal_summary = {
        t: {
            "rate": equal_rate,
            "achieved_median": median([r.achieved_rate for r in rs]),
            "p50_ms_median": median([r.latency["p50_ms"] for r in rs]),
            "p90_ms_median": median([r.latency["p90_ms"] for r in rs]),
            "p99_ms_median": median([r.latency["p99_ms"] for r in rs]),
            "cpu_pct_median": {
                n: median([r.watched_cpu_pct.get(n, math.nan) for r in rs])
                for n in rs[0].watched_cpu_pct
            },
        }
        for t, rs in equal.items()
    }
    report = {
        "benchmark": "gateway_overhead_get_me",
        "machine": machine_info(),
        "params": {k: v for k, v in vars(args).items()},
        "max_sustainable": summary,
        "gateway_over_direct_throughput": ratio,
        "target_ratio": 0.70,
        "meets_target": bool(ratio >= 0.70),
        "equal_load": equal_summary,
        "steps": bench.steps,
    }
    path = save_results("gateway", report)
    print()
    print("| target | max sustainable req/s (median; per round) | p50 ms | p99 ms | gen CPU % |")
    print("|---|---|---|---|---|")
    for t in targets:
        s = summary[t]
        rounds = ", ".join(f"{r:.0f}" for r in s["max_rate_per_round"])
        print(
            f"| {t} | {s['max_rate_median']:.0f} ({rounds}) | {s['p50_ms_at_max_median']:.2f} "
            f"| {s['p99_ms_at_max_median']:.2f} | {s['generator_cpu_pct_at_max_median']:.0f} |"
        )
    print(f"\ngateway / direct throughput = {ratio:.2f} (target >= 0.70)")
    print(f"equal load {equal_rate} req/s: " + json.dumps(equal_summary))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
