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
        boolean = image.dtype == bool
        if boolean:
            image = image.astype(np.uint8)
        low, high = float(np.nanmin(image)), float(np.nanmax(image))
        if low == high:
            # imshow stretches min..max to black..white, so a constant image (a mask that keeps everything)
            # would be black whatever its value: show it on its dtype's own scale instead
            top = 255.0 if image.dtype == np.uint8 and not boolean else max(1.0, high)
            kwargs.update(vmin=min(0.0, low), vmax=top)
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


def _as_float_array(value: Any, name: str) -> np.ndarray:
    """Return ``value`` as a finite float array (TensorFlow tensors and lists accepted)."""
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    if not isinstance(value, (np.ndarray, list, tuple)) and not hasattr(value, "__array__"):
        raise TypeError(f"{name} must be a NumPy array (or tensor), got {type(value).__name__}")
    array = np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinity")
    return array


def _grid_figure(count: int, ncols: int, size: float = 1.6):
    ncols = min(ncols, count)
    nrows = (count + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.25) * nrows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes


def plot_feature_maps(
    feature_maps: Any,
    *,
    max_maps: int = 16,
    ncols: int = 8,
    title: str | None = None,
):
    """Draw the channels of one layer's activations side by side and return the figure.

    ``feature_maps`` has shape ``(H, W, C)`` or, straight from ``model(x)`` on one image,
    ``(1, H, W, C)``. The first ``min(C, max_maps)`` channels are shown, each with its own
    colour scale (``viridis``), titled by channel index.

    Example:
        >>> fig = plot_feature_maps(np.random.rand(1, 12, 12, 6), max_maps=4, ncols=2, title="conv1")
    """
    maps = _as_float_array(feature_maps, "feature_maps")
    if maps.ndim == 4:
        if maps.shape[0] != 1:
            raise ValueError(f"feature_maps with 4 axes must be one image (1, H, W, C), got shape {maps.shape}")
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"feature_maps must have shape (H, W, C) or (1, H, W, C), got shape {maps.shape}")
    if min(maps.shape) == 0:
        raise ValueError(f"feature_maps must not be empty, got shape {maps.shape}")
    max_maps = positive_int(max_maps, "max_maps")
    ncols = positive_int(ncols, "ncols")
    count = min(maps.shape[2], max_maps)
    fig, axes = _grid_figure(count, ncols)
    for index in range(count):
        ax = axes.flat[index]
        ax.imshow(maps[:, :, index], cmap="viridis")
        ax.set_title(f"map {index}", fontsize=8)
    if title:
        fig.suptitle(f"{title} ({count} of {maps.shape[2]} maps, {maps.shape[0]}x{maps.shape[1]})")
    fig.tight_layout()
    return fig


def plot_filters(
    kernels: Any,
    *,
    max_filters: int = 32,
    ncols: int = 8,
    title: str | None = None,
):
    """Draw convolution kernels (as Keras stores them) and return the figure.

    ``kernels`` has shape ``(kh, kw, c_in, c_out)``, e.g. ``conv_layer.get_weights()[0]``.
    Filters with 3 input channels are shown as RGB images (min-max scaled per filter);
    otherwise the input channels are averaged and shown with a diverging colormap
    centred on zero (red positive, blue negative).

    Example:
        >>> fig = plot_filters(np.random.randn(3, 3, 1, 8), max_filters=8, ncols=4)
    """
    weights = _as_float_array(kernels, "kernels")
    if weights.ndim != 4:
        raise ValueError(f"kernels must have shape (kh, kw, c_in, c_out), got shape {weights.shape}")
    if min(weights.shape) == 0:
        raise ValueError(f"kernels must not be empty, got shape {weights.shape}")
    max_filters = positive_int(max_filters, "max_filters")
    ncols = positive_int(ncols, "ncols")
    count = min(weights.shape[3], max_filters)
    fig, axes = _grid_figure(count, ncols)
    for index in range(count):
        ax = axes.flat[index]
        kernel = weights[:, :, :, index]
        if kernel.shape[2] == 3:
            low, high = kernel.min(), kernel.max()
            ax.imshow((kernel - low) / (high - low) if high > low else np.zeros_like(kernel), interpolation="nearest")
        else:
            kernel = kernel.mean(axis=2)
            limit = float(np.abs(kernel).max()) or 1.0
            ax.imshow(kernel, cmap="bwr", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(f"filter {index}", fontsize=8)
    if title:
        fig.suptitle(f"{title} ({count} of {weights.shape[3]} filters, {weights.shape[0]}x{weights.shape[1]}x{weights.shape[2]})")
    fig.tight_layout()
    return fig
