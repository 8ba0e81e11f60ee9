"""``make book``: the course as a static web site, built from the executed masters.

A course tool (not imported by the notebooks). :func:`build_book`

1. executes each master through the course executor (:func:`cvcourse.execute.execute_notebook`,
   strict checks, the smoke profile unless told otherwise), as ``make solutions`` does;
2. turns each executed master into a book page (:func:`book_notebook`): the solution code is
   removed with :func:`cvcourse.build.student_source` (the student build's own function) but every
   output stays, so the pages show each figure and verdict and give no answer away; the Colab
   header and the master-only ``wrong-answers`` cells are left out; the figures an
   ``ipywidgets.interact`` explorer drew become plain outputs (no widget JavaScript is needed);
   each page gets its provenance: profile, date, execution time, package versions, git commit;
3. writes a start page (the modules table of README.md and the latest ``reports/smoke.md``) and
   runs Sphinx with myst-nb (execution off: the notebooks are already executed) and
   sphinx-book-theme into ``build/book/html/``.

Nothing is fetched at build time. At view time the pages load one thing from elsewhere: MathJax
(Sphinx's default, from the jsDelivr CDN), on pages with formulas; offline, formulas show as
their TeX source. Everything else (theme, fonts, figures, search) is in the site.

Example:
    >>> build_book(["01", "11"])  # doctest: +SKIP
    PosixPath('.../build/book/html')

Command line (``make book``; ``BOOK_NOTEBOOKS="01 11"`` builds a subset)::

    python -m cvcourse.book [--profile smoke|full] [--out build/book] [NOTEBOOK ...]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import nbformat

from cvcourse.build import EXERCISE_TAGS, HEADER_TAG, NOTEBOOKS, ROOT, WRONG_ANSWERS_TAG, masters, solution_regions, student_source
from cvcourse.profile import PROFILES

BOOK_DIR = ROOT / "build" / "book"
#: The environment variable ``make book`` reads the subset from ("01 11", "01_pixels,11_deep_dream").
NOTEBOOKS_ENV = "BOOK_NOTEBOOKS"
#: What a removed solution region shows in the book (code; markdown), at the region's indentation.
CODE_NOTE = ("# (solution removed from the book: write your own in the student notebook; the outputs below are the model answer's)",)
MD_NOTE = ("_(model answer removed from the book)_",)
#: Packages whose versions each page names (those that are installed).
PACKAGES = ("tensorflow", "keras", "numpy", "scipy", "scikit-learn", "scikit-image", "matplotlib", "opencv-python-headless",
            "pandas", "mtcnn", "ipykernel", "nbclient", "sphinx", "myst-nb", "sphinx-book-theme")
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f5f8b"/>'
           '<rect x="3" y="3" width="4" height="4" fill="#fff"/><rect x="9" y="9" width="4" height="4" fill="#fff"/></svg>\n')
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


class BookError(ValueError):
    """Bad input to the book build: an unknown notebook name, a bad profile, a failed master."""


@dataclass
class Page:
    """One executed master on its way into the book: its path, the page notebook and its provenance.

    Example:
        >>> Page(Path("01_pixels.ipynb"), nbformat.v4.new_notebook(), {"seconds": 56.0}).stem
        '01_pixels'
    """

    master: Path
    notebook: nbformat.NotebookNode
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        """The page's name (the master's file name without ``.ipynb``)."""
        return self.master.stem


def select_masters(names: Iterable[str] | str | None = None, folder: Path = NOTEBOOKS) -> list[Path]:
    """The masters named by ``names`` (``"01"``, ``"01_pixels"`` or ``"01_pixels.ipynb"``), in module order.

    ``names`` may be one string of names separated by spaces or commas (as ``$BOOK_NOTEBOOKS``
    holds them); ``None`` or empty means every master. An unknown name raises :class:`BookError`
    listing the masters there are.

    Example:
        >>> [p.name for p in select_masters("11 01")]  # doctest: +SKIP
        ['01_pixels.ipynb', '11_deep_dream.ipynb']
    """
    found = masters(folder)
    if not found:
        raise BookError(f"no master notebooks (NN_topic.ipynb) in {folder}")
    if isinstance(names, str):
        names = [name for name in re.split(r"[\s,]+", names) if name]
    names = list(names or [])
    if not names:
        return found
    chosen: set[Path] = set()
    for name in names:
        if not isinstance(name, str):
            raise BookError(f"notebook names must be strings, got {name!r}")
        key = Path(name).name.removesuffix(".ipynb")
        hits = [p for p in found if p.stem == key or p.name[:2] == key]
        if len(hits) != 1:
            raise BookError(f"no master notebook {name!r} in {folder}; there are: {', '.join(p.stem for p in found)}")
        chosen.add(hits[0])
    return [p for p in found if p in chosen]


def _widget_outputs(model_id: str, state: dict[str, Any], seen: set[str] | None = None) -> list[dict[str, Any]]:
    """The outputs held by an Output widget ``model_id`` and by every widget inside it, in order."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return []
    seen.add(model_id)
    model = state[model_id].get("state", {})
    outputs = [copy.deepcopy(output) for output in model.get("outputs", [])]
    for child in model.get("children", []):
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            outputs += _widget_outputs(child.removeprefix("IPY_MODEL_"), state, seen)
    return outputs


def static_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Replace each widget view output by what its widgets drew, and drop the saved widget state.

    An ``interact`` explorer's figures live in the state of its Output widget, not in the
    cell's outputs: they become ordinary outputs of the cell, so the page shows the figure as
    the explorer first drew it, without widget JavaScript (which would come from a CDN).
    Returns a new notebook.

    Example:
        >>> static_widgets(nbformat.v4.new_notebook()).metadata
        {}
    """
    nb = copy.deepcopy(nb)
    state = nb.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW) if output.get("output_type") in ("display_data", "execute_result") else None
            if view is None:
                outputs.append(output)
                continue
            outputs += [nbformat.from_dict(o) for o in _widget_outputs(view.get("model_id", ""), state)]
        cell.outputs = outputs
    return nb


def book_notebook(executed: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The book page of an executed master: no solution code, every output, no master-only cells.

    Solution regions become :data:`CODE_NOTE` / :data:`MD_NOTE` (by
    :func:`cvcourse.build.student_source`); the outputs of those cells stay. Cells tagged
    ``colab-header`` or ``wrong-answers`` are left out, widget outputs become static
    (:func:`static_widgets`). ``name`` names the notebook in marker errors.

    Example:
        >>> nb = nbformat.v4.new_notebook()
        >>> nb.cells = [nbformat.v4.new_code_cell("# BEGIN SOLUTION\\nx = 42\\n# END SOLUTION")]
        >>> "42" in book_notebook(nb, "demo").cells[0].source
        False
    """
    if not isinstance(executed, nbformat.NotebookNode):
        raise TypeError(f"executed must be a notebook (nbformat.NotebookNode), got {type(executed).__name__}")
    page = static_widgets(executed)
    cells = []
    for index, cell in enumerate(page.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if HEADER_TAG in tags or WRONG_ANSWERS_TAG in tags:
            continue
        where = f"{name}, cell {index} (id {cell.get('id', '?')})"
        if cell.cell_type == "raw":
            solution_regions(cell.source, "code", where=where)
        elif cell.cell_type in ("code", "markdown"):
            cell.source = student_source(cell.source, cell.cell_type, where=where,
                                         stub=CODE_NOTE if cell.cell_type == "code" else MD_NOTE)
        if cell.cell_type == "code" and any(tag in tags for tag in EXERCISE_TAGS):
            cell.metadata["tags"] = [tag for tag in tags if tag != "raises-exception"]
        cells.append(cell)
    page.cells = cells
    return page


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """The installed version of each package in ``names`` (those not installed are left out).

    Example:
        >>> package_versions(["nbformat"])  # doctest: +ELLIPSIS
        {'nbformat': '...'}
    """
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def git_commit(root: Path = ROOT) -> str:
    """The checkout's commit, short, with "+ uncommitted changes" when the tree differs from it ("unknown" outside git).

    Example:
        >>> git_commit()  # doctest: +SKIP
        '259c555'
    """
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" + uncommitted changes" if dirty else "")


def _provenance_markdown(info: dict[str, Any]) -> str:
    packages = ", ".join(f"{name} {version}" for name, version in info["packages"].items())
    return (
        "```{admonition} Provenance of this page\n:class: note\n\n"
        f"Executed by `make book` in the **{info['profile']}** profile on {info['date']}, in {info['seconds']:.0f} s "
        f"(slowest cells: {info['slowest']}), on {info['machine']}; cvcourse commit `{info['commit']}`.\n\n"
        f"Packages: {packages}.\n\n"
        "Solutions are removed from the published book; their outputs, and every check's verdict, are kept.\n"
        "```\n"
    )


def execute_pages(paths: Sequence[Path], profile: str = "smoke", cell_timeout: float | None = None) -> list[Page]:
    """Execute each master (strict checks) and make its :class:`Page`; raises :class:`BookError` if one fails.

    Example:
        >>> [page.stem for page in execute_pages(select_masters("11"))]  # doctest: +SKIP
        ['11_deep_dream']
    """
    from cvcourse.execute import execute_notebook

    if profile not in PROFILES:
        raise BookError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    common = {
        "profile": profile,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}",
        "commit": git_commit(),
        "packages": package_versions(),
    }
    pages, failed = [], []
    for path in paths:
        print(f"book: executing {path.name} ({profile}) ...", flush=True)
        run = execute_notebook(path, profile, strict=True, cell_timeout=cell_timeout)
        print(f"book:   {path.name}: {run.seconds:.0f} s" + ("" if run.ok else f", FAILED: {run.error}"), flush=True)
        if not run.ok:
            failed.append(f"{path.name}: {run.error}")
            continue
        slowest = ", ".join(f"{seconds:.1f} s" for _, seconds in run.slowest_cells(3)) or "-"
        info = {**common, "seconds": run.seconds, "slowest": slowest}
        page = book_notebook(run.notebook, path.name)
        page.metadata["cvcourse_provenance"] = info
        page.cells.insert(1 if page.cells and page.cells[0].cell_type == "markdown" else 0,
                          nbformat.v4.new_markdown_cell(_provenance_markdown(info), id="book-provenance"))
        pages.append(Page(path, page, info))
    if failed:
        raise BookError("the book is built from executed masters, and these failed: " + "; ".join(failed))
    return pages


def _modules_table(readme: str, built: set[str]) -> str:
    """README's modules table, each built module's name linked to its page."""
    match = re.search(r"^## The modules\n(.*?)(?=^## )", readme, re.M | re.S)
    rows = [line for line in (match.group(1) if match else "").splitlines() if line.startswith("|")]
    if len(rows) < 3:
        raise BookError("README.md has no modules table under '## The modules'")
    out = rows[:2]
    for row in rows[2:]:
        cells = row.split("|")
        number = cells[1].strip()
        stem = next((s for s in built if s[:2] == number), None)
        if stem:
            cells[2] = f" [{cells[2].strip()}]({stem}.ipynb) "
        out.append("|".join(cells))
    return "\n".join(out)


def _start_page(pages: Sequence[Page], readme: str, report: str | None) -> str:
    table = _modules_table(readme, {page.stem for page in pages})
    times = "\n".join(f"| [{p.stem}]({p.stem}.ipynb) | {p.provenance['profile']} | {p.provenance['seconds']:.0f} |" for p in pages)
    info = pages[0].provenance
    packages = ", ".join(f"{name} {version}" for name, version in info["packages"].items())
    toc = "\n".join(page.stem for page in pages)
    report_text = "*(no report: run `make report`)*"
    if report:
        report_text = re.sub(r"^# .*\n", "", report, count=1).strip()
    return f"""# cvcourse: deep learning for computer vision

Twelve modules, from pixels to style transfer, each a notebook that draws what it computes and
checks its own exercises. These pages are the notebooks **executed**, with every figure and
output; the exercises' solution code is removed (the outputs stay). Work through the exercises in
the student notebooks: `make lab`, or the Colab links below.

## The modules

{table}

## This build

Built by `make book` on {info['date']} from cvcourse commit `{info['commit']}` on {info['machine']}.

| page | profile | execution time (s) |
|---|---|---:|
{times}

Packages: {packages}.

## The latest course report

{report_text}

```{{toctree}}
:hidden:
:maxdepth: 1

{toc}
```
"""


def _conf_py() -> str:
    from cvcourse import REPO_URL

    lines = [
        "# Written by cvcourse.book (make book); edit cvcourse/book.py instead.",
        "project = 'cvcourse'",
        "author = 'the cvcourse authors'",
        "extensions = ['myst_nb']",
        "nb_execution_mode = 'off'  # the notebooks come executed by the course executor",
        "nb_merge_streams = True",
        "myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence']",
        "myst_heading_anchors = 3",
        "suppress_warnings = ['myst.header', 'mystnb.unknown_mime_type']",
        "exclude_patterns = ['_build']",
        "html_theme = 'sphinx_book_theme'",
        "html_title = 'cvcourse'",
        "html_static_path = ['_static']",
        "html_favicon = '_static/favicon.svg'  # else browsers ask for /favicon.ico, which is not there",
        "html_last_updated_fmt = None",
        "html_context = {'default_mode': 'light'}  # else the theme logs a console error on a first visit",
        "html_copy_source = False  # the pages, not the notebooks: the student copies are the notebooks to download",
        "html_show_sourcelink = False",
        f"html_theme_options = {{'repository_url': {REPO_URL!r}, 'use_repository_button': True, 'use_download_button': False,",
        "                      'show_toc_level': 2, 'launch_buttons': {}}",
    ]
    return "\n".join(lines) + "\n"


def write_sources(pages: Sequence[Page], src: Path, readme: Path = ROOT / "README.md", report: Path | None = ROOT / "reports" / "smoke.md") -> Path:
    """Write the Sphinx project (conf.py, index.md, one notebook per page) into ``src``; returns ``src``.

    Example:
        >>> write_sources(execute_pages(select_masters("11")), BOOK_DIR / "src")  # doctest: +SKIP
    """
    if not pages:
        raise BookError("no pages to write: name at least one master notebook")
    if src.exists():
        shutil.rmtree(src)
    (src / "_static").mkdir(parents=True)
    (src / "_static" / "favicon.svg").write_text(FAVICON, encoding="utf-8")
    (src / "conf.py").write_text(_conf_py(), encoding="utf-8")
    report_text = report.read_text(encoding="utf-8") if report is not None and report.is_file() else None
    (src / "index.md").write_text(_start_page(pages, readme.read_text(encoding="utf-8"), report_text), encoding="utf-8")
    for page in pages:
        nbformat.write(page.notebook, src / page.master.name)
    (src / "provenance.json").write_text(json.dumps({p.stem: p.provenance for p in pages}, indent=1) + "\n", encoding="utf-8")
    return src


def run_sphinx(src: Path, html_dir: Path) -> Path:
    """Run ``sphinx-build -b html`` on ``src`` into ``html_dir`` (replaced); raises :class:`BookError` if it fails.

    Warnings are kept in ``html_dir/../sphinx-warnings.txt``.

    Example:
        >>> run_sphinx(BOOK_DIR / "src", BOOK_DIR / "html")  # doctest: +SKIP
    """
    src, html_dir = Path(src).resolve(), Path(html_dir).resolve()  # sphinx-build runs in src
    if not (src / "conf.py").is_file():
        raise BookError(f"{src} holds no conf.py: write the sources first (write_sources)")
    if html_dir.exists():
        shutil.rmtree(html_dir)
    warnings = html_dir.parent / "sphinx-warnings.txt"
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-w", str(warnings), "-d", str(html_dir.parent / "doctrees"), str(src), str(html_dir)]
    result = subprocess.run(command, cwd=src)
    if result.returncode != 0:
        raise BookError(f"sphinx-build failed (exit {result.returncode}); see the messages above and {warnings}")
    return html_dir


def build_book(names: Iterable[str] | str | None = None, profile: str = "smoke", out: Path = BOOK_DIR,
               cell_timeout: float | None = None) -> Path:
    """Execute the named masters (all by default) and build the book into ``out/html``; returns that folder.

    Example:
        >>> build_book("01 11", out=Path("build/book"))  # doctest: +SKIP
        PosixPath('build/book/html')
    """
    if profile not in PROFILES:
        raise BookError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    for module in ("sphinx", "myst_nb", "sphinx_book_theme"):
        try:
            __import__(module)
        except ImportError as missing:
            raise BookError(f"{module} is not installed: run `make setup` (it installs the `book` extra)") from missing
    out = Path(out).resolve()
    paths = select_masters(names)
    start = time.perf_counter()
    pages = execute_pages(paths, profile, cell_timeout)
    src = write_sources(pages, out / "src")
    html_dir = run_sphinx(src, out / "html")
    total = sum(page.provenance["seconds"] for page in pages)
    print(f"book: {len(pages)} pages in {html_dir} ({total:.0f} s executing, {time.perf_counter() - start:.0f} s in all)", flush=True)
    return html_dir


def main(argv: list[str] | None = None) -> int:
    """``python -m cvcourse.book [--profile P] [--out DIR] [--cell-timeout S] [NOTEBOOK ...]``; names default to ``$BOOK_NOTEBOOKS``.

    Example:
        >>> main(["--profile", "smoke", "01", "11"])  # doctest: +SKIP
        0
    """
    parser = argparse.ArgumentParser(prog="python -m cvcourse.book", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default=os.environ.get("CVCOURSE_PROFILE", "smoke"), choices=PROFILES)
    parser.add_argument("--out", type=Path, default=BOOK_DIR, help="output folder (default: build/book; the site goes to OUT/html)")
    parser.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell (default: by profile)")
    parser.add_argument("notebooks", nargs="*", help=f"masters to include: 01, 01_pixels or 01_pixels.ipynb (default: ${NOTEBOOKS_ENV}, else all)")
    args = parser.parse_args(argv)
    try:
        build_book(args.notebooks or os.environ.get(NOTEBOOKS_ENV) or None, args.profile, args.out, args.cell_timeout)
    except BookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
