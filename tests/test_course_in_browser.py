"""The course as a learner meets it: JupyterLab in a real (headless) browser.

JupyterLab starts exactly as ``scripts/course.sh`` starts it (``scripts/lab.py`` builds the
command for both), on a copy of ``notebooks/`` so nothing here can write to the committed
files. One Chromium page then opens every notebook in turn from the file browser and checks:

- opening it does not mark it changed (JupyterLab rewrites metadata it disagrees with);
- Run > Run All Cells, after clearing the outputs, ends with the kernel idle, within a bound;
- no error and no stderr output appears anywhere in the page;
- every plot the committed notebook shows is drawn again as an image;
- the page asks nothing of any host but the local server (the course works offline).

Each notebook is closed without saving ("Discard") and its kernel shut down before the next.
The browser is Debian's ``chromium`` (or the one ``TASKQ_CHROMIUM`` names), driven by Playwright
from PyPI (no browser download). Without them the test is skipped, unless
``TASKQ_REQUIRE_BROWSER=1`` (as in CI) makes it fail.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support import CHROMIUM_ARGS, ROOT, chromium, load_lab_module, stop_process, unavailable

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(300)]

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TOKEN = "course-browser-test-token"
OPEN_TIMEOUT_MS = 60_000  # JupyterLab's first load and a kernel start, on a loaded 2-core machine
RUN_TIMEOUT_MS = 90_000  # one notebook, top to bottom (each should take well under a minute)


def committed_image_count(notebook: Path) -> int:
    """How many image outputs (plots) the committed notebook holds."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return sum(
        1
        for cell in cells
        for output in cell.get("outputs", [])
        if any(mime.startswith("image/") for mime in output.get("data", {}))
    )


@dataclass
class Lab:
    """A JupyterLab server on a copy of the course, and the address of its API."""

    root: Path
    port: int
    url_of: Any  # lab.url(port, token, path)
    proc: subprocess.Popen[bytes]
    log: Path
    outside_requests: list[str] = field(default_factory=list)

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            self.url_of(self.port, TOKEN, f"api/{path}"), method=method
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def diagnose(self, page: Any, name: str) -> str:
        """A screenshot of the page and the end of JupyterLab's log, for a failure message."""
        shot = self.root.parent / f"{Path(name).stem}.png"
        try:
            page.screenshot(path=str(shot))
        except Exception as error:  # the page itself may be what broke
            shot = Path(f"(no screenshot: {error})")
        tail = self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        return f"\nscreenshot: {shot}\nJupyterLab's log ends:\n" + "\n".join(tail)

    def shut_down_kernels(self) -> None:
        for session in self.api("GET", "sessions"):
            self.api("DELETE", f"sessions/{session['id']}")


def copy_course(destination: Path) -> None:
    """The repository as JupyterLab serves it: ``notebooks/`` copied, the rest linked."""
    destination.mkdir()
    shutil.copytree(ROOT / "notebooks", destination / "notebooks")
    for entry in ROOT.iterdir():
        if entry.name != "notebooks" and not entry.name.startswith("."):
            (destination / entry.name).symlink_to(entry)


def write_test_settings(directory: Path) -> None:
    """Test-only user settings: no autosave, so closing with "Discard" really writes nothing."""
    plugin = directory / "@jupyterlab" / "docmanager-extension"
    plugin.mkdir(parents=True)
    (plugin / "plugin.jupyterlab-settings").write_text('{"autosave": false}', encoding="utf-8")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if importlib.util.find_spec("playwright") is None:
        unavailable("Playwright is not installed (pip install playwright)")
    chromium()  # skip (or fail in CI) before starting JupyterLab for nothing
    lab_module = load_lab_module()
    tmp = tmp_path_factory.mktemp("course-lab")
    root = tmp / "course"
    copy_course(root)
    write_test_settings(tmp / "user-settings")
    port = lab_module.free_port()
    # Test-only: a fresh layout and settings, not the learner's.
    test_options = [
        f"--LabApp.user_settings_dir={tmp / 'user-settings'}",
        f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
    ]
    command = lab_module.lab_command(root, port, TOKEN, open_browser=False, extra=test_options)
    # The learner's environment: matplotlib's inline backend, not the test suite's Agg.
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    log = tmp / "jupyterlab.log"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(
            command, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        lab_module.wait_until_serving(port, TOKEN, proc, timeout=60)
        yield Lab(root, port, lab_module.url, proc, log)
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def page(lab: Lab) -> Iterator[Any]:
    """One browser page on JupyterLab, as ``scripts/course.sh`` opens it (00 already open)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(OPEN_TIMEOUT_MS)

        def note_outside(request: Any) -> None:
            if not re.match(
                r"(http://127\.0\.0\.1:\d+/|ws://127\.0\.0\.1:\d+/|data:|blob:)", request.url
            ):
                lab.outside_requests.append(request.url)

        page.on("request", note_outside)
        page.goto(lab.url_of(lab.port, TOKEN))
        page.wait_for_selector(".jp-NotebookPanel")
        yield page
        browser.close()


def test_course_opens_on_start_here_with_the_file_browser_in_notebooks(page: Any) -> None:
    tabs = page.locator(".jp-MainAreaWidget.jp-NotebookPanel")
    assert tabs.count() == 1
    assert current_tab_title(page) == "00_start_here.ipynb"
    assert page.locator(".jp-FileBrowser .jp-BreadCrumbs").inner_text().strip("/ ") == "notebooks"


def current_tab_title(page: Any) -> str:
    title = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")
    return str(title.inner_text())


def run_menu(page: Any, menu: str, command: str) -> None:
    """Click a main-menu entry, as a learner does (e.g. Run > Run All Cells)."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(f"^{menu}$")).click()
    page.locator(f".lm-Menu-item[data-command='{command}']").click()


def open_from_file_browser(page: Any, name: str) -> None:
    """Double-click ``name`` in the file browser, after closing any other notebook."""
    while page.locator(".jp-NotebookPanel").count():
        if current_tab_title(page) == name:
            return  # already open: course.sh opens 00 first
        close_without_saving(page)
    item = page.locator(".jp-DirListing-item", has=page.locator(f"text='{name}'"))
    item.dblclick()
    page.wait_for_function(
        """name => [...document.querySelectorAll(
            '.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel')]
            .some(t => t.textContent === name)""",
        arg=name,
    )


# The status bar's kernel item reads "Python 3 (ipykernel) | Idle" once the kernel has started
# and answered (the notebook toolbar's indicator says "idle" before any kernel exists).
KERNEL_IDLE = """() => [...document.querySelectorAll('.jp-StatusBar-Item')]
    .some(item => item.textContent.trim() === 'Python 3 (ipykernel) | Idle')"""

WAIT_IDLE = """() => document.querySelectorAll('.jp-NotebookPanel').length === 1
    && (KERNEL_IDLE)()""".replace("KERNEL_IDLE", KERNEL_IDLE)

WAIT_RUN_DONE = """() => {
    const panel = document.querySelector('.jp-NotebookPanel');
    const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
        .map(p => p.textContent.trim());
    return prompts.some(p => /^\\[\\d+\\]:$/.test(p))
        && !prompts.some(p => p.startsWith('[*]'))
        && (KERNEL_IDLE)();
}""".replace("KERNEL_IDLE", KERNEL_IDLE)


def wait_or_fail(lab: Lab, page: Any, name: str, script: str, timeout_ms: int, what: str) -> None:
    """Wait (bounded) until ``script`` is true in the page, or fail with a screenshot and log."""
    try:
        page.wait_for_function(script, timeout=timeout_ms)
    except Exception as error:  # Playwright's TimeoutError
        raise AssertionError(
            f"{name}: {what} within {timeout_ms / 1000:.0f} s" + lab.diagnose(page, name)
        ) from error


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_opens_clean_and_runs_all_cells_in_jupyterlab(
    page: Any, lab: Lab, notebook: Path
) -> None:
    name = notebook.name
    copied = lab.root / "notebooks" / name
    committed = copied.read_bytes()
    open_from_file_browser(page, name)
    try:
        wait_or_fail(lab, page, name, WAIT_IDLE, OPEN_TIMEOUT_MS, "no idle kernel after opening it")
        dirty = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current.jp-mod-dirty")
        assert dirty.count() == 0, (
            f"{name} is marked changed just by opening it: JupyterLab rewrote its metadata "
            "(tests/test_notebook_metadata.py says what it expects)" + lab.diagnose(page, name)
        )

        run_menu(page, "Edit", "editmenu:clear-all")
        run_menu(page, "Run", "runmenu:run-all")
        wait_or_fail(lab, page, name, WAIT_RUN_DONE, RUN_TIMEOUT_MS, "Run All Cells did not finish")

        panel = page.locator(".jp-NotebookPanel")
        errors = panel.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        )
        texts = [text[:2000] for text in errors.all_text_contents()]
        assert not texts, f"{name} shows error or stderr output:\n" + "\n---\n".join(texts)

        prompts = panel.locator(".jp-CodeCell .jp-InputArea-prompt").all_text_contents()
        not_run = [i for i, p in enumerate(prompts) if p.strip() in ("[ ]:", "")]
        assert not not_run, f"{name}: code cells {not_run} did not run"

        expected = committed_image_count(notebook)
        images = panel.locator(".jp-OutputArea-output img")
        drawn = page.evaluate(
            """els => els.filter(i => i.complete && i.naturalWidth > 0).length""",
            images.element_handles(),
        )
        assert images.count() == expected and drawn == expected, (
            f"{name}: {expected} plots in the committed file, {images.count()} image outputs "
            f"after Run All, {drawn} of them drawn"
        )
        assert lab.outside_requests == [], f"requests beyond 127.0.0.1: {lab.outside_requests}"
    finally:
        close_without_saving(page)
        lab.shut_down_kernels()
    assert copied.read_bytes() == committed, f"{name} was written to disk; nothing should save"


def close_without_saving(page: Any) -> None:
    """File > Close Tab, and "Discard" if JupyterLab asks to save."""
    page.keyboard.press("Escape")  # a menu left open by a failed step
    run_menu(page, "File", "application:close")
    discard = page.locator(".jp-Dialog .jp-Dialog-button", has_text="Discard")
    page.wait_for_function(
        """() => document.querySelectorAll('.jp-NotebookPanel').length === 0
                 || document.querySelector('.jp-Dialog') !== null"""
    )
    if discard.count():
        discard.click()
    page.wait_for_function("() => document.querySelectorAll('.jp-NotebookPanel').length === 0")


def test_notebooks_to_check_exist() -> None:
    assert len(NOTEBOOKS) >= 8, f"expected the 8 course notebooks, found {NOTEBOOKS}"
