"""Each notebook has the parts a learner relies on, so a rewrite cannot drop one unnoticed.

An exercise cell to fill in, the course's answer folded away (its source, and the output of the
check that runs it, which would give the answer away), review questions and further reading, the
chapter's section it retells, and code cells short enough to read in one screen.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
IDS = [path.stem for path in NOTEBOOKS]
LONGEST_CELL = 30  # lines of code in one cell


def tagged(cell: nbformat.NotebookNode, tag: str) -> bool:
    return tag in cell.metadata.get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_exercise_has_a_place_to_try_and_a_folded_answer(path: Path) -> None:
    cells = nbformat.read(path, as_version=4).cells
    exercises = [c for c in cells if tagged(c, "exercise")]
    assert exercises and all("..." in c.source for c in exercises), "an exercise needs a `...`"
    solutions = [i for i, c in enumerate(cells) if tagged(c, "solution")]
    assert len(solutions) >= len(exercises)
    for i in solutions:
        folded = cells[i].metadata.get("jupyter", {})
        assert folded.get("source_hidden") and folded.get("outputs_hidden"), f"cell {i}"
        check = next(c for c in cells[i + 1 :] if c.cell_type == "code")
        assert check.metadata.get("jupyter", {}).get("outputs_hidden"), (
            f"the check after solution cell {i} shows its verdict, and so the answer"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_notebook_closes_with_review_questions_and_further_reading(path: Path) -> None:
    headings = [
        line
        for cell in nbformat.read(path, as_version=4).cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("#")
    ]
    assert any("Review questions" in h for h in headings)
    assert any("Further reading" in h for h in headings)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_the_notebook_names_the_chapter_section_it_retells(path: Path) -> None:
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    assert "§" in text
    assert "../shared" not in text and "digest" not in text.lower()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_code_cell_is_longer_than_a_screen(path: Path) -> None:
    for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type == "code":
            assert len(cell.source.splitlines()) <= LONGEST_CELL, f"cell {i}"
