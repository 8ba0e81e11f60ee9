"""``reports/exercises.md``: every graded exercise, how its check works, and the wrong answers it rejects.

The exercises are read from the masters (a cell tagged ``exercise`` and the check cell
after it); what each check compares is read from its ``expect*`` calls. The verdicts come
from the JSON lines the notebooks publish while ``make test`` runs them
(``$CVCOURSE_REPORT``): the check's own outcome on the model answer, and one record per
wrong answer fed to it by :func:`cvcourse.wrong_answers.reject`.

Example:
    >>> rows = exercise_rows(records=[])  # doctest: +SKIP
    >>> rows[0]["notebook"], rows[0]["wrong_answers"]  # doctest: +SKIP
    ('01_pixels.ipynb', 0)
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from pathlib import Path
from typing import Any

import nbformat

from cvcourse.build import NOTEBOOKS, ROOT, masters

REPORTS = ROOT / "reports"
_EXPECTS = ("expect", "expect_close", "expect_equal", "expect_shape", "target", "forbid")


def _literal(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "…" for part in node.values)
    return None


def describe_check(source: str) -> tuple[str | None, list[str]]:
    """The exercise name of a check cell and what its expectations compare.

    Example:
        >>> describe_check('with check("Ex 1"):\\n    expect_close(f(1), 2, what="f(1) vs numpy")')
        ('Ex 1', ['f(1) vs numpy'])
    """
    if not isinstance(source, str):
        raise TypeError(f"source must be a check cell's code, got {type(source).__name__}")
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None, []
    name, compared = None, []
    calls = sorted((node for node in ast.walk(tree) if isinstance(node, ast.Call)), key=lambda n: (n.lineno, n.col_offset))
    for node in calls:
        func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if func == "check" and node.args and name is None:
            name = _literal(node.args[0])
        elif func in _EXPECTS:
            keyword = {k.arg: k.value for k in node.keywords}
            text = None
            if func == "forbid" and node.args:
                text = "no calls into " + ", ".join(str(_literal(arg)) for arg in node.args)
            elif "what" in keyword:
                text = _literal(keyword["what"])
            elif func in ("expect_equal", "expect_shape") and len(node.args) >= 3:
                text = _literal(node.args[2])
            elif func == "expect":
                text = None   # a diagnosis of one mistake, counted by describe_diagnoses(), not a comparison
            elif func == "target" and node.args:
                text = f"target: {_literal(node.args[0])}"
            if text and text not in compared:
                compared.append(text)
    return name, compared


def describe_diagnoses(source: str) -> int:
    """How many ``expect(condition, message)`` diagnoses a check cell makes (each names one mistake).

    Example:
        >>> describe_diagnoses('with check("Ex 1"):\\n    expect(f(0) != 1, "off by one")\\n    expect_close(f(1), 2)')
        1
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return 0
    return sum(isinstance(node, ast.Call) and getattr(node.func, "id", "") == "expect" for node in ast.walk(tree))


def exercises_of(path: Path) -> list[dict[str, Any]]:
    """The graded exercises of one master: name and what the check compares, in order.

    Example:
        >>> [e["name"] for e in exercises_of(NOTEBOOKS / "02_perceptron.ipynb")][:1]  # doctest: +SKIP
        ['Exercise 1 - perceptron on AND/OR']
    """
    nb = nbformat.read(path, as_version=4)
    found = []
    for index, cell in enumerate(nb.cells):
        if "exercise" not in cell.metadata.get("tags", []):
            continue
        for follower in nb.cells[index + 1:index + 4]:
            name, compared = describe_check(follower.source) if follower.cell_type == "code" else (None, [])
            if name:
                found.append({"notebook": path.name, "name": name, "checked_by": compared,
                              "diagnoses": describe_diagnoses(follower.source)})
                break
        else:
            found.append({"notebook": path.name, "name": f"(cell {index}: no check cell found)", "checked_by": [], "diagnoses": 0})
    return found


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON lines the notebooks published (see :mod:`cvcourse.checks`); ``[]`` if there is no file."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def exercise_rows(records: list[dict[str, Any]], notebooks: list[Path] | None = None) -> list[dict[str, Any]]:
    """One row per exercise: how it is checked, whether the model answer passed, wrong answers tried and rejected."""
    rows = []
    for path in notebooks if notebooks is not None else masters(NOTEBOOKS):
        for exercise in exercises_of(path):
            name = exercise["name"]
            outcomes = [r["outcome"] for r in records if r.get("kind") == "check" and r.get("name") == name]
            wrong = [r for r in records if r.get("kind") == "wrong-answer" and r.get("name") == name]
            rows.append({
                **exercise,
                "model_answer": outcomes[0] if outcomes else "not run",
                "wrong_answers": len(wrong),
                "rejected": sum(bool(r["rejected"]) for r in wrong),
                "mistake_named": sum(bool(r["rejected"] and r["named"]) for r in wrong),
                "mistakes": [r["mistake"] for r in wrong],
            })
    return rows


def to_markdown(rows: list[dict[str, Any]]) -> str:
    """The exercise table in Markdown."""
    proven = sum(row["model_answer"] == "passed" and row["mistake_named"] >= 2 for row in rows)
    lines = [
        "# Exercises and the wrong answers their checks reject",
        "",
        f"Generated from `make test` on {time.strftime('%Y-%m-%d')}. A check is *proven* when the model answer "
        "passes and at least two plausible wrong answers are rejected with a message that names the mistake.",
        f"Proven: {proven} of {len(rows)} exercises.",
        "",
        "| notebook | exercise | compared with | mistakes diagnosed | model answer | wrong answers rejected (mistake named) | mistakes tried |",
        "|---|---|---|---:|---|---:|---|",
    ]
    for row in rows:
        checked = "; ".join(row["checked_by"])[:220] or "-"
        mistakes = "; ".join(row["mistakes"]) or "-"
        lines.append(f"| {row['notebook']} | {row['name']} | {checked} | {row['diagnoses']} | {row['model_answer']} | "
                     f"{row['rejected']}/{row['wrong_answers']} ({row['mistake_named']}) | {mistakes} |")
    return "\n".join(lines) + "\n"


def write_report(records_path: Path, out_dir: Path = REPORTS) -> list[dict[str, Any]]:
    """Write ``reports/exercises.md`` and ``.json`` from a records file; returns the rows.

    Example:
        >>> write_report(Path("build/records.jsonl"))  # doctest: +SKIP
    """
    rows = exercise_rows(read_records(records_path))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "exercises.md").write_text(to_markdown(rows), encoding="utf-8")
    (out_dir / "exercises.json").write_text(json.dumps({"exercises": rows}, indent=1, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
    return rows


def main(argv: list[str] | None = None) -> int:
    """``python -m cvcourse.exercise_report RECORDS.jsonl``: write the report and print its summary line.

    Example:
        >>> main(["build/records.jsonl"])  # doctest: +SKIP
        reports/exercises.md: 52 exercises, 5 proven
    """
    parser = argparse.ArgumentParser(prog="python -m cvcourse.exercise_report")
    parser.add_argument("records", type=Path)
    args = parser.parse_args(argv)
    rows = write_report(args.records)
    proven = sum(row["model_answer"] == "passed" and row["mistake_named"] >= 2 for row in rows)
    print(f"reports/exercises.md: {len(rows)} exercises, {proven} proven (model answer passes, >= 2 wrong answers rejected)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
