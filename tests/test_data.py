import numpy as np
import pytest

from cvcourse import data, profile


def test_offline_mnist_is_real_shuffled_and_reproducible():
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert x_train.max() == 255 and x_train.min() == 0
    assert set(np.unique(y_test)) == set(range(10)), "the split must be shuffled, not sorted by class"
    assert np.all(np.bincount(np.concatenate([y_train, y_test])) == 500)
    (again, _), _ = data.load_mnist()
    assert np.array_equal(x_train, again)
    # train and test hold different digits
    train_keys = {img.tobytes() for img in x_train}
    assert not any(img.tobytes() in train_keys for img in x_test)


def test_offline_mnist_test_size():
    (x_train, _), (x_test, _) = data.load_mnist(offline_test_size=500)
    assert len(x_train) == 4500 and len(x_test) == 500


@pytest.mark.parametrize("bad", [0, 5000, 2.5, "10"])
def test_offline_mnist_rejects_bad_size(bad):
    with pytest.raises(ValueError, match="offline_test_size"):
        data.load_mnist(offline_test_size=bad)


def test_full_profile_offline_falls_back_with_notice(monkeypatch, capsys):
    monkeypatch.setenv("CVCOURSE_PROFILE", "full")
    monkeypatch.setenv("CVCOURSE_MIRROR", "http://127.0.0.1:9")  # discard port: refused at once
    (x_train, _), _ = data.load_mnist()
    assert len(x_train) == 4000
    assert "falling back" in capsys.readouterr().out
    assert profile.current_profile() == "smoke"


@pytest.mark.parametrize("name", data.PHOTO_NAMES)
def test_every_sample_photo_loads_offline(name):
    image = data.sample_image(name)
    assert image.dtype == np.uint8 and image.ndim in (2, 3) and min(image.shape[:2]) >= 100
    if image.ndim == 3:
        assert image.shape[2] == 3
    assert data.photo_credit(name)


def test_sample_image_errors_list_the_names():
    with pytest.raises(ValueError, match="coffee"):
        data.sample_image("kitten")
    with pytest.raises(TypeError, match="string"):
        data.sample_image(3)


def test_digits():
    images, labels = data.load_digits_images()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,) and images.max() == 16
