"""The course book (cvcourse/book.py): pages without solutions but with outputs, names, errors, a tiny Sphinx build."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from cvcourse import book
from cvcourse.build import ROOT


def _code(source, tags=(), outputs=(), cell_id=None):
    cell = nbformat.v4.new_code_cell(source, id=cell_id)
    if tags:
        cell.metadata["tags"] = list(tags)
    cell.outputs = list(outputs)
    return cell


def _executed():
    nb = nbformat.v4.new_notebook()
    png = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    widget_view = nbformat.v4.new_output("display_data", data={
        book.WIDGET_VIEW: {"model_id": "box", "version_major": 2, "version_minor": 0}, "text/plain": "interactive(...)"})
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 01 · Demo"),
        _code("print('install')", tags=["colab-header"], cell_id="colab-install"),
        _code("def f():\n    # BEGIN SOLUTION\n    return 42\n    # END SOLUTION\n", tags=["exercise", "raises-exception"],
              outputs=[nbformat.v4.new_output("stream", text="the answer printed\n")], cell_id="ex"),
        _code("reject(f, lambda: 41)", tags=["wrong-answers"], cell_id="wrong"),
        nbformat.v4.new_markdown_cell("Why?\n<!-- BEGIN SOLUTION -->\nBecause of the model answer.\n<!-- END SOLUTION -->"),
        _code("interact(explore)", outputs=[widget_view], cell_id="explorer"),
        _code("plot()", outputs=[png], cell_id="plot"),
    ]
    nb.metadata["widgets"] = {book.WIDGET_STATE: {"state": {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_slider", "IPY_MODEL_out"]}},
        "slider": {"model_name": "IntSliderModel", "state": {}},
        "out": {"model_name": "OutputModel", "state": {"outputs": [dict(png)]}},
    }}}
    return nb


def test_a_page_has_no_solution_no_master_only_cell_and_every_output():
    page = book.book_notebook(_executed(), "01_demo.ipynb")
    ids = [cell.get("id") for cell in page.cells]
    assert "colab-install" not in ids and "wrong" not in ids
    text = "\n".join(cell.source for cell in page.cells)
    assert "return 42" not in text and "model answer." not in text and "BEGIN SOLUTION" not in text
    assert book.CODE_NOTE[0] in text and book.MD_NOTE[0] in text
    cells = {cell.get("id"): cell for cell in page.cells}
    assert cells["ex"].outputs[0].text == "the answer printed\n"  # the solution's output is kept
    assert cells["ex"].metadata["tags"] == ["exercise"]
    assert [list(o.data) for o in cells["explorer"].outputs] == [["image/png", "text/plain"]]  # the widget's figure, static
    assert "widgets" not in page.metadata
    assert cells["plot"].outputs[0].data["image/png"] == "iVBORw0KGgo="


def test_a_page_refuses_what_is_not_a_notebook_and_names_a_bad_marker():
    with pytest.raises(TypeError, match="notebook"):
        book.book_notebook({"cells": []}, "x")
    nb = nbformat.v4.new_notebook()
    nb.cells = [_code("# BEGIN SOLUTION\nx = 1\n", cell_id="open")]
    with pytest.raises(ValueError, match="01_demo.ipynb, cell 0 .*never closed"):
        book.book_notebook(nb, "01_demo.ipynb")


def test_masters_are_chosen_by_number_stem_or_file_name(tmp_path):
    for name in ("01_pixels.ipynb", "02_perceptron.ipynb", "11_deep_dream.ipynb"):
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / name)
    assert [p.name for p in book.select_masters("11 01", tmp_path)] == ["01_pixels.ipynb", "11_deep_dream.ipynb"]
    assert [p.name for p in book.select_masters(["02_perceptron.ipynb", "02"], tmp_path)] == ["02_perceptron.ipynb"]
    assert len(book.select_masters(None, tmp_path)) == len(book.select_masters("", tmp_path)) == 3
    with pytest.raises(book.BookError, match="no master notebook '07'.*01_pixels, 02_perceptron, 11_deep_dream"):
        book.select_masters("01,07", tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(book.BookError, match="no master notebooks"):
        book.select_masters(None, tmp_path / "empty")


def test_bad_profile_and_bad_names_fail_with_a_message(capsys, monkeypatch):
    with pytest.raises(book.BookError, match="profile must be one of"):
        book.execute_pages([], "huge")
    monkeypatch.delenv(book.NOTEBOOKS_ENV, raising=False)
    assert book.main(["99_nothing"]) == 2
    assert "no master notebook '99_nothing'" in capsys.readouterr().err
    with pytest.raises(book.BookError, match="no pages"):
        book.write_sources([], Path("unused"))


def test_start_page_links_built_modules_only_and_carries_the_report():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    info = {"profile": "smoke", "date": "2026-12-02", "machine": "x86_64", "commit": "abc1234", "packages": {"numpy": "2"}, "seconds": 56.0}
    pages = [book.Page(Path("notebooks/01_pixels.ipynb"), nbformat.v4.new_notebook(), info)]
    text = book._start_page(pages, readme, "# Course report: smoke profile\n\n| notebook | time (s) |\n")
    assert "(01_pixels.ipynb)" in text and "(02_perceptron.ipynb)" not in text
    assert text.count("open in Colab") == 12
    assert "| notebook | time (s) |" in text and "# Course report" not in text
    assert "abc1234" in text and "numpy 2" in text
    with pytest.raises(book.BookError, match="modules table"):
        book._start_page(pages, "# no table here\n", None)


def test_package_versions_and_commit(tmp_path):
    versions = book.package_versions(["nbformat", "no-such-package-cvcourse"])
    assert list(versions) == ["nbformat"]
    assert book.git_commit(tmp_path) == "unknown"  # not a git checkout
    assert book.git_commit(ROOT).split()[0].isalnum()


def test_a_tiny_book_builds_with_sphinx_without_executing(tmp_path, monkeypatch):
    pytest.importorskip("myst_nb", reason="the book extra is not installed")  # make setup installs it
    page = book.book_notebook(_executed(), "01_demo.ipynb")
    page.cells.append(_code("raise SystemExit('myst-nb must not execute')", cell_id="never"))
    info = {"profile": "smoke", "date": "2026-12-02", "machine": "x86_64", "commit": "abc1234", "packages": {"numpy": "2"},
            "seconds": 1.0, "slowest": "-"}
    page.cells.insert(1, nbformat.v4.new_markdown_cell(book._provenance_markdown(info)))
    monkeypatch.chdir(tmp_path)  # relative folders, as `make book` passes them
    src = book.write_sources([book.Page(Path("notebooks/01_demo.ipynb"), page, info)], Path("book/src"), report=None)
    html = book.run_sphinx(src, Path("book/html"))
    assert html == tmp_path / "book" / "html"
    text = (html / "01_demo.html").read_text(encoding="utf-8")
    assert "Provenance of this page" in text and "myst-nb must not execute" in text and "SystemExit" not in text.split("myst-nb must not")[1][:200]
    assert list((html / "_images").glob("*.png")), "the figures are written as images"
    assert "no report" in (html / "index.html").read_text(encoding="utf-8")
