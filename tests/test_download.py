"""The downloader against a real HTTP server on 127.0.0.1: good, corrupt, 404, silent, offline."""

import hashlib
import http.server
import os
import socket
import threading
import time

import pytest

from cvcourse import data, profile
from cvcourse.download import ChecksumError, DownloadTimeout, HTTPStatusError, OfflineError, fetch, sha256_of

PAYLOAD = os.urandom(200_000)
GOOD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        _Handler.hits.append(self.path)
        if self.path == "/good.bin":
            body = PAYLOAD
        elif self.path == "/corrupt.bin":
            body = PAYLOAD[:-1] + bytes([PAYLOAD[-1] ^ 0xFF])
        elif self.path == "/stall.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:1000])
            self.wfile.flush()
            time.sleep(3)
            return
        else:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def silent_server():
    """A server that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def test_good_file_is_downloaded_verified_and_cached(server, tmp_path):
    path = fetch(f"{server}/good.bin", sha256=GOOD_SHA, filename="good.bin", cache=tmp_path)
    assert path.read_bytes() == PAYLOAD and sha256_of(path) == GOOD_SHA
    hits = len(_Handler.hits)
    assert fetch(f"{server}/good.bin", sha256=GOOD_SHA, filename="good.bin", cache=tmp_path) == path
    assert len(_Handler.hits) == hits, "a verified cached file must not be downloaded again"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.bin"]


def test_corrupt_file_is_refused_and_not_kept(server, tmp_path):
    with pytest.raises(ChecksumError, match="corrupt.bin.*sha256"):
        fetch(f"{server}/corrupt.bin", sha256=GOOD_SHA, filename="corrupt.bin", cache=tmp_path)
    assert list(tmp_path.iterdir()) == [], "no partial or corrupt file may stay in the cache"


def test_bad_cached_copy_is_replaced(server, tmp_path):
    (tmp_path / "good.bin").write_bytes(b"stale")
    path = fetch(f"{server}/good.bin", sha256=GOOD_SHA, filename="good.bin", cache=tmp_path)
    assert path.read_bytes() == PAYLOAD


def test_http_404_names_the_file(server, tmp_path):
    with pytest.raises(HTTPStatusError, match="missing.bin.*HTTP 404"):
        fetch(f"{server}/missing.bin", sha256=GOOD_SHA, filename="missing.bin", cache=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_server_that_never_answers_times_out(silent_server, tmp_path):
    start = time.monotonic()
    with pytest.raises(DownloadTimeout, match="silent.bin.*timed out"):
        fetch(f"{silent_server}/x", sha256=GOOD_SHA, filename="silent.bin", cache=tmp_path, timeout=0.5)
    assert time.monotonic() - start < 10
    assert list(tmp_path.iterdir()) == []


def test_server_that_stalls_mid_file_times_out(server, tmp_path):
    with pytest.raises(DownloadTimeout):
        fetch(f"{server}/stall.bin", sha256=GOOD_SHA, filename="stall.bin", cache=tmp_path, timeout=0.5)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_host_is_offline_error(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connection refused
    with pytest.raises(OfflineError, match="off.bin.*offline"):
        fetch(f"http://127.0.0.1:{port}/off.bin", sha256=GOOD_SHA, filename="off.bin", cache=tmp_path, timeout=2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"url": "ftp://x/y", "sha256": GOOD_SHA, "filename": "y"}, "http"),
        ({"url": "http://x/y", "sha256": "abc", "filename": "y"}, "64 hex"),
        ({"url": "http://x/y", "sha256": GOOD_SHA, "filename": "../y"}, "plain file name"),
        ({"url": "http://x/y", "sha256": GOOD_SHA, "filename": "y", "timeout": 0}, "positive"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        fetch(cache=tmp_path, **kwargs)


def test_full_mnist_downloads_through_the_registry_and_is_read_without_pickle(tmp_path, monkeypatch):
    """The full-profile MNIST path from a mirror: a file that is not the pinned one makes it fall back."""
    import numpy as np

    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((6, 28, 28), np.uint8), y_train=np.arange(6, dtype=np.uint8),
             x_test=np.ones((2, 28, 28), np.uint8), y_test=np.arange(2, dtype=np.uint8))
    handler_dir = tmp_path

    class NpzHandler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(handler_dir), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NpzHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("CVCOURSE_PROFILE", "full")
        monkeypatch.setenv("CVCOURSE_MIRROR", f"http://127.0.0.1:{httpd.server_address[1]}")
        (x_train, _), _ = data.load_mnist()
        assert x_train.shape == (4000, 28, 28) and profile.current_profile() == "smoke"
    finally:
        httpd.shutdown()
