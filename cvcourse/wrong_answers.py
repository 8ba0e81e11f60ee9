"""Prove that every check cell rejects the wrong answers students really write.

A check that has only ever seen the right answer proves little: it may accept an
off-by-one, a missing activation or a library shortcut. So each master notebook follows
a check cell with a cell tagged ``wrong-answers`` that feeds plausible mistakes to the
same check and asserts that it says ❌ *and names the mistake*::

    def sum_not_mean(labels, logits):           # the sum over the batch instead of the mean
        ...

    reject("Exercise 4 - stable softmax and cross-entropy", mistake="mean over the batch",
           cross_entropy=sum_not_mean)

:func:`reject` finds the check cell that was run last under that exercise name (the
check remembers its cell's source; IPython's ``In`` history is the fallback), swaps
the keyword arguments into the notebook's namespace, runs the cell again with strict
checks off while capturing what it prints, then puts every name back as it was. It
raises :class:`WrongAnswerAccepted` when the check printed ✅ (or nothing), and
:class:`MistakeNotNamed` when it said ❌ without the words ``mistake`` in its message
or hint. Every verdict is published (``$CVCOURSE_REPORT``) for
``reports/exercises.md``.

The ``wrong-answers`` cells never reach the student copy (``cvcourse.build`` drops
them), so the mistakes listed there do not hint at the answer.

Example:
    >>> reject("Exercise 1 - grayscale by hand", mistake="weights", to_gray=lambda image: image.mean(-1))  # doctest: +SKIP
    ✅ Exercise 1 - grayscale by hand rejects: weights
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Iterator
from typing import Any

from cvcourse import checks
from cvcourse.build import WRONG_ANSWERS_TAG  # noqa: F401 - the tag of the cells that call reject()


class WrongAnswerAccepted(AssertionError):
    """A check cell said ✅ (or nothing) for a wrong answer."""


class MistakeNotNamed(AssertionError):
    """A check cell rejected a wrong answer without saying which mistake it looks like."""


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with every kernel
        return None
    return get_ipython()


def check_cell_source(name: str, inputs: list[str]) -> str:
    """The last executed cell in ``inputs`` that opens ``check(<name> ...)``.

    Example:
        >>> check_cell_source("Ex 1", ["x = 1", 'with check("Ex 1"):\\n    pass'])
        'with check("Ex 1"):\\n    pass'
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("the check's name must be a non-empty string, as written in its check(...) call")
    pattern = re.compile(r"check\(\s*(['\"])" + re.escape(name) + r"\1")
    for source in reversed(inputs):
        if isinstance(source, str) and pattern.search(source) and "reject(" not in source:
            return source
    raise LookupError(f"no executed cell calls check({name!r}, ...): run the check cell before its wrong answers, "
                      "and spell the name exactly as the check does")


@contextlib.contextmanager
def _swapped(namespace: dict[str, Any], replacements: dict[str, Any]) -> Iterator[None]:
    """Put ``replacements`` into ``namespace``; afterwards restore every name the block bound or changed."""
    before = dict(namespace)
    namespace.update(replacements)
    try:
        yield
    finally:
        for key in [key for key in namespace if key not in before]:
            del namespace[key]
        for key, value in before.items():
            if namespace.get(key, _MISSING) is not value:
                namespace[key] = value


_MISSING = object()


@contextlib.contextmanager
def _same_randomness(namespace: dict[str, Any]) -> Iterator[None]:
    """Put back the state of every random generator a check may draw from.

    Re-running a check for a wrong answer must not change what later cells draw: the
    notebook's NumPy generators, NumPy's global generator and Python's ``random``.
    """
    import random

    import numpy as np

    generators = {key: value.bit_generator.state for key, value in namespace.items() if isinstance(value, np.random.Generator)}
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        for key, state in generators.items():
            if isinstance(namespace.get(key), np.random.Generator):
                namespace[key].bit_generator.state = state
        np.random.set_state(numpy_state)
        random.setstate(python_state)


@contextlib.contextmanager
def _not_strict() -> Iterator[None]:
    """Strict checks off, and nothing published: a re-run for a wrong answer is not a check result."""
    saved = {key: os.environ.get(key) for key in (checks.STRICT_ENV, checks.REPORT_ENV)}
    os.environ[checks.STRICT_ENV] = "0"
    os.environ.pop(checks.REPORT_ENV, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_check(source: str, namespace: dict[str, Any], replacements: dict[str, Any]) -> str:
    """Run a check cell's ``source`` in ``namespace`` with ``replacements`` swapped in; return what it printed.

    Strict checks are off while it runs; afterwards ``namespace`` and the state of its random
    generators (and NumPy's and Python's global ones) are restored, so later cells are unaffected.

    Example:
        >>> ns = {"check": checks.check, "expect": checks.expect, "f": abs}
        >>> run_check('with check("demo"):\\n    expect(f(-2) == 2, "f(-2) should be 2")', ns, {"f": lambda x: x})
        '❌ demo: f(-2) should be 2\\n'
        >>> ns["f"] is abs
        True
    """
    if not isinstance(source, str):
        raise TypeError(f"source must be the check cell's code as a string, got {type(source).__name__}")
    if not isinstance(namespace, dict):
        raise TypeError(f"namespace must be a dict (the notebook's globals), got {type(namespace).__name__}")
    code = compile(source, "<check cell>", "exec")
    buffer = io.StringIO()
    with _same_randomness(namespace), _swapped(namespace, replacements), _not_strict(), contextlib.redirect_stdout(buffer):
        exec(code, namespace)  # noqa: S102 - the notebook's own check cell, run again
    return buffer.getvalue()


def reject(check_name: str, *, mistake: str, raises: bool = False, namespace: dict[str, Any] | None = None,
           inputs: list[str] | None = None, **replacements: Any) -> str:
    """Feed a wrong answer to a check cell and assert that it says ❌ and names ``mistake``.

    Args:
        check_name: the exercise name as the check cell writes it in ``check("...")``.
        mistake: words the check's message or hint must contain for this mistake
            (case-insensitive), e.g. ``"after each epoch"``.
        raises: True when the wrong answer is *meant* to crash (a shape error, say). By
            default a wrong answer that makes the check report "your code raised ..." fails
            the proof: a crash (a typo in the wrong answer, a recursion) proves nothing.
        namespace, inputs: the notebook's globals and executed cell sources; by default
            taken from the running IPython kernel (``user_ns`` and ``In``).
        **replacements: the names to replace while the check runs, e.g.
            ``train_perceptron=logs_every_row``.

    Returns:
        What the check printed for the wrong answer.

    Example:
        >>> reject("Exercise 2 - XOR forward pass", mistake="(0, 1)", xor_forward=no_output_sigmoid)  # doctest: +SKIP
        ✅ Exercise 2 - XOR forward pass rejects: (0, 1)
    """
    if not isinstance(mistake, str) or not mistake.strip():
        raise ValueError("mistake must name, in a few words, what the check's message should say about it")
    if not replacements:
        raise ValueError("give at least one replacement, e.g. reject(..., train_perceptron=wrong_version)")
    bad = [name for name in replacements if not name.isidentifier()]
    if bad:
        raise ValueError(f"replacement names must be Python identifiers, got {bad}")
    remembered = checks.cell_source(check_name) if inputs is None else None
    if namespace is None or (inputs is None and remembered is None):
        shell = _shell()
        if shell is None:
            raise RuntimeError("reject() re-runs a check cell, so it needs a notebook kernel; "
                               "outside one pass namespace= and inputs=")
        namespace = shell.user_ns if namespace is None else namespace
        if remembered is None and inputs is None:
            inputs = list(shell.user_ns.get("In", []))
    source = remembered if remembered is not None else check_cell_source(check_name, inputs)
    output = run_check(source, namespace, replacements)
    rejected = f"❌ {check_name}" in output
    named = mistake.lower() in output.lower()
    checks._publish({"kind": "wrong-answer", "name": check_name, "mistake": mistake, "rejected": rejected,
                     "named": named and (raises or f"❌ {check_name}: your code raised" not in output),
                     "replaced": sorted(replacements)})
    shown = output.strip() or "(nothing)"
    crashed = rejected and f"❌ {check_name}: your code raised" in output
    if crashed and not raises:
        raise MistakeNotNamed(f"{check_name}: the wrong answer {mistake!r} crashed instead of being diagnosed "
                              f"(pass raises=True if that is the mistake): {shown}")
    if not rejected:
        raise WrongAnswerAccepted(f"{check_name} did not reject the wrong answer {mistake!r}; it printed: {shown}")
    if not named:
        raise MistakeNotNamed(f"{check_name} rejected the wrong answer but does not name the mistake: "
                              f"expected the words {mistake!r} in: {shown}")
    print(f"✅ {check_name} rejects: {mistake}")
    return output

