"""Proving checks against wrong answers: reject(), forbid(), expect_equal's messages, the report, the build."""

import math
import sys

import nbformat
import numpy as np
import pytest

from cvcourse import build, checks, exercise_report, wrong_answers
from cvcourse.checks import CheckFailed, check, expect, expect_equal, forbid

CHECK_CELL = '''with check("Exercise 9 - double", hint="Multiply by two, do not add one."):
    expect(double(3) == 6, f"double(3) should be 6, got {double(3)}")
    expect(double(0) == 0, "double(0) should be 0")
    result_of_check = double(5)
'''


def _namespace(double):
    return {"check": check, "expect": expect, "double": double, "kept": "notebook state"}


def test_reject_passes_when_the_check_names_the_mistake(capsys):
    ns = _namespace(lambda x: 2 * x)
    out = wrong_answers.reject("Exercise 9 - double", mistake="do not add one", namespace=ns, inputs=["x = 1", CHECK_CELL],
                               double=lambda x: x + 1)
    assert "❌ Exercise 9 - double" in out
    assert "rejects: do not add one" in capsys.readouterr().out


def test_reject_restores_the_notebook_namespace():
    right = lambda x: 2 * x  # noqa: E731
    ns = _namespace(right)
    wrong_answers.reject("Exercise 9 - double", mistake="should be 6", namespace=ns, inputs=[CHECK_CELL], double=lambda x: x + 1)
    assert ns["double"] is right and ns["kept"] == "notebook state"
    assert "result_of_check" not in ns, "names the check cell bound while proving must not leak into the notebook"


def test_reject_leaves_the_notebooks_random_generators_as_they_were():
    rng = np.random.default_rng(0)
    ns = {**_namespace(lambda x: 2 * x), "rng": rng}
    cell = CHECK_CELL + "    noise = rng.random(5)\n"
    expected_next = np.random.default_rng(0).random(3)
    wrong_answers.reject("Exercise 9 - double", mistake="should be 6", namespace=ns, inputs=[cell], double=abs)
    assert np.array_equal(ns["rng"].random(3), expected_next)


def test_reject_raises_when_the_wrong_answer_is_accepted():
    ns = _namespace(lambda x: 2 * x)
    with pytest.raises(wrong_answers.WrongAnswerAccepted, match="did not reject"):
        wrong_answers.reject("Exercise 9 - double", mistake="anything", namespace=ns, inputs=[CHECK_CELL],
                             double=lambda x: x * 2.0)


def test_reject_raises_when_the_message_does_not_name_the_mistake():
    ns = _namespace(lambda x: 2 * x)
    with pytest.raises(wrong_answers.MistakeNotNamed, match="off by one"):
        wrong_answers.reject("Exercise 9 - double", mistake="off by one", namespace=ns, inputs=[CHECK_CELL],
                             double=lambda x: x + 1)


def test_a_wrong_answer_that_crashes_proves_nothing_unless_declared():
    ns = _namespace(lambda x: 2 * x)
    broken = lambda x: x / 0  # noqa: E731 - a slip in the wrong answer itself
    with pytest.raises(wrong_answers.MistakeNotNamed, match="crashed instead of being diagnosed"):
        wrong_answers.reject("Exercise 9 - double", mistake="add one", namespace=ns, inputs=[CHECK_CELL], double=broken)
    out = wrong_answers.reject("Exercise 9 - double", mistake="ZeroDivisionError", raises=True, namespace=ns, inputs=[CHECK_CELL],
                               double=broken)
    assert "your code raised ZeroDivisionError" in out


def test_reject_runs_without_strict_mode_and_puts_it_back(monkeypatch):
    monkeypatch.setenv(checks.STRICT_ENV, "1")
    ns = _namespace(lambda x: 2 * x)
    wrong_answers.reject("Exercise 9 - double", mistake="should be 6", namespace=ns, inputs=[CHECK_CELL], double=lambda x: 0)
    assert checks.strict()


def test_reject_publishes_its_verdict(tmp_path, monkeypatch):
    records = tmp_path / "records.jsonl"
    monkeypatch.setenv(checks.REPORT_ENV, str(records))
    ns = _namespace(lambda x: 2 * x)
    wrong_answers.reject("Exercise 9 - double", mistake="should be 6", namespace=ns, inputs=[CHECK_CELL], double=abs)
    rows = exercise_report.read_records(records)
    assert [r["kind"] for r in rows] == ["wrong-answer"], "the re-run of the check itself publishes nothing"
    verdicts = [r for r in rows if r["kind"] == "wrong-answer"]
    assert verdicts == [{"kind": "wrong-answer", "name": "Exercise 9 - double", "mistake": "should be 6",
                         "rejected": True, "named": True, "replaced": ["double"]}]


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(mistake="", double=abs), ValueError, "mistake"),
    (dict(mistake="x"), ValueError, "at least one replacement"),
    (dict(mistake="x", **{"not-a-name": abs}), ValueError, "identifiers"),
])
def test_reject_explains_bad_calls(kwargs, error, message):
    with pytest.raises(error, match=message):
        wrong_answers.reject("Exercise 9 - double", namespace={}, inputs=[CHECK_CELL], **kwargs)


def test_reject_outside_a_kernel_says_what_it_needs():
    with pytest.raises(RuntimeError, match="notebook kernel"):
        wrong_answers.reject("Exercise 9 - double", mistake="x", double=abs)


def test_the_check_cell_is_found_by_its_exact_name():
    assert wrong_answers.check_cell_source("Exercise 9 - double", ["a = 1", CHECK_CELL, "b = 2"]) == CHECK_CELL
    with pytest.raises(LookupError, match="spell the name exactly"):
        wrong_answers.check_cell_source("Exercise 9 - Double", [CHECK_CELL])
    proving_cell = 'reject("Exercise 9 - double", mistake="x", double=abs)  # mentions check("Exercise 9 - double")'
    assert wrong_answers.check_cell_source("Exercise 9 - double", [CHECK_CELL, proving_cell]) == CHECK_CELL


def test_forbid_catches_a_library_call_however_it_was_imported(capsys):
    solutions = {
        "module attribute": "import math\ndef solution(x, y):\n    return math.hypot(x, y)\n",
        "imported name": "from math import hypot\ndef solution(x, y):\n    return hypot(x, y)\n",
    }
    for code in solutions.values():
        namespace = {"check": check, "forbid": forbid, "__name__": "__main__"}   # a notebook's globals
        exec(code, namespace)
        exec('with check("demo"), forbid("math", instead="square, add, take the root"):\n    solution(3, 4)', namespace)
        assert "math.hypot is not allowed in this exercise: square, add, take the root" in capsys.readouterr().out


def test_forbid_catches_opencv_functions_whose_module_is_not_recorded(capsys):
    namespace = {"check": check, "forbid": forbid, "__name__": "__main__"}
    exec("import cv2\nimport numpy as np\ndef to_gray(image):\n    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)\n", namespace)
    assert namespace["cv2"].cvtColor.__module__ is None      # why a lookup by identity is needed
    exec('with check("demo"), forbid("cv2", instead="use NumPy"):\n    to_gray(np.zeros((2, 2, 3), np.uint8))', namespace)
    assert "cv2.cvtColor is not allowed in this exercise: use NumPy" in capsys.readouterr().out


def test_forbid_refuses_one_function_behind_its_wrappers(capsys, monkeypatch):
    import functools
    import types

    def total(values):
        return sum(values)

    @functools.wraps(total)
    def wrapper(*args):             # what TensorFlow puts between the notebook's call and the function
        return total(*args)

    library = types.ModuleType("fakelib")
    library.ops = types.SimpleNamespace(total=wrapper, other=lambda values: len(values))
    monkeypatch.setitem(sys.modules, "fakelib", library)
    namespace = {"check": check, "forbid": forbid, "__name__": "__main__", "fakelib": library}
    exec('with check("demo"), forbid("fakelib.ops.total", instead="add them up"):\n    fakelib.ops.other([1])', namespace)
    assert "✅ demo" in capsys.readouterr().out         # the rest of the library stays allowed
    exec('with check("demo"), forbid("fakelib.ops.total", instead="add them up"):\n    fakelib.ops.total([1, 2])', namespace)
    assert "fakelib.ops.total is not allowed in this exercise: add them up" in capsys.readouterr().out


def test_a_check_remembers_the_source_of_its_notebook_cell():
    import linecache

    cell = 'with check("Exercise 8 - remembered"):\n    expect(True, "-")\n'
    filename = "/nonexistent/ipykernel_0/cell_8.py"      # how IPython names a cell
    linecache.cache[filename] = (len(cell), None, cell.splitlines(True), filename)
    try:
        exec(compile(cell, filename, "exec"), {"check": check, "expect": expect})
    finally:
        del linecache.cache[filename]
    assert checks.cell_source("Exercise 8 - remembered") == cell
    ns = {"check": check, "expect": expect, "flag": True}
    out = wrong_answers.run_check(cell.replace("expect(True", "expect(flag"), ns, {"flag": False})
    assert out.startswith("❌ Exercise 8 - remembered")


def test_forbid_ignores_calls_a_library_makes_itself_and_restores_the_profiler():
    import sys
    import types

    library = types.ModuleType("demo_library")       # a library that uses math internally
    exec("import math\ndef length(x, y):\n    return math.hypot(x, y)\n", library.__dict__)
    before = sys.getprofile()
    with forbid("math", instead="-"):
        assert library.length(3, 4) == 5.0           # math.hypot is called by the library, not by this code
    assert sys.getprofile() is before


def test_forbid_refuses_bad_arguments():
    with pytest.raises(ValueError, match="module names"):
        with forbid(instead="x"):
            pass
    with pytest.raises(ValueError, match="instead"):
        with forbid("cv2", instead=" "):
            pass


def test_expect_equal_shows_what_was_returned_and_hides_the_answer_on_request():
    with pytest.raises(CheckFailed, match=r"got \[1, 2, 4\] \(expected \[1, 2, 3\]\)"):
        expect_equal([1, 2, 4], [1, 2, 3], what="kept boxes")
    with pytest.raises(CheckFailed) as hidden:
        expect_equal([1, 2, 4], [1, 2, 3], what="kept boxes", reveal=False)
    assert "got [1, 2, 4]" in str(hidden.value) and "expected" not in str(hidden.value)
    with pytest.raises(CheckFailed, match="got 5, expected 6"):
        expect_equal(5, 6)
    with pytest.raises(TypeError, match="reveal"):
        expect_equal(1, 1, reveal="no")


def test_the_student_copy_leaves_out_the_wrong_answer_cells(tmp_path):
    master = nbformat.v4.new_notebook()
    proving = nbformat.v4.new_code_cell('reject("Exercise 1", mistake="x", f=abs)', id="wrong-ex1")
    proving.metadata["tags"] = [build.WRONG_ANSWERS_TAG]
    master.cells = [nbformat.v4.new_markdown_cell("# 99 · Demo"), nbformat.v4.new_code_cell("x = 1", id="keep"), proving]
    path = tmp_path / "99_demo.ipynb"
    nbformat.write(master, path)
    ids = [cell.id for cell in build.make_student(path).cells]
    assert "keep" in ids and "wrong-ex1" not in ids


def test_the_exercise_report_reads_checks_and_verdicts(tmp_path):
    master = nbformat.v4.new_notebook()
    exercise = nbformat.v4.new_code_cell("def double(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION")
    exercise.metadata["tags"] = ["exercise"]
    master.cells = [exercise, nbformat.v4.new_code_cell(
        'with check("Exercise 9 - double"):\n    expect_close(double(2), 4, what="double(2) vs 4")\n'
        '    with forbid("numpy", instead="-"):\n        pass')]
    path = tmp_path / "99_demo.ipynb"
    nbformat.write(master, path)
    records = [{"kind": "check", "name": "Exercise 9 - double", "outcome": "passed"}] + [
        {"kind": "wrong-answer", "name": "Exercise 9 - double", "mistake": m, "rejected": True, "named": n}
        for m, n in (("adds one", True), ("squares", False))]
    rows = exercise_report.exercise_rows(records, [path])
    assert rows == [{"notebook": "99_demo.ipynb", "name": "Exercise 9 - double",
                     "checked_by": ["double(2) vs 4", "no calls into numpy"], "diagnoses": 0, "model_answer": "passed",
                     "wrong_answers": 2, "rejected": 2, "mistake_named": 1, "mistakes": ["adds one", "squares"]}]
    table = exercise_report.to_markdown(rows)
    assert "Proven: 0 of 1 exercises" in table and "| 0 | passed | 2/2 (1) |" in table


def test_every_master_exercise_is_found_with_its_check():
    rows = exercise_report.exercise_rows([])
    assert len(rows) >= 4 * len(build.masters())
    assert all(not row["name"].startswith("(cell") for row in rows), [r for r in rows if r["name"].startswith("(cell")]
    assert all(row["checked_by"] or row["diagnoses"] for row in rows)
