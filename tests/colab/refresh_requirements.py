"""Regenerate ``tests/colab/requirements-colab.txt`` from Colab's published ``pip freeze``.

Colab publishes its runtime in the public repository ``googlecolab/backend-info``:
``pip-freeze.txt`` (the CPU runtime's ``pip freeze``) and ``os-info.txt`` (its Python
version). This project keeps a copy in ``../shared/colab/``. The Colab job
(``make test-colab``) does not install all ~600 packages of that list, only the ones the
course touches and everything they depend on, each at Colab's version. This script finds
that set: it resolves :data:`SEEDS` with Colab's pip, in a scratch virtual environment of
Colab's Python minor version, under Colab's whole freeze used as constraints
(``pip install --dry-run --ignore-installed --report``: metadata only, nothing is
installed), and writes the resolved ``name==version`` lines.

Every resolved version must be Colab's: one at another version is an error (the reproduced
runtime would not be Colab's). A dependency that Colab itself does not have (its runtime is
not closed under its packages' requirements) is left out, as on Colab, and named in the
header.

Usage (Python 3.13, as Colab's ``os-info.txt`` says)::

    python3.13 tests/colab/refresh_requirements.py ../shared/colab/pip-freeze.txt ../shared/colab/os-info.txt

Example:
    >>> parse_freeze(["# comment", "numpy==2.1.3", "torch @ https://example.org/t.whl"])
    {'numpy': '2.1.3'}
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "requirements-colab.txt"

#: What the course touches on Colab: its run-time dependencies as Colab has them, the
#: kernel and widget stack the notebooks run in, the OpenCV wheels that share ``cv2``,
#: pytest (nbval's runner; Colab ships it) and the installers themselves. Their
#: dependencies are added by the resolver.
SEEDS = (
    "tensorflow", "keras", "numpy", "scipy", "matplotlib", "scikit-learn", "scikit-image", "pandas",
    "pillow", "h5py", "protobuf", "ml_dtypes", "opencv-python", "opencv-python-headless",
    "opencv-contrib-python", "ipywidgets", "ipykernel", "ipython", "jupyter_client", "jupyter_core",
    "traitlets", "tornado", "pyzmq", "nbformat", "nbclient", "mlxtend", "joblib", "psutil", "tqdm",
    "requests", "pytest", "pip", "setuptools", "wheel",
)

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)\s*$")


def canonical(name: str) -> str:
    """A distribution name in PEP 503 normal form.

    Example:
        >>> canonical("Jupyter_Client")
        'jupyter-client'
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"expected a distribution name, got {name!r}")
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def parse_freeze(lines) -> dict[str, str]:
    """``{canonical name: version}`` of the ``name==version`` lines of a ``pip freeze``.

    Comments, blank lines and direct references (``name @ url``) are skipped.

    Example:
        >>> parse_freeze(["Pillow==11.3.0"])
        {'pillow': '11.3.0'}
    """
    pins: dict[str, str] = {}
    for line in lines:
        match = _PIN.match(line.strip())
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    return pins


def python_version(os_info: str) -> str:
    """The ``X.Y.Z`` Python version in the text of Colab's ``os-info.txt``.

    Example:
        >>> python_version("Ubuntu 22.04.5 LTS\\nPython 3.13.15\\n")
        '3.13.15'
    """
    match = re.search(r"^Python (\d+\.\d+\.\d+)\s*$", os_info, re.M)
    if not match:
        raise ValueError("expected a line 'Python X.Y.Z' in os-info.txt")
    return match.group(1)


def resolve(freeze: dict[str, str], seeds=SEEDS, python: str = sys.executable) -> tuple[dict[str, str], list[str]]:
    """Resolve ``seeds`` under Colab's pins with Colab's pip.

    Returns ``({name: version}, absent)``: the resolved packages that Colab has, and the
    names of those it resolved but Colab does not have (left out).
    """
    missing = [seed for seed in seeds if canonical(seed) not in freeze]
    if missing:
        raise SystemExit(f"these seeds are not in Colab's freeze (remove them from SEEDS?): {missing}")
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=300)
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        subprocess.run(pip + ["install", "-q", f"pip=={freeze['pip']}"], check=True, timeout=600)
        constraints = Path(tmp) / "colab-constraints.txt"
        constraints.write_text("".join(f"{name}=={version}\n" for name, version in sorted(freeze.items())))
        report = Path(tmp) / "report.json"
        subprocess.run(pip + ["install", "-q", "--dry-run", "--ignore-installed", "--report", str(report),
                              "-c", str(constraints), *[f"{s}=={freeze[canonical(s)]}" for s in seeds]],
                       check=True, timeout=1800)
        items = json.loads(report.read_text())["install"]
    resolved = {canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in items}
    absent = sorted(name for name in resolved if name not in freeze)
    foreign = {name: version for name, version in resolved.items() if name in freeze and freeze[name] != version}
    if foreign:
        raise SystemExit(f"resolved at versions other than Colab's: {foreign}")
    return {name: version for name, version in resolved.items() if name in freeze}, absent


def render(resolved: dict[str, str], freeze_path: Path, colab_python: str, absent=()) -> str:
    """The text of ``requirements-colab.txt``: a header saying where it came from, then the pins."""
    header = f"""\
# Colab's CPU runtime, reduced to what the course touches: every package at Colab's version.
# Generated by tests/colab/refresh_requirements.py from {freeze_path.name} (Colab's Python {colab_python}).
# Source: the public repository googlecolab/backend-info (pip-freeze.txt, os-info.txt), copied into
# ../shared/colab/. To refresh when Colab changes: copy the new files there, then run
#     python3.13 tests/colab/refresh_requirements.py ../shared/colab/pip-freeze.txt ../shared/colab/os-info.txt
# (with the Python minor version that os-info.txt names) and commit this file. `make test-colab`
# rebuilds .venv-colab/ whenever this file changes.
# Required by these packages but absent from Colab's runtime, so left out as there: {", ".join(absent) or "none"}.
# colab-python: {colab_python}
"""
    return header + "".join(f"{name}=={version}\n" for name, version in sorted(resolved.items()))


def main(argv: list[str] | None = None) -> int:
    """Command line: ``refresh_requirements.py PIP_FREEZE OS_INFO [--output PATH]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("freeze", type=Path, help="Colab's pip-freeze.txt")
    parser.add_argument("os_info", type=Path, help="Colab's os-info.txt")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    colab_python = python_version(args.os_info.read_text())
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if not colab_python.startswith(here + "."):
        raise SystemExit(f"run this with Python {colab_python.rsplit('.', 1)[0]} (Colab's), not {here}")
    freeze = parse_freeze(args.freeze.read_text().splitlines())
    resolved, absent = resolve(freeze)
    args.output.write_text(render(resolved, args.freeze, colab_python, absent))
    print(f"wrote {args.output} ({len(resolved)} packages at Colab's versions, Python {colab_python})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
