"""Fixtures of the real-browser tests: Playwright driving the system's headless Chromium.

Run by ``make test-browser`` (part of ``make test``). Nothing here skips: a missing Chromium or
Playwright fails the run, with what to install.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser_helpers import ARTEFACTS

@pytest.fixture(scope="session")
def artefacts() -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from the system (``$CVCOURSE_CHROMIUM``, default /usr/bin/chromium), never a downloaded one."""
    executable = os.environ.get("CVCOURSE_CHROMIUM", "/usr/bin/chromium")
    if not os.access(executable, os.X_OK):
        pytest.fail(f"no Chromium at {executable}: `make chromium` installs Debian's package (or set CHROMIUM=...)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: `make setup` installs the `browser` extra")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium's sandbox refuses to run as root
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        yield chromium
        chromium.close()
