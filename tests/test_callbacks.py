"""Tests of cvcourse.callbacks: the sample mosaic and the per-epoch sample grid."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import keras
import numpy as np
import pytest

from cvcourse.callbacks import SampleGrid, sample_grid_figure, tile_images


def test_tile_images_layout_and_padding():
    images = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    grid = tile_images(images, ncols=3, pad=1, pad_value=-1)
    assert grid.shape == (2 * 3 - 1, 3 * 4 - 1)
    np.testing.assert_array_equal(grid[0:2, 0:3], images[0])
    np.testing.assert_array_equal(grid[0:2, 4:7], images[1])
    np.testing.assert_array_equal(grid[3:5, 4:7], images[4])
    assert np.all(grid[2, :] == -1) and np.all(grid[3:5, 8:11] == -1)


def test_tile_images_drops_single_channel_and_keeps_colour():
    assert tile_images(np.zeros((4, 5, 5, 1)), ncols=2, pad=0).shape == (10, 10)
    assert tile_images(np.zeros((4, 5, 5, 3)), ncols=4, pad=0).shape == (5, 20, 3)
    assert tile_images(np.zeros((2, 5, 5)), ncols=8, pad=0).shape == (5, 10)  # ncols capped at N


@pytest.mark.parametrize(
    ("images", "kwargs", "error"),
    [
        (np.zeros((4, 5)), {"ncols": 2}, ValueError),
        (np.zeros((0, 5, 5)), {"ncols": 2}, ValueError),
        (np.array([["a"]]), {"ncols": 2}, TypeError),
        (np.zeros((4, 5, 5)), {"ncols": 0}, ValueError),
        (np.zeros((4, 5, 5)), {"ncols": 2.5}, TypeError),
        (np.zeros((4, 5, 5)), {"ncols": 2, "pad": -1}, ValueError),
    ],
)
def test_tile_images_rejects_bad_input(images, kwargs, error):
    with pytest.raises(error):
        tile_images(images, **kwargs)


def _tiny_generator(latent_dim: int = 4) -> keras.Model:
    return keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(6 * 6, activation="tanh"), keras.layers.Reshape((6, 6, 1))])


class _TinyGAN(keras.Model):
    """Just enough of a GAN for fit(): a generator attribute and a trivial train_step."""

    def __init__(self, generator):
        super().__init__()
        self.generator = generator

    def train_step(self, data):
        return {"loss": 0.0}


def test_sample_grid_records_one_grid_per_epoch_with_fixed_noise():
    gan = _TinyGAN(_tiny_generator())
    gan.compile()
    grid = SampleGrid(latent_dim=4, num_images=6, ncols=3, show=False)
    gan.fit(np.zeros((8, 6, 6, 1), "float32"), epochs=3, batch_size=4, verbose=0, callbacks=[grid])
    assert grid.epochs == [1, 2, 3]
    assert len(grid.grids) == 3 and grid.grids[0].shape == (2 * 7 - 1, 3 * 7 - 1)
    assert 0.0 <= grid.grids[0].min() and grid.grids[0].max() <= 1.0
    np.testing.assert_allclose(grid.grids[0], grid.grids[2])  # same noise, untouched generator -> same grid
    assert sample_grid_figure(grid.grids, [f"epoch {e}" for e in grid.epochs]) is not None


def test_sample_grid_every_keeps_last_epoch_and_shows(monkeypatch):
    shown = []
    monkeypatch.setattr(SampleGrid, "_display", lambda self, grid, title: shown.append(title))
    gan = _TinyGAN(_tiny_generator())
    gan.compile()
    grid = SampleGrid(latent_dim=4, num_images=4, ncols=2, every=2)
    gan.fit(np.zeros((4, 6, 6, 1), "float32"), epochs=3, batch_size=4, verbose=0, callbacks=[grid])
    assert grid.epochs == [2, 3] and shown == ["epoch 2", "epoch 3"]


def test_sample_grid_conditional_generator_and_explicit_generator():
    z = keras.Input((4,))
    label = keras.Input((), dtype="int32")
    h = keras.layers.Concatenate()([z, keras.layers.Embedding(10, 2)(label)])
    out = keras.layers.Reshape((6, 6, 1))(keras.layers.Dense(36, activation="sigmoid")(h))
    generator = keras.Model([z, label], out)
    grid = SampleGrid(latent_dim=4, num_images=10, ncols=5, generator=generator, labels=np.arange(10), value_range=(0, 1), show=False)
    images = grid.generate()
    assert images.shape == (10, 6, 6, 1)
    grid.on_epoch_end(0)
    assert grid.grids[0].shape == (13, 34)


def test_sample_grid_needs_a_generator():
    grid = SampleGrid(latent_dim=4, show=False)
    grid.set_model(keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]))
    with pytest.raises(AttributeError, match="generator"):
        grid.generate()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"latent_dim": 0}, ValueError),
        ({"latent_dim": "64"}, TypeError),
        ({"latent_dim": 4, "num_images": -1}, ValueError),
        ({"latent_dim": 4, "every": 0}, ValueError),
        ({"latent_dim": 4, "generator": "not a model"}, TypeError),
        ({"latent_dim": 4, "num_images": 4, "labels": [0, 1]}, ValueError),
        ({"latent_dim": 4, "num_images": 2, "labels": [0.5, 1.0]}, ValueError),
        ({"latent_dim": 4, "value_range": (1, -1)}, ValueError),
        ({"latent_dim": 4, "image_size": 0}, ValueError),
    ],
)
def test_sample_grid_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        SampleGrid(**kwargs)


def test_sample_grid_figure_rejects_bad_input():
    with pytest.raises(ValueError):
        sample_grid_figure([])
    with pytest.raises(ValueError):
        sample_grid_figure([np.zeros((3, 3))], ["a", "b"])
