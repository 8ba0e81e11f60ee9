"""`make grade`: honest, partial and adversarial submissions, graded with the course's own checks."""

from __future__ import annotations

import copy
import csv
import hashlib
import json
from pathlib import Path

import nbformat
import pytest

from cvcourse.build import NOTEBOOKS, make_student
from cvcourse.grade import GUARD_SOURCE, defined_names, find_master, grade_folder, graded_notebook, read_submission

IMPORTS = "from cvcourse.checks import check, expect, expect_equal"
DOUBLE = "def double(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION"
SQUARE = "def square(x):\n    # BEGIN SOLUTION\n    return x * x\n    # END SOLUTION"
CHECK_1 = 'with check("Exercise 1 - double", hint="Twice x."):\n    expect_equal(double(3), 6, what="double(3)")'
CHECK_2 = 'with check("Exercise 2 - square", hint="x times x."):\n    expect_equal(square(4), 16, what="square(4)")'


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A two-exercise master in a folder of its own."""
    folder = tmp_path_factory.mktemp("masters")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    sources = [("# 01 · Tiny course", "markdown", []), (IMPORTS, "code", []), (DOUBLE, "code", ["exercise"]),
               (CHECK_1, "code", []), (SQUARE, "code", ["exercise"]), (CHECK_2, "code", []), ("print('done')", "code", [])]
    for number, (source, kind, tags) in enumerate(sources):
        cell = (nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell)(source, id=f"cell{number}")
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.write(nb, folder / "01_tiny.ipynb")
    return folder


def _student(course: Path) -> nbformat.NotebookNode:
    return make_student(course / "01_tiny.ipynb")


def _answer(nb, cell_id: str, source: str):
    nb = copy.deepcopy(nb)
    next(cell for cell in nb.cells if cell.get("id") == cell_id).source = source
    return nb


def _submissions(course: Path, folder: Path) -> None:
    blank = _student(course)
    right_1, right_2 = "def double(x):\n    return x + x", "def square(x):\n    return x ** 2"
    complete = _answer(_answer(blank, "cell2", right_1), "cell4", right_2)
    cases = {
        "honest/01_tiny.ipynb": complete,
        "partial/01_tiny.ipynb": _answer(blank, "cell2", right_1),
        "fake_tick/01_tiny.ipynb": _answer(_answer(blank, "cell2", "def double(x):\n    return x + 2"),
                                           "cell3", 'print("✅ Exercise 1 - double")'),
        "redefines_check/01_tiny.ipynb": _answer(blank, "cell2", "import contextlib\ndef double(x):\n    return 0\n"
                                                 "check = lambda *a, **k: contextlib.nullcontext()"),
        "patches_checks/01_tiny.ipynb": _answer(blank, "cell2", "import cvcourse.checks as c\ndef double(x):\n    return 0\n"
                                                "c.expect_equal = lambda *a, **k: None\nexpect_equal = c.expect_equal"),
        "endless/01_tiny.ipynb": _answer(complete, "cell2", "while True:\n    pass"),
        "kills_kernel/01_tiny.ipynb": _answer(complete, "cell2", "import os\nos._exit(1)"),
        "crashes/01_tiny.ipynb": _answer(complete, "cell2", "def double(x):\n    raise ValueError('boom')"),
        "huge_output/01_tiny.ipynb": _answer(complete, "cell2", "print('x' * 3_000_000)\n" + right_1),
        "new_ids/01_tiny.ipynb": complete,
    }
    deleted = copy.deepcopy(complete)
    deleted.cells = [cell for cell in deleted.cells if cell.get("id") not in ("cell4", "cell5", "cell3")]
    cases["deleted_cells/01_tiny.ipynb"] = deleted
    renamed = copy.deepcopy(complete)
    for cell in renamed.cells:
        if cell.get("id") in ("cell2", "cell4"):
            cell["id"] = "new" + cell["id"]
    cases["new_ids/01_tiny.ipynb"] = renamed
    for name, nb in cases.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / name)
    (folder / "broken_json" ).mkdir()
    (folder / "broken_json" / "01_tiny.ipynb").write_text('{"cells": [', encoding="utf-8")
    (folder / "notes.txt").write_text("my answers are in my head", encoding="utf-8")
    other = nbformat.v4.new_notebook()
    other.cells = [nbformat.v4.new_code_cell("print(1)")]
    nbformat.write(other, folder / "holiday_photos.ipynb")


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    _submissions(course, folder)
    before = _digest(folder)
    out = tmp_path_factory.mktemp("gradebook")
    rows = grade_folder(folder, out, masters_dir=course, timeout=30)
    return {row["submission"]: row for row in rows}, out, before == _digest(folder)


def _marks(row) -> list[str]:
    return [row["marks"].get("Exercise 1 - double"), row["marks"].get("Exercise 2 - square")]


def test_honest_and_partial_submissions(graded):
    rows, _, _ = graded
    assert _marks(rows["honest/01_tiny.ipynb"]) == ["passed", "passed"] and rows["honest/01_tiny.ipynb"]["total"] == "2/2"
    assert _marks(rows["partial/01_tiny.ipynb"]) == ["passed", "pending"] and rows["partial/01_tiny.ipynb"]["total"] == "1/2"
    assert rows["honest/01_tiny.ipynb"]["student"] == "honest"


def test_cheating_on_the_checks_gains_nothing(graded):
    rows, _, _ = graded
    for name in ("fake_tick", "redefines_check", "patches_checks"):
        assert _marks(rows[f"{name}/01_tiny.ipynb"])[0] == "failed", name


def test_broken_submissions_get_a_line_and_the_rest_is_graded(graded):
    rows, _, _ = graded
    endless = rows["endless/01_tiny.ipynb"]
    assert "stopped" in endless["note"] and "limit" in endless["note"] and endless["total"] == "0/2"
    killed = rows["kills_kernel/01_tiny.ipynb"]
    assert "kernel died" in killed["note"] and _marks(killed) == ["not reached", "not reached"]
    assert _marks(rows["crashes/01_tiny.ipynb"]) == ["failed", "passed"]
    assert _marks(rows["huge_output/01_tiny.ipynb"]) == ["passed", "passed"]
    deleted = rows["deleted_cells/01_tiny.ipynb"]
    assert _marks(deleted) == ["passed", "pending"] and "square missing" in deleted["note"]
    assert _marks(rows["new_ids/01_tiny.ipynb"]) == ["passed", "passed"]
    assert rows["broken_json/01_tiny.ipynb"]["note"].startswith("not a notebook: invalid JSON")
    assert rows["notes.txt"]["note"].startswith("not a notebook")
    assert rows["holiday_photos.ipynb"]["note"].startswith("not a course notebook")


def test_gradebook_files_and_untouched_submissions(graded):
    rows, out, untouched = graded
    assert untouched, "grading modified a submission"
    with (out / "gradebook.csv").open(encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == len(rows)
    honest = next(r for r in table if r["submission"] == "honest/01_tiny.ipynb")
    assert (honest["Exercise 1 - double"], honest["Exercise 2 - square"], honest["total"]) == ("✅", "✅", "2/2")
    partial = next(r for r in table if r["submission"] == "partial/01_tiny.ipynb")
    assert (partial["Exercise 2 - square"], partial["total"]) == ("⏳", "1/2")
    markdown = (out / "gradebook.md").read_text(encoding="utf-8")
    assert "## 01_tiny.ipynb" in markdown and "| honest | honest/01_tiny.ipynb | ✅ | ✅ | 2/2 |" in markdown
    huge = (out / "executed" / "huge_output_01_tiny.ipynb").stat().st_size
    assert huge < 1_000_000, "the executed copy kept a 3 MB output"


def test_graded_notebook_takes_only_answers_from_the_submission(course):
    submission = _answer(_answer(_student(course), "cell3", "print('✅')"), "cell2", "def double(x):\n    return 2 * x")
    graded, notes = graded_notebook(course / "01_tiny.ipynb", submission)
    sources = [cell.source for cell in graded.cells]
    assert CHECK_1 in sources and "print('✅')" not in sources
    assert "def double(x):\n    return 2 * x" in sources
    assert sources.count(GUARD_SOURCE) == 2 and notes == []


def test_read_submission_and_helpers(tmp_path, course):
    bad = tmp_path / "x.ipynb"
    bad.write_text(json.dumps({"cells": "nope"}), encoding="utf-8")
    with pytest.raises(ValueError, match="no list of cells"):
        read_submission(bad)
    assert defined_names("def f():\n    pass\nclass C: pass\na, b = 1, 2") == {"f", "C", "a", "b"}
    assert defined_names("def (") == set()
    assert find_master(_student(course), tmp_path / "anything.ipynb", [course / "01_tiny.ipynb"]) == course / "01_tiny.ipynb"
    with pytest.raises(ValueError, match="profile"):
        grade_folder(tmp_path, tmp_path / "out", masters_dir=course, profile="fast")
    with pytest.raises(FileNotFoundError, match="folder"):
        grade_folder(tmp_path / "missing", tmp_path / "out", masters_dir=course)


def test_a_real_module_graded_from_its_master_and_student_copy(tmp_path):
    """The course's fastest module: its solutions score every exercise, the untouched student copy none."""
    master = NOTEBOOKS / "11_deep_dream.ipynb"
    folder = tmp_path / "submissions"
    (folder / "solved").mkdir(parents=True)
    (folder / "blank").mkdir()
    solved = nbformat.read(master, as_version=4)
    solved.cells = [cell for cell in solved.cells if "wrong-answers" not in cell.metadata.get("tags", [])]
    nbformat.write(solved, folder / "solved" / master.name)
    nbformat.write(make_student(master), folder / "blank" / master.name)
    rows = {row["student"]: row for row in grade_folder(folder, tmp_path / "out", timeout=600)}
    exercises = len(rows["solved"]["marks"])
    assert exercises >= 4 and rows["solved"]["total"] == f"{exercises}/{exercises}", rows["solved"]
    assert rows["blank"]["total"] == f"0/{exercises}" and set(rows["blank"]["marks"].values()) == {"pending"}, rows["blank"]
