"""The chaos run, small: workers SIGKILLed at random and Redis restarted once, on AOF.

The full run (20,000 tasks) is `python -m benchmarks.chaos`; this one takes seconds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.real_redis


def test_nothing_is_lost_under_sigkill_and_a_redis_restart(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        if os.environ.get("TASKQ_REQUIRE_REAL_REDIS"):
            pytest.fail("redis-server is required but not installed")
        pytest.skip("redis-server is not installed")
    out = tmp_path / "chaos.json"
    args = ["--tasks", "300", "--work-ms", "20", "--kill-every", "0.2", "--time-limit", "60"]
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.chaos", *args, "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert out.exists(), proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["lost"] == 0, report["lost_ids"]
    assert report["duplicates_not_in_flight"] == 0
    assert report["dead_not_designed"] == 0 and report["dead"] == report["designed_to_die"]
    assert report["completed"] + report["dead"] == report["enqueued"] == 300
    assert report["kills"] >= 2 and report["redis_restarts"] == 1
    # A one-second schedule ran all along: its tasks ran too, and none was lost.
    assert report["periodic_lost"] == 0 and report["periodic_completed"] >= 3
    bound = report["lease_s"] + report["reaper_period_s"]
    assert report["longest_recovery_s"] <= bound + 1.0  # slack for a busy machine
    assert proc.returncode == 0 and "chaos: PASSED" in proc.stdout
