"""Where a service's time goes: py-spy samples taken during a benchmark step, aggregated.

py-spy is not a project dependency; when it is not on the PATH (or may not attach to
the process) the profile is skipped and the reason recorded.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Leaf frames that mean "waiting, not working" (event loop in epoll, idle pool threads).
#: Under uvloop the loop's own C code shows as a leaf ``Runner.run``: mostly waiting.
IDLE_MARKERS = (
    "epoll", "select (selectors", "_worker (concurrent", "wait (threading", "poll (",
    "Runner.run (",
)  # fmt: skip


def find_py_spy() -> str | None:
    for candidate in (shutil.which("py-spy"), "/root/.pyenv/shims/py-spy"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@contextlib.contextmanager
def record(pids: dict[str, int], duration_s: float, out_dir: Path) -> Iterator[dict[str, Any]]:
    """Sample each named pid with ``py-spy record -f raw`` for ``duration_s`` seconds.

    Yields a dict that, after the block, holds ``{name: aggregate(...)}`` or
    ``{name: {"error": ...}}``. The samplers run while the block runs.
    """
    exe = find_py_spy()
    result: dict[str, Any] = {}
    procs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    if exe is None:
        result["error"] = "py-spy not found"
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, pid in pids.items():
            path = out_dir / f"{name}-{pid}.txt"
            cmd = [exe, "record", "-p", str(pid), "-f", "raw", "-o", str(path)]
            cmd += ["-d", str(max(1, round(duration_s))), "-r", "50", "--nonblocking"]
            procs[name] = (
                subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE),
                path,
            )
    try:
        yield result
    finally:
        for name, (proc, path) in procs.items():
            try:
                _, err = proc.communicate(timeout=duration_s + 30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            if path.exists():
                result[name] = aggregate(path.read_text())
                result[name]["file"] = str(path)
            else:
                result[name] = {"error": (err or b"").decode(errors="replace")[-400:]}


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"; drop the line number.
    head, _, rest = frame.partition(" (")
    path = rest.rsplit(":", 1)[0] if rest else ""
    short = "/".join(path.split("/")[-2:])
    return f"{head} ({short})" if short else head


def _package(frame: str) -> str:
    # "name (sqlalchemy/orm/session.py:123)" -> "sqlalchemy"
    _, _, rest = frame.partition(" (")
    path = rest.rsplit(":", 1)[0]
    return path.split("/", 1)[0] if "/" in path else path or "?"


def aggregate(raw: str, top: int = 25) -> dict[str, Any]:
    """Summarise py-spy raw output (``frame;frame;... count`` per line).

    Returns total samples, idle samples (leaf in an idle marker), and the top functions
    by *inclusive* share of the busy samples (each function counted once per stack)
    and by *self* share (leaf frame).
    """
    total = idle = 0
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    package: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        total += count
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        if any(marker in frames[-1] for marker in IDLE_MARKERS):
            idle += count
            continue
        names = [_frame_name(f) for f in frames]
        for name in set(names):
            inclusive[name] += count
        leaf[names[-1]] += count
        package[_package(frames[-1])] += count
    busy = max(total - idle, 1)
    return {
        "samples": total,
        "idle_samples": idle,
        "busy_samples": total - idle,
        "inclusive_pct_of_busy": [
            (n, round(100 * c / busy, 1)) for n, c in inclusive.most_common(top)
        ],
        "self_pct_by_package": [(n, round(100 * c / busy, 1)) for n, c in package.most_common(top)],
        "self_pct_of_busy": [(n, round(100 * c / busy, 1)) for n, c in leaf.most_common(top)],
    }
