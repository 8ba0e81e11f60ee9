"""Fixtures shared by the unit tests."""

import os

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _isolated_profile(monkeypatch, tmp_path):
    """Every test starts in the smoke profile, non-strict, with an empty private cache."""
    from cvcourse import profile

    monkeypatch.setenv("CVCOURSE_PROFILE", "smoke")
    monkeypatch.delenv("CVCOURSE_STRICT_CHECKS", raising=False)
    monkeypatch.delenv("CVCOURSE_REPORT", raising=False)
    monkeypatch.setenv("CVCOURSE_CACHE", str(tmp_path / "cache"))
    for name in ("CVCOURSE_SCALE", "CVCOURSE_MIRROR", "CVCOURSE_TEST_FIXTURES"):
        monkeypatch.delenv(name, raising=False)
    profile.reset_fallback()
    yield
    profile.reset_fallback()
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture
def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# The real-browser tests (tests/browser/) start JupyterLab and build a book: `make test-browser` runs them
# (it sets CVCOURSE_BROWSER_TESTS=1); the unit run, `pytest tests`, leaves them out.
collect_ignore = [] if os.environ.get("CVCOURSE_BROWSER_TESTS") == "1" else ["browser"]
