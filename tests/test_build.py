"""The student/solution build: markers, stubs, tags, determinism, errors."""

import nbformat
import pytest

from cvcourse import REPO_URL, build


def _notebook(tmp_path, cells, name="01_demo.ipynb"):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def code(source, tags=(), cell_id=None):
    cell = nbformat.v4.new_code_cell(source)
    if cell_id:
        cell.id = cell_id
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def test_code_region_becomes_stub_at_its_indentation():
    source = "def f(x):\n    '''doc'''\n    # BEGIN SOLUTION\n    y = x * 2\n    return y\n    # END SOLUTION\n"
    assert build.student_source(source, "code", where="t") == (
        "def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    )


def test_several_regions_and_markdown():
    source = "a\n# BEGIN SOLUTION\nb\n# END SOLUTION\nc\n# BEGIN SOLUTION\nd\n# END SOLUTION"
    out = build.student_source(source, "code", where="t")
    assert out.count("raise NotImplementedError()") == 2 and "b" not in out.split() and out.startswith("a\n")
    md = "Why?\n<!-- BEGIN SOLUTION -->\nBecause pooling.\n<!-- END SOLUTION -->\n"
    assert build.student_source(md, "markdown", where="t") == "Why?\n_YOUR ANSWER HERE_\n"


@pytest.mark.parametrize(
    "source, message",
    [
        ("# BEGIN SOLUTION\nx = 1\n", "line 1: '# BEGIN SOLUTION' is never closed"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "line 2: nested"),
        ("x = 1\n# END SOLUTION\n", "line 2: '# END SOLUTION' without"),
        ("#BEGIN SOLUTION\n# END SOLUTION\n", "line 1: malformed marker"),
        ("# BEGIN SOLUTION\nx\n# END SOLUTION here\n", "line 3: malformed marker"),
    ],
)
def test_malformed_markers_name_notebook_cell_and_line(source, message):
    with pytest.raises(build.MarkerError, match=f"nb.ipynb, cell 3.*{message}"):
        build.student_source(source, "code", where="nb.ipynb, cell 3 (id abc)")


def test_make_student_stops_on_bad_marker_with_cell(tmp_path):
    path = _notebook(tmp_path, [code("x = 1"), code("# BEGIN SOLUTION\ny = 2", cell_id="bad-cell")])
    with pytest.raises(build.MarkerError, match=r"01_demo.ipynb, cell 1 \(id bad-cell\), line 1"):
        build.make_student(path)


def test_make_student_tags_clears_outputs_and_adds_colab_header(tmp_path):
    solved = code("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION", cell_id="ex1")
    solved.outputs = [nbformat.v4.new_output("stream", text="secret output")]
    solved.execution_count = 3
    user = code("print(f())", tags=["depends-on-exercise"], cell_id="use")
    plain = code("print('hello')", cell_id="plain")
    path = _notebook(tmp_path, [nbformat.v4.new_markdown_cell("# 01 · Demo"), solved, user, plain])
    student = build.make_student(path)
    header, install = student.cells[:2]
    assert "colab.research.google.com/github/" in header.source and "notebooks/student/01_demo.ipynb" in header.source
    assert REPO_URL in install.source and "google.colab" in install.source
    cells = {cell.id: cell for cell in student.cells}
    assert cells["ex1"].outputs == [] and cells["ex1"].execution_count is None
    assert "return 1" not in cells["ex1"].source
    assert "raises-exception" in cells["ex1"].metadata["tags"]
    assert "raises-exception" in cells["use"].metadata["tags"]
    assert "tags" not in cells["plain"].metadata


def test_student_build_is_deterministic_and_idempotent(tmp_path):
    path = _notebook(tmp_path, [code("# BEGIN SOLUTION\nx = 1\n# END SOLUTION", cell_id="a")])
    out = tmp_path / "student"
    build.build_students(out, tmp_path)
    first = (out / "01_demo.ipynb").read_text()
    build.build_students(out, tmp_path)
    assert (out / "01_demo.ipynb").read_text() == first
    assert build.stale_students(out, tmp_path) == []
    # rebuilding the student copy from a rebuilt header must not duplicate it
    assert first.count('"id": "colab-badge"') == 1
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = "# BEGIN SOLUTION\nx = 2\n# END SOLUTION"
    nbformat.write(nb, path)
    assert build.stale_students(out, tmp_path) == []  # solution changes are invisible to students
    nb.cells.append(code("print(x)"))
    nbformat.write(nb, path)
    assert build.stale_students(out, tmp_path) == ["01_demo.ipynb: out of date"]
    (out / "99_orphan.ipynb").write_text("{}")
    assert "99_orphan.ipynb: has no master" in build.stale_students(out, tmp_path)


def test_strip_outputs(tmp_path):
    cell = code("print(1)")
    cell.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    cell.execution_count = 1
    path = _notebook(tmp_path, [cell])
    assert build.strip_outputs(path) is True
    assert build.strip_outputs(path) is False
    assert nbformat.read(path, as_version=4).cells[0].outputs == []


def test_masters_are_found_in_module_order(tmp_path):
    for name in ["02_b.ipynb", "01_a.ipynb", "notes.ipynb", "1_bad.ipynb"]:
        _notebook(tmp_path, [], name)
    assert [p.name for p in build.masters(tmp_path)] == ["01_a.ipynb", "02_b.ipynb"]


def test_cli_reports_marker_errors(tmp_path, monkeypatch, capsys):
    _notebook(tmp_path, [code("# END SOLUTION")])
    monkeypatch.setattr(build, "NOTEBOOKS", tmp_path)
    monkeypatch.setattr(build, "STUDENT_DIR", tmp_path / "student")
    monkeypatch.setattr(build.build_students, "__defaults__", (tmp_path / "student", tmp_path))
    assert build.main(["student"]) == 2
    assert "without" in capsys.readouterr().err


def test_student_metadata_names_the_course_kernel_and_what_ipykernel_reports(tmp_path):
    student = build.make_student(_notebook(tmp_path, [code("x = 1", cell_id="a")]))
    assert student.metadata["kernelspec"] == {"name": "python3", "display_name": "Python 3 (cvcourse)", "language": "python"}
    assert "Python 3 (cvcourse)" in (build.ROOT / "Makefile").read_text()  # the display name make setup installs
    info = student.metadata["language_info"]
    assert "version" not in info  # it differs per machine; the workspace writes the local one
    student.metadata["language_info"]["name"] = "changed"
    assert build.LANGUAGE_INFO["name"] == "python"  # each notebook gets its own copy


def test_student_language_info_is_what_the_kernel_reports_but_the_version():
    import platform

    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        reported = kc.kernel_info(reply=True, timeout=60)["content"]["language_info"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert reported.pop("version") == platform.python_version()
    assert reported == build.LANGUAGE_INFO
