"""Pretrained backbones as feature extractors, for the notebooks that optimise an image.

Deep dream (11) and style transfer (12) both read the activations of chosen layers of
an ImageNet-pretrained network and differentiate them with respect to the input image.
This module hides the plumbing they share:

- :func:`load_backbone` returns the convolutional base of a pretrained network. In the
  ``full`` profile it may be a classic ``keras.applications`` model (VGG19, InceptionV3).
  Their ImageNet weight files are **not** downloaded by Keras (its downloader has no
  timeout and checks only an MD5): they are registry sources (:mod:`cvcourse.sources`),
  fetched with a timeout and a pinned sha256 (or from ``$CVCOURSE_MIRROR``), and then
  handed to Keras as a local file, ``keras.applications.VGG19(include_top=False,
  weights=<path>)``. When that download is impossible (offline, or no sha256 pinned) -
  and always in ``smoke`` - it is the torchvision MobileNetV2 of
  :mod:`cvcourse.pretrained`, after a one-line :func:`cvcourse.profile.fall_back` notice
  when the full profile had asked for more.
- :func:`feature_extractor` builds a model from a float RGB image in ``[0, 1]`` of any
  size to a dict ``{layer name: activations}``; each backbone's own input
  preprocessing is inside it, so notebook code is the same for every backbone.
- :func:`to_uint8` turns a ``[0, 1]`` float image (or batch of one) back into ``uint8``.

Example:
    >>> backbone = load_backbone("mobilenet_v2")                       # doctest: +SKIP
    >>> extract = feature_extractor(backbone, ["block_6_expand_relu"])  # doctest: +SKIP
    >>> extract(np.zeros((1, 128, 128, 3), "float32"))["block_6_expand_relu"].shape  # doctest: +SKIP
    TensorShape([1, 16, 16, 192])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cvcourse import profile, sources
from cvcourse.download import DownloadError

#: The registry source (:data:`cvcourse.sources.SOURCES`) of each Keras backbone's ImageNet weights.
WEIGHT_SOURCES = {
    "vgg19": "vgg19_notop",
    "inception_v3": "inception_v3_notop",
}

#: The backbones :func:`load_backbone` knows.
BACKBONES: tuple[str, ...] = ("mobilenet_v2", "vgg19", "inception_v3")

# Mean pixel (BGR) that Keras's VGG19 weights were trained with ("caffe" preprocessing).
_VGG_MEAN_BGR = (103.939, 116.779, 123.68)


@dataclass(frozen=True)
class Backbone:
    """A pretrained convolutional base and how to feed it.

    Attributes:
        name: one of :data:`BACKBONES` - the network actually loaded (after any fallback).
        model: the Keras convolutional base (no classifier head), input of any size.
        preprocess: maps a float RGB image batch in ``[0, 1]`` to ``model``'s input.
        trained: False only when the course's own tests (``CVCOURSE_TEST_FIXTURES=1``, see
            :mod:`cvcourse.mirror`) served untrained stand-in weights: a claim about what a
            *trained* network has learned is then not measurable.
    """

    name: str
    model: Any
    preprocess: Callable[[Any], Any]
    trained: bool = True

    def layer_names(self, suffix: str = "") -> list[str]:
        """Names of the model's layers ending with ``suffix`` (all layers by default).

        Example:
            >>> backbone.layer_names("_relu")[:2]  # doctest: +SKIP
            ['Conv1_relu', 'expanded_conv_depthwise_relu']
        """
        if not isinstance(suffix, str):
            raise TypeError(f"suffix must be a string, got {type(suffix).__name__}")
        return [layer.name for layer in self.model.layers if layer.name.endswith(suffix)]


def _vgg19_preprocess(images: Any) -> Any:
    from keras import ops

    bgr = ops.flip(images, axis=-1) * 255.0
    return bgr - ops.convert_to_tensor(np.array(_VGG_MEAN_BGR, dtype="float32"))


def _inception_preprocess(images: Any) -> Any:
    return images * 2.0 - 1.0


def _identity(images: Any) -> Any:
    return images


def _load_keras_application(name: str, weights: str, trained: bool = True) -> Backbone:
    """The Keras application ``name`` without its classifier, with the weight file ``weights`` (a local .h5)."""
    import keras

    if name == "vgg19":
        return Backbone(name, keras.applications.VGG19(include_top=False, weights=weights), _vgg19_preprocess, trained)
    return Backbone(name, keras.applications.InceptionV3(include_top=False, weights=weights), _inception_preprocess, trained)


def _load_mobilenet() -> Backbone:
    from cvcourse.pretrained import load_mobilenet_v2

    return Backbone("mobilenet_v2", load_mobilenet_v2(include_top=False, input_shape=(None, None, 3)), _identity)


def load_backbone(preferred: str = "mobilenet_v2", *, timeout: float = 60.0) -> Backbone:
    """Load an ImageNet-pretrained convolutional base, falling back to the offline MobileNetV2.

    ``preferred`` is ``"mobilenet_v2"`` (offline, always works), ``"vgg19"`` or
    ``"inception_v3"`` (Keras's ImageNet weights, full profile only; choose with
    :func:`cvcourse.profile.pick_source`). Their weight file is fetched through the
    registry with ``timeout``; when that fails, :func:`cvcourse.profile.fall_back`
    prints a one-line notice and the MobileNetV2 is returned instead - check
    ``backbone.name``. ``backbone.trained`` is False only in the course's own mirror tests.

    Example:
        >>> backbone = load_backbone(pick_source(smoke="mobilenet_v2", full="vgg19"))  # doctest: +SKIP
        >>> backbone.name in BACKBONES                                                  # doctest: +SKIP
        True
    """
    if not isinstance(preferred, str):
        raise TypeError(f"preferred must be a string, one of {', '.join(BACKBONES)}; got {type(preferred).__name__}")
    if preferred not in BACKBONES:
        raise ValueError(f"unknown backbone {preferred!r}; expected one of {', '.join(BACKBONES)}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if preferred != "mobilenet_v2":
        if profile.current_profile() != "full":
            raise ValueError(
                f"{preferred} needs a download of its ImageNet weights, which only the full profile makes; "
                "ask for it with pick_source(smoke='mobilenet_v2', full=...)"
            )
        try:
            weights = sources.fetch_source(WEIGHT_SOURCES[preferred], timeout=timeout)
        except DownloadError as error:
            why = "the course pins no sha256 for them yet" if isinstance(error, sources.NotPinnedError) else type(error).__name__
            profile.fall_back(f"{preferred} weights could not be downloaded ({why}); using the bundled MobileNetV2.")
        else:
            # Stand-in weights come only from the course's own test mirror, and only with this flag set.
            return _load_keras_application(preferred, str(weights), trained=not sources.fixtures_requested())
    return _load_mobilenet()


def feature_extractor(backbone: Backbone, layer_names: Sequence[str]):
    """A Keras model from RGB images in ``[0, 1]`` (any size) to ``{layer name: activations}``.

    The backbone's own preprocessing is inside, so callers always feed ``[0, 1]`` floats
    of shape ``(batch, H, W, 3)``.

    Example:
        >>> extract = feature_extractor(backbone, ["block_3_expand_relu", "out_relu"])  # doctest: +SKIP
        >>> features = extract(image[None])                                              # doctest: +SKIP
    """
    import keras

    if not isinstance(backbone, Backbone):
        raise TypeError(f"backbone must be a Backbone from load_backbone(), got {type(backbone).__name__}")
    if isinstance(layer_names, str) or not isinstance(layer_names, Sequence) or len(layer_names) == 0:
        raise ValueError("layer_names must be a non-empty list of layer names, e.g. ['block_6_expand_relu']")
    known = {layer.name for layer in backbone.model.layers}
    missing = [name for name in layer_names if name not in known]
    if missing:
        raise ValueError(
            f"{backbone.name} has no layer(s) {missing}; see backbone.layer_names() "
            f"(e.g. {', '.join(backbone.layer_names('relu')[:4] or backbone.layer_names()[:4])}, ...)"
        )
    names = list(dict.fromkeys(layer_names))
    base = backbone.model
    tap = keras.Model(base.inputs, [base.get_layer(name).output for name in names], name=f"{backbone.name}_taps")
    inputs = keras.Input(shape=(None, None, 3), name="image")
    outputs = tap(backbone.preprocess(inputs))
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return keras.Model(inputs, dict(zip(names, outputs)), name=f"{backbone.name}_features")


def to_uint8(image: Any) -> np.ndarray:
    """Convert a float RGB image (or a batch of one) in ``[0, 1]`` to a ``uint8`` ``(H, W, 3)`` array.

    Values outside ``[0, 1]`` are clipped; TensorFlow tensors and variables are accepted.

    Example:
        >>> to_uint8(np.full((1, 2, 2, 3), 0.5)).max()
        np.uint8(128)
    """
    array = np.asarray(image.numpy() if hasattr(image, "numpy") else image)
    if array.dtype == object or not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"image must be a float array with values in [0, 1], got dtype {array.dtype}")
    if array.ndim == 4:
        if array.shape[0] != 1:
            raise ValueError(f"a batch must hold exactly one image, got shape {array.shape}")
        array = array[0]
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3) or (1, H, W, 3), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("image contains NaN or infinity")
    return np.rint(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
