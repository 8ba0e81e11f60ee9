"""Small argument validators shared by the public functions (not part of the course API)."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_image(image: Any, name: str = "image", *, channels: tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``image`` as a NumPy array after checking it is a 2-D or 3-D image.

    ``channels`` restricts the allowed channel counts of a 3-D image (for example ``(3,)``).
    """
    if not isinstance(image, (np.ndarray, list, tuple)) and not hasattr(image, "__array__"):
        raise TypeError(f"{name} must be an array-like image (H, W) or (H, W, C), got {type(image).__name__}")
    array = np.asarray(image)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    if array.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape (H, W) or (H, W, C), got shape {array.shape}")
    if array.ndim == 3 and channels is not None and array.shape[2] not in channels:
        raise ValueError(f"{name} must have {' or '.join(map(str, channels))} channels, got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    return array


def positive_int(value: Any, name: str) -> int:
    """Check that ``value`` is a positive integer (bools are refused) and return it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)
