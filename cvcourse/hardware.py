"""What the machine can do: the CPU's theoretical fp32 peak, with the vector width it was read from.

A training epoch's speed means little until it is compared with what the processor could
do at best. Module 03 and ``make bench`` both compare with :func:`cpu_peak_flops`.

On a virtual machine a time means little, too, unless the machine had its CPUs:
:func:`cpu_steal_seconds` reads how long the hypervisor gave them to other guests, so that
``make report`` can say how much of a notebook's time was stolen.

Example:
    >>> flops, how = cpu_peak_flops()
    >>> flops > 0 and "vector width detected" in how
    True
"""

from __future__ import annotations

import os

#: fp32 lanes of one vector register, by the CPU flag that announces the instruction set.
VECTOR_LANES = {"avx512f": ("AVX-512", 16), "avx2": ("AVX2", 8)}


def _cpu_flags_and_ghz() -> tuple[str, float | None]:
    flags, ghz = "", None
    try:
        import psutil

        freq = psutil.cpu_freq()
        if freq and (freq.max or freq.current):
            ghz = (freq.max or freq.current) / 1000
    except (ImportError, OSError, RuntimeError, NotImplementedError):
        pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags") and not flags:
                    flags = line
                elif ghz is None and line.startswith("cpu MHz"):
                    ghz = float(line.split(":")[1]) / 1000
                if flags and ghz is not None:
                    break
    except (OSError, ValueError):
        pass
    return flags, ghz


def _vector_width(flags: str) -> tuple[str, int]:
    return next((VECTOR_LANES[flag] for flag in VECTOR_LANES if f" {flag}" in flags), ("SSE", 4))


def vector_width() -> str:
    """The widest fp32 vector instruction set of this CPU: ``AVX-512``, ``AVX2`` or ``SSE``.

    Example:
        >>> vector_width() in ("AVX-512", "AVX2", "SSE")
        True
    """
    return _vector_width(_cpu_flags_and_ghz()[0])[0]


def cpu_peak_flops() -> tuple[float, str]:
    """The theoretical fp32 peak in FLOP/s: cores x clock x FLOPs per cycle, and how it was computed.

    FLOPs per cycle assume two fused multiply-add units, each doing one multiply and one
    add on every fp32 lane of a vector (16 lanes with AVX-512, 8 with AVX2, else 4). Where
    the clock cannot be read, 2 GHz is assumed and the text says so.

    Example:
        >>> cpu_peak_flops()[1]  # doctest: +SKIP
        '2 cores x 2.10 GHz x 64 FLOP/cycle (vector width detected: AVX-512, 16 fp32 lanes, 2 FMA units)'
    """
    flags, ghz = _cpu_flags_and_ghz()
    width, lanes = _vector_width(flags)
    cores = os.cpu_count() or 1
    clock = f"{ghz:.2f} GHz" if ghz else "2.00 GHz (assumed: the clock could not be read)"
    per_cycle = 2 * lanes * 2
    return (cores * (ghz or 2.0) * 1e9 * per_cycle,
            f"{cores} cores x {clock} x {per_cycle} FLOP/cycle (vector width detected: {width}, {lanes} fp32 lanes, 2 FMA units)")


def cpu_steal_seconds(stat_path: str = "/proc/stat") -> float | None:
    """CPU time stolen from this machine by its hypervisor since boot, summed over cores; None if unknown.

    It is the ``steal`` column of the ``cpu`` line of ``/proc/stat`` (Linux), in seconds. The
    difference of two readings is the CPU time the machine wanted but another guest got: on a
    2-core machine, 10 s of steal during a minute's run means the run had one core a sixth of
    the time. Elsewhere (not Linux, or a kernel without the column) the answer is None.

    Example:
        >>> before = cpu_steal_seconds()
        >>> before is None or before >= 0
        True
    """
    try:
        with open(stat_path, encoding="utf-8") as handle:
            fields = handle.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    try:
        ticks = int(fields[8])
    except ValueError:
        return None
    return ticks / os.sysconf("SC_CLK_TCK")
