"""Tests for cvcourse.viz.plot_feature_maps and plot_filters."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cvcourse.viz import plot_feature_maps, plot_filters


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _shown(fig):
    return [ax for ax in fig.axes if ax.images]


def test_feature_maps_hwc_and_batch_of_one():
    maps = np.random.default_rng(0).random((10, 12, 5))
    fig = plot_feature_maps(maps, ncols=3, title="conv")
    assert len(_shown(fig)) == 5
    assert "conv" in fig._suptitle.get_text()
    fig2 = plot_feature_maps(maps[None], ncols=8)
    assert len(_shown(fig2)) == 5
    np.testing.assert_allclose(_shown(fig2)[2].images[0].get_array(), maps[:, :, 2])


def test_feature_maps_max_maps_limits_panels():
    fig = plot_feature_maps(np.zeros((4, 4, 40), dtype=np.float32), max_maps=16, ncols=8)
    assert len(_shown(fig)) == 16


def test_feature_maps_accepts_tensor_like():
    class FakeTensor:
        def __init__(self, array):
            self._array = array

        def numpy(self):
            return self._array

    fig = plot_feature_maps(FakeTensor(np.ones((1, 3, 3, 2))))
    assert len(_shown(fig)) == 2


@pytest.mark.parametrize(
    "bad, error",
    [
        (np.zeros((2, 4, 4, 3)), ValueError),  # batch of two
        (np.zeros((4, 4)), ValueError),  # no channel axis
        (np.zeros((0, 4, 3)), ValueError),  # empty
        (np.array([[["a"]]]), TypeError),  # not numbers
        (np.full((2, 2, 1), np.nan), ValueError),  # NaN
        ("maps", TypeError),
    ],
)
def test_feature_maps_bad_input(bad, error):
    with pytest.raises(error):
        plot_feature_maps(bad)


@pytest.mark.parametrize("kwargs", [{"max_maps": 0}, {"ncols": -1}, {"ncols": 2.5}, {"max_maps": True}])
def test_feature_maps_bad_counts(kwargs):
    with pytest.raises((TypeError, ValueError)):
        plot_feature_maps(np.zeros((3, 3, 2)), **kwargs)


def test_filters_gray_and_rgb():
    rng = np.random.default_rng(1)
    fig = plot_filters(rng.normal(size=(3, 3, 1, 10)), ncols=4, title="conv1")
    assert len(_shown(fig)) == 10
    # single-channel filters are drawn on a symmetric diverging scale
    image = _shown(fig)[0].images[0]
    low, high = image.get_clim()
    assert low == pytest.approx(-high)
    fig_rgb = plot_filters(rng.normal(size=(5, 5, 3, 4)))
    assert _shown(fig_rgb)[0].images[0].get_array().shape == (5, 5, 3)


def test_filters_max_filters_and_zero_kernel():
    fig = plot_filters(np.zeros((3, 3, 8, 64)), max_filters=32)
    assert len(_shown(fig)) == 32


@pytest.mark.parametrize(
    "bad, error",
    [
        (np.zeros((3, 3, 1)), ValueError),
        (np.zeros((3, 3, 1, 0)), ValueError),
        (np.array([[[["x"]]]]), TypeError),
        (None, TypeError),
    ],
)
def test_filters_bad_input(bad, error):
    with pytest.raises(error):
        plot_filters(bad)


def test_filters_bad_counts():
    with pytest.raises(ValueError):
        plot_filters(np.zeros((3, 3, 1, 2)), max_filters=0)
    with pytest.raises(TypeError):
        plot_filters(np.zeros((3, 3, 1, 2)), ncols="4")
