"""Figures the notebooks share: image grids and training curves.

Example:
    >>> fig = show_images([sample_image("coffee"), sample_image("camera")], titles=["coffee", "camera"])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from cvcourse._validate import as_image, positive_int


def _displayable(image: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Prepare one image for ``imshow``: gray stays 2-D with a gray colormap, floats are range-checked."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    kwargs: dict[str, Any] = {}
    if image.ndim == 2:
        kwargs["cmap"] = "gray"
        if image.dtype == bool:
            image = image.astype(np.uint8)
        return image, kwargs
    if np.issubdtype(image.dtype, np.floating):
        low, high = float(np.nanmin(image)), float(np.nanmax(image))
        if low < 0.0 or high > 1.0:
            # floats outside [0, 1] (e.g. 0-255 or normalised) are shown rescaled to [0, 1]
            image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return image, kwargs


def show_images(
    images: Sequence[Any] | np.ndarray,
    titles: Sequence[str] | None = None,
    *,
    ncols: int | None = None,
    size: float = 2.5,
    suptitle: str | None = None,
    cmap: str | None = None,
):
    """Draw images in a grid and return the figure.

    ``images`` is a sequence (or a batch array) of ``(H, W)`` or ``(H, W, C)`` images
    with C in 1, 3 or 4; grayscale images use a gray colormap unless ``cmap`` is given.

    Example:
        >>> fig = show_images(np.random.rand(6, 8, 8), titles=list("abcdef"), ncols=3)
    """
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise ValueError(f"a batch of images must have shape (N, H, W) or (N, H, W, C), got {images.shape}")
        images = list(images)
    if not isinstance(images, Sequence) or isinstance(images, (str, bytes)) or len(images) == 0:
        raise ValueError("images must be a non-empty sequence of (H, W) or (H, W, C) arrays")
    arrays = [as_image(image, f"images[{i}]", channels=(1, 3, 4)) for i, image in enumerate(images)]
    if titles is not None:
        titles = list(titles)
        if len(titles) != len(arrays):
            raise ValueError(f"titles must have one entry per image: {len(arrays)} images, {len(titles)} titles")
    ncols = positive_int(ncols, "ncols") if ncols is not None else min(len(arrays), 6)
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    nrows = (len(arrays) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(arrays):
            continue
        image, kwargs = _displayable(arrays[index])
        if cmap is not None:
            kwargs["cmap"] = cmap
        ax.imshow(image, **kwargs)
        if titles is not None:
            ax.set_title(str(titles[index]), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_history(history: Any, metrics: Sequence[str] | None = None, *, title: str | None = None):
    """Plot training curves (training and ``val_`` series side by side) and return the figure.

    ``history`` is a Keras ``History`` or a mapping from metric name to per-epoch values.

    Example:
        >>> fig = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})
    """
    data = getattr(history, "history", history)
    if not isinstance(data, Mapping) or not data:
        raise TypeError("history must be a keras History or a non-empty mapping {metric: [values per epoch]}")
    names = list(metrics) if metrics is not None else [key for key in data if not key.startswith("val_")]
    missing = [name for name in names if name not in data]
    if missing or not names:
        raise ValueError(f"metrics {missing or names} not in history; available: {sorted(data)}")
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes.flat, names):
        values = np.asarray(data[name], dtype=float)
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, "o-", label=f"training {name}")
        if f"val_{name}" in data:
            ax.plot(epochs, np.asarray(data[f"val_{name}"], dtype=float), "s--", label=f"validation {name}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
