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


def test_an_unreadable_clock_is_assumed_and_said(monkeypatch):
    monkeypatch.setattr(hardware, "_cpu_flags_and_ghz", lambda: ("", None))
    flops, how = hardware.cpu_peak_flops()
    assert flops > 0 and "assumed" in how


def test_this_machine():
    flops, how = hardware.cpu_peak_flops()
    assert flops > 1e9 and "cores x" in how
