"""The course executor (cvcourse.execute): settings, failures, time limits, kernel death, the widget stall."""

import asyncio
import os
import signal
import threading
import time

import nbformat
import psutil
import pytest
import zmq
import zmq.asyncio
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.session import Session

from cvcourse import build
from cvcourse.execute import CourseNotebookClient, execute_notebook, main, sliced_get_msg


def _notebook(tmp_path, *sources, name="01_demo.ipynb"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 demo")] + [nbformat.v4.new_code_cell(s) for s in sources]
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def _text(cell):
    return "".join(output.get("text", "") for output in cell.outputs)


def test_runs_in_the_notebooks_folder_with_profile_strict_checks_and_extra_env(tmp_path):
    path = _notebook(
        tmp_path,
        "import os\nprint(os.environ['CVCOURSE_PROFILE'], os.environ.get('CVCOURSE_STRICT_CHECKS'), os.environ['EXTRA'])",
        "print(os.getcwd())",
    )
    run = execute_notebook(path, "smoke", env={"EXTRA": "yes"}, cell_timeout=60)
    assert run.ok and run.error is None and run.failed_cell is None
    assert _text(run.notebook.cells[1]).split() == ["smoke", "1", "yes"]
    assert _text(run.notebook.cells[2]).strip() == str(tmp_path.resolve())
    assert sorted(run.cell_seconds) == [1, 2] and run.seconds > 0
    assert run.slowest_cells(1)[0][0] in (1, 2)


def test_a_failing_check_stops_a_strict_run_and_names_the_cell(tmp_path):
    path = _notebook(
        tmp_path,
        "from cvcourse.checks import check, expect",
        "with check('Exercise 1 - two'):\n    expect(1 + 1 == 3, 'one plus one should be three')",
        "print('after the check')",
    )
    run = execute_notebook(path, "smoke", cell_timeout=60)
    assert not run.ok and run.failed_cell == 2
    assert run.error.startswith("cell 2: CheckFailed") and "three" in run.error
    assert run.notebook.cells[3].outputs == []  # the run stopped there
    relaxed = execute_notebook(path, "smoke", strict=False, cell_timeout=60)
    assert relaxed.ok and "after the check" in _text(relaxed.notebook.cells[3])


def test_a_cell_past_its_time_limit_is_stopped_within_seconds(tmp_path):
    path = _notebook(tmp_path, "print('start')", "import time\ntime.sleep(120)", "print('never')")
    start = time.monotonic()
    run = execute_notebook(path, "smoke", cell_timeout=2)
    assert time.monotonic() - start < 30
    assert run.failed_cell == 2 and run.error == "cell 2: did not finish within the per-cell limit of 2 s"
    assert run.notebook.cells[3].outputs == []


def test_the_notebook_time_limit_bounds_all_cells_together(tmp_path):
    path = _notebook(tmp_path, *["import time\ntime.sleep(1.5)"] * 4)
    start = time.monotonic()
    run = execute_notebook(path, "smoke", cell_timeout=60, notebook_timeout=2.5)
    assert time.monotonic() - start < 30
    assert run.failed_cell == 2 and "the notebook time limit of 2 s ran out" in run.error


def test_a_dead_kernel_is_reported_with_its_signal(tmp_path):
    path = _notebook(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "print('never')")
    run = execute_notebook(path, "smoke", cell_timeout=60)
    assert run.failed_cell == 1 and run.error == "cell 1: the kernel died (killed by SIGKILL)"


def test_the_kernel_start_hook_gets_the_kernel_pid_and_a_failing_hook_stops_the_run(tmp_path):
    path = _notebook(tmp_path, "import os\nprint(os.getpid())")
    pids = []
    run = execute_notebook(path, "smoke", cell_timeout=60, on_kernel_start=pids.append)
    assert run.ok and pids == [int(_text(run.notebook.cells[1]))]

    def broken(pid):
        pids.append(pid)
        raise OSError("no sampler")

    with pytest.raises(RuntimeError, match="on_kernel_start failed: OSError"):
        execute_notebook(path, "smoke", cell_timeout=60, on_kernel_start=broken)
    assert not psutil.pid_exists(pids[-1]) or psutil.Process(pids[-1]).status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"profile": "medium"}, ValueError, "profile must be one of smoke, full"),
        ({"cell_timeout": 0}, ValueError, "cell_timeout must be a positive number of seconds, got 0"),
        ({"notebook_timeout": -1}, ValueError, "notebook_timeout must be a positive number"),
        ({"env": {"A": 1}}, TypeError, "env must map variable names to string values"),
        ({"strict": "yes"}, TypeError, "strict must be True or False"),
        ({"on_kernel_start": 3}, TypeError, "on_kernel_start must be a function"),
        ({"allow_errors": 1}, TypeError, "allow_errors must be True or False"),
        ({"max_output_chars": -5}, ValueError, "max_output_chars must be a whole number >= 0"),
    ],
)
def test_bad_arguments_are_refused_before_a_kernel_starts(tmp_path, kwargs, error, message):
    path = _notebook(tmp_path, "1")
    with pytest.raises(error, match=message):
        execute_notebook(path, **kwargs)


def test_bad_paths_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no notebook at"):
        execute_notebook(tmp_path / "missing.ipynb")
    with pytest.raises(ValueError, match="must name a .ipynb notebook"):
        execute_notebook(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="slice_seconds must be a positive number"):
        sliced_get_msg(lambda timeout=None: None, 0)


def test_widget_interact_with_a_figure_runs_and_keeps_the_widget_state(tmp_path):
    path = _notebook(
        tmp_path,
        "import ipywidgets as widgets\nimport matplotlib.pyplot as plt",
        "def draw(n):\n    plt.plot(range(n))\n    plt.show()\n\n"
        "widgets.interact(draw, n=widgets.IntSlider(value=3, min=1, max=9));",
        "print('next cell')",
    )
    run = execute_notebook(path, "smoke", cell_timeout=60)
    assert run.ok and "next cell" in _text(run.notebook.cells[3])
    state = run.notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    outputs = [model for model in state.values() if model["model_name"] == "OutputModel"]
    assert outputs and any(o["state"]["outputs"] for o in outputs)  # the figure went into the Output widget


async def _reply_after_a_blocking_send(wait_for_reply):
    """The stall of nbclient in module 01, without a kernel.

    A DEALER (the client's shell socket) waits for a reply; the reply arrives while the
    event loop is busy; then a message goes out through jupyter_client's Session.send,
    which uses a blocking shadow of the asyncio socket (what nbclient's Output-widget
    stand-in does with its comm_msg). Returns the seconds ``wait_for_reply`` took.
    """
    context = zmq.asyncio.Context()
    router, dealer = context.socket(zmq.ROUTER), context.socket(zmq.DEALER)
    try:
        dealer.connect(f"tcp://127.0.0.1:{router.bind_to_random_port('tcp://127.0.0.1')}")
        session = Session(key=b"")
        channel = AsyncZMQSocketChannel(dealer, session)
        session.send(dealer, "execute_request", {})
        ident, *_ = await router.recv_multipart()
        waiting = asyncio.ensure_future(wait_for_reply(channel))
        await asyncio.sleep(0.1)  # the wait is armed on the socket's FD
        session.send(router, "execute_reply", {"status": "ok"}, ident=ident)
        time.sleep(0.1)  # the reply is in; the loop does not run
        session.send(dealer, "comm_msg", {})  # blocking shadow send: uses up the readable edge
        start = time.monotonic()
        message = await waiting
        assert message["msg_type"] == "execute_reply"
        return time.monotonic() - start
    finally:
        dealer.close(linger=0)
        router.close(linger=0)
        context.term()


def test_the_cause_plain_get_msg_misses_a_reply_after_a_blocking_send_and_sliced_does_not():
    plain = asyncio.run(_reply_after_a_blocking_send(lambda channel: channel.get_msg(timeout=3)))
    # If this fails, pyzmq/jupyter_client no longer lose the edge; the slicing then costs nothing.
    assert plain > 2, f"the plain wait returned after {plain:.2f} s: the upstream stall is gone"
    sliced = asyncio.run(_reply_after_a_blocking_send(lambda channel: sliced_get_msg(channel.get_msg, 0.25)(timeout=3)))
    assert sliced < 1


def test_sliced_get_msg_keeps_the_timeout_contract():
    from queue import Empty

    calls = []

    async def never(timeout=None):
        calls.append(timeout)
        await asyncio.sleep(timeout)
        raise Empty

    start = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(sliced_get_msg(never, 0.1)(timeout=0.35))
    assert 0.3 < time.monotonic() - start < 1 and max(calls) <= 0.1 and len(calls) >= 4


def test_client_polls_its_channels_in_slices():
    assert CourseNotebookClient(nbformat.v4.new_notebook(), poll_slice=0.1).poll_slice == 0.1


def test_build_solutions_writes_notebooks_and_figures_and_reports_failures(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder, "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()", name="01_plot.ipynb")
    _notebook(folder, "raise ValueError('broken master')", name="02_broken.ipynb")
    runs = build.build_solutions(tmp_path / "out", folder, profile="smoke", cell_timeout=60)
    assert [run.ok for run in runs] == [True, False] and "ValueError: broken master" in runs[1].error
    assert (tmp_path / "out" / "01_plot.ipynb").exists() and (tmp_path / "out" / "02_broken.ipynb").exists()
    assert [p.name for p in (tmp_path / "out" / "figures").iterdir()] == ["01_plot_cell001_0.png"]
    with pytest.raises(FileNotFoundError, match="no master notebooks"):
        build.build_solutions(tmp_path / "out", tmp_path / "out" / "figures", profile="smoke")


def test_the_command_line_fails_when_a_notebook_fails(tmp_path, capsys):
    good, bad = _notebook(tmp_path, "1 + 1", name="01_good.ipynb"), _notebook(tmp_path, "1 / 0", name="02_bad.ipynb")
    assert main(["--cell-timeout", "60", str(good)]) == 0
    assert main(["--cell-timeout", "60", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "01_good.ipynb: ok in" in out and "02_bad.ipynb: FAILED" in out and "ZeroDivisionError" in out


@pytest.mark.parametrize("signum, raised", [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, SystemExit)])
def test_ctrl_c_or_sigterm_stops_the_caller_and_the_kernel(tmp_path, signum, raised):
    # nbclient alone would only shut the kernel down, and `make solutions` would go on with the next master.
    path = _notebook(tmp_path, "import os\nprint(os.getpid())", "import time\ntime.sleep(60)")
    pids = []
    timer = threading.Timer(4, os.kill, (os.getpid(), signum))
    timer.start()
    start = time.monotonic()
    try:
        with pytest.raises(raised):
            execute_notebook(path, "smoke", cell_timeout=120, on_kernel_start=pids.append)
    finally:
        timer.cancel()
    assert time.monotonic() - start < 30
    assert not psutil.pid_exists(pids[0]) or psutil.Process(pids[0]).status() == psutil.STATUS_ZOMBIE
