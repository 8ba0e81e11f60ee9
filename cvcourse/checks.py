"""Check cells: immediate feedback on exercises, and the headline figures of each notebook.

A check cell follows every exercise::

    with check("Exercise 1 - grayscale by hand", hint="Weight R, G, B by 0.299, 0.587, 0.114."):
        expect_close(to_gray(photo), cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), atol=1,
                     what="to_gray(photo) vs cv2.cvtColor")

It prints one line:

- ✅ when every expectation inside holds;
- ❌ with what went wrong and the hint when one fails (or the code raised);
- ⏳ "not implemented yet" when the exercise still raises ``NotImplementedError``.

Under ``CVCOURSE_STRICT_CHECKS=1`` (``make test`` sets it for the master notebooks)
a ❌ or ⏳ raises instead, so a broken solution fails the test suite.

Headline figures (accuracy, mAP, mIoU, BLEU, PSNR, ...) go through :func:`target`,
which asserts them against a threshold and publishes them for ``make report``
(to the JSON-lines file named by ``$CVCOURSE_REPORT``), so nothing is scraped from text.
"""

from __future__ import annotations

import contextlib
import json
import linecache
import math
import os
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

STRICT_ENV = "CVCOURSE_STRICT_CHECKS"
REPORT_ENV = "CVCOURSE_REPORT"

_open_checks: list[str] = []


class CheckFailed(AssertionError):
    """An expectation inside a check cell did not hold."""


def strict() -> bool:
    """True when failing checks must raise (``CVCOURSE_STRICT_CHECKS=1``)."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes")


def _publish(record: dict[str, Any]) -> None:
    path = os.environ.get(REPORT_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


#: The source of the notebook cell that last ran each check, by exercise name (see :mod:`cvcourse.wrong_answers`).
_cell_sources: dict[str, str] = {}


def _remember_cell(name: str, frame: Any) -> None:
    """Keep the source of the notebook cell whose ``with check(name)`` is starting.

    IPython compiles each cell under a made-up file name and puts its source in
    :mod:`linecache`; a real file on disk (a test module, a script) is not a cell.
    """
    filename = frame.f_code.co_filename
    if frame.f_code.co_name == "<module>" and not os.path.exists(filename):
        lines = linecache.getlines(filename)
        if lines:
            _cell_sources[name] = "".join(lines)


def cell_source(name: str) -> str | None:
    """The source of the notebook cell that last ran ``check(name)``, or None.

    Example:
        >>> cell_source("an exercise that never ran") is None
        True
    """
    return _cell_sources.get(name)


@contextlib.contextmanager
def check(name: str, *, hint: str = "") -> Iterator[None]:
    """Grade the code in the ``with`` block and print ✅ / ❌ + hint / ⏳.

    Example:
        >>> with check("Exercise 0 - arithmetic", hint="2 + 2 is 4."):
        ...     expect(2 + 2 == 4, "2 + 2 should be 4")
        ✅ Exercise 0 - arithmetic
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("check() needs a non-empty exercise name, e.g. check('Exercise 1 - grayscale')")
    if not isinstance(hint, str):
        raise TypeError(f"hint must be a string, got {type(hint).__name__}")
    _remember_cell(name, sys._getframe(2))
    _open_checks.append(name)
    outcome, detail = "passed", ""
    try:
        yield
    except NotImplementedError:
        outcome = "pending"
    except NameError as error:
        outcome, detail = "pending", f"{error} - run the exercise cell above first"
    except CheckFailed as error:
        outcome, detail = "failed", str(error)
    except Exception as error:  # the student's code crashed: explain instead of a traceback
        outcome, detail = "failed", f"your code raised {type(error).__name__}: {error}"
        if strict():
            _open_checks.pop()
            _publish({"kind": "check", "name": name, "outcome": outcome})
            raise
    finally:
        if _open_checks and _open_checks[-1] == name:
            _open_checks.pop()
    _publish({"kind": "check", "name": name, "outcome": outcome})
    if outcome == "passed":
        print(f"✅ {name}")
        return
    if outcome == "pending":
        message = f"⏳ {name}: not implemented yet" + (f" ({detail})" if detail else "") + "."
    else:
        message = f"❌ {name}: {detail}" + (f"\n   Hint: {hint}" if hint else "")
    print(message)
    if strict():
        raise CheckFailed(message)


def expect(condition: Any, message: str) -> None:
    """Fail the enclosing check with ``message`` unless ``condition`` is true.

    Example:
        >>> expect(3 > 2, "3 should exceed 2")
    """
    if not isinstance(message, str):
        raise TypeError(f"message must be a string, got {type(message).__name__}")
    if not bool(condition):
        raise CheckFailed(message)


def _as_array(value: Any, what: str) -> np.ndarray:
    if value is None:
        raise CheckFailed(f"{what}: got None - did the function forget to return its result?")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"{what}: expected numbers, got {type(value).__name__} ({error})") from None


def expect_shape(value: Any, shape: tuple[int | None, ...], what: str = "result") -> None:
    """Fail unless ``value`` has ``shape`` (``None`` matches any size on that axis).

    Example:
        >>> expect_shape(np.zeros((2, 3)), (2, None))
    """
    actual = np.shape(value)
    if len(actual) != len(shape) or any(want is not None and got != want for got, want in zip(actual, shape)):
        raise CheckFailed(f"{what}: expected shape {tuple(shape)}, got {actual}")


def expect_close(actual: Any, expected: Any, *, atol: float = 1e-6, rtol: float = 0.0, what: str = "result") -> None:
    """Fail unless ``actual`` matches ``expected`` within ``atol + rtol * |expected|`` everywhere.

    Example:
        >>> expect_close([1.0, 2.0], [1.0, 2.0000001], atol=1e-5)
    """
    got, want = _as_array(actual, what), _as_array(expected, f"{what} (reference)")
    if got.shape != want.shape:
        raise CheckFailed(f"{what}: expected shape {want.shape}, got {got.shape}")
    if not np.all(np.isfinite(got)):
        raise CheckFailed(f"{what}: contains NaN or infinity")
    error = np.abs(got - want)
    limit = atol + rtol * np.abs(want)
    bad = error > limit
    if np.any(bad):
        where = np.unravel_index(int(np.argmax(error - limit)), got.shape) if got.ndim else ()
        at = f" at index {tuple(int(i) for i in where)}" if got.ndim else ""
        raise CheckFailed(
            f"{what}: {int(bad.sum())} of {bad.size} values differ from the reference; "
            f"largest difference {float(error.max()):.4g}{at} (got {float(got[where]):.6g}, "
            f"expected {float(want[where]):.6g}; allowed {atol:g} + {rtol:g}*|expected|)"
        )


def _shown(value: Any, limit: int = 160) -> str:
    text = repr(value.tolist()) if isinstance(value, np.ndarray) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def expect_equal(actual: Any, expected: Any, what: str = "result", *, reveal: bool = True) -> None:
    """Fail unless ``actual == expected`` (element-wise for arrays), showing what was returned.

    The message always shows ``actual``; it shows ``expected`` beside it only with
    ``reveal=True`` (the default): pass ``reveal=False`` where the expected value would
    give the answer away.

    Example:
        >>> expect_equal(226, 226, what="LBP code")
    """
    if not isinstance(reveal, bool):
        raise TypeError(f"reveal must be True or False, got {reveal!r}")
    if isinstance(expected, (np.ndarray, list, tuple)) and not isinstance(expected, str):
        got, want = np.asarray(actual), np.asarray(expected)
        if got.shape != want.shape:
            raise CheckFailed(f"{what}: expected shape {want.shape}, got shape {got.shape}: {_shown(got)}")
        if not np.array_equal(got, want):
            wanted = f" (expected {_shown(want)})" if reveal else ""
            raise CheckFailed(f"{what}: {int(np.sum(got != want))} of {want.size} entries differ; got {_shown(got)}{wanted}")
        return
    if actual != expected:
        raise CheckFailed(f"{what}: got {_shown(actual)}" + (f", expected {_shown(expected)}" if reveal else ""))


@contextlib.contextmanager
def forbid(*modules: str, instead: str) -> Iterator[None]:
    """Fail the check if the notebook's own code calls into ``modules`` while the block runs.

    Where an exercise is to write something by hand, its check runs the student's
    function inside ``forbid(...)``: a direct call from notebook code to a function of one
    of those modules (however it was imported: ``cv2.Sobel``, ``from scipy.special import
    softmax``, ...) makes the check fail with a message naming the call. Calls the library
    makes internally, and calls from the check's own reference code outside the block,
    do not count. (It watches calls with :func:`sys.setprofile`, only while the block runs.)

    A name may also be one function, ``"tensorflow.image.total_variation"``, to refuse just
    that shortcut: it counts wherever it runs inside the block, since TensorFlow puts its own
    wrappers between the notebook's call and the function.

    Example:
        >>> import math
        >>> def length(x, y):
        ...     return math.hypot(x, y)
        >>> with check("demo"), forbid("math", instead="use ** and a square root"):
        ...     _ = length(3, 4)
        ❌ demo: math.hypot is not allowed in this exercise: use ** and a square root
    """
    if not modules or not all(isinstance(m, str) and m.strip() for m in modules):
        raise ValueError("forbid() needs the module names to watch, e.g. forbid('cv2', instead='...')")
    if not isinstance(instead, str) or not instead.strip():
        raise ValueError("instead must tell the student what to do instead, e.g. 'write the loop yourself'")
    prefixes = tuple(modules)
    seen: list[str] = []
    home = sys._getframe(2).f_globals  # the globals of the code that opened the ``with`` block

    builtins = _builtin_functions(prefixes)
    functions = _named_functions(prefixes)

    def watch(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in functions:
            if functions[frame.f_code] not in seen:
                seen.append(functions[frame.f_code])
            return
        if event == "c_call":
            module = getattr(arg, "__module__", None)
            caller = frame
            name = f"{module}.{getattr(arg, '__name__', '?')}" if module else builtins.get(id(arg), "")
        elif event == "call":
            caller, name = frame.f_back, f"{frame.f_globals.get('__name__', '')}.{frame.f_code.co_name}"
        else:
            return
        if caller is not None and caller.f_globals is home and name not in seen \
                and any(name.startswith(prefix + ".") for prefix in prefixes):
            seen.append(name)

    def refusal() -> CheckFailed:
        shown = ", ".join(_short(name, prefixes) for name in seen[:3])
        return CheckFailed(f"{shown} is not allowed in this exercise: {instead}")

    previous = sys.getprofile()
    sys.setprofile(watch)
    try:
        yield
    except Exception:
        if seen:  # the shortcut is the news, not whatever it went on to break
            raise refusal() from None
        raise
    finally:
        sys.setprofile(previous)
    if seen:
        raise refusal()


def _named_functions(names: tuple[str, ...]) -> dict[Any, str]:
    """``code object -> name`` for the names that are a function of a loaded module (``"tensorflow.image.total_variation"``).

    The code is that of the function under its decorators (:func:`inspect.unwrap`).
    """
    import inspect

    found: dict[Any, str] = {}
    for name in names:
        head, *rest = name.split(".")
        value = sys.modules.get(head)
        for attribute in rest:
            value = getattr(value, attribute, None)
        code = getattr(inspect.unwrap(value), "__code__", None) if callable(value) and rest else None
        if code is not None:
            found[code] = name
    return found


def _builtin_functions(prefixes: tuple[str, ...]) -> dict[int, str]:
    """``id -> "module.name"`` for the C functions of the loaded modules under ``prefixes``.

    Some extension modules (OpenCV's ``cv2``) leave ``__module__`` of their functions
    empty, so a profiler sees a nameless built-in: look it up by identity instead.
    """
    import types

    found: dict[int, str] = {}
    for module_name, module in list(sys.modules.items()):
        if module is None or not any(module_name == p or module_name.startswith(p + ".") for p in prefixes):
            continue
        for attribute, value in list(vars(module).items()):
            if isinstance(value, types.BuiltinFunctionType):
                found.setdefault(id(value), f"{module_name}.{attribute}")
    return found


def _short(name: str, prefixes: tuple[str, ...]) -> str:
    """``scipy.special._logsumexp.softmax`` -> ``scipy.special.softmax`` (the name the student typed)."""
    for prefix in prefixes:
        if name.startswith(prefix + "."):
            return f"{prefix}.{name.rsplit('.', 1)[-1]}"
    return name


def target(name: str, value: Any, *, at_least: float | None = None, at_most: float | None = None, unit: str = "") -> float:
    """Assert a headline figure against its threshold, print it, and publish it for the report.

    Exactly one of ``at_least`` / ``at_most`` is given. Inside a :func:`check` block a
    miss fails that check; outside one it prints ❌ (and raises under strict checks).

    Example:
        >>> target("held-out accuracy", 0.97, at_least=0.96)
        ✅ held-out accuracy = 0.97 (target ≥ 0.96)
        0.97
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("target() needs a non-empty name, e.g. target('test accuracy', acc, at_least=0.9)")
    if (at_least is None) == (at_most is None):
        raise ValueError("target() needs exactly one of at_least= or at_most=")
    try:
        number = float(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        raise TypeError(f"target() value must be a single number, got {type(value).__name__}") from None
    threshold = float(at_least if at_least is not None else at_most)
    met = math.isfinite(number) and (number >= threshold if at_least is not None else number <= threshold)
    sign = "≥" if at_least is not None else "≤"
    _publish({"kind": "target", "name": name, "value": number, "op": sign, "threshold": threshold, "unit": unit, "met": met})
    suffix = f" {unit}" if unit else ""
    line = f"{name} = {number:.4g}{suffix} (target {sign} {threshold:.4g}{suffix})"
    if met:
        print(f"✅ {line}")
        return number
    if _open_checks:
        raise CheckFailed(line + " not reached")
    print(f"❌ {line} not reached")
    if strict():
        raise CheckFailed(line + " not reached")
    return number
