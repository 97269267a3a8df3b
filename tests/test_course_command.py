"""``scripts/lab.py``, which ``bash scripts/course.sh`` runs: the options, and a real start."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

import pytest
from support import ROOT, load_lab_module

lab = load_lab_module()


def names(command: list[str]) -> list[str]:
    return [lab.option_name(option) for option in command if option.startswith("--")]


def test_the_server_root_is_the_repository_and_the_browser_starts_in_notebooks() -> None:
    command = lab.lab_command(ROOT, 8888, "secret")
    assert lab.option_value(command, "--ServerApp.root_dir") == str(ROOT)
    assert lab.option_value(command, "--ContentsManager.preferred_dir") == "notebooks"
    first = lab.option_value(command, "--LabApp.default_url")
    assert first == "/lab/tree/notebooks/00_start_here.ipynb"
    assert (ROOT / first.removeprefix("/lab/tree/")).is_file()


def test_nothing_reaches_out_and_the_server_listens_on_loopback_only() -> None:
    command = lab.lab_command(ROOT, 8888, "secret")
    assert lab.option_value(command, "--LabApp.news_url") == "None"
    assert lab.option_value(command, "--LabApp.extension_manager") == "readonly"
    assert lab.option_value(command, "--ServerApp.ip") == "127.0.0.1"
    overrides = json.loads((lab.SETTINGS_DIR / "overrides.json").read_text(encoding="utf-8"))
    assert overrides["@jupyterlab/apputils-extension:notification"] == {
        "fetchNews": "false",
        "checkForUpdates": False,
    }


def test_allow_root_is_added_only_for_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab, "is_root", lambda: True)
    assert "--allow-root" in lab.lab_command(ROOT, 8888, "secret")
    monkeypatch.setattr(lab, "is_root", lambda: False)
    assert "--allow-root" not in lab.lab_command(ROOT, 8888, "secret")


def test_an_extra_option_replaces_the_course_option_of_the_same_name() -> None:
    command = lab.lab_command(ROOT, 8888, "secret", extra=["--ServerApp.port=9999", "--debug"])
    assert lab.option_value(command, "--ServerApp.port") == "9999"
    option_names = names(command)
    assert len(option_names) == len(set(option_names)), "an option given twice"
    assert command[-2:] == ["--ServerApp.port=9999", "--debug"]


def pump_lines(proc: subprocess.Popen[str]) -> tuple[queue.Queue[str | None], threading.Thread]:
    """A thread that puts each line of ``proc``'s stdout on a queue, then None at the end."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return lines, thread


def read_until(lines: queue.Queue[str | None], pattern: str, timeout: float) -> str:
    """Lines up to one matching ``pattern``; fail after ``timeout``."""
    seen = ""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen += line
        if re.search(pattern, line):
            return seen
    pytest.fail(f"no line matching {pattern!r} within {timeout:.0f} s; output:\n{seen}")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def stops_on_ctrl_c_twice(proc: subprocess.Popen[str]) -> int:
    """Ctrl+C to the script and JupyterLab (one process group), again if it is still running.

    One is enough when it lands in JupyterLab's event loop; one that lands while a start-up
    task still runs can be swallowed, which is why the course says "twice".
    """
    for wait in (10, 30):
        os.killpg(proc.pid, signal.SIGINT)
        try:
            return proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    pytest.fail("JupyterLab did not stop on Ctrl+C twice")


@pytest.mark.slow
def test_the_course_command_says_where_it_serves_and_stops_on_ctrl_c() -> None:
    port = lab.free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "lab.py"),
            "--no-browser",
            f"--ServerApp.port={port}",
        ],
        stdin=subprocess.DEVNULL,  # no terminal: JupyterLab stops on the first Ctrl+C
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # our Ctrl+C below reaches the script and JupyterLab, not pytest
    )
    lines, pump = pump_lines(proc)
    try:
        banner = read_until(lines, r"Stop it: ", timeout=90)
        match = re.search(
            rf"http://127\.0\.0\.1:{port}/lab/tree/notebooks/00_start_here\.ipynb"
            r"\?token=(\w+)",
            banner,
        )
        assert match, banner
        assert f"Server root: {ROOT}" in banner
        token = match.group(1)
        listing = get_json(f"http://127.0.0.1:{port}/api/contents?token={token}")
        assert {"notebooks", "taskq_lib"} <= {item["name"] for item in listing["content"]}
        lua = get_json(f"http://127.0.0.1:{port}/api/contents/taskq_lib/lua?token={token}")
        assert any(item["name"].endswith(".lua") for item in lua["content"])
        assert stops_on_ctrl_c_twice(proc) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        pump.join(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()
