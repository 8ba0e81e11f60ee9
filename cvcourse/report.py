"""``make report``: execute every master notebook and tabulate time, memory, exercises and figures.

Each master runs through :func:`cvcourse.execute.execute_notebook`, the executor
``make solutions`` uses too. For each master it records the wall time, the kernel's peak
resident memory (sampled every 0.2 s with psutil), the CPU time the hypervisor stole from the
machine meanwhile (:func:`cvcourse.hardware.cpu_steal_seconds`), the number of exercises (cells tagged
``exercise``) and of checks passed (each check counted once, on the model answer: not the
re-runs that feed it wrong answers), and every headline figure the notebook publishes through
:func:`cvcourse.checks.target` (value, threshold, met or not). Nothing is scraped from
text: the notebooks write JSON lines to ``$CVCOURSE_REPORT``.

Writes ``reports/<profile>.md`` and ``reports/<profile>.json``.

Example:
    >>> rows = run_report(profile="smoke")  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import nbformat

from cvcourse.build import NOTEBOOKS, ROOT, masters
from cvcourse.checks import REPORT_ENV
from cvcourse.profile import PROFILES

REPORTS = ROOT / "reports"


class _PeakMemory:
    """Samples the resident memory of a process tree (the kernel) in a background thread."""

    def __init__(self, pid: int, interval: float = 0.2):
        import psutil

        self._process = psutil.Process(pid)
        self._interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self._process] + self._process.children(recursive=True)
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                pass
            self._stop.wait(self._interval)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def run_notebook(path: Path, profile: str, cell_timeout: float | None = None) -> dict[str, Any]:
    """Execute one master in ``profile`` with strict checks and return its report row.

    It runs through :func:`cvcourse.execute.execute_notebook`, the executor that
    ``make solutions`` uses too, so a row always comes back: a failed check, a cell past
    its time limit or a dead kernel ends up in ``error``. ``cell_timeout`` defaults to the
    profile's limit (:data:`cvcourse.execute.LIMITS`).

    Example:
        >>> row = run_notebook(NOTEBOOKS / "01_pixels.ipynb", "smoke")  # doctest: +SKIP
        >>> row["error"], row["checks_passed"]  # doctest: +SKIP
        (None, 4)
    """
    from cvcourse.execute import execute_notebook
    from cvcourse.hardware import cpu_steal_seconds

    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    path = Path(path)
    exercises = sum("exercise" in cell.metadata.get("tags", []) for cell in nbformat.read(path, as_version=4).cells)
    with tempfile.NamedTemporaryFile("w+", suffix=".jsonl", delete=False) as handle:
        records_path = handle.name
    samplers: list[_PeakMemory] = []
    steal_before = cpu_steal_seconds()
    try:
        run = execute_notebook(
            path, profile, strict=True, env={REPORT_ENV: records_path}, cell_timeout=cell_timeout,
            on_kernel_start=lambda pid: samplers.append(_PeakMemory(pid).__enter__()),
        )
    finally:
        for sampler in samplers:
            sampler.__exit__(None, None, None)
        text = Path(records_path).read_text(encoding="utf-8")
        os.unlink(records_path)
    steal_after = cpu_steal_seconds()
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    verdicts: dict[str, str] = {}  # one per check: its check cell's own run comes first; the re-runs
    for record in records:  # by cvcourse.wrong_answers.reject, fed wrong answers, come after it
        if record["kind"] == "check":
            verdicts.setdefault(record["name"], record["outcome"])
    return {
        "notebook": path.name,
        "seconds": run.seconds,
        "cpu_stolen_s": None if steal_before is None or steal_after is None else round(steal_after - steal_before, 1),
        "peak_memory_mb": round(max((sampler.peak for sampler in samplers), default=0) / 2**20),
        "exercises": exercises,
        "checks": len(verdicts),
        "checks_passed": sum(outcome == "passed" for outcome in verdicts.values()),
        "targets": [r for r in records if r["kind"] == "target"],
        "error": run.error,
    }


def _figures(row: dict[str, Any]) -> str:
    parts = []
    for t in row["targets"]:
        unit = f" {t['unit']}" if t.get("unit") else ""
        parts.append(f"{t['name']} {t['value']:.3g}{unit} ({t['op']} {t['threshold']:.3g}){'' if t['met'] else ' ❌'}")
    return "; ".join(parts) or "-"


def _stolen(row: dict[str, Any]) -> str:
    stolen = row.get("cpu_stolen_s")
    return "-" if stolen is None else f"{stolen:.0f}"


def to_markdown(rows: list[dict[str, Any]], profile: str) -> str:
    """The report table in Markdown.

    Example:
        >>> to_markdown([], "smoke").splitlines()[0]
        '# Course report: smoke profile'
    """
    from cvcourse.hardware import vector_width

    lines = [
        f"# Course report: {profile} profile",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores ({vector_width()}), Python {platform.python_version()}. "
        f"Generated by `make report` on {time.strftime('%Y-%m-%d')}.",
        "",
        "| notebook | time (s) | CPU stolen (s) | peak memory (MB) | exercises | checks passed | headline figures (target) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        status = f"{row['checks_passed']}/{row['checks']}" + (f" (error: {row['error']})" if row["error"] else "")
        lines.append(
            f"| {row['notebook']} | {row['seconds']:.0f} | {_stolen(row)} | {row['peak_memory_mb']} | {row['exercises']} | {status} | {_figures(row)} |"
        )
    total = sum(row["seconds"] for row in rows)
    stolen = [row["cpu_stolen_s"] for row in rows if row.get("cpu_stolen_s") is not None]
    lines += ["", f"Total: {total:.0f} s for {len(rows)} notebooks."]
    if stolen:
        lines += ["", f"CPU stolen: CPU time (all cores together) that the hypervisor gave to other guests while the notebook ran, "
                      f"from `/proc/stat`; {sum(stolen):.0f} s in all. Where it is large the time overstates what the machine needs."]
    return "\n".join(lines) + "\n"


def update_readme(table: str, profile: str, readme: Path = ROOT / "README.md") -> bool:
    """Put ``table`` between the ``<!-- REPORT:<profile> -->`` markers of the README; True if found.

    Example:
        >>> update_readme("| a |", "smoke", Path("/nonexistent"))
        False
    """
    if not readme.exists():
        return False
    text = readme.read_text(encoding="utf-8")
    begin, end = f"<!-- REPORT:{profile} -->", f"<!-- /REPORT:{profile} -->"
    if begin not in text or end not in text:
        return False
    body = table.split("\n", 2)[2].strip()  # drop the report's own title
    head, rest = text.split(begin, 1)
    readme.write_text(f"{head}{begin}\n{body}\n{end}{rest.split(end, 1)[1]}", encoding="utf-8")
    return True


def run_report(profile: str = "smoke", notebooks: list[Path] | None = None, out_dir: Path = REPORTS) -> list[dict[str, Any]]:
    """Execute the masters, print the table, write ``reports/<profile>.md`` and ``.json``.

    A full run over every master also refreshes the table in README.md.

    Example:
        >>> run_report("smoke", [NOTEBOOKS / "01_pixels.ipynb"])  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    paths = list(notebooks) if notebooks is not None else masters(NOTEBOOKS)
    rows = []
    bar = tqdm(paths, desc=f"report ({profile})", unit="notebook")
    for path in bar:
        bar.set_postfix_str(path.name)
        rows.append(run_notebook(Path(path), profile))
    out_dir.mkdir(parents=True, exist_ok=True)
    table = to_markdown(rows, profile)
    (out_dir / f"{profile}.md").write_text(table, encoding="utf-8")
    (out_dir / f"{profile}.json").write_text(json.dumps({"profile": profile, "notebooks": rows}, indent=1) + "\n", encoding="utf-8")
    if notebooks is None:
        update_readme(table, profile)
    print(table)
    return rows


def main(argv: list[str] | None = None) -> int:
    """``python -m cvcourse.report [--profile smoke|full] [notebook ...]``; non-zero if a notebook failed.

    Example:
        >>> main(["--profile", "smoke"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(prog="python -m cvcourse.report")
    parser.add_argument("--profile", default=os.environ.get("CVCOURSE_PROFILE", "smoke"), choices=PROFILES)
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    rows = run_report(args.profile, args.notebooks or None)
    return 1 if any(row["error"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
