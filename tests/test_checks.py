import json

import numpy as np
import pytest

from cvcourse.checks import CheckFailed, check, expect, expect_close, expect_equal, expect_shape, target


def test_passing_check_prints_tick(capsys):
    with check("Exercise 1 - sum", hint="add them"):
        expect_close(np.ones(3).sum(), 3.0)
    assert capsys.readouterr().out.strip() == "✅ Exercise 1 - sum"


def test_failing_check_prints_cross_and_hint_without_raising(capsys):
    with check("Exercise 2 - gray", hint="use the luma weights"):
        expect_close([1.0, 2.0], [1.0, 2.5], atol=0.1, what="to_gray")
    out = capsys.readouterr().out
    assert out.startswith("❌ Exercise 2 - gray: to_gray: 1 of 2 values differ") and "Hint: use the luma weights" in out


def test_not_implemented_prints_hourglass(capsys):
    def student():
        raise NotImplementedError()

    with check("Exercise 3"):
        student()
    assert "⏳ Exercise 3: not implemented yet" in capsys.readouterr().out


def test_undefined_name_is_pending(capsys):
    with check("Exercise 4"):
        undefined_student_function()  # noqa: F821
    assert "⏳" in capsys.readouterr().out


def test_crash_in_student_code_is_explained(capsys):
    with check("Exercise 5", hint="index carefully"):
        [][1]
    out = capsys.readouterr().out
    assert "❌ Exercise 5: your code raised IndexError" in out and "index carefully" in out


@pytest.mark.parametrize("body", ["fail", "pending", "crash"])
def test_strict_mode_raises(monkeypatch, body):
    monkeypatch.setenv("CVCOURSE_STRICT_CHECKS", "1")
    with pytest.raises((CheckFailed, ZeroDivisionError)):
        with check("Exercise 6"):
            if body == "fail":
                expect(False, "wrong")
            elif body == "pending":
                raise NotImplementedError
            else:
                1 / 0


def test_expect_close_reports_where(capsys):
    with pytest.raises(CheckFailed, match=r"at index \(1, 0\)"):
        expect_close(np.array([[0, 0], [5, 0]]), np.zeros((2, 2)))
    with pytest.raises(CheckFailed, match="shape"):
        expect_close(np.zeros(3), np.zeros(4))
    with pytest.raises(CheckFailed, match="None"):
        expect_close(None, np.zeros(4))
    with pytest.raises(CheckFailed, match="NaN"):
        expect_close([np.nan], [0.0])


def test_expect_equal_and_shape():
    expect_equal([1, 2], np.array([1, 2]))
    with pytest.raises(CheckFailed, match="got 227, expected 226"):
        expect_equal(227, 226, what="LBP code")
    with pytest.raises(CheckFailed, match="1 of 2 entries"):
        expect_equal([1, 3], [1, 2])
    expect_shape(np.zeros((2, 5)), (2, None))
    with pytest.raises(CheckFailed, match=r"expected shape \(3, None\)"):
        expect_shape(np.zeros((2, 5)), (3, None))


def test_target_publishes_and_asserts(monkeypatch, tmp_path, capsys):
    report = tmp_path / "r.jsonl"
    monkeypatch.setenv("CVCOURSE_REPORT", str(report))
    assert target("accuracy", 0.97, at_least=0.96) == 0.97
    target("loss", 2.0, at_most=1.0)
    out = capsys.readouterr().out
    assert "✅ accuracy = 0.97 (target ≥ 0.96)" in out and "❌ loss = 2 (target ≤ 1) not reached" in out
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert [r["met"] for r in records] == [True, False]
    monkeypatch.setenv("CVCOURSE_STRICT_CHECKS", "1")
    with pytest.raises(CheckFailed):
        target("loss", 2.0, at_most=1.0)


def test_target_inside_check_fails_that_check(capsys):
    with check("Exercise 7 - MLP"):
        target("accuracy", 0.5, at_least=0.9)
    assert "❌ Exercise 7 - MLP: accuracy = 0.5" in capsys.readouterr().out


def test_bad_arguments():
    with pytest.raises(ValueError, match="exactly one"):
        target("x", 1.0)
    with pytest.raises(TypeError, match="single number"):
        target("x", "high", at_least=1)
    with pytest.raises(ValueError, match="exercise name"):
        with check(""):
            pass
    with pytest.raises(TypeError, match="message"):
        expect(True, 3)
