"""``make grade SUBMISSIONS=folder``: grade submitted student notebooks with the course's own checks.

Each file in the folder (sub-folders too) is one submission. For a notebook the grader

1. finds its module: the master whose cell ids it shares (student copies keep them), or
   else the ``NN_`` prefix of its file name;
2. builds the notebook it runs from the **course's** student copy of that master: every
   check cell and every other cell come from the course, and only the answer cells (the
   cells whose solution the build removed) come from the submission, matched by cell id
   or else by the names they define. A student who edits a check cell, deletes it, or
   prints a fake ✅ gains nothing; cells the student added are not run;
3. before every check cell, rebinds ``check``, ``expect``, ... to a freshly reloaded
   :mod:`cvcourse.checks`, so redefining or patching them in an answer cell gains nothing
   either (this defends the checks, it is no sandbox: answer cells are kept in the
   executed copies for the instructor to read);
4. executes it in a fresh kernel with the course executor (a time limit per notebook,
   errors do not stop the run, output capped per cell) and reads the verdicts the checks
   publish (``$CVCOURSE_REPORT``), never the printed text.

The gradebook (``gradebook.csv`` and ``gradebook.md`` in the output folder) has a row per
submission: per exercise ✅ passed, ❌ failed or not reached, ⏳ not attempted, a total, and
a note (time limit, dead kernel, not a notebook, missing answer cells, ...). A broken
submission gets its line and the others are graded all the same. Submissions are only
read; the executed copies go to ``executed/`` in the output folder.

Example:
    >>> rows = grade_folder(Path("submissions"), out_dir=Path("build/grade"))  # doctest: +SKIP
    >>> rows[0]["total"]  # doctest: +SKIP
    '4/4'

Command line::

    python -m cvcourse.grade SUBMISSIONS [--out build/grade] [--timeout 900] [--profile smoke]
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import nbformat

from cvcourse.build import NOTEBOOKS, ROOT, make_student, masters, student_source
from cvcourse.checks import REPORT_ENV
from cvcourse.exercise_report import exercises_of, read_records
from cvcourse.execute import execute_notebook
from cvcourse.profile import PROFILES

#: Submissions larger than this are not read (a notebook with a video in its outputs, a stray archive).
MAX_SUBMISSION_BYTES = 64 * 1024 * 1024
#: Characters of output kept per cell of a graded run.
MAX_OUTPUT_CHARS = 200_000
MARKS = {"passed": "✅", "failed": "❌", "pending": "⏳", "not reached": "❌"}
GRADER_TAG = "grader"
#: Run before every check cell: the checks as the course ships them, whatever the notebook did to them.
GUARD_SOURCE = """\
# grader: the course's check functions, freshly loaded
import importlib as _grader_importlib
import cvcourse.checks as _grader_checks
_grader_checks = _grader_importlib.reload(_grader_checks)
globals().update({_name: _value for _name, _value in vars(_grader_checks).items()
                  if not _name.startswith("_") and getattr(_value, "__module__", None) == _grader_checks.__name__})
"""


def answer_cell_ids(master: Path) -> list[str]:
    """Ids of the master's code cells that hold a solution region (the cells a student answers), in order.

    Example:
        >>> answer_cell_ids(NOTEBOOKS / "01_pixels.ipynb")[:1]  # doctest: +SKIP
        ['c0ffee01']
    """
    nb = nbformat.read(master, as_version=4)
    return [cell.id for cell in nb.cells if cell.cell_type == "code"
            and student_source(cell.source, "code", where=f"{master.name}, cell {cell.id}") != cell.source]


def defined_names(source: str) -> set[str]:
    """Top-level functions, classes and assigned names a cell defines ('' if it does not parse).

    Example:
        >>> sorted(defined_names("def f(x):\\n    return x\\nK = 3"))
        ['K', 'f']
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def read_submission(path: Path) -> nbformat.NotebookNode:
    """The submission as a notebook, or ``ValueError`` saying in words why it is not one."""
    size = path.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        raise ValueError(f"not graded: the file is {size / 2**20:.0f} MiB (the limit is {MAX_SUBMISSION_BYTES / 2**20:.0f} MiB)")
    text = path.read_bytes().decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not a notebook: invalid JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ValueError("not a notebook: the JSON has no list of cells")
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat's own validation and conversion errors
        raise ValueError(f"not a notebook: {type(error).__name__}: {str(error).splitlines()[0][:200]}") from None
    for cell in nb.cells:
        if not isinstance(cell.get("source", ""), str) or "cell_type" not in cell:
            raise ValueError("not a notebook: a cell has no type or source")
    return nb


def find_master(nb: nbformat.NotebookNode, path: Path, candidates: list[Path]) -> Path | None:
    """The master a submission belongs to: most shared cell ids, else the file's ``NN_`` prefix."""
    ids = {cell.get("id") for cell in nb.cells} - {None}
    best, shared = None, 0
    for master in candidates:
        count = len(ids & {cell.get("id") for cell in nbformat.read(master, as_version=4).cells})
        if count > shared:
            best, shared = master, count
    if best is not None and shared >= 3:
        return best
    prefix = re.search(r"(\d\d)_", path.name)
    matches = [m for m in candidates if prefix and m.name.startswith(prefix.group(1) + "_")]
    return matches[0] if len(matches) == 1 else best


def graded_notebook(master: Path, submission: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook the grader runs, and notes on what the submission lacked or added.

    The course's student copy of ``master`` with its answer cells taken from the submission
    (by cell id, else by the names they define) and :data:`GUARD_SOURCE` before every check cell.
    """
    course = make_student(master)
    answers = set(answer_cell_ids(master))
    theirs = [cell for cell in submission.cells if cell.get("cell_type") == "code"]
    by_id = {cell.get("id"): cell for cell in theirs}
    course_ids = {cell.id for cell in course.cells}
    notes, cells, used = [], [], set()
    for cell in course.cells:
        if cell.cell_type == "code" and cell.id in answers:
            answer = by_id.get(cell.id)
            if answer is None:
                wanted = defined_names(cell.source)
                answer = next((c for c in theirs if wanted and wanted <= defined_names(c.source) and id(c) not in used), None)
            if answer is None:
                names = ", ".join(sorted(defined_names(cell.source))) or cell.id
                notes.append(f"answer cell for {names} missing")
            else:
                used.add(id(answer))
                cell = nbformat.v4.new_code_cell(answer.source, id=cell.id)
        elif cell.cell_type == "code" and "with check(" in cell.source:
            cells.append(nbformat.v4.new_code_cell(GUARD_SOURCE, id=f"grader-{cell.id}"[:64],
                                                   metadata={"tags": [GRADER_TAG]}))
        cells.append(cell)
    extra = sum(1 for c in theirs if c.get("id") not in course_ids and id(c) not in used)
    if extra:
        notes.append(f"{extra} cell(s) of the student's own not run")
    course.cells = cells
    return course, notes


def _student_name(path: Path, root: Path) -> str:
    relative = path.relative_to(root)
    return relative.parts[0] if len(relative.parts) > 1 else re.sub(r"[_-]?\d\d_[a-z0-9_]+$", "", path.stem) or path.stem


def grade_submission(path: Path, root: Path, out_dir: Path, *, candidates: list[Path], profile: str = "smoke",
                     timeout: float = 900.0) -> dict[str, Any]:
    """Grade one submission; returns its gradebook row (never raises for a bad submission)."""
    row: dict[str, Any] = {"submission": str(path.relative_to(root)), "student": _student_name(path, root),
                           "notebook": "", "marks": {}, "total": "", "seconds": 0.0, "note": ""}
    try:
        nb = read_submission(path)
    except (OSError, ValueError) as error:
        row["note"] = str(error)
        return row
    master = find_master(nb, path, candidates)
    if master is None:
        row["note"] = "not a course notebook: no master shares its cells or its NN_ prefix"
        return row
    row["notebook"] = master.name
    graded, notes = graded_notebook(master, nb)
    exercises = [e["name"] for e in exercises_of(master)]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", row["submission"])
    work = out_dir / "work" / safe
    work.mkdir(parents=True, exist_ok=True)
    notebook_path = work / master.name
    nbformat.write(graded, notebook_path)
    records = work / "records.jsonl"
    records.unlink(missing_ok=True)
    run = execute_notebook(notebook_path, profile, strict=False, env={REPORT_ENV: str(records.resolve())},
                           cell_timeout=timeout, notebook_timeout=timeout, allow_errors=True,
                           max_output_chars=MAX_OUTPUT_CHARS)
    row["seconds"] = run.seconds
    (out_dir / "executed").mkdir(parents=True, exist_ok=True)
    nbformat.write(run.notebook, out_dir / "executed" / (safe if safe.endswith(".ipynb") else f"{safe}.ipynb"))
    try:
        verdicts = {r["name"]: r["outcome"] for r in read_records(records) if r.get("kind") == "check"}
    except (OSError, ValueError, KeyError, TypeError):
        verdicts, notes = {}, notes + ["the checks' records were unreadable (tampered with?): nothing counted"]
    row["marks"] = {name: verdicts.get(name, "not reached") for name in exercises}
    passed = sum(outcome == "passed" for outcome in row["marks"].values())
    row["total"] = f"{passed}/{len(exercises)}"
    if run.error:
        notes.insert(0, f"stopped: {run.error} (of executed/{safe})")
    row["note"] = "; ".join(notes)
    return row


def submissions_in(folder: Path) -> list[Path]:
    """Every regular file under ``folder`` (hidden files and folders left out), sorted."""
    if not folder.is_dir():
        raise FileNotFoundError(f"SUBMISSIONS must be a folder of submitted notebooks, got {folder}")
    return sorted(p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".")
                                                                          for part in p.relative_to(folder).parts))


def write_gradebook(rows: list[dict[str, Any]], out_dir: Path) -> tuple[Path, Path]:
    """``gradebook.csv`` (one column per exercise) and ``gradebook.md`` (a table per notebook)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    exercises: list[str] = []
    for row in rows:
        exercises += [name for name in row["marks"] if name not in exercises]
    csv_path = out_dir / "gradebook.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "submission", "notebook", *exercises, "total", "seconds", "note"])
        for row in rows:
            marks = [MARKS[row["marks"][name]] if name in row["marks"] else "" for name in exercises]
            writer.writerow([row["student"], row["submission"], row["notebook"], *marks, row["total"], row["seconds"], row["note"]])
    lines = ["# Gradebook", "", f"Graded {time.strftime('%Y-%m-%d %H:%M')}: {len(rows)} submissions. "
             "✅ passed, ❌ failed or not reached, ⏳ not attempted; checks from the course's masters.", ""]
    for notebook in sorted({row["notebook"] for row in rows}):
        group = [row for row in rows if row["notebook"] == notebook]
        names = [name for name in exercises if any(name in row["marks"] for row in group)]
        short = [name.split(" - ")[0] for name in names]
        lines += [f"## {notebook or 'not graded'}", ""]
        if names:
            lines += ["Exercises: " + "; ".join(f"{s}: {n.split(' - ', 1)[-1]}" for s, n in zip(short, names)) + ".", ""]
        lines += ["| student | submission | " + " | ".join(short) + (" | " if short else "") + "total | note |",
                  "|---|---|" + "---|" * len(short) + "---|---|"]
        for row in group:
            marks = " | ".join(MARKS[row["marks"][name]] if name in row["marks"] else "" for name in names)
            note = row["note"].replace("|", "\\|")
            lines.append(f"| {row['student']} | {row['submission']} | {marks}{' | ' if names else ''}{row['total']} | {note} |")
        lines.append("")
    md_path = out_dir / "gradebook.md"
    md_path.write_text("\n".join(lines), encoding="utf-8")
    return csv_path, md_path


def grade_folder(folder: Path, out_dir: Path = ROOT / "build" / "grade", *, masters_dir: Path = NOTEBOOKS,
                 profile: str = "smoke", timeout: float = 900.0) -> list[dict[str, Any]]:
    """Grade every submission in ``folder``, write the gradebook into ``out_dir``; returns the rows."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds per notebook, got {timeout!r}")
    folder, out_dir = Path(folder).resolve(), Path(out_dir).resolve()
    if out_dir == folder or folder in out_dir.parents:
        raise ValueError(f"the output folder {out_dir} must not be inside the submissions folder {folder}")
    candidates = masters(Path(masters_dir))
    if not candidates:
        raise FileNotFoundError(f"no master notebooks (NN_name.ipynb) in {masters_dir}")
    rows = []
    for path in submissions_in(folder):
        row = grade_submission(path, folder, out_dir, candidates=candidates, profile=profile, timeout=timeout)
        print(f"{row['submission']}: {row['total'] or '-'} {row['note']}".rstrip(), flush=True)
        rows.append(row)
    write_gradebook(rows, out_dir)
    return rows


def main(argv: list[str] | None = None) -> int:
    """``python -m cvcourse.grade SUBMISSIONS [--out DIR] [--timeout S] [--profile P] [--masters DIR]``.

    Example:
        >>> main(["submissions"])  # doctest: +SKIP
        alice/01_pixels.ipynb: 4/4
        0
    """
    parser = argparse.ArgumentParser(prog="python -m cvcourse.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "grade")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per notebook (default 900)")
    parser.add_argument("--profile", default="smoke", choices=PROFILES)
    parser.add_argument("--masters", type=Path, default=NOTEBOOKS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rows = grade_folder(args.submissions, args.out, masters_dir=args.masters, profile=args.profile, timeout=args.timeout)
    print(f"gradebook: {args.out / 'gradebook.md'} and gradebook.csv ({len(rows)} submissions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
