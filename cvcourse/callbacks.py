"""Keras callbacks the generative notebooks share: a grid of generated samples each epoch.

A generative model is judged first by eye. :class:`SampleGrid` feeds the *same* fixed
noise vectors to the generator at the end of every epoch, so the grids show how the
same "seeds" turn from blobs into digits. :func:`tile_images` lays a batch of images
out as one mosaic (what the grid draws).

Example:
    >>> grid = SampleGrid(latent_dim=64, num_images=16, ncols=8)   # doctest: +SKIP
    >>> gan.fit(dataset, epochs=10, callbacks=[grid])               # doctest: +SKIP
    >>> len(grid.grids)                                             # doctest: +SKIP
    10
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cvcourse._validate import positive_int

try:  # keras is a hard dependency of the course; the import guard keeps tile_images usable alone
    import keras

    _CallbackBase: type = keras.callbacks.Callback
except ImportError:  # pragma: no cover
    keras = None
    _CallbackBase = object


def tile_images(images: Any, ncols: int, *, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Lay out a batch of images row by row as one 2-D (or H x W x C) mosaic.

    ``images`` has shape ``(N, H, W)`` or ``(N, H, W, C)``; a trailing channel of size 1
    is dropped. Images are separated by ``pad`` pixels of ``pad_value``; missing cells of
    the last row are filled with ``pad_value`` too. The result has
    ``rows * (H + pad) - pad`` rows and ``ncols * (W + pad) - pad`` columns.

    Example:
        >>> tile_images(np.zeros((6, 2, 2)), ncols=3, pad=1).shape
        (5, 8)
    """
    array = np.asarray(images)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"images must be a numeric array (N, H, W) or (N, H, W, C), got dtype {array.dtype}")
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (3, 4) or array.shape[0] == 0:
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, C) with N > 0, got {array.shape}")
    ncols = positive_int(ncols, "ncols")
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"pad must be a non-negative integer, got {pad!r}")
    n, h, w = array.shape[:3]
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    shape = (nrows * (h + pad) - pad, ncols * (w + pad) - pad) + array.shape[3:]
    out = np.full(shape, pad_value, dtype=np.result_type(array.dtype, np.float32))
    for index in range(n):
        row, col = divmod(index, ncols)
        out[row * (h + pad) : row * (h + pad) + h, col * (w + pad) : col * (w + pad) + w] = array[index]
    return out


class SampleGrid(_CallbackBase):
    """Draw a grid of generated samples from fixed noise at the end of every ``every`` epochs.

    Parameters:
        latent_dim: size of the generator's noise vector.
        num_images: how many samples the grid holds.
        ncols: images per row of the grid.
        generator: the generator model; by default ``self.model.generator`` (the GAN being fit).
        labels: optional class labels (one per image) for a conditional generator, which is
            then called as ``generator([noise, labels])``.
        every: draw every this many epochs (the last epoch of ``fit`` is always kept).
        value_range: the generator's output range, mapped to [0, 1] for display
            (``(-1, 1)`` for a ``tanh`` output).
        show: display the grid inline (IPython) each time; the grids are kept in ``grids`` anyway.
        image_size: inches per sample in the displayed figure (keep it small for many epochs).
        seed: seed of the fixed noise.

    After ``fit``, ``grids`` holds one ``(H', W')`` mosaic in [0, 1] per drawn epoch and
    ``epochs`` the matching 1-based epoch numbers.

    Example:
        >>> grid = SampleGrid(latent_dim=64, num_images=16, ncols=8, show=False)  # doctest: +SKIP
        >>> gan.fit(dataset, epochs=3, callbacks=[grid]); grid.grids[-1].shape    # doctest: +SKIP
        (59, 235)
    """

    def __init__(
        self,
        latent_dim: int,
        *,
        num_images: int = 16,
        ncols: int = 8,
        generator: Any = None,
        labels: Sequence[int] | np.ndarray | None = None,
        every: int = 1,
        value_range: tuple[float, float] = (-1.0, 1.0),
        show: bool = True,
        image_size: float = 0.45,
        seed: int = 0,
    ) -> None:
        if keras is None:  # pragma: no cover
            raise ImportError("SampleGrid needs keras")
        super().__init__()
        self.latent_dim = positive_int(latent_dim, "latent_dim")
        num_images = positive_int(num_images, "num_images")
        self.ncols = positive_int(ncols, "ncols")
        self.every = positive_int(every, "every")
        if generator is not None and not callable(generator):
            raise TypeError(f"generator must be a Keras model (callable), got {type(generator).__name__}")
        self._generator = generator
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (num_images,) or not np.issubdtype(labels.dtype, np.integer):
                raise ValueError(f"labels must be {num_images} integers (one per image), got shape {labels.shape} dtype {labels.dtype}")
            labels = labels.astype("int32")
        self.labels = labels
        if len(value_range) != 2 or not float(value_range[0]) < float(value_range[1]):
            raise ValueError(f"value_range must be (low, high) with low < high, got {value_range!r}")
        self.value_range = (float(value_range[0]), float(value_range[1]))
        if not isinstance(image_size, (int, float)) or image_size <= 0:
            raise ValueError(f"image_size must be a positive number of inches, got {image_size!r}")
        self.image_size = float(image_size)
        self.show = bool(show)
        self.noise = np.random.default_rng(seed).standard_normal((num_images, self.latent_dim)).astype("float32")
        self.grids: list[np.ndarray] = []
        self.epochs: list[int] = []
        self._total_epochs: int | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._total_epochs = self.params.get("epochs") if isinstance(getattr(self, "params", None), dict) else None

    def generate(self) -> np.ndarray:
        """Samples from the fixed noise, mapped to [0, 1], shape ``(num_images, H, W[, C])``."""
        generator = self._generator if self._generator is not None else getattr(self.model, "generator", None)
        if generator is None:
            raise AttributeError("SampleGrid needs generator=... or a model with a .generator attribute")
        inputs: Any = self.noise if self.labels is None else [self.noise, self.labels]
        images = np.asarray(keras.ops.convert_to_numpy(generator(inputs, training=False)), dtype=np.float32)
        low, high = self.value_range
        return np.clip((images - low) / (high - low), 0.0, 1.0)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        last = self._total_epochs is not None and epoch + 1 == self._total_epochs
        if (epoch + 1) % self.every and not last:
            return
        grid = tile_images(self.generate(), self.ncols)
        self.grids.append(grid)
        self.epochs.append(epoch + 1)
        if self.show:
            self._display(grid, f"epoch {epoch + 1}")

    def _display(self, grid: np.ndarray, title: str) -> None:
        import matplotlib.pyplot as plt

        ncols = min(self.ncols, len(self.noise))
        nrows = -(-len(self.noise) // ncols)
        fig, ax = plt.subplots(figsize=(self.image_size * ncols, self.image_size * nrows + 0.25))
        ax.imshow(grid, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
        fig.tight_layout(pad=0.1)
        try:
            from IPython.display import display

            display(fig)
        except ImportError:  # pragma: no cover - IPython ships with the course's Jupyter
            pass
        plt.close(fig)


def sample_grid_figure(grids: Sequence[np.ndarray], titles: Sequence[str] | None = None, *, ncols: int = 2, size: float = 3.0):
    """Show several grids (e.g. ``SampleGrid.grids``) side by side and return the figure.

    Example:
        >>> fig = sample_grid_figure([np.zeros((5, 8)), np.ones((5, 8))], ["a", "b"])
    """
    import matplotlib.pyplot as plt

    if isinstance(grids, np.ndarray) or not isinstance(grids, Sequence) or len(grids) == 0:
        raise ValueError("grids must be a non-empty list of 2-D mosaics (e.g. SampleGrid.grids)")
    if titles is not None and len(titles) != len(grids):
        raise ValueError(f"titles must have one entry per grid: {len(grids)} grids, {len(titles)} titles")
    ncols = min(positive_int(ncols, "ncols"), len(grids))
    nrows = -(-len(grids) // ncols)
    first = np.asarray(grids[0])
    aspect = first.shape[0] / max(first.shape[1], 1)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * aspect * nrows + 0.4 * nrows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < len(grids):
            ax.imshow(np.asarray(grids[index]), cmap="gray", vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(str(titles[index]), fontsize=9)
    fig.tight_layout()
    return fig


__all__: list[str] = ["SampleGrid", "sample_grid_figure", "tile_images"]
