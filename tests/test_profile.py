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


def test_scale_follows_the_profile_unless_set(monkeypatch):
    assert profile.current_scale() == "small"
    monkeypatch.setenv("CVCOURSE_PROFILE", "full")
    assert profile.current_scale() == "full"
    monkeypatch.setenv("CVCOURSE_SCALE", "small")
    assert profile.current_scale() == "small" and profile.current_profile() == "full"


def test_small_scale_of_the_full_profile_picks_sizes_small_but_sources_full(monkeypatch):
    monkeypatch.setenv("CVCOURSE_PROFILE", "full")
    monkeypatch.setenv("CVCOURSE_SCALE", "small")
    assert pick(smoke=2, full=15) == 2
    assert profile.pick_source(smoke="mobilenet_v2", full="vgg19") == "vgg19"
    monkeypatch.setenv("CVCOURSE_SCALE", "full")
    assert pick(smoke=2, full=15) == 15
    monkeypatch.setenv("CVCOURSE_PROFILE", "smoke")
    monkeypatch.delenv("CVCOURSE_SCALE")
    assert profile.pick_source(smoke="mobilenet_v2", full="vgg19") == "mobilenet_v2"


def test_bad_scales_are_refused(monkeypatch):
    monkeypatch.setenv("CVCOURSE_SCALE", "medium")
    with pytest.raises(ValueError, match="small, full"):
        pick(smoke=1, full=2)
    monkeypatch.setenv("CVCOURSE_SCALE", "full")  # full sizes on the 5,000 bundled digits make no sense
    with pytest.raises(ValueError, match="CVCOURSE_PROFILE=full"):
        pick(smoke=1, full=2)


def test_fall_back_makes_both_source_and_size_small_and_is_published(monkeypatch, tmp_path, capsys):
    import json

    report = tmp_path / "records.jsonl"
    monkeypatch.setenv("CVCOURSE_REPORT", str(report))
    monkeypatch.setenv("CVCOURSE_PROFILE", "full")
    monkeypatch.setenv("CVCOURSE_SCALE", "full")
    profile.fall_back("offline")
    assert pick(smoke=1, full=2) == 1 and profile.pick_source(smoke="a", full="b") == "a"
    assert [json.loads(line) for line in report.read_text().splitlines()] == [{"kind": "fallback", "reason": "offline"}]


def test_publish_validates_and_is_silent_without_a_report(monkeypatch, tmp_path):
    profile.publish({"kind": "note"})  # no $CVCOURSE_REPORT: nothing happens
    with pytest.raises(TypeError, match="kind"):
        profile.publish({"no": "kind"})
