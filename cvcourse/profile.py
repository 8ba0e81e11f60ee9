"""The two course profiles, the size knob, and the helpers that size everything by them.

Two independent questions decide how a notebook runs:

- **Which data?** ``CVCOURSE_PROFILE``: ``smoke`` uses only data that ships inside
  installed wheels (offline, small); ``full`` (the default for students) downloads the
  real data sets and weights, each verified by sha256 (see :mod:`cvcourse.sources`).
  :func:`current_profile` answers it, and :func:`pick_source` chooses by it (which
  network or data set to load).
- **How big?** ``CVCOURSE_SCALE``: ``small`` or ``full``. Unset, it follows the profile
  (``smoke`` -> ``small``, ``full`` -> ``full``). :func:`pick` answers with its
  ``smoke=`` value at ``small`` scale and its ``full=`` value at ``full`` scale: epochs,
  image sizes, sample counts and the thresholds of targets that depend on them.
  ``CVCOURSE_PROFILE=full CVCOURSE_SCALE=small`` is the course's test setting: the real
  full-profile code (downloads, archive parsers, the bigger networks) at smoke sizes,
  which ``make test-mirror`` runs against a local mirror. Full scale on smoke data is
  refused: the bundled data is too small for it.

The two are kept apart because they answer different questions: a ``pick`` that chose
a *network* by size would load MobileNetV2 in the small-scale test of the full profile
and so never test the VGG19 path it is meant to test.

When a full-profile download is impossible, the data loaders call :func:`fall_back`,
which prints a one-line notice and switches this process to the smoke data *and* the
small scale, so that sizes and targets match the data in use.

Example:
    >>> import os; os.environ["CVCOURSE_PROFILE"] = "smoke"
    >>> pick(smoke=2, full=15)
    2
"""

from __future__ import annotations

import json
import os
import random
from typing import Any, TypeVar

import numpy as np

PROFILE_ENV = "CVCOURSE_PROFILE"
PROFILES = ("smoke", "full")
DEFAULT_PROFILE = "full"
SCALE_ENV = "CVCOURSE_SCALE"
SCALES = ("small", "full")
#: The JSON-lines file that check cells, fallbacks and downloads publish records to (``make report``, ``make test-mirror``).
REPORT_ENV = "CVCOURSE_REPORT"

T = TypeVar("T")

_fallback_reason: str | None = None


def requested_profile() -> str:
    """The profile asked for in ``$CVCOURSE_PROFILE`` (``full`` when unset).

    Example:
        >>> requested_profile() in PROFILES
        True
    """
    value = os.environ.get(PROFILE_ENV, DEFAULT_PROFILE).strip().lower() or DEFAULT_PROFILE
    if value not in PROFILES:
        raise ValueError(f"{PROFILE_ENV} must be one of {', '.join(PROFILES)}, got {value!r}")
    return value


def current_profile() -> str:
    """The data source in force: the requested profile, or ``smoke`` after a :func:`fall_back`.

    Example:
        >>> current_profile() in ("smoke", "full")
        True
    """
    if _fallback_reason is not None:
        return "smoke"
    return requested_profile()


def is_smoke() -> bool:
    """True when the small offline data (the smoke profile) is in force.

    Example:
        >>> is_smoke() == (current_profile() == "smoke")
        True
    """
    return current_profile() == "smoke"


def current_scale() -> str:
    """The size in force: ``small`` or ``full`` (``$CVCOURSE_SCALE``, else the profile's own).

    After a :func:`fall_back` it is always ``small``.

    Raises:
        ValueError: ``$CVCOURSE_SCALE`` is not ``small``/``full``, or asks for ``full``
            with the smoke profile.

    Example:
        >>> os.environ.pop("CVCOURSE_SCALE", None); os.environ["CVCOURSE_PROFILE"] = "smoke"
        >>> current_scale()
        'small'
    """
    profile = requested_profile()
    value = os.environ.get(SCALE_ENV, "").strip().lower()
    if value and value not in SCALES:
        raise ValueError(f"{SCALE_ENV} must be one of {', '.join(SCALES)} (or unset), got {value!r}")
    if value == "full" and profile == "smoke":
        raise ValueError(f"{SCALE_ENV}=full needs {PROFILE_ENV}=full: the smoke profile's bundled data is too small "
                         "for full-scale sizes")
    if _fallback_reason is not None:
        return "small"
    return value or ("small" if profile == "smoke" else "full")


def _choose(small: bool, smoke: T, full: T) -> T:
    return smoke if small else full


def pick(*, smoke: T, full: T) -> T:
    """A *size*: ``smoke`` at small scale, ``full`` at full scale (see :func:`current_scale`).

    Use it for epochs, image sizes, sample counts and the thresholds of targets that
    depend on them. To choose a data set or a network, use :func:`pick_source`.

    Example:
        >>> epochs = pick(smoke=2, full=15)
    """
    return _choose(current_scale() == "small", smoke, full)


def pick_source(*, smoke: T, full: T) -> T:
    """A *data source or model*: ``smoke`` with the bundled data, ``full`` with the downloaded one.

    Follows :func:`current_profile`, not the scale, so that ``CVCOURSE_PROFILE=full
    CVCOURSE_SCALE=small`` still loads (and tests) the full profile's networks.

    Example:
        >>> backbone_name = pick_source(smoke="mobilenet_v2", full="vgg19")
    """
    return _choose(current_profile() == "smoke", smoke, full)


def publish(record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line to ``$CVCOURSE_REPORT`` (nothing when unset).

    Check cells, :func:`fall_back` and :func:`cvcourse.sources.fetch_source` publish
    here, so ``make report`` and ``make test-mirror`` read facts instead of scraping text.

    Example:
        >>> publish({"kind": "note", "text": "hello"})
    """
    if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
        raise TypeError(f"a record must be a dict with a string 'kind', got {record!r:.80}")
    path = os.environ.get(REPORT_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


def fall_back(reason: str) -> None:
    """Switch this process to the smoke data and the small scale, with a visible one-line notice.

    Called by data loaders when the full profile cannot get its real data (for
    example offline). Later :func:`pick` and :func:`pick_source` calls return smoke
    values. The reason is also published (``{"kind": "fallback"}``) for the reports.

    Example:
        >>> fall_back("no network")  # doctest: +SKIP
        ⚠️  cvcourse: full profile falling back to the bundled offline data: no network
    """
    global _fallback_reason
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("fall_back() needs a non-empty reason to show the student")
    _fallback_reason = reason
    publish({"kind": "fallback", "reason": reason})
    print(f"⚠️  cvcourse: full profile falling back to the bundled offline data: {reason}")


def reset_fallback() -> None:
    """Forget an earlier :func:`fall_back` (used by the tests).

    Example:
        >>> reset_fallback()
    """
    global _fallback_reason
    _fallback_reason = None


def seed_everything(seed: int = 42) -> None:
    """Seed Python, NumPy and Keras/TensorFlow so that a notebook runs the same twice.

    Example:
        >>> seed_everything(0)
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed))
    try:
        import keras

        keras.utils.set_random_seed(int(seed))
    except ImportError:  # pragma: no cover - keras is a hard dependency, but seeding numpy alone is still useful
        pass
