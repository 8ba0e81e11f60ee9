import numpy as np
import pytest

from cvcourse import pick, profile, seed_everything


def test_pick_follows_the_profile(monkeypatch):
    assert pick(smoke=2, full=15) == 2
    monkeypatch.setenv("CVCOURSE_PROFILE", "full")
    assert pick(smoke=2, full=15) == 15


def test_default_profile_is_full(monkeypatch):
    monkeypatch.delenv("CVCOURSE_PROFILE")
    assert profile.current_profile() == "full"


def test_unknown_profile_is_refused(monkeypatch):
    monkeypatch.setenv("CVCOURSE_PROFILE", "medium")
    with pytest.raises(ValueError, match="smoke, full"):
        pick(smoke=1, full=2)


def test_pick_needs_keywords():
    with pytest.raises(TypeError):
        pick(1, 2)


def test_fall_back_prints_notice_and_switches_to_smoke(monkeypatch, capsys):
    monkeypatch.setenv("CVCOURSE_PROFILE", "full")
    profile.fall_back("no network")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "no network" in out and "falling back" in out
    assert pick(smoke="small", full="big") == "small"
    assert profile.requested_profile() == "full"


def test_fall_back_needs_a_reason():
    with pytest.raises(ValueError, match="reason"):
        profile.fall_back("  ")


def test_seed_everything_makes_numpy_repeat():
    seed_everything(3)
    first = np.random.rand(3)
    seed_everything(3)
    assert np.array_equal(first, np.random.rand(3))


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(bad)
