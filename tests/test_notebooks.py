"""Structural tests of the master and student notebooks (the masters also run under nbval)."""

import re

import nbformat
import pytest

from cvcourse import build

MASTERS = build.masters()
IDS = [path.name for path in MASTERS]


def _read(path):
    return nbformat.read(path, as_version=4)


def _solution_lines(nb, name):
    """Distinctive lines inside solution regions: long enough, and not also outside a region."""
    inside, outside = set(), set()
    for index, cell in enumerate(nb.cells):
        kind = "code" if cell.cell_type == "code" else "markdown"
        regions = build.solution_regions(cell.source, kind, where=f"{name}, cell {index}")
        lines = cell.source.splitlines()
        covered = {i for first, last in regions for i in range(first + 1, last)}
        for i, line in enumerate(lines):
            (inside if i in covered else outside).add(line.strip())
    return {line for line in inside - outside if len(line) >= 12}


def test_there_are_masters():
    assert MASTERS, "notebooks/ holds no master notebooks"


@pytest.mark.parametrize("path", MASTERS, ids=IDS)
def test_master_follows_the_template(path):
    nb = _read(path)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and re.match(rf"# {path.name[:2]} ", first.source)
    for needed in ("Learning goals", "Estimated time"):
        assert needed in first.source, f"the title cell must state the {needed}"
    markdown = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    assert re.search(r"^## .*Summary", markdown, re.M), "a '## Summary' section is required"
    assert re.search(r"^## .*Further reading", markdown, re.M), "a '## Further reading' section is required"
    assert "$" in markdown, "theory with formulas is expected"
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    assert "seed_everything(" in code and "pick(" in code


@pytest.mark.parametrize("path", MASTERS, ids=IDS)
def test_master_has_graded_exercises_each_followed_by_a_check(path):
    nb = _read(path)
    exercises = [i for i, cell in enumerate(nb.cells) if "exercise" in cell.metadata.get("tags", [])]
    assert len(exercises) >= 4, f"{path.name}: at least four graded exercises (cells tagged 'exercise')"
    for index in exercises:
        cell = nb.cells[index]
        assert build.solution_regions(cell.source, "code", where=path.name), f"cell {index} is tagged exercise but holds no solution"
        following = [c.source for c in nb.cells[index + 1 : index + 4] if c.cell_type == "code"]
        assert any("with check(" in source for source in following), f"exercise cell {index} has no check cell after it"


@pytest.mark.parametrize("path", MASTERS, ids=IDS)
def test_master_has_no_outputs(path):
    for cell in _read(path).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "masters are committed without outputs (make strip)"


@pytest.mark.parametrize("path", MASTERS, ids=IDS)
def test_no_solution_line_appears_in_the_student_notebook(path):
    """No distinctive solution line stands as a line of the student copy (prose may name an API call)."""
    student_path = build.STUDENT_DIR / path.name
    assert student_path.exists(), "run `make student`"
    master = _read(path)
    student_lines = {line.strip() for cell in _read(student_path).cells for line in cell.source.splitlines()}
    secret = _solution_lines(master, path.name)
    assert secret, "a master with exercises has solution lines"
    leaked = sorted(secret & student_lines)
    assert not leaked, f"solution lines leak into the student copy: {leaked[:3]}"
    for marker in ("BEGIN SOLUTION", "END SOLUTION"):
        assert not any(marker in line for line in student_lines)


@pytest.mark.parametrize("path", MASTERS, ids=IDS)
def test_student_notebook_is_ready_for_students(path):
    nb = _read(build.STUDENT_DIR / path.name)
    assert [cell.id for cell in nb.cells[:2]] == ["colab-badge", "colab-install"]
    # the course's kernel, by the name Colab needs and the name `make lab` shows
    assert nb.metadata["kernelspec"] == {"name": "python3", "display_name": "Python 3 (cvcourse)", "language": "python"}
    assert nb.metadata["language_info"] == build.LANGUAGE_INFO  # no per-machine version: make lab adds it
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [] and cell.execution_count is None
        tags = cell.metadata.get("tags", [])
        if "raise NotImplementedError()" in cell.source or set(tags) & set(build.EXERCISE_TAGS):
            assert build.RAISES_TAG in tags


def test_the_leak_detector_finds_a_copied_solution_line():
    master = nbformat.v4.new_notebook()
    master.cells = [
        nbformat.v4.new_code_cell("def f(x):\n    # BEGIN SOLUTION\n    return np.hypot(x, x) * 2\n    # END SOLUTION"),
        nbformat.v4.new_code_cell("print('shared line, long enough')"),
    ]
    secret = _solution_lines(master, "demo")
    assert secret == {"return np.hypot(x, x) * 2"}
    student_lines = {"return np.hypot(x, x) * 2", "raise NotImplementedError()"}
    assert secret & student_lines
