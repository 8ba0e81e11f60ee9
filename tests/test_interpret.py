"""Tests for cvcourse.interpret: Grad-CAM heat maps and their overlay."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from cvcourse.interpret import find_last_conv_layer, grad_cam, overlay_heatmap  # noqa: E402


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input(shape=(12, 12, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inputs)
    # a strided 1x1 convolution: the case whose eager filter gradient crashes oneDNN on a batch of one
    x = keras.layers.Conv2D(6, 1, strides=2, activation="relu", name="conv2")(x)
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="last")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, name="logits")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).random((12, 12, 1)).astype("float32")


def reference_cam(model, image, class_index, layer_name):
    """Grad-CAM written out step by step (split the model at the layer, differentiate the head)."""
    layer = model.get_layer(layer_name)
    features = keras.Model(model.input, layer.output)
    head = keras.Model(layer.output, model.output)
    maps = features(image[None])

    @tf.function  # graph mode: eager oneDNN filter gradients of a strided 1x1 conv crash on a batch of one
    def gradient_of_score(maps):
        with tf.GradientTape() as tape:
            tape.watch(maps)
            score = head(maps)[0, class_index]
        return tape.gradient(score, maps)

    alpha = tf.reduce_mean(gradient_of_score(maps)[0], axis=(0, 1))
    cam = tf.nn.relu(tf.reduce_sum(maps[0] * alpha, axis=-1)).numpy()
    cam = cam / cam.max() if cam.max() > 0 else cam
    return tf.image.resize(cam[..., None], image.shape[:2], method="bilinear")[..., 0].numpy()


def test_find_last_conv_layer(model):
    assert find_last_conv_layer(model) == "last"


def test_grad_cam_matches_step_by_step_reference(model, image):
    for class_index in range(3):
        heat = grad_cam(model, image, class_index=class_index, layer_name="last")
        assert heat.shape == (12, 12) and heat.dtype == np.float32
        assert heat.min() >= 0.0 and heat.max() <= 1.0
        np.testing.assert_allclose(heat, reference_cam(model, image, class_index, "last"), atol=1e-5)


def test_grad_cam_defaults_to_predicted_class_and_last_layer(model, image):
    predicted = int(np.argmax(model(image[None])[0]))
    np.testing.assert_allclose(grad_cam(model, image), grad_cam(model, image, class_index=predicted, layer_name="last"))


def test_grad_cam_on_an_earlier_layer_and_2d_image(model, image):
    heat = grad_cam(model, image[..., 0], class_index=1, layer_name="conv1")
    np.testing.assert_allclose(heat, reference_cam(model, image, 1, "conv1"), atol=1e-5)


def test_grad_cam_variable_input_size():
    inputs = keras.Input(shape=(None, None, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    net = keras.Model(inputs, outputs)
    heat = grad_cam(net, np.random.default_rng(1).random((20, 30, 3)), class_index=0)
    assert heat.shape == (20, 30)
    assert 0.0 <= heat.min() and heat.max() <= 1.0


def test_grad_cam_all_zero_when_nothing_speaks_for_the_class():
    inputs = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Conv2D(2, 3, padding="same", name="conv")(inputs)
    outputs = keras.layers.Dense(2, kernel_initializer="zeros")(keras.layers.GlobalAveragePooling2D()(x))
    heat = grad_cam(keras.Model(inputs, outputs), np.ones((8, 8, 1)), class_index=0)
    assert np.all(heat == 0)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"class_index": 3}, ValueError),
        ({"class_index": -1}, ValueError),
        ({"class_index": True}, TypeError),
        ({"class_index": 1.0}, TypeError),
        ({"layer_name": "nope"}, ValueError),
        ({"layer_name": "logits"}, ValueError),
        ({"layer_name": 3}, TypeError),
    ],
)
def test_grad_cam_rejects_bad_arguments(model, image, kwargs, error):
    with pytest.raises(error):
        grad_cam(model, image, **kwargs)


def test_grad_cam_rejects_bad_images(model, image):
    with pytest.raises(TypeError):
        grad_cam(model, "an image")
    with pytest.raises(ValueError, match="shape"):
        grad_cam(model, image[None])                       # batch axis: one image expected
    with pytest.raises(ValueError, match="channel"):
        grad_cam(model, np.zeros((12, 12, 3)))
    with pytest.raises(ValueError, match="12x12"):
        grad_cam(model, np.zeros((10, 12, 1)))
    bad = image.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        grad_cam(model, bad)


def test_grad_cam_rejects_bad_models(image):
    with pytest.raises(TypeError):
        grad_cam("model", image)
    unbuilt = keras.Sequential([keras.layers.Conv2D(2, 3), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="built"):
        grad_cam(unbuilt, image)
    inputs = keras.Input(shape=(12, 12, 1))
    per_pixel = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    with pytest.raises(ValueError, match="class scores"):
        grad_cam(per_pixel, image)


def test_overlay_heatmap_blends_and_resizes():
    gray = np.full((20, 20), 0.5)
    heat = np.zeros((5, 5))
    rgb = overlay_heatmap(gray, heat, alpha=0.0)
    assert rgb.shape == (20, 20, 3) and rgb.dtype == np.float32
    np.testing.assert_allclose(rgb, 0.5, atol=1e-6)
    full = overlay_heatmap(gray, np.ones((20, 20)), alpha=1.0, cmap="viridis")
    import matplotlib

    np.testing.assert_allclose(full[0, 0], matplotlib.colormaps["viridis"](1.0)[:3], atol=1e-6)
    photo = np.random.default_rng(0).integers(0, 256, size=(10, 16, 3), dtype=np.uint8)
    blended = overlay_heatmap(photo, np.random.default_rng(1).random((10, 16)), alpha=0.4)
    assert blended.shape == (10, 16, 3) and 0.0 <= blended.min() and blended.max() <= 1.0


@pytest.mark.parametrize(
    "image, heatmap, kwargs, error",
    [
        (np.zeros((4, 4)), np.full((4, 4), 1.5), {}, ValueError),
        (np.zeros((4, 4)), np.full((4, 4), -0.5), {}, ValueError),
        (np.zeros((4, 4)), np.zeros((4, 4, 1)), {}, ValueError),
        (np.zeros((4, 4)), np.zeros((4, 4)), {"alpha": 2.0}, ValueError),
        (np.zeros((4, 4)), np.zeros((4, 4)), {"alpha": True}, ValueError),
        (np.zeros((4, 4)), np.zeros((4, 4)), {"cmap": "no-such-map"}, ValueError),
        (np.zeros((4, 4, 2)), np.zeros((4, 4)), {}, ValueError),
        ("image", np.zeros((4, 4)), {}, TypeError),
    ],
)
def test_overlay_heatmap_rejects_bad_input(image, heatmap, kwargs, error):
    with pytest.raises(error):
        overlay_heatmap(image, heatmap, **kwargs)
