"""The two course profiles and the one helper that sizes everything by them.

``CVCOURSE_PROFILE=smoke`` runs every notebook offline and small (what CI runs);
``CVCOURSE_PROFILE=full`` (the default for students) runs at real course scale and
downloads real data. When a full-profile download is impossible, the data loaders
call :func:`fall_back`, which prints a one-line notice and makes every later
:func:`pick` answer with its smoke value, so sizes and targets match the data in use.

Example:
    >>> import os; os.environ["CVCOURSE_PROFILE"] = "smoke"
    >>> pick(smoke=2, full=15)
    2
"""

from __future__ import annotations

import os
import random
from typing import TypeVar

import numpy as np

PROFILE_ENV = "CVCOURSE_PROFILE"
PROFILES = ("smoke", "full")
DEFAULT_PROFILE = "full"

T = TypeVar("T")

_fallback_reason: str | None = None


def requested_profile() -> str:
    """The profile asked for in ``$CVCOURSE_PROFILE`` (``full`` when unset)."""
    value = os.environ.get(PROFILE_ENV, DEFAULT_PROFILE).strip().lower() or DEFAULT_PROFILE
    if value not in PROFILES:
        raise ValueError(f"{PROFILE_ENV} must be one of {', '.join(PROFILES)}, got {value!r}")
    return value


def current_profile() -> str:
    """The profile in force: the requested one, or ``smoke`` after a :func:`fall_back`.

    Example:
        >>> current_profile() in ("smoke", "full")
        True
    """
    if _fallback_reason is not None:
        return "smoke"
    return requested_profile()


def is_smoke() -> bool:
    """True when the small offline profile is in force."""
    return current_profile() == "smoke"


def pick(*, smoke: T, full: T) -> T:
    """Return ``smoke`` or ``full`` according to the profile in force.

    Example:
        >>> epochs = pick(smoke=2, full=15)
    """
    return smoke if current_profile() == "smoke" else full


def fall_back(reason: str) -> None:
    """Switch this process to the smoke profile with a visible one-line notice.

    Called by data loaders when the full profile cannot get its real data (for
    example offline). Later :func:`pick` calls return smoke values.
    """
    global _fallback_reason
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("fall_back() needs a non-empty reason to show the student")
    _fallback_reason = reason
    print(f"⚠️  cvcourse: full profile falling back to the bundled offline data: {reason}")


def reset_fallback() -> None:
    """Forget an earlier :func:`fall_back` (used by the tests)."""
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
