"""The course tools' one notebook executor: ``make solutions``, ``make report`` and ``make test-executor``.

:func:`execute_notebook` runs a notebook in a fresh kernel with the course's settings
(profile, strict checks, extra environment, the notebook's folder as working directory)
and always comes back: every cell has a time limit, the whole notebook has one, and a
kernel that dies is reported with its exit status. The result, an :class:`Execution`,
holds the executed notebook (outputs as far as it got), the wall time, the time of every
code cell and, when it failed, the cell and a one-line reason.

Why not plain :class:`nbclient.NotebookClient`: with an ``ipywidgets.interact`` cell it
stalls at random (5 of 7 runs of module 01 here), until the cell time limit, even
though the kernel has replied. nbclient waits for the ``execute_reply`` with one
``shell_channel.get_msg(timeout=<cell limit>)``, an asyncio poll that waits for the
readable edge of the shell socket's ``ZMQ_FD``. Meanwhile its Output-widget stand-in
(``nbclient.output_widget.OutputWidget``) answers the ``clear_output`` and output
messages of the interact cell by sending ``comm_msg`` state updates on that same shell
socket, and jupyter_client's ``Session.send`` sends them through a blocking *shadow* of
the asyncio socket. That blocking send processes the socket's pending commands, among
them the notice that the reply has arrived, and so uses up the edge; pyzmq's asyncio layer
never learns of it, and the poll wakes only at its timeout, whose final ``poll(0)`` finds
the reply that had been waiting all along. (The kernel shows the same thing: those
``comm_msg`` are handled only when the next cell's request arrives.) Reported upstream as
jupyter/nbclient#312 (with pull request #311) and jupyter/nbconvert#2029.

:class:`CourseNotebookClient` therefore waits on the shell and IOPub channels in short
slices (:data:`POLL_SLICE` seconds): each slice ends in a ``poll(0)`` that sees a message
whose edge was lost, so a lost edge costs a quarter of a second, not the cell limit.
nbclient's own bookkeeping (cell limit, interrupt, kernel-death watch) is unchanged.

Example:
    >>> run = execute_notebook("notebooks/01_pixels.ipynb", "smoke", cell_timeout=180)  # doctest: +SKIP
    >>> run.ok, run.error  # doctest: +SKIP
    (True, None)

Command line (``make test-executor`` runs the widget masters this way)::

    python -m cvcourse.execute --profile smoke --cell-timeout 180 notebooks/01_pixels.ipynb
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import math
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from traitlets import Float, Integer

from cvcourse.checks import REPORT_ENV, STRICT_ENV
from cvcourse.profile import PROFILE_ENV, PROFILES

#: Seconds one wait on a kernel channel lasts before it re-checks the socket itself.
POLL_SLICE = 0.25
#: Default time limits (seconds) per profile: (one cell, all the cells of a notebook).
LIMITS = {"smoke": (900.0, 1800.0), "full": (3 * 3600.0, 8 * 3600.0)}
#: Extra seconds the whole call may take beyond the notebook limit (kernel start and shutdown).
GRACE = 180.0

GetMsg = Callable[..., Awaitable[dict[str, Any]]]


def sliced_get_msg(get_msg: GetMsg, slice_seconds: float = POLL_SLICE) -> GetMsg:
    """Wrap an asyncio channel's ``get_msg(timeout=None)`` so that it waits in slices.

    The wrapper keeps the contract of ``get_msg``: it returns the next message, or raises
    :class:`queue.Empty` once ``timeout`` seconds have passed (``None``: wait for ever).
    But it never waits longer than ``slice_seconds`` in one go, so a message whose
    readable edge was used up by another operation on the socket is still seen.

    Example:
        >>> kc.shell_channel.get_msg = sliced_get_msg(kc.shell_channel.get_msg)  # doctest: +SKIP
    """
    if not callable(get_msg):
        raise TypeError(f"get_msg must be a channel's get_msg coroutine function, got {type(get_msg).__name__}")
    if isinstance(slice_seconds, bool) or not isinstance(slice_seconds, (int, float)) or not slice_seconds > 0:
        raise ValueError(f"slice_seconds must be a positive number of seconds, got {slice_seconds!r}")

    async def get_msg_in_slices(timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
        while True:
            wait = slice_seconds if deadline is None else min(slice_seconds, max(0.0, deadline - time.monotonic()))
            try:
                return await get_msg(timeout=wait)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    get_msg_in_slices.__wrapped__ = get_msg  # type: ignore[attr-defined]
    return get_msg_in_slices


class CourseNotebookClient(NotebookClient):
    """A :class:`~nbclient.NotebookClient` that polls its kernel channels in short slices.

    It also times every code cell (``cell_seconds``: index -> seconds) and remembers the
    cell it is running or that failed (``current_cell``), so that failures can name it.

    Example:
        >>> client = CourseNotebookClient(nbformat.v4.new_notebook(), timeout=60)
        >>> client.poll_slice
        0.25
    """

    poll_slice = Float(POLL_SLICE, help="Seconds one wait on the shell or IOPub channel lasts.").tag(config=True)
    max_output_chars = Integer(0, help="Characters of output kept per cell (0: all); the rest is dropped with a notice.").tag(config=True)

    def __init__(self, nb: nbformat.NotebookNode, **kw: Any) -> None:
        super().__init__(nb, **kw)
        self.output_chars: dict[int, int] = {}
        self.cell_seconds: dict[int, float] = {}
        self.current_cell: int | None = None
        self.abort: BaseException | None = None

    async def async_start_new_kernel_client(self) -> Any:
        """Start the channels as nbclient does, then make the shell and IOPub waits sliced."""
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.shell_channel, kc.iopub_channel):
            channel.get_msg = sliced_get_msg(channel.get_msg, self.poll_slice)
        return kc

    def output(self, outs: list[nbformat.NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
        """Keep an output as nbclient does, unless the cell has already written ``max_output_chars``."""
        if self.max_output_chars:
            used = self.output_chars.get(cell_index, 0)
            if used > self.max_output_chars:
                return None
            used += len(str(msg.get("content", "")))
            self.output_chars[cell_index] = used
            if used > self.max_output_chars:
                notice = nbformat.v4.new_output("stream", name="stderr",
                                                text=f"[output beyond {self.max_output_chars:,} characters dropped]\n")
                outs.append(notice)
                return notice
        return super().output(outs, msg, display_id, cell_index)

    async def async_execute_cell(self, cell: nbformat.NotebookNode, cell_index: int, *args: Any, **kw: Any) -> Any:
        """Execute one cell as nbclient does, timing it (or raise ``abort`` if a caller set it)."""
        if self.abort is not None:
            raise self.abort
        self.current_cell = cell_index
        start = time.monotonic()
        try:
            result = await super().async_execute_cell(cell, cell_index, *args, **kw)
        finally:
            if cell.cell_type == "code":
                self.cell_seconds[cell_index] = round(time.monotonic() - start, 3)
        self.current_cell = None  # only a cell that failed stays named
        return result


@dataclass
class Execution:
    """What :func:`execute_notebook` returns.

    ``notebook`` is the executed notebook (outputs as far as it got), ``seconds`` the wall
    time of the whole call, ``cell_seconds`` the time of each code cell run (by index);
    ``error`` is ``None`` on success, else one line naming the cell and the reason, and
    ``failed_cell`` the index of that cell (``None`` if the failure was outside a cell).

    Example:
        >>> Execution(Path("a.ipynb"), nbformat.v4.new_notebook(), 1.5).ok
        True
    """

    path: Path
    notebook: nbformat.NotebookNode
    seconds: float
    cell_seconds: dict[int, float] = field(default_factory=dict)
    error: str | None = None
    failed_cell: int | None = None

    @property
    def ok(self) -> bool:
        """True when every cell ran and no check failed."""
        return self.error is None

    def slowest_cells(self, count: int = 3) -> list[tuple[int, float]]:
        """The ``count`` slowest code cells as (index, seconds), slowest first.

        Example:
            >>> Execution(Path("a.ipynb"), nbformat.v4.new_notebook(), 3, {2: 0.5, 4: 2.0}).slowest_cells(1)
            [(4, 2.0)]
        """
        return sorted(self.cell_seconds.items(), key=lambda item: -item[1])[:count]


def _positive_seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def _kernel_exit(process: Any) -> str:
    """How the kernel process ended, in words ("killed by SIGKILL", "exit code 1"), or ''."""
    code = None if process is None else process.poll()
    if code is None:
        return ""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _run(coroutine_function: Callable[[], Awaitable[Any]]) -> Any:
    """Run a coroutine to completion from sync code, also when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine_function())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:  # e.g. called from Jupyter
        return pool.submit(lambda: asyncio.run(coroutine_function())).result()


def execute_notebook(
    path: str | Path,
    profile: str = "smoke",
    *,
    strict: bool = True,
    env: Mapping[str, str] | None = None,
    cell_timeout: float | None = None,
    notebook_timeout: float | None = None,
    on_kernel_start: Callable[[int], object] | None = None,
    kernel_name: str = "python3",
    poll_slice: float = POLL_SLICE,
    allow_errors: bool = False,
    max_output_chars: int = 0,
) -> Execution:
    """Execute the notebook at ``path`` in a fresh kernel and return an :class:`Execution`.

    The kernel runs in the notebook's folder with this process's environment plus
    ``CVCOURSE_PROFILE=profile``, ``CVCOURSE_STRICT_CHECKS=1`` when ``strict`` (a failing
    check then raises and stops the run) and ``env``. ``cell_timeout`` bounds each cell,
    ``notebook_timeout`` all the cells together (defaults: :data:`LIMITS` of the profile);
    the call itself returns within ``notebook_timeout + GRACE`` seconds whatever happens.
    ``on_kernel_start(pid)`` is called once the kernel is up (for example to sample its
    memory); if it raises, the run stops and that error is raised once the kernel is shut
    down. With ``allow_errors`` a cell that raises does not stop the run (grading goes on past
    an unfinished exercise); ``max_output_chars`` caps the output kept per cell (0: no cap).
    Failures of the notebook (a cell raised, a time limit, the kernel died) come back
    in ``error``; only bad arguments and a failing ``on_kernel_start`` raise. SIGINT
    (Ctrl-C) or SIGTERM shuts the kernel down and raises ``KeyboardInterrupt`` or
    ``SystemExit(128 + signal)``, so that a command running many notebooks stops.

    Example:
        >>> run = execute_notebook("notebooks/03_cnn.ipynb", "smoke", cell_timeout=180)  # doctest: +SKIP
        >>> run.ok, run.slowest_cells(1)  # doctest: +SKIP
        (True, [(40, 21.3)])
    """
    path = Path(path)
    if path.suffix != ".ipynb":
        raise ValueError(f"path must name a .ipynb notebook, got {str(path)!r}")
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}")
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    if not isinstance(strict, bool):
        raise TypeError(f"strict must be True or False, got {strict!r}")
    if env is not None and not (isinstance(env, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
        raise TypeError(f"env must map variable names to string values, got {env!r}")
    if on_kernel_start is not None and not callable(on_kernel_start):
        raise TypeError(f"on_kernel_start must be a function of the kernel's pid, got {type(on_kernel_start).__name__}")
    default_cell, default_notebook = LIMITS[profile]
    cell_limit = _positive_seconds(default_cell if cell_timeout is None else cell_timeout, "cell_timeout")
    notebook_limit = _positive_seconds(default_notebook if notebook_timeout is None else notebook_timeout, "notebook_timeout")
    poll_slice = _positive_seconds(poll_slice, "poll_slice")
    if not isinstance(allow_errors, bool):
        raise TypeError(f"allow_errors must be True or False, got {allow_errors!r}")
    if isinstance(max_output_chars, bool) or not isinstance(max_output_chars, int) or max_output_chars < 0:
        raise ValueError(f"max_output_chars must be a whole number >= 0 (0: no cap), got {max_output_chars!r}")

    nb = nbformat.read(path, as_version=4)
    kernel_env = {**os.environ, PROFILE_ENV: profile, **(env or {})}
    kernel_env.pop(STRICT_ENV, None)
    if strict:
        kernel_env[STRICT_ENV] = "1"
    if REPORT_ENV not in (env or {}):
        kernel_env.pop(REPORT_ENV, None)  # only the caller that asked for records gets them
    kernel: dict[str, Any] = {}
    budget = {"deadline": None, "cell_limit_applies": True}

    def cell_time_limit(cell: nbformat.NotebookNode) -> float:
        if budget["deadline"] is None:
            budget["deadline"] = time.monotonic() + notebook_limit
        left = budget["deadline"] - time.monotonic()
        budget["cell_limit_applies"] = cell_limit <= left
        return max(1.0, min(cell_limit, left))  # nbclient reads 0 as "no limit"

    def stop_everything(signum: int) -> None:
        kernel["signal"] = signum
        kernel["process"].kill()  # nbclient sees a dead kernel within a second and cleans up
        asyncio.get_running_loop().call_later(10, kernel["main"].cancel)  # in case it does not

    async def kernel_started(**_: Any) -> None:
        kernel["process"] = client.km.provisioner.process
        # nbclient's own SIGINT/SIGTERM handlers only shut the kernel down, and the caller
        # then goes on with the next notebook: Ctrl-C must stop the whole command instead.
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                asyncio.get_running_loop().add_signal_handler(signum, stop_everything, signum)
            except (RuntimeError, ValueError, NotImplementedError):  # not the main thread, or no signals here
                pass
        if on_kernel_start is not None:
            try:  # raising here would leave the kernel running: nbclient starts it outside its cleanup
                on_kernel_start(kernel["process"].pid)
            except Exception as failure:
                kernel["hook_error"] = client.abort = failure  # stops the run before its first cell

    client = CourseNotebookClient(
        nb,
        timeout=math.ceil(cell_limit),  # nbclient's own waits outside cells (kernel info)
        timeout_func=cell_time_limit,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent.resolve())}},
        on_notebook_start=kernel_started,
        poll_slice=poll_slice,
        allow_errors=allow_errors,
        max_output_chars=max_output_chars,
    )

    async def run_all() -> None:
        kernel["main"] = asyncio.current_task()
        await asyncio.wait_for(client.async_execute(env=kernel_env), notebook_limit + GRACE)

    error = None
    start = time.perf_counter()
    try:
        try:
            _run(run_all)
        except CellExecutionError as failure:
            error = f"{failure.ename}: {failure.evalue}".strip().splitlines()[0][:300]
        except CellTimeoutError:
            if budget["cell_limit_applies"]:
                error = f"did not finish within the per-cell limit of {cell_limit:.0f} s"
            else:
                error = f"the notebook time limit of {notebook_limit:.0f} s ran out"
        except DeadKernelError:
            how = _kernel_exit(kernel.get("process"))
            error = "the kernel died" + (f" ({how})" if how else "")
        except asyncio.TimeoutError:
            error = f"stopped after {notebook_limit + GRACE:.0f} s (notebook limit plus {GRACE:.0f} s for kernel start and shutdown)"
        except asyncio.CancelledError:
            if "signal" not in kernel:
                raise
        except Exception as failure:  # the kernel did not start, a channel broke, ...: report it, do not crash the caller
            error = f"{type(failure).__name__}: {failure}".splitlines()[0][:300]
    finally:
        process = kernel.get("process")
        if process is not None and process.poll() is None:  # nbclient could not shut it down
            process.kill()
            process.wait(timeout=30)
    if kernel.get("signal") == signal.SIGINT:
        raise KeyboardInterrupt(f"interrupted while running {path.name}; its kernel is shut down")
    if "signal" in kernel:
        raise SystemExit(128 + kernel["signal"])
    if "hook_error" in kernel:
        raise RuntimeError(f"on_kernel_start failed: {kernel['hook_error']!r}") from kernel["hook_error"]
    seconds = time.perf_counter() - start
    failed = client.current_cell if error is not None else None
    if failed is not None:
        error = f"cell {failed}: {error}"
    return Execution(path, nb, round(seconds, 1), dict(client.cell_seconds), error, failed)


def main(argv: list[str] | None = None) -> int:
    """``python -m cvcourse.execute [--profile P] [--cell-timeout S] [--notebook-timeout S] [--no-strict] [--records F] NOTEBOOK...``.

    Runs each notebook, prints its time (and slowest cells) or its failure; non-zero if any failed.

    Example:
        >>> main(["--profile", "smoke", "--cell-timeout", "180", "notebooks/01_pixels.ipynb"])  # doctest: +SKIP
        01_pixels.ipynb: ok in 58 s (slowest cells: 44 9.1 s, 90 8.7 s, 2 6.2 s)
        0
    """
    parser = argparse.ArgumentParser(prog="python -m cvcourse.execute", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default=os.environ.get(PROFILE_ENV, "smoke"), choices=PROFILES)
    parser.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell (default: by profile)")
    parser.add_argument("--notebook-timeout", type=float, default=None, help="seconds for all cells (default: by profile)")
    parser.add_argument("--no-strict", action="store_true", help="do not set CVCOURSE_STRICT_CHECKS=1")
    parser.add_argument("--records", type=Path, default=None,
                        help=f"append the notebooks' published records (checks, targets, wrong answers) to this file (${REPORT_ENV})")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    failed = 0
    total = time.perf_counter()
    for path in args.notebooks:
        run = execute_notebook(
            path, args.profile, strict=not args.no_strict, cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
            env={REPORT_ENV: str(args.records.resolve())} if args.records else None,
        )
        if run.ok:
            slowest = ", ".join(f"{index} {seconds:.1f} s" for index, seconds in run.slowest_cells())
            print(f"{path.name}: ok in {run.seconds:.0f} s (slowest cells: {slowest})", flush=True)
        else:
            failed += 1
            print(f"{path.name}: FAILED after {run.seconds:.0f} s: {run.error}", flush=True)
    print(f"{len(args.notebooks) - failed}/{len(args.notebooks)} notebooks ran in {time.perf_counter() - total:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
