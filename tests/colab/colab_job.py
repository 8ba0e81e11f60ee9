"""The Colab job (``make test-colab``): run student notebooks in a reproduction of Colab's runtime.

1. **Colab's runtime.** A virtual environment of Colab's Python minor version with every
   package of ``tests/colab/requirements-colab.txt`` (Colab's own versions, see
   ``refresh_requirements.py``) installed ``--no-deps``, as pip finds them on Colab. The
   three OpenCV wheels share the ``cv2`` folder, so their order matters: they are
   installed in :data:`OPENCV_ORDER`, contrib last, so that ``import cv2`` gives contrib's
   4.x binary with its contrib modules (Colab's ``pip freeze`` cannot tell the order; with
   contrib last the reproduction shows what the issue saw there: Colab's cv2 has its
   contrib modules). It is built once into ``<venv>/pristine`` and reused while the list,
   the order and the Python are the same (a stamp file), and copied afresh for each run.
2. **The install cell, exactly.** The code of the student notebooks' install cell (all
   twelve are checked to be identical), with the Git address replaced by a copy of this
   checkout (its tracked and untracked, not ignored, files: what a clone of it would hold
   plus uncommitted work), is run by that environment's Python with ``google.colab``
   present in ``sys.modules``, as on Colab. ``pip freeze --all`` before and after gives
   exactly what it changed.
3. **The notebooks.** nbval (a test tool, not part of Colab: ``nbval`` and ``coverage``
   installed ``--no-deps`` at the versions of constraints.txt, so Colab's packages stay
   as they are) runs each student notebook in the smoke profile with a fresh, empty HOME
   (and ``CVCOURSE_CACHE``/``KERAS_HOME`` inside it) so that no cached weights can hide a
   missing package, in a folder of its own as Colab's ``/content``. Every cell's outputs
   are recorded (``nbval_outputs.py``); the import cell must print only its profile line,
   and no cell may print mtcnn's lz4 warning.
4. **OpenCV in the other order.** The binary is then switched to OpenCV 5.0's (a forced
   reinstall of Colab's ``opencv-python-headless`` 5.0), as on a Colab whose wheels were
   installed in another order, and ``python -m cvcourse.runtime`` must make ``cv2``
   usable again without changing any version.

Everything is written to a Markdown report (``reports/colab.md``). Exit status 0 only if
every step passed.

Example:
    >>> freeze_diff({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "1"})
    ['+ c==1', '~ b 2 -> 3']
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REQUIREMENTS = HERE / "requirements-colab.txt"
OPENCV_ORDER = ("opencv-python", "opencv-python-headless", "opencv-contrib-python")
#: nbval and what it needs that Colab lacks; versions from constraints.txt.
TEST_TOOLS = ("nbval", "coverage")
DEFAULT_NOTEBOOKS = ("01_pixels.ipynb", "05_transfer_learning.ipynb", "06_detection.ipynb", "11_deep_dream.ipynb")
#: Variables of this machine or of the Makefile that Colab does not set: not passed to the job.
DROP_ENV = ("TF_CPP_MIN_LOG_LEVEL", "PYTHONHASHSEED", "PYTHONPATH", "VIRTUAL_ENV", "PIP_DISABLE_PIP_VERSION_CHECK",
            "CVCOURSE_PROFILE", "CVCOURSE_CACHE", "CVCOURSE_STRICT_CHECKS", "CVCOURSE_REPORT", "KERAS_HOME",
            "MPLBACKEND", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR", "IPYTHONDIR")
LZ4_NOISE = "I/O operation on closed file"


def read_pins(text: str) -> dict[str, str]:
    """``{name: version}`` of the ``name==version`` lines of a requirements file or ``pip freeze``.

    A direct reference (``name @ url``) gets ``@ url`` as its version.

    Example:
        >>> read_pins("# c\\nnumpy==2.1.3\\ncvcourse @ file:///x\\n")
        {'numpy': '2.1.3', 'cvcourse': '@ file:///x'}
    """
    pins: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if " @ " in line:
            name, url = line.split(" @ ", 1)
            pins[name.strip().lower().replace("_", "-")] = "@ " + url.strip()
        elif "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
        else:
            raise ValueError(f"expected 'name==version' or 'name @ url', got {raw!r}")
    return pins


def freeze_diff(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Lines ``+ name==version`` (added), ``- name==version`` (removed), ``~ name old -> new`` (replaced)."""
    lines = [f"+ {n}=={v}" if not v.startswith("@") else f"+ {n} {v}" for n, v in sorted(after.items()) if n not in before]
    lines += [f"- {n}=={v}" for n, v in sorted(before.items()) if n not in after]
    lines += [f"~ {n} {before[n]} -> {v}" for n, v in sorted(after.items()) if n in before and before[n] != v]
    return lines


def install_cell(student_dir: Path) -> str:
    """The install cell's code, the same in every student notebook (checked)."""
    import nbformat

    sources = {}
    for path in sorted(student_dir.glob("[0-9][0-9]_*.ipynb")):
        cells = [c for c in nbformat.read(path, as_version=4).cells if c.get("id") == "colab-install"]
        if len(cells) != 1:
            raise SystemExit(f"{path.name}: expected one cell with id colab-install, found {len(cells)}")
        sources[path.name] = cells[0].source
    if not sources:
        raise SystemExit(f"no student notebooks in {student_dir}")
    if len(set(sources.values())) != 1:
        raise SystemExit(f"the install cells differ between student notebooks: {sorted(sources)}")
    return next(iter(sources.values()))


def localise(cell: str, spec: str, local_spec: str) -> str:
    """The install cell with the course's Git requirement replaced by the checkout's (exactly once)."""
    if cell.count(spec) != 1:
        raise SystemExit(f"expected the install cell to name {spec!r} once, found {cell.count(spec)}")
    return cell.replace(spec, local_spec)


def job_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without :data:`DROP_ENV`, with a fresh ``home`` and pip's cache kept."""
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
    env.setdefault("PIP_CACHE_DIR", os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip"))
    env.update(HOME=str(home), **extra)
    return env


def run(command, *, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run`` with output captured as text and a time limit."""
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=timeout, **kwargs)


def checked(result: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    """Raise with the command's output when it failed."""
    if result.returncode != 0:
        raise SystemExit(f"{what} failed (exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def pip(python: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run pip of ``python`` quietly; fail loudly."""
    return checked(run([python, "-m", "pip", *args], timeout=timeout), "pip " + " ".join(args[:3]))


def build_pristine(python: str, venv: Path, log) -> tuple[Path, float, str]:
    """Build (or reuse) Colab's runtime in ``venv``; returns its Python, the seconds taken, and ``pip check``."""
    text = REQUIREMENTS.read_text()
    pins = read_pins(text)
    version = checked(run([python, "-c", "import sys; print(sys.version.split()[0])"], timeout=60), "python").stdout.strip()
    stamp = hashlib.sha256(f"{text}\n{OPENCV_ORDER}\n{version}".encode()).hexdigest()
    target = venv / "bin" / "python"
    stamp_file = venv / ".colab-stamp"
    if target.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        log(f"reusing Colab's runtime in {venv} (stamp matches)")
        return target, 0.0, (venv / ".pip-check").read_text()
    start = time.monotonic()
    shutil.rmtree(venv, ignore_errors=True)
    log(f"building Colab's runtime in {venv} with Python {version} ({len(pins)} packages)")
    checked(run([python, "-m", "venv", venv], timeout=300), "python -m venv")
    pip(target, "install", "-q", f"pip=={pins['pip']}")
    rest = venv.parent / "requirements-no-opencv.txt"
    rest.write_text("".join(f"{n}=={v}\n" for n, v in pins.items() if n not in OPENCV_ORDER))
    pip(target, "install", "-q", "--no-deps", "-r", rest)
    for name in OPENCV_ORDER:
        pip(target, "install", "-q", "--no-deps", f"{name}=={pins[name]}")
    check = run([target, "-m", "pip", "check"], timeout=300)
    (venv / ".pip-check").write_text(check.stdout + check.stderr)
    stamp_file.write_text(stamp)
    return target, time.monotonic() - start, check.stdout + check.stderr


def freeze(python: Path) -> dict[str, str]:
    """``pip freeze --all`` of ``python`` as ``{name: version}``."""
    return read_pins(pip(python, "freeze", "--all", timeout=300).stdout)


def snapshot_checkout(dest: Path) -> Path:
    """Copy the checkout's files (tracked, and untracked but not ignored) to ``dest``."""
    listing = run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], timeout=120)
    checked(listing, "git ls-files (the Colab job copies the checkout's files)")
    shutil.rmtree(dest, ignore_errors=True)
    for name in filter(None, listing.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def read_outputs(path: Path) -> list[dict]:
    """The cell records that ``nbval_outputs.py`` wrote (one JSON object a line)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def import_cell_problems(cells: list[dict], import_id: str) -> list[str]:
    """What is wrong with the import cell's output: it must be one stdout line, ``profile: ...``."""
    (cell,) = [c for c in cells if c["id"] == import_id] or [None]
    if cell is None:
        return [f"the import cell {import_id} did not run"]
    problems = []
    texts = [o for o in cell["outputs"] if o["type"] == "stream"]
    other = [o for o in cell["outputs"] if o["type"] != "stream"]
    if other:
        problems.append(f"import cell shows {[o['type'] for o in other]}")
    if any(o["name"] == "stderr" for o in texts):
        problems.append("import cell writes to stderr: " + " / ".join(o["text"][:300] for o in texts if o["name"] == "stderr"))
    lines = "".join(o["text"] for o in texts if o["name"] == "stdout").splitlines()
    if len(lines) != 1 or not lines[0].startswith("profile: "):
        problems.append(f"import cell prints {lines!r}, expected one 'profile: ...' line")
    return problems


def run_notebook(python: Path, notebook: Path, work: Path, timeout: float) -> dict:
    """Run one student notebook under nbval with a fresh HOME; returns its record for the report."""
    import nbformat

    home = Path(tempfile.mkdtemp(prefix=f"home-{notebook.stem[:2]}-", dir=work))
    content = home / "content"
    content.mkdir()
    shutil.copy2(notebook, content / notebook.name)
    outputs = home / "outputs.jsonl"
    env = job_env(home, CVCOURSE_PROFILE="smoke", CVCOURSE_CACHE=str(home / ".cache" / "cvcourse"),
                  KERAS_HOME=str(home / ".keras"), PYTHONPATH=str(HERE), CVCOURSE_COLAB_OUTPUTS=str(outputs))
    start = time.monotonic()
    result = run([python, "-m", "pytest", "-p", "no:cacheprovider", "-p", "nbval_outputs", "--nbval-lax",
                  "--nbval-current-env", "--nbval-cell-timeout=900", "-q", "-rf", notebook.name],
                 timeout=timeout, cwd=content, env=env)
    seconds = time.monotonic() - start
    cells = read_outputs(outputs)
    nb = nbformat.read(notebook, as_version=4)
    import_id = next(c.id for c in nb.cells if c.cell_type == "code" and "colab-header" not in c.metadata.get("tags", []))
    problems = [] if result.returncode == 0 else [f"nbval exit {result.returncode}"]
    problems += import_cell_problems(cells, import_id)
    stderr = [(c["id"], o["text"]) for c in cells for o in c["outputs"] if o["type"] == "stream" and o["name"] == "stderr"]
    problems += [f"cell {cid} prints mtcnn's lz4 warning" for cid, text in stderr if LZ4_NOISE in text]
    summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    import_out = next((o["text"].strip() for c in cells if c["id"] == import_id for o in c["outputs"]
                       if o["type"] == "stream"), "")
    cached = sorted(str(p.relative_to(home)) for p in (home / ".cache" / "cvcourse").glob("*")) if (home / ".cache" / "cvcourse").exists() else []
    return {"notebook": notebook.name, "seconds": seconds, "ok": not problems, "problems": problems,
            "summary": summary, "import_output": import_out, "stderr": stderr, "cells": len(cells),
            "failures": result.stdout[-4000:] if result.returncode else "", "cache": cached}


def opencv_other_order(python: Path, pins: dict[str, str], env: dict[str, str], cwd: Path) -> dict:
    """Make OpenCV 5.0's binary the live one, then check that ``python -m cvcourse.runtime`` repairs it.

    ``cwd`` must not be the checkout: ``python -m`` puts the working folder first on
    ``sys.path``, and a checkout's ``cvcourse.egg-info`` would stand in for the installed course.
    """
    before = freeze(python)
    pip(python, "install", "-q", "--no-deps", "--force-reinstall", f"opencv-python-headless=={pins['opencv-python-headless']}")
    probe = "import cv2; print(cv2.__version__, hasattr(cv2, 'CascadeClassifier'), hasattr(cv2, 'face'))"
    broken = run([python, "-c", probe], timeout=120, env=env, cwd=cwd).stdout.strip()
    start = time.monotonic()
    repair = run([python, "-m", "cvcourse.runtime"], timeout=1800, env=env, cwd=cwd)
    seconds = time.monotonic() - start
    fixed = run([python, "-c", probe], timeout=120, env=env, cwd=cwd).stdout.strip()
    changed = freeze_diff(before, freeze(python))
    ok = repair.returncode == 0 and fixed.endswith("True True") and not changed and "reinstalled opencv-contrib-python" in repair.stdout
    return {"ok": ok, "broken": broken, "fixed": fixed, "output": (repair.stdout + repair.stderr).strip(),
            "changed": changed, "seconds": seconds}


def write_report(path: Path, facts: dict) -> None:
    """The Markdown report of one Colab job."""
    def block(text: str) -> str:
        return "```\n" + (text.rstrip() or "(nothing)") + "\n```\n"

    def cell(text: str) -> str:  # a table cell: a "|" would end it
        return text.replace("|", "\\|")

    rows = "\n".join(f"| {r['notebook']} | {'pass' if r['ok'] else 'FAIL'} | {r['seconds']:.0f} | {cell(r['summary'])} | "
                     f"`{cell(r['import_output'])}` | {len(r['stderr'])} |" for r in facts["notebooks"])
    stderr = "".join(f"- {r['notebook']}, cell {cid}: `{text.strip().splitlines()[0][:160] if text.strip() else ''}`\n"
                     for r in facts["notebooks"] for cid, text in r["stderr"])
    problems = "".join(f"- {r['notebook']}: {p}\n" for r in facts["notebooks"] for p in r["problems"])
    cv = facts.get("opencv")
    text = f"""# The Colab job: student notebooks in Colab's runtime

Generated by `make test-colab` (tests/colab/colab_job.py) on {facts['date']}. Colab's runtime was
reproduced from `tests/colab/requirements-colab.txt` ({facts['packages']} packages at the versions of
Colab's published `pip freeze`) with Python {facts['python']} (Colab: {facts['colab_python']}) and pip
{facts['pip']}; OpenCV wheels installed in the order {', '.join(OPENCV_ORDER)}. `pip check` there:
{block(facts['pip_check'])}
## The install cell

Its code, as in every student notebook, run with `google.colab` in `sys.modules` and the Git address
replaced by `{facts['local_spec']}` ({facts['install_seconds']:.0f} s). What it printed:

{block(facts['install_output'])}
What `pip freeze --all` changed (`+` added, `-` removed, `~` replaced):

{block(chr(10).join(facts['diff']))}
Then, for the test only (not part of Colab; `--no-deps`, so nothing else changed):
{block(chr(10).join(facts['test_tools']))}
## The notebooks (smoke profile, nbval --nbval-lax, a fresh HOME each)

| notebook | result | time (s) | nbval | import cell output | stderr outputs |
|---|---|---:|---|---|---:|
{rows}

Problems: {('none' + chr(10)) if not problems else chr(10) + problems}
Everything the notebooks wrote to stderr (first line of each):

{stderr or '(nothing)' + chr(10)}
"""
    if cv:
        text += f"""
## OpenCV installed in the other order

With Colab's `opencv-python-headless` 5.0 forced over the others, `cv2` was `{cv['broken']}` (version,
CascadeClassifier, contrib's `face`); `python -m cvcourse.runtime` ({cv['seconds']:.0f} s) printed:

{block(cv['output'])}
and `cv2` became `{cv['fixed']}`; pip freeze changes: {', '.join(cv['changed']) or 'none'}. {'pass' if cv['ok'] else 'FAIL'}.
"""
    text += f"""
Total: {facts['total_seconds']:.0f} s (runtime build {facts['build_seconds']:.0f} s, copy {facts['copy_seconds']:.0f} s).
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``colab_job.py --python PYTHON3.13 [--venv DIR] [--report PATH] [NOTEBOOK ...]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", required=True, help="Colab's Python version (3.13)")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-colab")
    parser.add_argument("--report", type=Path, default=ROOT / "reports" / "colab.md")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per notebook")
    parser.add_argument("notebooks", nargs="*", default=list(DEFAULT_NOTEBOOKS))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from cvcourse.runtime import COURSE_SPEC

    def log(message: str) -> None:
        print(f"[colab] {message}", flush=True)

    started = time.monotonic()
    header = REQUIREMENTS.read_text()
    colab_python = next(line.split(":", 1)[1].strip() for line in header.splitlines() if line.startswith("# colab-python:"))
    python = (shutil.which(args.python) or args.python) if args.python else ""
    if not python or not Path(python).is_file():
        raise SystemExit(f"Colab's Python {colab_python} is needed for the Colab job: none at {args.python!r} "
                         f"(pyenv install 3.13, or make test-colab COLAB_PYTHON=/path/to/python3.13)")
    venv = args.venv.resolve()
    pristine, build_seconds, pip_check = build_pristine(python, venv / "pristine", log)
    start = time.monotonic()
    work = venv / "run"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(venv / "pristine", work / "venv", symlinks=True)
    copy_seconds = time.monotonic() - start
    py = work / "venv" / "bin" / "python"
    checkout = snapshot_checkout(work / "checkout")
    before = freeze(py)

    local_spec = f"cvcourse @ {checkout.as_uri()}"
    cell = localise(install_cell(ROOT / "notebooks" / "student"), COURSE_SPEC, local_spec)
    prelude = 'import sys, types\nsys.modules["google.colab"] = types.ModuleType("google.colab")  # as on Colab\n'
    home = work / "home-install"
    (home / "content").mkdir(parents=True)
    log("running the install cell")
    start = time.monotonic()
    installed = run([py, "-c", prelude + cell], timeout=3600, cwd=home / "content", env=job_env(home))
    install_seconds = time.monotonic() - start
    install_output = (installed.stdout + installed.stderr).strip()
    log(install_output)
    checked(installed, "the install cell")
    after = freeze(py)
    diff = freeze_diff(before, after)
    diff = [line.replace(checkout.as_uri(), "file:///<checkout>") for line in diff]
    constraints = read_pins((ROOT / "constraints.txt").read_text())
    pip(py, "install", "-q", "--no-deps", *[f"{name}=={constraints[name]}" for name in TEST_TOOLS])
    test_tools = freeze_diff(after, freeze(py))

    records = []
    for name in args.notebooks:
        log(f"running {name}")
        record = run_notebook(py, ROOT / "notebooks" / "student" / name, work, args.timeout)
        log(f"{name}: {'pass' if record['ok'] else 'FAIL'} in {record['seconds']:.0f} s ({record['summary']})")
        for problem in record["problems"]:
            log(f"  {problem}")
        if record["failures"]:
            log(record["failures"])
        records.append(record)

    log("OpenCV installed in the other order")
    cv = opencv_other_order(py, read_pins(header), job_env(home), home / "content")
    log(f"OpenCV repair: {'pass' if cv['ok'] else 'FAIL'}: {cv['output']}")

    install_ok = (installed.returncode == 0 and install_output.startswith("cvcourse ")
                  and len(install_output.splitlines()) == 1)
    if not install_ok:
        log("the install cell must print exactly one line, the summary")
    facts = {"date": time.strftime("%Y-%m-%d"), "packages": len(read_pins(header)), "colab_python": colab_python,
             "python": run([py, "-c", "import sys; print(sys.version.split()[0])"], timeout=60).stdout.strip(),
             "pip": read_pins(header)["pip"], "pip_check": pip_check.strip(), "local_spec": "cvcourse @ file:///<checkout>",
             "install_seconds": install_seconds, "install_output": install_output, "diff": diff,
             "test_tools": test_tools, "notebooks": records, "opencv": cv, "build_seconds": build_seconds,
             "copy_seconds": copy_seconds, "total_seconds": time.monotonic() - started}
    write_report(args.report, facts)
    ok = install_ok and all(r["ok"] for r in records) and cv["ok"]
    log(f"report: {args.report}; {'all passed' if ok else 'FAILED'} in {facts['total_seconds']:.0f} s")
    print(f"{sum(r['ok'] for r in records) + install_ok + cv['ok']} passed, "
          f"{sum(not r['ok'] for r in records) + (not install_ok) + (not cv['ok'])} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
