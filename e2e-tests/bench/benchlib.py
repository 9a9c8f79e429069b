"""Helpers shared by the platform benchmarks: waiting for services, accounts, private
service instances, CPU accounting and result files."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
RESULTS_DIR = ROOT / ".data" / "bench"
BENCH_PASSWORD = "bench-password-0123456789"


def wait_ready(url: str, timeout_s: float = 60.0) -> None:
    """Poll ``url`` until it answers 200; raise ``TimeoutError`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: str = "no answer"
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url, timeout=2.0)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout_s:.0f}s: {last}")


def unique_tag() -> str:
    """Eight lowercase hex characters, to keep usernames of separate runs apart."""
    return secrets.token_hex(4)


def register_and_login(identity_url: str, username: str) -> str:
    """Create an account through identity's API and return a bearer access token.

    Raises ``RuntimeError`` with the server's answer when either call fails.
    """
    with httpx.Client(base_url=identity_url, timeout=30.0) as client:
        r = client.post(
            "/auth/register",
            json={
                "email": f"{username}@bench.example.com",
                "username": username,
                "password": BENCH_PASSWORD,
            },
        )
        if r.status_code != 201:
            raise RuntimeError(f"register failed: {r.status_code} {r.text[:300]}")
        r = client.post("/auth/login", json={"login": username, "password": BENCH_PASSWORD})
        if r.status_code != 200:
            raise RuntimeError(f"login failed: {r.status_code} {r.text[:300]}")
        return str(r.json()["access_token"])


@contextlib.contextmanager
def private_service(
    executable: str, args: list[str], env: Mapping[str, str], ready_url: str, log_name: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Run one extra instance of a platform service for the benchmark, then stop it.

    ``env`` is added to this process' environment (so ports and limits can differ from
    the instance ``make up`` runs). Output goes to ``.data/bench/<log_name>.log``.
    Raises ``TimeoutError`` when it does not answer ``ready_url`` within 60 s.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log = open(RESULTS_DIR / f"{log_name}.log", "wb")  # noqa: SIM115 - closed below
    exe = VENV_BIN / executable
    proc = subprocess.Popen(
        [str(exe if exe.exists() else executable), *args],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        try:
            wait_ready(ready_url)
        except TimeoutError:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{log_name} exited with {proc.returncode}; see {log.name}"
                ) from None
            raise
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def pids_by_name(name: str) -> list[int]:
    """PIDs whose ``/proc/<pid>/comm`` is ``name`` (e.g. every ``postgres`` backend)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/comm") as fh:
                if fh.read().strip() == name:
                    found.append(int(entry))
    return found


def machine_info() -> dict[str, Any]:
    """Where the numbers come from: CPU model and count, memory, kernel, Python."""
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = 0.0
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        mem_gib = int(fh.readline().split()[1]) / 1024 / 1024
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def save_results(name: str, data: Mapping[str, Any]) -> Path:
    """Write ``.data/bench/<name>-<timestamp>.json`` and return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path
