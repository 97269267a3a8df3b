"""Start JupyterLab for the course, the same way for a learner and for the browser test.

``bash scripts/course.sh`` runs this file; ``tests/test_course_in_browser.py`` imports
``lab_command`` from it, so both start JupyterLab with the options listed here.

What the options do, and why:

- The server's root is the repository, so the links in the notebooks to the library's files
  (``../taskq_lib/redis_queue.py``, ``../taskq_lib/lua/take.lua``) open in JupyterLab.
- The file browser starts in ``notebooks/`` and ``notebooks/00_start_here.ipynb`` opens first.
- Nothing reaches out to the internet: no news feed, no update check, and an extension
  manager that only lists what is installed (it would otherwise query PyPI).
- The server listens on 127.0.0.1 only, with a token that is printed in the URL.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_NOTEBOOK = "notebooks/00_start_here.ipynb"
NOTEBOOKS_DIR = "notebooks"
SETTINGS_DIR = ROOT / "scripts" / "lab_settings"  # holds overrides.json (news and updates off)
DEFAULT_PORT = 8888


def lab_command(
    root: Path,
    port: int,
    token: str,
    *,
    open_browser: bool = True,
    extra: Sequence[str] = (),
    python: str = sys.executable,
) -> list[str]:
    """The ``jupyter lab`` command line that serves the course from ``root`` on ``port``.

    An ``extra`` option replaces the course's option of the same name: JupyterLab given the same
    option twice drops the whole section it belongs to, without a word.
    """
    options = [
        f"--ServerApp.root_dir={root}",
        f"--ContentsManager.preferred_dir={NOTEBOOKS_DIR}",
        f"--LabApp.default_url=/lab/tree/{FIRST_NOTEBOOK}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # the printed URL must be the one that serves
        f"--IdentityProvider.token={token}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        f"--LabApp.app_settings_dir={SETTINGS_DIR}",
    ]
    if not open_browser:
        options.append("--no-browser")
    if is_root():
        options.append("--allow-root")  # containers run as root; JupyterLab refuses without it
    replaced = {option_name(option) for option in extra}
    kept = [option for option in options if option_name(option) not in replaced]
    return [python, "-m", "jupyterlab", *kept, *extra]


def option_name(option: str) -> str:
    """``--ServerApp.port=8888`` -> ``--ServerApp.port``."""
    return option.split("=", 1)[0]


def option_value(command: Sequence[str], name: str) -> str | None:
    """The value of ``name=...`` in ``command`` (the last one), or None."""
    values = [option.split("=", 1)[1] for option in command if option.startswith(name + "=")]
    return values[-1] if values else None


def is_root() -> bool:
    """Whether this process runs as root (as it often does in containers)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def free_port(preferred: int = 0) -> int:
    """``preferred`` if nothing listens there, otherwise a port the system picks."""
    for candidate in (preferred, 0) if preferred else (0,):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port on 127.0.0.1")


def url(port: int, token: str, path: str = f"lab/tree/{FIRST_NOTEBOOK}") -> str:
    return f"http://127.0.0.1:{port}/{path}?token={token}"


def wait_until_serving(
    port: int, token: str, proc: subprocess.Popen[bytes], timeout: float
) -> None:
    """Return once the server answers its status API; raise if it exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    status = url(port, token, "api/status")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(status, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"JupyterLab did not answer on port {port} within {timeout:.0f} s")


def main(argv: list[str]) -> int:
    """Start JupyterLab, say where it is and how to stop it, and wait until it stops."""
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(16)
    command = lab_command(ROOT, free_port(DEFAULT_PORT), token, extra=argv)
    port = int(option_value(command, "--ServerApp.port") or DEFAULT_PORT)
    token = option_value(command, "--IdentityProvider.token") or token
    # Ctrl+C reaches JupyterLab too (same process group): it decides, this script waits for it.
    # JupyterLab inherits the default action even where ours was "ignore" (a background job).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    proc = subprocess.Popen(command, cwd=ROOT)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        wait_until_serving(port, token, proc, timeout=120)
    except RuntimeError as error:
        print(f"course: {error}", file=sys.stderr)
        proc.terminate()
        proc.wait()
        return 1
    print(
        "\n"
        "  The course is open in JupyterLab:\n"
        f"    {url(port, token)}\n"
        "  (open that URL in your browser if no window opened by itself)\n"
        f"  Server root: {ROOT} (the file browser starts in {NOTEBOOKS_DIR}/)\n"
        "  Stop it: press Ctrl+C twice in this terminal.\n"
        "  Your edits are saved in notebooks/; `git restore notebooks/` brings back the\n"
        "  course's notebooks (File > Revert Notebook to Checkpoint undoes unsaved edits).\n",
        flush=True,
    )
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
