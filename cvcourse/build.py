"""The course build: student notebooks from the masters, and executed solution notebooks.

Masters (``notebooks/NN_name.ipynb``) hold the solutions between marker lines that
otter-grader and nbgrader understand::

    # BEGIN SOLUTION                  <!-- BEGIN SOLUTION -->
    ...solution code...               ...model answer...
    # END SOLUTION                    <!-- END SOLUTION -->

``python -m cvcourse.build student`` (``make student``) writes ``notebooks/student/``:
each code region becomes ``# YOUR CODE HERE`` + ``raise NotImplementedError()``, each
markdown region ``_YOUR ANSWER HERE_``; outputs are cleared; cell ids are the masters'
so the result is byte-for-byte deterministic; a Colab badge and a Colab-only install cell
are put on top. Cells holding a solution, or tagged ``exercise`` or
``depends-on-exercise``, get nbval's ``raises-exception`` tag, so the untouched student
copy still runs under nbval.

``check-student`` fails when the committed student notebooks are out of date;
``solutions`` executes the masters and writes ``build/solutions/`` with outputs and
every figure as a PNG; ``strip`` clears outputs from the masters.

Example:
    >>> student_source("x = 1\\n# BEGIN SOLUTION\\ny = 2\\n# END SOLUTION\\n", "code", where="demo")
    'x = 1\\n# YOUR CODE HERE\\nraise NotImplementedError()\\n'
"""

from __future__ import annotations

import argparse
import base64
import copy
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from cvcourse import REPO_URL
from cvcourse.runtime import COURSE_SPEC, install_cell_source

if TYPE_CHECKING:
    from cvcourse.execute import Execution

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
STUDENT_DIR = NOTEBOOKS / "student"
SOLUTIONS_DIR = ROOT / "build" / "solutions"
MASTER_PATTERN = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")

CODE_BEGIN, CODE_END = "# BEGIN SOLUTION", "# END SOLUTION"
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MD_STUB = "_YOUR ANSWER HERE_"

#: Tags that make a cell expected to raise in the student copy.
EXERCISE_TAGS = ("exercise", "depends-on-exercise")
RAISES_TAG = "raises-exception"
HEADER_TAG = "colab-header"
#: Master-only cells that feed wrong answers to a check (see :mod:`cvcourse.wrong_answers`).
WRONG_ANSWERS_TAG = "wrong-answers"


#: The kernel ``make setup`` installs: name ``python3`` (what Colab looks for), the course's display name.
KERNEL_NAME, KERNEL_DISPLAY_NAME = "python3", "Python 3 (cvcourse)"
#: What ipykernel reports as ``language_info``, but the Python ``version``, which differs per machine.
#: JupyterLab writes the kernel's kernelspec and language_info into a notebook it opens and marks the
#: notebook dirty ("unsaved") when they differ from the file's; with these the student copies differ
#: in ``version`` only, which ``make lab``'s workspace (:mod:`cvcourse.workspace`) fills in per machine.
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}
STUDENT_METADATA = {
    "kernelspec": {"display_name": KERNEL_DISPLAY_NAME, "language": "python", "name": KERNEL_NAME},
    "language_info": LANGUAGE_INFO,
}


class MarkerError(ValueError):
    """A solution marker is malformed: unterminated, nested, or END without BEGIN."""


def masters(folder: Path = NOTEBOOKS) -> list[Path]:
    """The master notebooks (``NN_topic.ipynb``), in module order.

    Example:
        >>> [p.name for p in masters()][:1]  # doctest: +SKIP
        ['01_pixels.ipynb']
    """
    return sorted(p for p in Path(folder).iterdir() if MASTER_PATTERN.match(p.name))


def _markers(cell_type: str) -> tuple[str, str]:
    return (CODE_BEGIN, CODE_END) if cell_type == "code" else (MD_BEGIN, MD_END)


def solution_regions(source: str, cell_type: str, *, where: str) -> list[tuple[int, int]]:
    """Return ``(begin, end)`` line indices of each solution region in a cell's source.

    Raises :class:`MarkerError` naming ``where`` (notebook and cell) and the 1-based line
    for an unterminated, nested or unopened region, or a marker that is misspelt.
    """
    begin, end = _markers(cell_type)
    regions: list[tuple[int, int]] = []
    opened: int | None = None
    for number, line in enumerate(source.splitlines()):
        text = line.strip()
        if "BEGIN SOLUTION" in text and text != begin:
            raise MarkerError(f"{where}, line {number + 1}: malformed marker {text!r}; write exactly {begin!r} on its own line")
        if "END SOLUTION" in text and text != end:
            raise MarkerError(f"{where}, line {number + 1}: malformed marker {text!r}; write exactly {end!r} on its own line")
        if text == begin:
            if opened is not None:
                raise MarkerError(f"{where}, line {number + 1}: nested {begin!r} (the region opened on line {opened + 1} is still open)")
            opened = number
        elif text == end:
            if opened is None:
                raise MarkerError(f"{where}, line {number + 1}: {end!r} without a {begin!r} before it")
            regions.append((opened, number))
            opened = None
    if opened is not None:
        raise MarkerError(f"{where}, line {opened + 1}: {begin!r} is never closed by {end!r}")
    return regions


def student_source(source: str, cell_type: str, *, where: str, stub: tuple[str, ...] | None = None) -> str:
    """A cell's source with every solution region replaced by the student stub.

    ``stub`` replaces the default stub lines (:data:`CODE_STUB` or :data:`MD_STUB`), each at the
    region's indentation: the course book (:mod:`cvcourse.book`) puts its own note there.
    """
    regions = solution_regions(source, cell_type, where=where)
    if not regions:
        return source
    lines = source.splitlines()
    out: list[str] = []
    cursor = 0
    for first, last in regions:
        out.extend(lines[cursor:first])
        indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
        lines_in = stub if stub is not None else (CODE_STUB if cell_type == "code" else (MD_STUB,))
        out.extend(indent + line for line in lines_in)
        cursor = last + 1
    out.extend(lines[cursor:])
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def colab_url(student_path: str) -> str:
    """The "Open in Colab" address of a student notebook path inside the repository."""
    owner_repo = REPO_URL.rstrip("/").split("github.com/", 1)[1]
    return f"https://colab.research.google.com/github/{owner_repo}/blob/main/{student_path}"


def _header_cells(name: str) -> list:
    badge = nbformat.v4.new_markdown_cell(
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(f'notebooks/student/{name}')})\n\n"
        "*Student copy: exercises marked `# YOUR CODE HERE` are yours to write; the check cell below each one "
        "tells you at once whether your answer is right. On Colab, the next cell installs the course and "
        "prints one line: what it installed and what, if anything, it replaced.*",
        id="colab-badge",
    )
    # The code comes from cvcourse.runtime, so that the Colab job (`make test-colab`) runs the
    # very same commands with the Git address replaced by the checkout.
    install = nbformat.v4.new_code_cell(install_cell_source(COURSE_SPEC), id="colab-install")
    for cell in (badge, install):
        cell.metadata["tags"] = [HEADER_TAG]
    return [badge, install]


def make_student(master: Path):
    """Build the student notebook (a ``NotebookNode``) of one master notebook."""
    nb = nbformat.read(master, as_version=4)
    student = nbformat.v4.new_notebook()
    student.metadata = copy.deepcopy(STUDENT_METADATA)
    cells = _header_cells(master.name)
    for index, cell in enumerate(nb.cells):
        tags = list(cell.get("metadata", {}).get("tags", []))
        if HEADER_TAG in tags or WRONG_ANSWERS_TAG in tags:
            continue
        where = f"{master.name}, cell {index} (id {cell.get('id', '?')})"
        if cell.cell_type == "raw":
            solution_regions(cell.source, "code", where=where)
            cells.append(copy.deepcopy(cell))
            continue
        source = student_source(cell.source, cell.cell_type, where=where)
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(source, id=cell.id)
            if source != cell.source or any(tag in tags for tag in EXERCISE_TAGS):
                tags = tags + [RAISES_TAG] if RAISES_TAG not in tags else tags
        else:
            new = nbformat.v4.new_markdown_cell(source, id=cell.id)
            if "attachments" in cell:
                new["attachments"] = copy.deepcopy(cell["attachments"])
        if tags:
            new.metadata["tags"] = tags
        cells.append(new)
    student.cells = cells
    return student


def _render(nb) -> str:
    return nbformat.writes(nb) + "\n"


def build_students(out_dir: Path = STUDENT_DIR, folder: Path = NOTEBOOKS) -> list[Path]:
    """Write every student notebook; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for master in masters(folder):
        target = out_dir / master.name
        target.write_text(_render(make_student(master)), encoding="utf-8")
        written.append(target)
    return written


def stale_students(out_dir: Path = STUDENT_DIR, folder: Path = NOTEBOOKS) -> list[str]:
    """Names of student notebooks that are missing, out of date, or have no master."""
    problems = []
    names = set()
    for master in masters(folder):
        names.add(master.name)
        target = out_dir / master.name
        if not target.exists():
            problems.append(f"{master.name}: missing")
        elif target.read_text(encoding="utf-8") != _render(make_student(master)):
            problems.append(f"{master.name}: out of date")
    if out_dir.exists():
        problems += [f"{p.name}: has no master" for p in sorted(out_dir.glob("*.ipynb")) if p.name not in names]
    return problems


def strip_outputs(path: Path) -> bool:
    """Clear outputs and execution counts of one notebook in place; True if it changed."""
    nb = nbformat.read(path, as_version=4)
    before = _render(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    after = _render(nb)
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def build_solutions(
    out_dir: Path = SOLUTIONS_DIR,
    folder: Path = NOTEBOOKS,
    profile: str | None = None,
    cell_timeout: float | None = None,
) -> list[Execution]:
    """Execute every master (strict checks) into ``out_dir`` and save each figure as a PNG.

    Each master runs through :func:`cvcourse.execute.execute_notebook`, the executor that
    ``make report`` uses too: a cell past its time limit, a failed check or a dead kernel
    is reported and the next master runs. Every executed notebook is written (a failed one
    with its outputs up to the failing cell); the caller decides what a failure means.
    ``profile`` defaults to ``$CVCOURSE_PROFILE``; ``cell_timeout`` to the profile's limit.

    Example:
        >>> runs = build_solutions()  # doctest: +SKIP
        >>> [run.path.name for run in runs if not run.ok]  # doctest: +SKIP
        []
    """
    from cvcourse.execute import execute_notebook
    from cvcourse.profile import requested_profile

    profile = requested_profile() if profile is None else profile
    found = masters(folder)
    if not found:
        raise FileNotFoundError(f"no master notebooks (NN_topic.ipynb) in {folder}")
    figures = out_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    runs = []
    for master in found:
        print(f"executing {master.name} ({profile}) ...", flush=True)
        run = execute_notebook(master, profile, strict=True, cell_timeout=cell_timeout)
        print(f"  {master.name}: {run.seconds:.0f} s" + ("" if run.ok else f", FAILED: {run.error}"), flush=True)
        nbformat.write(run.notebook, out_dir / master.name)
        for index, cell in enumerate(run.notebook.cells):
            for number, output in enumerate(cell.get("outputs", [])):
                data = output.get("data", {})
                if "image/png" in data:
                    png = figures / f"{master.stem}_cell{index:03d}_{number}.png"
                    png.write_bytes(base64.b64decode(data["image/png"]))
        runs.append(run)
    return runs


def main(argv: list[str] | None = None) -> int:
    """The command line: ``python -m cvcourse.build student|check-student|solutions|strip``.

    Example:
        >>> main(["check-student"])  # doctest: +SKIP
        12 student notebooks are up to date.
    """
    parser = argparse.ArgumentParser(prog="python -m cvcourse.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["student", "check-student", "solutions", "strip"])
    args = parser.parse_args(argv)
    try:
        if args.command == "student":
            for path in build_students():
                print(f"wrote {path.relative_to(ROOT)}")
        elif args.command == "check-student":
            problems = stale_students()
            if problems:
                print("Student notebooks are out of date; run `make student` and commit them:")
                print("\n".join(f"  {line}" for line in problems))
                return 1
            print(f"{len(masters())} student notebooks are up to date.")
        elif args.command == "strip":
            changed = [p.name for p in masters() if strip_outputs(p)]
            print(f"stripped outputs from: {', '.join(changed)}" if changed else "masters carry no outputs.")
        else:
            runs = build_solutions()
            failed = [run for run in runs if not run.ok]
            print(f"wrote {len(runs)} notebooks to {SOLUTIONS_DIR.relative_to(ROOT)}/ in {sum(r.seconds for r in runs):.0f} s")
            for run in failed:
                print(f"error: {run.path.name} {run.error}", file=sys.stderr)
            if failed:
                return 1
    except MarkerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
