"""Every relative link in the notebooks opens a file of the repository in JupyterLab.

``scripts/course.sh`` serves the repository's root, so from ``notebooks/NN.ipynb`` a link such as
``[take.lua](../taskq_lib/lua/take.lua)`` opens the library's file. A link to a file that does not
exist, or that leaves the repository, opens nothing for the learner.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# [text](target) and [text](target "title"); images ![..](..) too.
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def relative_links(notebook: Path) -> list[str]:
    """Targets of the Markdown links in ``notebook`` that point at files, not at the web."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    targets = []
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        source = re.sub(r"```.*?```", "", source, flags=re.DOTALL)  # code blocks hold no links
        for target in LINK.findall(source):
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not parts.path:
                continue  # https://..., mailto:..., or an anchor in this notebook (#...)
            targets.append(target)
    return targets


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_relative_links_lead_to_files_in_the_repository(notebook: Path) -> None:
    broken = []
    for target in relative_links(notebook):
        path = (notebook.parent / unquote(urlsplit(target).path)).resolve()
        if not path.is_relative_to(ROOT):
            broken.append(f"{target} (outside the repository)")
        elif not path.exists():
            broken.append(f"{target} (no such file)")
    assert not broken, f"{notebook.name}: links that open nothing: {broken}"


def test_the_link_pattern_finds_links_and_leaves_web_addresses_alone(tmp_path: Path) -> None:
    text = (
        "See [take.lua](../taskq_lib/lua/take.lua), [01](01_x.ipynb#Setup),\n"
        '[docs](https://redis.io/docs/) and [a title](../README.md "the README").\n'
        "```python\nx = [1](2)\n```\n[top](#top)"
    )
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text(
        json.dumps({"cells": [{"cell_type": "markdown", "source": [text]}]}), encoding="utf-8"
    )
    assert relative_links(notebook) == [
        "../taskq_lib/lua/take.lua",
        "01_x.ipynb#Setup",
        "../README.md",
    ]
