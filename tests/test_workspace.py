"""`make lab`'s workspace: copies of the student notebooks that the course never overwrites."""

from __future__ import annotations

import json

import pytest

from cvcourse.workspace import MANIFEST, for_this_machine, prepare_workspace


def _course(tmp_path):
    course = tmp_path / "student"
    course.mkdir()
    for name in ("01_pixels.ipynb", "02_perceptron.ipynb"):
        (course / name).write_text(json.dumps({"cells": [], "version": 1}), encoding="utf-8")
    return course


def test_first_run_copies_and_second_run_changes_nothing(tmp_path):
    course, workspace = _course(tmp_path), tmp_path / "workspace"
    lines = prepare_workspace(workspace, course, today="2026-12-02")
    assert lines == [f"{workspace}: 2 notebooks, 2 copied from {course}/ now (your own copies: edit and save freely; "
                     "git does not track them)"]
    assert (workspace / "01_pixels.ipynb").read_bytes() == (course / "01_pixels.ipynb").read_bytes()
    assert prepare_workspace(workspace, course, today="2026-12-02") == [
        f"{workspace}: 2 notebooks (your own copies: edit and save freely; git does not track them)"]


def test_a_students_work_is_never_overwritten_and_a_course_update_lands_beside_it(tmp_path):
    course, workspace = _course(tmp_path), tmp_path / "workspace"
    prepare_workspace(workspace, course, today="2026-12-01")
    mine = workspace / "01_pixels.ipynb"
    mine.write_text('{"cells": ["my answers"]}', encoding="utf-8")
    assert len(prepare_workspace(workspace, course, today="2026-12-01")) == 1          # a student's edits alone: nothing to say
    (course / "01_pixels.ipynb").write_text(json.dumps({"cells": [], "version": 2}), encoding="utf-8")
    lines = prepare_workspace(workspace, course, today="2026-12-02")
    assert mine.read_text(encoding="utf-8") == '{"cells": ["my answers"]}'
    fresh = workspace / "01_pixels.course-2026-12-02.ipynb"
    assert fresh.read_bytes() == (course / "01_pixels.ipynb").read_bytes()
    assert len(lines) == 2 and "01_pixels.ipynb: the course's version has changed" in lines[1] and fresh.name in lines[1]
    assert len(prepare_workspace(workspace, course, today="2026-12-03")) == 1           # said once per course change
    (workspace / "02_perceptron.ipynb").unlink()                                          # a deleted copy comes back
    assert "1 copied" in prepare_workspace(workspace, course)[0]
    assert json.loads((workspace / MANIFEST).read_text())["notebooks"].keys() == {"01_pixels.ipynb", "02_perceptron.ipynb"}


def test_bad_folders_are_refused(tmp_path):
    course = _course(tmp_path)
    with pytest.raises(FileNotFoundError, match="no student notebooks"):
        prepare_workspace(tmp_path / "ws", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="folder of its own"):
        prepare_workspace(course, course)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        prepare_workspace(tmp_path / "file", course)


def test_copies_get_this_pythons_version_so_jupyterlab_opens_them_saved(tmp_path):
    import platform

    course, workspace = tmp_path / "student", tmp_path / "workspace"
    course.mkdir()
    nb = {"cells": [], "metadata": {"language_info": {"name": "python", "mimetype": "text/x-python"}}, "nbformat": 4, "nbformat_minor": 5}
    (course / "01_pixels.ipynb").write_text(json.dumps(nb, sort_keys=True, indent=1) + "\n", encoding="utf-8")
    prepare_workspace(workspace, course, today="2026-12-02")
    copy = json.loads((workspace / "01_pixels.ipynb").read_text(encoding="utf-8"))
    assert copy["metadata"]["language_info"] == {"name": "python", "mimetype": "text/x-python", "version": platform.python_version()}
    assert prepare_workspace(workspace, course, today="2026-12-02") == [
        f"{workspace}: 1 notebooks (your own copies: edit and save freely; git does not track them)"]
    (workspace / MANIFEST).unlink()  # without its record, an untouched copy is still recognised as the course's
    assert len(prepare_workspace(workspace, course, today="2026-12-03")) == 1
    assert not (workspace / "01_pixels.course-2026-12-03.ipynb").exists()


def test_for_this_machine_leaves_other_text_alone():
    assert for_this_machine("[1, 2]", "3.11.7") == "[1, 2]"
    assert for_this_machine('{"metadata": {"language_info": {"name": "R"}}}', "3.11.7") == '{"metadata": {"language_info": {"name": "R"}}}'
    versioned = '{"metadata": {"language_info": {"name": "python", "version": "3.9.1"}}}'
    assert for_this_machine(versioned, "3.11.7") == versioned
