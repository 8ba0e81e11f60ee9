"""Interpreting convnets: Grad-CAM class activation heat maps and their overlay on the image.

Grad-CAM (Selvaraju et al., 2017) answers "where in this image did the network see
class c?". Let :math:`A^k` be the feature maps of a convolutional layer (usually the
last one) and :math:`y^c` the score of class c (ideally the logit, before softmax):

1. gradients :math:`\\partial y^c / \\partial A^k_{ij}` of the class score w.r.t. the feature maps;
2. one weight per channel, the global average of its gradients:
   :math:`\\alpha^c_k = \\frac{1}{Z} \\sum_{i,j} \\partial y^c / \\partial A^k_{ij}`;
3. the weighted sum of the feature maps, :math:`\\sum_k \\alpha^c_k A^k`;
4. a ReLU (keep only the evidence *for* the class) and a division by the maximum;
5. bilinear upsampling to the input size.

Notebook 04 writes these steps out one by one; this module packages them for reuse
(notebook 05 applies them to a pretrained network).

Example:
    >>> heat = grad_cam(model, image)                        # doctest: +SKIP
    >>> fig = show_images([overlay_heatmap(image, heat)])    # doctest: +SKIP
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from cvcourse._validate import as_image

__all__ = ["find_last_conv_layer", "grad_cam", "overlay_heatmap"]


def _check_model(model: Any):
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise ValueError("model must be built with a known input (a functional model, or a Sequential "
                         "model that starts with keras.Input(shape=...)) so its layers can be reached")
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"model must have one input and one output, got {len(inputs)} inputs and {len(outputs)} outputs")
    if len(outputs[0].shape) != 2:
        raise ValueError(f"model must output class scores of shape (batch, classes), got output shape {tuple(outputs[0].shape)}")
    if len(inputs[0].shape) != 4:
        raise ValueError(f"model must take images of shape (batch, H, W, C), got input shape {tuple(inputs[0].shape)}")
    return inputs[0], outputs[0]


def _is_feature_map(layer: Any) -> bool:
    try:
        output = layer.output
    except (AttributeError, ValueError):
        return False
    return not isinstance(output, (list, tuple)) and len(output.shape) == 4


def find_last_conv_layer(model: Any) -> str:
    """Name of the last layer of ``model`` whose output is a 4-D feature map ``(batch, h, w, channels)``.

    This is the layer Grad-CAM uses by default: the deepest one that still has a
    spatial layout.

    Example:
        >>> find_last_conv_layer(keras.applications.VGG16(weights=None))  # doctest: +SKIP
        'block5_pool'
    """
    import keras

    _check_model(model)
    for layer in reversed(model.layers):
        if _is_feature_map(layer) and not isinstance(layer, keras.layers.InputLayer):
            return layer.name
    raise ValueError("model has no layer with a 4-D (batch, h, w, channels) output to take a class activation map from")


def _prepare_image(image: Any, model_input: Any) -> np.ndarray:
    if hasattr(image, "numpy") and callable(image.numpy):
        image = image.numpy()
    array = as_image(image, "image")
    if array.dtype == bool:
        array = array.astype(np.float32)
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError("image contains NaN or infinity")
    _, height, width, channels = tuple(model_input.shape)
    if array.ndim == 2:
        array = array[:, :, None]
    if channels is not None and array.shape[2] != channels:
        raise ValueError(f"image has {array.shape[2]} channel(s) but the model expects {channels}: got shape {np.shape(image)}")
    if (height is not None and array.shape[0] != height) or (width is not None and array.shape[1] != width):
        raise ValueError(f"image is {array.shape[0]}x{array.shape[1]} but the model expects {height}x{width} inputs")
    return array


def grad_cam(model: Any, image: Any, class_index: int | None = None, layer_name: str | None = None) -> np.ndarray:
    """Grad-CAM heat map of ``class_index`` for one ``image``, upsampled to the image size, in [0, 1].

    ``model`` is a Keras model with one image input and one ``(batch, classes)`` output;
    the score differentiated is that output (pass a model that outputs logits, as the
    Grad-CAM paper does; softmax outputs work but their gradients can saturate).
    ``image`` is one image ``(H, W)`` or ``(H, W, C)``, already preprocessed the way the
    model expects (no batch axis). ``class_index`` defaults to the predicted class,
    ``layer_name`` to :func:`find_last_conv_layer`. Returns a ``float32`` array ``(H, W)``
    scaled so that its maximum is 1 (all zeros when no location speaks for the class).

    Example:
        >>> heat = grad_cam(model, x_test[0] / 255.0, class_index=7)  # doctest: +SKIP
        >>> heat.shape, float(heat.max())                            # doctest: +SKIP
        ((28, 28), 1.0)
    """
    import tensorflow as tf

    model_input, model_output = _check_model(model)
    array = _prepare_image(image, model_input)
    num_classes = model_output.shape[-1]
    if class_index is not None:
        if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)):
            raise TypeError(f"class_index must be an integer class number or None, got {class_index!r}")
        if num_classes is not None and not 0 <= class_index < num_classes:
            raise ValueError(f"class_index must be between 0 and {num_classes - 1}, got {class_index}")
    if layer_name is None:
        layer_name = find_last_conv_layer(model)
    elif not isinstance(layer_name, str):
        raise TypeError(f"layer_name must be a layer name (str) or None, got {type(layer_name).__name__}")
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(f"model has no layer named {layer_name!r}; feature-map layers are: "
                         f"{[layer.name for layer in model.layers if _is_feature_map(layer)]}")
    layer = model.get_layer(layer_name)
    if not _is_feature_map(layer):
        raise ValueError(f"layer {layer_name!r} must output 4-D feature maps (batch, h, w, channels) for Grad-CAM")

    compute = _cam_function(model, layer)
    wanted = -1 if class_index is None else int(class_index)
    cam = compute(tf.convert_to_tensor(array[None]), tf.constant(wanted, dtype=tf.int32)).numpy()
    if not np.all(np.isfinite(cam)):
        raise ValueError("the class activation map is not finite: check the image and the model's weights")
    peak = float(cam.max())
    cam = cam / peak if peak > 0 else np.zeros_like(cam)
    heat = tf.image.resize(cam[..., None], array.shape[:2], method="bilinear")[..., 0]
    return np.clip(heat.numpy(), 0.0, 1.0).astype(np.float32)


_CAM_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cam_function(model: Any, layer: Any):
    """The compiled ``ReLU(sum_k alpha_k A^k)`` computation for one model and layer (cached per model).

    It runs as a ``tf.function``: graph-mode gradients only follow the path from the class
    score back to the chosen feature maps, which is faster and avoids computing kernel
    gradients of earlier layers (TensorFlow's eager oneDNN kernel for the filter gradient of a
    strided 1x1 convolution can crash on a batch of one).
    """
    import keras
    import tensorflow as tf

    cache = _CAM_FUNCTIONS.setdefault(model, {})
    if layer.name in cache:
        return cache[layer.name]
    grad_model = keras.Model(model.input, [layer.output, model.output])

    @tf.function(reduce_retracing=True)
    def compute(batch, wanted):
        with tf.GradientTape() as tape:
            feature_maps, scores = grad_model(batch, training=False)
            index = tf.where(wanted < 0, tf.argmax(scores[0], output_type=tf.int32), wanted)
            score = tf.gather(scores[0], index)                                    # y^c
        gradients = tape.gradient(score, feature_maps)                             # dy^c / dA^k_ij
        if gradients is None:
            raise ValueError(f"the class score does not depend on layer {layer.name!r}; "
                             "pick a layer on the path to the output")
        weights = tf.reduce_mean(gradients[0], axis=(0, 1))                        # alpha_k (global average pooling)
        return tf.nn.relu(tf.reduce_sum(feature_maps[0] * weights, axis=-1))       # ReLU(sum_k alpha_k A^k)

    cache[layer.name] = compute
    return compute


def overlay_heatmap(image: Any, heatmap: Any, alpha: float = 0.4, cmap: str = "jet") -> np.ndarray:
    """Blend a heat map in [0, 1] over an image and return an RGB ``float32`` image in [0, 1].

    ``image`` is ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``: ``uint8`` 0-255, or floats (in
    [0, 1], otherwise min-max rescaled). ``heatmap`` is ``(h, w)`` with values in [0, 1]
    (for example from :func:`grad_cam`); it is resized to the image if needed, coloured
    with ``cmap`` and mixed in as ``(1 - alpha) * image + alpha * colour``.

    Example:
        >>> rgb = overlay_heatmap(np.zeros((28, 28)), np.eye(28), alpha=0.5)
        >>> rgb.shape
        (28, 28, 3)
    """
    import cv2
    import matplotlib

    picture = as_image(image, "image", channels=(1, 3))
    heat = as_image(heatmap, "heatmap")
    if heat.ndim != 2:
        raise ValueError(f"heatmap must have shape (h, w), got shape {heat.shape}")
    heat = heat.astype(np.float32)
    if not np.all(np.isfinite(heat)) or heat.min() < -1e-6 or heat.max() > 1 + 1e-6:
        raise ValueError("heatmap values must be finite and in [0, 1] (grad_cam returns such maps)")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating, np.integer)) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number between 0 and 1, got {alpha!r}")
    if not isinstance(cmap, str) or cmap not in matplotlib.colormaps:
        raise ValueError(f"cmap must be a matplotlib colormap name such as 'jet' or 'viridis', got {cmap!r}")

    if picture.dtype == np.uint8:
        picture = picture.astype(np.float32) / 255.0
    else:
        picture = picture.astype(np.float32)
        if not np.all(np.isfinite(picture)):
            raise ValueError("image contains NaN or infinity")
        low, high = float(picture.min()), float(picture.max())
        if low < 0 or high > 1:
            picture = (picture - low) / (high - low) if high > low else np.zeros_like(picture)
    if picture.ndim == 2:
        picture = picture[:, :, None]
    if picture.shape[2] == 1:
        picture = np.repeat(picture, 3, axis=2)
    height, width = picture.shape[:2]
    if heat.shape != (height, width):
        heat = cv2.resize(heat, (width, height), interpolation=cv2.INTER_LINEAR)
    colour = matplotlib.colormaps[cmap](np.clip(heat, 0.0, 1.0))[..., :3].astype(np.float32)
    return np.clip((1.0 - alpha) * picture + alpha * colour, 0.0, 1.0).astype(np.float32)
