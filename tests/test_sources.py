"""The download registry: its entries, the mirror setting, and the guard around test fixtures."""

import functools
import hashlib
import http.server
import importlib
import json
import re
import threading
from pathlib import Path

import pytest

from cvcourse import sources
from cvcourse.download import ChecksumError, OfflineError
from cvcourse.sources import FixtureManifestError, NotPinnedError, fetch_source

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = b"a file that is not the real mnist.npz\n" * 100


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def folder_server(tmp_path):
    """Serve a folder on 127.0.0.1 (yields (folder, url))."""
    folder = tmp_path / "served"
    folder.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _manifest(folder, kind=sources.FIXTURE_KIND, **files):
    (folder / sources.FIXTURE_MANIFEST).write_text(json.dumps(
        {"kind": kind, "version": 1, "files": {name: {"sha256": digest} for name, digest in files.items()}}))


def test_every_source_is_complete_and_consistent():
    names = [path.name[:2] for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")]
    filenames = [s.filename for s in sources.SOURCES.values()]
    assert len(set(filenames)) == len(filenames), "file names must be unique: they share one cache and one mirror"
    for source in sources.SOURCES.values():
        assert source.url.startswith(("http://", "https://")), source.name
        assert source.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", source.sha256), source.name
        assert "/" not in source.filename and source.filename not in (".", "..")
        assert source.size is None or source.size > 0
        assert source.title and source.credit and source.notebooks
        assert set(source.notebooks) <= set(names), f"{source.name} names a notebook that does not exist"
        module, _, function = source.loader.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function)), source.loader


def test_data_readme_holds_the_registry_table():
    text = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    assert sources.markdown_table() in text, (
        "data/README.md must hold the registry table as cvcourse.sources.markdown_table() prints it; paste it again")


def test_markdown_table_has_one_row_per_source():
    table = sources.markdown_table().splitlines()
    assert len(table) == 2 + len(sources.SOURCES)
    assert any("not pinned" in row for row in table) == any(not s.pinned for s in sources.SOURCES.values())


def test_get_validates_names():
    assert sources.get("mnist") is sources.SOURCES["mnist"]
    with pytest.raises(ValueError, match="registered sources are mnist"):
        sources.get("cifar10")
    with pytest.raises(TypeError):
        sources.get(3)
    with pytest.raises(TypeError):
        fetch_source(object())


def test_mirror_redirects_by_file_name(monkeypatch):
    assert sources.source_url("mnist") == sources.SOURCES["mnist"].url
    monkeypatch.setenv("CVCOURSE_MIRROR", "https://data.example.edu/cvcourse/")
    assert sources.mirror() == "https://data.example.edu/cvcourse"
    assert sources.source_url("tf_flowers") == "https://data.example.edu/cvcourse/flower_photos.tgz"
    for bad in ("ftp://host/x", "data.example.edu", "http://"):
        monkeypatch.setenv("CVCOURSE_MIRROR", bad)
        with pytest.raises(ValueError, match="CVCOURSE_MIRROR"):
            sources.mirror()


def test_an_unpinned_source_is_never_downloaded(monkeypatch):
    unpinned = [s for s in sources.SOURCES.values() if not s.pinned]
    if not unpinned:  # the day every source is pinned, test the rule on a made-up one
        unpinned = [sources.Source("x", "https://example.invalid/x", None, "x.bin", None, "t", "c", ("01",), "a.b")]
    monkeypatch.setenv("CVCOURSE_MIRROR", "http://127.0.0.1:9")  # nothing listens: a download attempt would fail differently
    with pytest.raises(NotPinnedError, match="pins no sha256"):
        fetch_source(unpinned[0])


def test_a_mirror_must_serve_the_real_bytes(folder_server, monkeypatch, capsys):
    folder, url = folder_server
    (folder / "mnist.npz").write_bytes(PAYLOAD)
    _manifest(folder, **{"mnist.npz": hashlib.sha256(PAYLOAD).hexdigest()})  # a manifest alone changes nothing
    monkeypatch.setenv("CVCOURSE_MIRROR", url)
    with pytest.raises(ChecksumError, match="mnist.npz"):
        fetch_source("mnist")
    assert "TEST FIXTURE" not in capsys.readouterr().out


def test_fixtures_need_the_variable_the_manifest_and_a_loopback_mirror(folder_server, monkeypatch, capsys, tmp_path):
    folder, url = folder_server
    (folder / "mnist.npz").write_bytes(PAYLOAD)
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    monkeypatch.setenv("CVCOURSE_TEST_FIXTURES", "1")
    with pytest.raises(FixtureManifestError, match="CVCOURSE_MIRROR"):
        fetch_source("mnist")  # no mirror at all
    monkeypatch.setenv("CVCOURSE_MIRROR", "https://data.example.edu/cvcourse")
    with pytest.raises(FixtureManifestError, match="only from a mirror on this machine"):
        fetch_source("mnist")
    monkeypatch.setenv("CVCOURSE_MIRROR", url)
    with pytest.raises(FixtureManifestError, match="not a readable test-fixture manifest"):
        fetch_source("mnist")  # no manifest served yet
    _manifest(folder, kind="some-other-kind", **{"mnist.npz": digest})
    sources._fixture_manifests.clear()
    with pytest.raises(FixtureManifestError, match="does not declare itself"):
        fetch_source("mnist")
    _manifest(folder, **{"mnist.npz": digest})
    sources._fixture_manifests.clear()
    with pytest.raises(FixtureManifestError, match="flower_photos.tgz"):
        fetch_source("tf_flowers")  # not in the manifest
    report = tmp_path / "records.jsonl"
    monkeypatch.setenv("CVCOURSE_REPORT", str(report))
    path = fetch_source("mnist")
    assert path.read_bytes() == PAYLOAD and path.parent.name == sources.FIXTURE_CACHE_SUBDIR
    assert "TEST FIXTURE: mnist.npz" in capsys.readouterr().out
    record = json.loads(report.read_text())
    assert record["checked_against"] == "test-fixture manifest" and record["mirror"] is True
    # the same fixture with the variable unset is just a wrong file
    monkeypatch.delenv("CVCOURSE_TEST_FIXTURES")
    with pytest.raises(ChecksumError):
        fetch_source("mnist")


def test_a_wrong_variable_value_does_not_enable_fixtures(monkeypatch):
    for value in ("0", "yes", "true", ""):
        monkeypatch.setenv("CVCOURSE_TEST_FIXTURES", value)
        assert not sources.fixtures_requested()


def test_fetch_source_reports_offline(monkeypatch):
    monkeypatch.setenv("CVCOURSE_MIRROR", "http://127.0.0.1:9")
    with pytest.raises(OfflineError, match="mnist.npz"):
        fetch_source("mnist", timeout=2)
