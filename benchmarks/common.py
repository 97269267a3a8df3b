"""What every benchmark shares: a Redis server for the run, repeats, results and the table."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from tests.support import RedisServer

#: The repository's root: subprocesses run there, so ``benchmarks`` imports as a package.
ROOT = Path(__file__).resolve().parent.parent
#: Where results go (git-ignored).
RESULTS = ROOT / "benchmarks" / "results"


@dataclass
class Result:
    """One row of the table: what taskq did, what the baseline did in the same run.

    Attributes:
        key: a short id, used in the JSON and by ``--only``.
        what: the row's label.
        unit: the unit of ``ours`` and ``baseline``.
        ours: taskq's figure (the median of the repeats).
        baseline: the baseline's figure, or None when there is none.
        baseline_name: what the baseline is.
        target: the target, in words.
        met: whether the target was met; None when there is only a figure to report.
        higher_is_better: how to read the ratio.
        details: everything else measured (every repeat, other settings), for the JSON.
        paired: the median of the ratios taken round by round (see `paired`), when the
            figure and its baseline were measured in the same rounds; it is the ratio shown.
    """

    key: str
    what: str
    unit: str
    ours: float
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    met: bool | None = None
    higher_is_better: bool = True
    details: dict[str, Any] = field(default_factory=dict)
    paired: float | None = None

    @property
    def ratio(self) -> float | None:
        """taskq divided by the baseline (for times: the baseline divided by taskq); the
        median of the per-round ratios when there is one."""
        if self.paired is not None:
            return self.paired
        if not self.baseline or not self.ours:
            return None
        return self.ours / self.baseline if self.higher_is_better else self.baseline / self.ours


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def paired(ours: Sequence[float], base: Sequence[float]) -> tuple[float, list[float]]:
    """The median of the ratios ``ours[i] / base[i]`` of rounds measured side by side, and
    the ratios. The machine's speed drifts by 2x within minutes: a ratio of medians taken
    minutes apart says little, a ratio within one round much more."""
    ratios = [o / b for o, b in zip(ours, base, strict=True)]
    return median(ratios), ratios


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by the nearest-rank method."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def timed(fn: Callable[[], Any]) -> float:
    """Seconds ``fn()`` took."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ------------------------------------------------------------------------ Redis for the run
@contextmanager
def redis_for_run(url: str | None) -> Iterator[str]:
    """The server at ``url``, or a ``redis-server`` started on loopback for this run."""
    if url:
        redis.Redis.from_url(url).ping()
        yield url
        return
    try:
        server = RedisServer()
    except RuntimeError as exc:
        raise SystemExit(f"bench: {exc}") from None
    with server:
        yield server.url


def subprocess_env(url: str) -> dict[str, str]:
    """The environment of a benchmark subprocess: the repository importable, Redis set."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "TASKQ_REDIS_URL": url}


def run_json(args: Sequence[str], url: str, timeout: float) -> dict[str, Any]:
    """Run ``python -m ARGS`` in the repository; return the JSON object it prints last."""
    proc = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=subprocess_env(url),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    last = proc.stdout.strip().splitlines()[-1]
    found: dict[str, Any] = json.loads(last)
    return found


# ------------------------------------------------------------------------ reporting
def environment(url: str) -> dict[str, Any]:
    """The machine and versions the figures were measured on."""
    client = redis.Redis.from_url(url)
    try:
        import hiredis  # type: ignore[import-not-found]  # noqa: F401

        parser = "hiredis"
    except ImportError:
        parser = "pure Python"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "redis_server": client.info("server").get("redis_version"),
        "redis_py": redis.__version__,
        "redis_py_parser": parser,
        "load_average": list(os.getloadavg()),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def fmt(value: float | None, unit: str = "") -> str:
    """A figure, rounded for reading."""
    if value is None:
        return "-"
    if unit == "%":
        return f"{value:.2f}%"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(results: Sequence[Result]) -> str:
    """The results as a plain-text table."""
    header = ("what", "unit", "taskq", "baseline", "ratio (>1: taskq ahead)", "target", "met")
    rows = [header]
    for r in results:
        ratio = r.ratio
        rows.append(
            (
                r.what,
                r.unit,
                fmt(r.ours, r.unit),
                fmt(r.baseline, r.unit) + (f" ({r.baseline_name})" if r.baseline_name else ""),
                "-" if ratio is None else f"{ratio:.2f}x",
                r.target or "-",
                {True: "yes", False: "NO", None: "-"}[r.met],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def markdown(results: Sequence[Result]) -> str:
    """The results as the README's Markdown table."""
    lines = [
        "| what | taskq | baseline in the same rounds | ratio (median of per-round ratios) "
        "| target |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        unit = {"tasks/s": "/s", "%": "", "bytes": " bytes"}.get(r.unit, f" {r.unit}")
        ours = fmt(r.ours, r.unit) + unit
        base = f"{r.baseline_name}: {fmt(r.baseline, r.unit)}{unit}" if r.baseline else ""
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}x"
        met = {True: "met", False: "**missed**", None: ""}[r.met]
        target = f"{r.target}: {met}" if met else r.target
        cells = (r.what, ours, base, ratio, target)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_json(path: Path, results: Sequence[Result], env: dict[str, Any]) -> None:
    data = {
        "environment": env,
        "results": [{**asdict(r), "ratio": r.ratio} for r in results],
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
