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
import math
import os
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


def expect_equal(actual: Any, expected: Any, what: str = "result") -> None:
    """Fail unless ``actual == expected`` (element-wise for arrays).

    Example:
        >>> expect_equal(226, 226, what="LBP code")
    """
    if isinstance(expected, (np.ndarray, list, tuple)) and not isinstance(expected, str):
        got, want = np.asarray(actual), np.asarray(expected)
        if got.shape != want.shape:
            raise CheckFailed(f"{what}: expected shape {want.shape}, got {got.shape}")
        if not np.array_equal(got, want):
            raise CheckFailed(f"{what}: {int(np.sum(got != want))} of {want.size} entries differ from {want.tolist()!r}"[:400])
        return
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


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
