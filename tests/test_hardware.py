"""The CPU's peak as module 03 and make bench compute it."""

from __future__ import annotations

import pytest

from cvcourse import hardware


@pytest.mark.parametrize("flags, width, per_cycle", [("flags : fpu sse avx2 avx512f", "AVX-512", 64),
                                                     ("flags : fpu sse avx2", "AVX2", 32), ("flags : fpu sse", "SSE", 16)])
def test_the_peak_follows_the_vector_width(monkeypatch, flags, width, per_cycle):
    monkeypatch.setattr(hardware, "_cpu_flags_and_ghz", lambda: (flags, 2.5))
    monkeypatch.setattr(hardware.os, "cpu_count", lambda: 4)
    flops, how = hardware.cpu_peak_flops()
    assert flops == pytest.approx(4 * 2.5e9 * per_cycle)
    assert f"vector width detected: {width}" in how and "2.50 GHz" in how
    assert hardware.vector_width() == width


def test_an_unreadable_clock_is_assumed_and_said(monkeypatch):
    monkeypatch.setattr(hardware, "_cpu_flags_and_ghz", lambda: ("", None))
    flops, how = hardware.cpu_peak_flops()
    assert flops > 0 and "assumed" in how


def test_this_machine():
    flops, how = hardware.cpu_peak_flops()
    assert flops > 1e9 and "cores x" in how


def test_steal_is_the_ninth_field_of_the_cpu_line(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  265058 116 22189 253168 2143 0 360 14121 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
    assert hardware.cpu_steal_seconds(str(stat)) == pytest.approx(14121 / hardware.os.sysconf("SC_CLK_TCK"))


@pytest.mark.parametrize("text", ["", "cpu  1 2 3 4 5 6 7\n", "intr 1 2 3 4 5 6 7 8 9\n", "cpu  1 2 3 4 5 6 7 x 0\n"])
def test_steal_unknown_is_none(tmp_path, text):
    stat = tmp_path / "stat"
    stat.write_text(text)
    assert hardware.cpu_steal_seconds(str(stat)) is None
    assert hardware.cpu_steal_seconds(str(tmp_path / "missing")) is None


def test_steal_on_this_machine_only_grows():
    first = hardware.cpu_steal_seconds()
    if first is not None:
        assert 0 <= first <= hardware.cpu_steal_seconds()
