"""The leak detector: renamed, reformatted and near copies of a solution are found; other code is not."""

import nbformat
import pytest

from cvcourse import build, leaks

SOLUTION = '''def iou(box_a, box_b):
    """IoU of two (x1, y1, x2, y2) boxes."""
    # BEGIN SOLUTION
    x1, y1 = max(box_a[0], box_b[0]), max(box_a[1], box_b[1])
    x2, y2 = min(box_a[2], box_b[2]), min(box_a[3], box_b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    area_a = (box_a[2] - box_a[0]) * (box_a[3] - box_a[1])
    area_b = (box_b[2] - box_b[0]) * (box_b[3] - box_b[1])
    return inter / (area_a + area_b - inter)
    # END SOLUTION
'''

RENAMED_AND_REFORMATTED = '''def reference_overlap(p, q):
    """The notebook's own version, used later."""
    left, top = max(p[0], q[0]), max(p[1],q[1])   # corners of the intersection
    right, bottom = min(p[2], q[2]), min(p[3], q[3])
    common = max(0.0, right - left) * max(0.0, bottom - top)
    size_p = (p[2] - p[0]) * (p[3] - p[1])
    size_q = (q[2]-q[0]) * (q[3]-q[1])
    return common / (size_p + size_q - common)
'''

NEAR_COPY = RENAMED_AND_REFORMATTED.replace("return common / (size_p + size_q - common)",
                                            "union = size_p + size_q - common\n    return common / union")


def _student_of(master_cells):
    master = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in master_cells])
    stubbed = [build.student_source(source, "code", where="test") for source in master_cells]
    return master, stubbed


def test_a_renamed_and_reformatted_copy_is_found_by_its_syntax_tree():
    master, student = _student_of([SOLUTION])
    found = leaks.find_leaks_in_sources([SOLUTION], student + [RENAMED_AND_REFORMATTED])
    assert [leak.kind for leak in found] == ["syntax tree"]
    assert found[0].similarity == 1.0 and "cell 1" in found[0].where
    assert "cell 0" in found[0].snippet.where


def test_a_near_copy_is_found():
    _, student = _student_of([SOLUTION])
    found = leaks.find_leaks_in_sources([SOLUTION], student + [NEAR_COPY])
    assert [leak.kind for leak in found] == ["near copy"]
    assert leaks.SIMILARITY <= found[0].similarity < 1.0


def test_a_hint_that_is_the_code_is_found_in_markdown():
    master = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SOLUTION)])
    hint = "**Hint:**\n\n```python\n" + RENAMED_AND_REFORMATTED + "```\n"
    student = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(build.student_source(SOLUTION, "code", where="t")),
                                              nbformat.v4.new_markdown_cell(hint)])
    found = leaks.find_leaks(master, student)
    assert found and found[0].where.endswith("(markdown)")


def test_a_copy_with_only_whitespace_changed_is_found_as_text_even_when_it_does_not_parse():
    solution = "# BEGIN SOLUTION\ntotal = np.sum(np.abs(np.diff(image, axis=0))) + np.sum(np.abs(np.diff(image, axis=1)))\n# END SOLUTION\n"
    broken_cell = "total = np.sum( np.abs(np.diff(image, axis=0)) ) + np.sum(np.abs(np.diff(image,axis=1)))\nif (:\n"
    found = leaks.find_leaks_in_sources([solution], [broken_cell])
    assert [leak.kind for leak in found] == ["text"]


def test_the_stubbed_student_copy_and_unrelated_code_are_not_leaks():
    _, student = _student_of([SOLUTION])
    unrelated = "def area(box):\n    width = box[2] - box[0]\n    height = box[3] - box[1]\n    return width * height\n"
    assert leaks.find_leaks_in_sources([SOLUTION], student + [unrelated]) == []


def test_a_small_solution_is_not_compared_by_syntax_tree():
    solution = "# BEGIN SOLUTION\ny = x + 1\n# END SOLUTION\n"
    assert leaks.find_leaks_in_sources([solution], ["z = w + 1"]) == []


def test_ipython_magics_do_not_stop_the_comparison():
    _, student = _student_of([SOLUTION])
    found = leaks.find_leaks_in_sources([SOLUTION], student + ["%matplotlib inline\n" + RENAMED_AND_REFORMATTED])
    assert len(found) == 1


def test_suspects_scores_a_rewrite_that_is_not_a_copy():
    rewrite = '''def reference(p, q):
    inter_w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
    inter_h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
    inter = inter_w * inter_h
    area_a = (p[2] - p[0]) * (p[3] - p[1])
    area_b = (q[2] - q[0]) * (q[3] - q[1])
    return inter / (area_a + area_b - inter)
'''
    master, student = _student_of([SOLUTION])
    student_nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in student + [rewrite]])
    assert leaks.find_leaks(master, student_nb) == []
    scored = leaks.suspects(master, student_nb, threshold=0.3)
    assert scored and "reference" in scored[0][2]


@pytest.mark.parametrize("path", build.masters(), ids=[p.name for p in build.masters()])
def test_no_student_notebook_holds_a_copy_of_a_solution(path):
    found = leaks.notebook_leaks(path)
    assert not found, "\n".join(leak.describe() for leak in found)


def test_a_deliberately_leaked_student_copy_fails(tmp_path):
    master_path = build.masters()[0]
    master = nbformat.read(master_path, as_version=4)
    snippet = max(leaks.solution_snippets(master, master_path.name), key=lambda s: s.nodes)
    student = build.make_student(master_path)
    renamed = snippet.source.replace("image", "picture").replace("    ", "  ")
    student.cells.append(nbformat.v4.new_code_cell("def _reference(picture, *args):\n" + "".join(
        f"    {line}\n" for line in renamed.splitlines())))
    leaked = tmp_path / master_path.name
    nbformat.write(student, leaked)
    found = leaks.notebook_leaks(master_path, leaked)
    assert found and all(leak.where.startswith(f"student {master_path.name}, cell {len(student.cells) - 1}") for leak in found)


@pytest.mark.parametrize("bad, message", [
    (dict(min_nodes=0), "min_nodes"),
    (dict(similarity=1.5), "similarity"),
    (dict(similarity=True), "similarity"),
])
def test_bad_settings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        leaks.find_leaks_in_sources([SOLUTION], [], **bad)


def test_missing_notebooks_and_bad_sources_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="make student"):
        leaks.notebook_leaks(tmp_path / "01_missing.ipynb")
    with pytest.raises(TypeError, match="string"):
        leaks.normalised_text(42)
    with pytest.raises(ValueError, match="threshold"):
        leaks.suspects(nbformat.v4.new_notebook(), nbformat.v4.new_notebook(), threshold=0)
