import matplotlib.pyplot
import numpy as np
import pytest

from cvcourse.viz import plot_history, show_images


def test_show_images_grid_and_titles():
    fig = show_images([np.zeros((8, 8)), np.ones((8, 8, 3)), np.random.rand(8, 8, 1)], titles=["a", "b", "c"], ncols=2)
    axes = fig.get_axes()
    assert len(axes) == 4 and [ax.get_title() for ax in axes[:3]] == ["a", "b", "c"]


def test_show_images_accepts_batches():
    assert len(show_images(np.zeros((5, 4, 4)), ncols=5).get_axes()) == 5


@pytest.mark.parametrize(
    "images, kwargs, error, message",
    [
        ([], {}, ValueError, "non-empty"),
        ([np.zeros(5)], {}, ValueError, r"\(H, W\)"),
        ([np.zeros((4, 4, 2))], {}, ValueError, "channels"),
        ([np.zeros((4, 4))], {"titles": ["a", "b"]}, ValueError, "one entry per image"),
        ([np.zeros((4, 4))], {"ncols": 0}, ValueError, "positive integer"),
        (["abc"], {}, TypeError, "array-like"),
        ([np.array([["a", "b"]])], {}, TypeError, "numbers"),
        (np.zeros((4, 4)), {}, ValueError, "batch"),
    ],
)
def test_show_images_bad_input(images, kwargs, error, message):
    with pytest.raises(error, match=message):
        show_images(images, **kwargs)


def test_plot_history():
    fig = plot_history({"loss": [1, 0.5], "val_loss": [1.2, 0.8], "accuracy": [0.5, 0.8]})
    assert len(fig.get_axes()) == 2
    assert len(fig.get_axes()[0].get_lines()) == 2


def test_plot_history_bad_input():
    with pytest.raises(TypeError, match="History"):
        plot_history([1, 2])
    with pytest.raises(ValueError, match="available"):
        plot_history({"loss": [1]}, metrics=["accuracy"])


def test_show_images_draws_a_constant_mask_in_its_own_colour():
    # a full uint8 mask (255 everywhere) is white, an empty one black, a full boolean mask white
    fig = show_images([np.full((4, 4), 255, np.uint8), np.zeros((4, 4), np.uint8), np.ones((4, 4), bool)])
    shown = [ax.images[0] for ax in fig.axes if ax.images]
    colours = [artist.to_rgba(artist.get_array())[0, 0, :3] for artist in shown]
    np.testing.assert_allclose(colours[0], 1.0)
    np.testing.assert_allclose(colours[1], 0.0)
    np.testing.assert_allclose(colours[2], 1.0)
    matplotlib.pyplot.close(fig)
