"""The student's own workspace: ``make lab`` opens JupyterLab on copies, never on the tracked notebooks.

JupyterLab saves answers and outputs into the notebook it has open. Opened on the tracked
``notebooks/student/`` files, that would put every student's work into git and make the
next ``git pull`` of an updated course conflict. So ``make lab`` first runs
:func:`prepare_workspace`, which

- copies each student notebook into the workspace folder (``workspace/``, ignored by git)
  if it is not there yet;
- never overwrites a file that is there: when the course's version of a notebook has
  changed since the student's copy was made, it puts the new version beside it as
  ``NN_name.course-YYYY-MM-DD.ipynb`` and says so, once per course change;
- remembers which course version each copy came from in ``.cvcourse-workspace.json``;
- writes this Python's version into each copy's ``language_info`` (:func:`for_this_machine`): the
  student copies carry what the course's kernel reports but the version, which differs per machine,
  and JupyterLab marks a notebook "unsaved" on opening when its kernel reports something else.

Example:
    >>> for line in prepare_workspace(Path("workspace")):  # doctest: +SKIP
    ...     print(line)
    workspace/: 12 notebooks copied from notebooks/student/ (your own copies: edit and save freely)

Command line (``make lab`` runs it)::

    python -m cvcourse.workspace [--dir workspace]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from cvcourse.build import ROOT, STUDENT_DIR

WORKSPACE = ROOT / "workspace"
MANIFEST = ".cvcourse-workspace.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def for_this_machine(text: str, version: str | None = None) -> str:
    """A student notebook's text with ``metadata.language_info.version`` set to this Python's version.

    That is what the course's kernel (this venv's ipykernel) reports, so JupyterLab finds
    nothing to change in the metadata and opens the copy as saved. Text that is not a notebook
    with a Python ``language_info`` comes back unchanged, as does a notebook that already has
    a version. ``version`` defaults to :func:`platform.python_version`.

    Example:
        >>> text = for_this_machine('{"metadata": {"language_info": {"name": "python"}}}', "3.11.7")
        >>> json.loads(text)["metadata"]["language_info"]
        {'name': 'python', 'version': '3.11.7'}
        >>> for_this_machine("not json", "3.11.7")
        'not json'
    """
    try:
        nb = json.loads(text)
    except ValueError:
        return text
    info = nb.get("metadata", {}).get("language_info") if isinstance(nb, dict) and isinstance(nb.get("metadata"), dict) else None
    if not isinstance(info, dict) or info.get("name") != "python" or "version" in info:
        return text
    info["version"] = version or platform.python_version()
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"  # nbformat's own layout


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and isinstance(data.get("notebooks"), dict) else {}


def _write_manifest(path: Path, notebooks: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"notebooks": notebooks}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def prepare_workspace(workspace: Path = WORKSPACE, course: Path = STUDENT_DIR, *, today: str | None = None) -> list[str]:
    """Copy the course's student notebooks into ``workspace`` without overwriting anything; returns what it did, in lines.

    Example:
        >>> prepare_workspace(Path("/tmp/ws"), today="2026-12-02")  # doctest: +SKIP
        ['/tmp/ws: 12 notebooks copied from notebooks/student/ (your own copies: edit and save freely)']
    """
    workspace, course = Path(workspace), Path(course)
    notebooks = sorted(course.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no student notebooks (NN_name.ipynb) in {course}: run `make student` first")
    if workspace.resolve() == course.resolve():
        raise ValueError("the workspace must be a folder of its own, not the course's notebooks/student/")
    if workspace.exists() and not workspace.is_dir():
        raise NotADirectoryError(f"the workspace {workspace} exists and is not a folder")
    workspace.mkdir(parents=True, exist_ok=True)
    manifest_path = workspace / MANIFEST
    recorded = _read_manifest(manifest_path).get("notebooks", {})
    today = today or time.strftime("%Y-%m-%d")
    copied, lines = [], []
    for source in notebooks:
        target = workspace / source.name
        text = for_this_machine(source.read_text(encoding="utf-8"))  # the course's version, for this machine
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if not target.exists():
            target.write_text(text, encoding="utf-8")
            copied.append(source.name)
        elif recorded.get(source.name, {}).get("course_sha256") != digest and _sha256(target) != digest:
            fresh = workspace / f"{source.stem}.course-{today}.ipynb"
            if not fresh.exists():
                fresh.write_text(text, encoding="utf-8")
            lines.append(f"{source.name}: the course's version has changed since your copy was made. Yours is "
                         f"untouched; the new version is beside it as {fresh.name}.")
        recorded[source.name] = {"course_sha256": digest}
    _write_manifest(manifest_path, recorded)
    summary = f"{workspace}: {len(notebooks)} notebooks"
    if copied:
        shown = course.resolve().relative_to(ROOT) if course.resolve().is_relative_to(ROOT) else course
        summary += f", {len(copied)} copied from {shown}/ now"
    lines.insert(0, summary + " (your own copies: edit and save freely; git does not track them)")
    return lines


def main(argv: list[str] | None = None) -> int:
    """``python -m cvcourse.workspace [--dir DIR]``: prepare the workspace and print what was done."""
    parser = argparse.ArgumentParser(prog="python -m cvcourse.workspace", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=WORKSPACE, help="the workspace folder (default: workspace/)")
    args = parser.parse_args(argv)
    for line in prepare_workspace(args.dir):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
