"""One downloader for every real file the course fetches: time-limited, checksummed, atomic.

Keras's ``get_file``/``urlretrieve`` has no timeout and was seen to hang on a dead
network, so the course downloads with :func:`fetch` instead:

- a connect/read ``timeout`` on every socket operation;
- the sha256 of the bytes is compared with the expected one;
- the file is written to a temporary name in the cache and renamed into place only
  when complete and verified, so a cache never holds half a file;
- every failure is a :class:`DownloadError` subclass whose message names the file and
  says what to do.

Notebooks and loaders do not call it with URLs of their own: every real file is a
registry entry in :mod:`cvcourse.sources`, whose :func:`~cvcourse.sources.fetch_source`
adds the mirror setting and calls :func:`fetch`.

Example:
    >>> path = fetch("https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
    ...              sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    ...              filename="mnist.npz")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

CACHE_ENV = "CVCOURSE_CACHE"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DownloadError(RuntimeError):
    """A file could not be downloaded; the message says which file and what to do."""


class OfflineError(DownloadError):
    """The server could not be reached at all (no network, DNS failure, refused)."""


class DownloadTimeout(DownloadError):
    """The server did not answer, or stopped sending, within the timeout."""


class HTTPStatusError(DownloadError):
    """The server answered with an HTTP error status (404, 500, ...)."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not have the expected sha256."""


def cache_dir() -> Path:
    """The course's download cache: ``$CVCOURSE_CACHE`` or ``~/.cache/cvcourse``."""
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "cvcourse")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_of(path: str | os.PathLike) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    url: str,
    *,
    sha256: str,
    filename: str,
    cache: str | os.PathLike | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download ``url`` once into the cache as ``filename`` and return its path.

    A cached file with the right sha256 is returned without touching the network.

    Args:
        url: an ``http://`` or ``https://`` address.
        sha256: the expected hex digest (64 lowercase hex characters).
        filename: the plain file name to store it under (no directories).
        cache: the cache directory (default :func:`cache_dir`).
        timeout: seconds allowed for connecting and for each read.

    Raises:
        OfflineError, DownloadTimeout, HTTPStatusError, ChecksumError: see their docs.

    Example:
        >>> fetch("http://127.0.0.1:8000/a.bin", sha256="0" * 64, filename="a.bin")  # doctest: +SKIP
    """
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"url must be an http:// or https:// address, got {url!r}")
    if not isinstance(sha256, str) or not _SHA256.match(sha256.lower()):
        raise ValueError(f"sha256 must be 64 hex characters, got {sha256!r}")
    if not isinstance(filename, str) or not filename or os.path.basename(filename) != filename or filename in (".", ".."):
        raise ValueError(f"filename must be a plain file name without directories, got {filename!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    sha256 = sha256.lower()
    folder = Path(cache) if cache is not None else cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    if target.exists() and sha256_of(target) == sha256:
        return target

    advice = f"Check your connection and run the cell again, or place a verified copy of {filename} in {folder}."
    fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=folder)
    try:
        digest = hashlib.sha256()
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "cvcourse"})
            with urllib.request.urlopen(request, timeout=timeout) as response, os.fdopen(fd, "wb") as out:
                fd = -1
                for block in iter(lambda: response.read(1 << 16), b""):
                    digest.update(block)
                    out.write(block)
        except urllib.error.HTTPError as error:
            raise HTTPStatusError(
                f"Downloading {filename} from {url} failed with HTTP {error.code} ({error.reason}). "
                f"The address may have moved: check the course README for a new one. {advice}"
            ) from error
        except (socket.timeout, TimeoutError) as error:
            raise DownloadTimeout(
                f"Downloading {filename} from {url} timed out after {timeout:g} s without an answer. {advice}"
            ) from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, (socket.timeout, TimeoutError)):
                raise DownloadTimeout(
                    f"Downloading {filename} from {url} timed out after {timeout:g} s without an answer. {advice}"
                ) from error
            raise OfflineError(
                f"Could not reach {url} to download {filename} ({error.reason}); you seem to be offline. {advice}"
            ) from error
        except (ConnectionError, OSError) as error:
            raise OfflineError(f"Downloading {filename} from {url} failed: {error}. {advice}") from error
        actual = digest.hexdigest()
        if actual != sha256:
            raise ChecksumError(
                f"{filename} downloaded from {url} has sha256 {actual}, expected {sha256}: the file is corrupt or "
                f"was changed. It was not kept; run the cell again, and if this persists report it to the course."
            )
        os.replace(tmp_name, target)
        return target
    finally:
        if fd != -1:
            os.close(fd)
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
