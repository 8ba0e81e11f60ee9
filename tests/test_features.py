"""Tests for cvcourse.features (tiny stand-in networks; no download, no real weights)."""

import numpy as np
import pytest

from cvcourse import features, profile
from cvcourse.features import Backbone, feature_extractor, load_backbone, to_uint8


def _tiny_backbone(preprocess=features._identity):
    import keras

    inputs = keras.Input(shape=(None, None, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv_a")(inputs)
    x = keras.layers.ReLU(name="conv_a_relu")(x)
    x = keras.layers.Conv2D(5, 3, strides=2, padding="same", name="conv_b")(x)
    x = keras.layers.ReLU(name="conv_b_relu")(x)
    return Backbone("mobilenet_v2", keras.Model(inputs, x), preprocess)


def test_feature_extractor_returns_named_activations_for_any_size():
    backbone = _tiny_backbone()
    extract = feature_extractor(backbone, ["conv_a_relu", "conv_b_relu"])
    for size in (8, 12):
        out = extract(np.random.rand(1, size, size, 3).astype("float32"))
        assert set(out) == {"conv_a_relu", "conv_b_relu"}
        assert tuple(out["conv_a_relu"].shape) == (1, size, size, 4)
        assert tuple(out["conv_b_relu"].shape) == (1, size // 2, size // 2, 5)
        assert float(np.min(out["conv_b_relu"])) >= 0.0


def test_feature_extractor_applies_the_preprocessing():
    plain = _tiny_backbone()
    shifted = Backbone("vgg19", plain.model, lambda x: x * 2.0 - 1.0)
    image = np.random.rand(1, 6, 6, 3).astype("float32")
    direct = plain.model.get_layer("conv_a")  # same weights, so compare through the first conv
    a = feature_extractor(shifted, ["conv_a"])(image)["conv_a"]
    b = direct(image * 2.0 - 1.0)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def test_feature_extractor_rejects_bad_input():
    backbone = _tiny_backbone()
    with pytest.raises(ValueError, match="no layer"):
        feature_extractor(backbone, ["nope"])
    with pytest.raises(ValueError, match="non-empty"):
        feature_extractor(backbone, [])
    with pytest.raises(ValueError, match="non-empty"):
        feature_extractor(backbone, "conv_a")
    with pytest.raises(TypeError, match="Backbone"):
        feature_extractor(object(), ["conv_a"])


def test_layer_names_filters_by_suffix():
    backbone = _tiny_backbone()
    assert backbone.layer_names("_relu") == ["conv_a_relu", "conv_b_relu"]
    with pytest.raises(TypeError):
        backbone.layer_names(3)


def test_vgg_preprocessing_is_caffe_style():
    image = np.zeros((1, 1, 1, 3), "float32")
    image[..., 0] = 1.0  # pure red
    out = np.asarray(features._vgg19_preprocess(image))
    np.testing.assert_allclose(out[0, 0, 0], [-103.939, -116.779, 255.0 - 123.68], atol=1e-4)


def test_to_uint8_converts_and_validates():
    out = to_uint8(np.array([[[0.0, 0.5, 1.2]]], dtype="float32")[None])
    assert out.dtype == np.uint8 and out.shape == (1, 1, 3)
    assert out.tolist() == [[[0, 128, 255]]]
    with pytest.raises(TypeError, match="float"):
        to_uint8(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="exactly one"):
        to_uint8(np.zeros((2, 2, 2, 3)))
    with pytest.raises(ValueError, match="shape"):
        to_uint8(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        to_uint8(np.full((2, 2, 3), np.nan))


def test_load_backbone_validates_its_argument():
    with pytest.raises(TypeError):
        load_backbone(19)
    with pytest.raises(ValueError, match="unknown backbone"):
        load_backbone("resnet")
    with pytest.raises(ValueError, match="full profile"):
        load_backbone("vgg19")  # the smoke profile never downloads
    with pytest.raises(ValueError, match="timeout"):
        load_backbone("mobilenet_v2", timeout=-1)


def test_load_backbone_falls_back_offline(monkeypatch, capsys):
    monkeypatch.setenv("CVCOURSE_PROFILE", "full")
    monkeypatch.setenv("CVCOURSE_MIRROR", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setattr(features, "_load_mobilenet", lambda: _tiny_backbone())
    backbone = load_backbone("inception_v3")
    assert backbone.name == "mobilenet_v2"
    assert profile.current_profile() == "smoke"
    assert "falling back" in capsys.readouterr().out


def test_load_backbone_hands_the_fetched_file_to_keras(monkeypatch, tmp_path):
    monkeypatch.setenv("CVCOURSE_PROFILE", "full")
    weights = tmp_path / "vgg19.h5"
    monkeypatch.setattr(features.sources, "fetch_source", lambda name, timeout: weights)
    calls = []
    monkeypatch.setattr(features, "_load_keras_application",
                        lambda name, path, trained: calls.append((name, path, trained)) or "model")
    assert load_backbone("vgg19") == "model"
    monkeypatch.setenv("CVCOURSE_TEST_FIXTURES", "1")   # the course's mirror tests: untrained stand-in weights
    assert load_backbone("inception_v3") == "model"
    assert calls == [("vgg19", str(weights), True), ("inception_v3", str(weights), False)]
    assert _tiny_backbone().trained   # the bundled MobileNetV2 is always the real one
