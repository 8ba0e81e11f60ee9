"""Helpers shared by the real-browser tests (pytest puts this folder on sys.path)."""

from __future__ import annotations

import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Screenshots and logs, kept as test artefacts.
ARTEFACTS = ROOT / "build" / "browser"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
