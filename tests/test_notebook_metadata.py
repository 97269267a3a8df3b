"""Each notebook's file is what JupyterLab writes back, so opening one does not mark it changed.

When JupyterLab opens a notebook and its kernel starts, it replaces the notebook's ``kernelspec``
with the kernel's own and its ``language_info`` with what the kernel reports. A file that differs
there shows up as changed (a dot on its tab, "save your changes?" on close) before the learner has
touched it. And saving writes nbformat 4.5 (cells have ids) in nbformat's own layout, so a file in
another layout would show a diff after a mere save. These checks need no browser; the browser
test (``test_course_in_browser.py``) checks the same thing in JupyterLab itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from ipykernel.ipkernel import IPythonKernel
from jupyter_client.kernelspec import KernelSpecManager

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")  # nbformat 4.5's rule for cell ids


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def without_version(language_info: dict[str, Any]) -> dict[str, Any]:
    # JupyterLab leaves the Python version alone (it differs from machine to machine).
    return {key: value for key, value in language_info.items() if key != "version"}


def test_the_course_has_its_notebooks() -> None:
    assert len(NOTEBOOKS) >= 8, NOTEBOOKS


def test_the_standard_kernelspec_is_the_installed_python_kernel() -> None:
    spec = KernelSpecManager().get_kernel_spec(KERNELSPEC["name"])
    installed = {"display_name": spec.display_name, "language": spec.language, "name": "python3"}
    assert installed == KERNELSPEC


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_kernelspec_is_the_one_jupyterlab_writes(path: Path) -> None:
    assert load(path)["metadata"].get("kernelspec") == KERNELSPEC, (
        f"{path.name}: set metadata.kernelspec to {KERNELSPEC}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_language_info_is_what_the_kernel_reports(path: Path) -> None:
    language_info = load(path)["metadata"].get("language_info")
    assert isinstance(language_info, dict), f"{path.name}: metadata.language_info is missing"
    assert without_version(language_info) == without_version(IPythonKernel.language_info), (
        f"{path.name}: metadata.language_info differs from what ipykernel reports; "
        "run the notebook once (nbconvert --execute --inplace) to get it right"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_format_is_nbformat_4_5_with_unique_cell_ids(path: Path) -> None:
    notebook = load(path)
    assert (notebook["nbformat"], notebook["nbformat_minor"]) == (4, 5), path.name
    ids = [cell.get("id") for cell in notebook["cells"]]
    bad = [i for i, cell_id in enumerate(ids) if not (cell_id and CELL_ID.match(cell_id))]
    assert not bad, f"{path.name}: cells {bad} have no valid id"
    assert len(set(ids)) == len(ids), f"{path.name}: two cells share an id"
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), nbformat.NO_CONVERT))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_file_is_laid_out_as_jupyter_saves_it(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    saved = nbformat.writes(nbformat.reads(text, nbformat.NO_CONVERT))
    if not saved.endswith("\n"):
        saved += "\n"  # as jupyter_server and nbconvert write it
    assert text == saved, (
        f"{path.name}: the JSON layout is not nbformat's (indent 1, sorted keys, final newline), "
        "so saving it in JupyterLab would change the file; write notebooks with nbformat.write"
    )
