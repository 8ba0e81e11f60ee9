"""The Colab job's own logic (tests/colab/): the pinned list, freeze diffs, the install cell it runs."""

import importlib.util
import sys
from pathlib import Path

import pytest

from cvcourse import runtime

ROOT = Path(__file__).resolve().parent.parent
SHARED_COLAB = ROOT.parent / "shared" / "colab"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"colab_{name}", ROOT / "tests" / "colab" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


job = _load("colab_job")
refresh = _load("refresh_requirements")
outputs = _load("nbval_outputs")


def test_read_pins_reads_pins_and_direct_references_and_skips_comments():
    text = "# header\n\nNumPy==2.1.3\njupyter_client==7.4.9\ncvcourse @ file:///tmp/x\n"
    assert job.read_pins(text) == {"numpy": "2.1.3", "jupyter-client": "7.4.9", "cvcourse": "@ file:///tmp/x"}


def test_read_pins_rejects_an_unpinned_line():
    with pytest.raises(ValueError, match="name==version"):
        job.read_pins("numpy>=2\n")


def test_freeze_diff_lists_additions_removals_and_replacements():
    before = {"ipywidgets": "7.7.1", "numpy": "2.1.3", "gone": "1.0"}
    after = {"ipywidgets": "8.1.9", "numpy": "2.1.3", "lz4": "4.4.5", "cvcourse": "@ file:///c"}
    assert job.freeze_diff(before, after) == ["+ cvcourse @ file:///c", "+ lz4==4.4.5", "- gone==1.0",
                                              "~ ipywidgets 7.7.1 -> 8.1.9"]
    assert job.freeze_diff(before, before) == []


def test_the_job_runs_the_student_install_cell_with_only_the_address_changed():
    cell = job.install_cell(ROOT / "notebooks" / "student")
    assert cell == runtime.install_cell_source(runtime.COURSE_SPEC)
    local = job.localise(cell, runtime.COURSE_SPEC, "cvcourse @ file:///tmp/checkout")
    assert local == runtime.install_cell_source("cvcourse @ file:///tmp/checkout")


def test_localise_insists_on_exactly_one_address():
    with pytest.raises(SystemExit, match="once, found 0"):
        job.localise("print('no address')", runtime.COURSE_SPEC, "cvcourse @ file:///x")


def test_install_cell_refuses_notebooks_whose_cells_differ(tmp_path):
    import nbformat

    for name, code in (("01_a.ipynb", "x = 1"), ("02_b.ipynb", "x = 2")):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(code, id="colab-install")]
        nbformat.write(nb, tmp_path / name)
    with pytest.raises(SystemExit, match="differ"):
        job.install_cell(tmp_path)


def test_job_env_drops_what_colab_does_not_set(monkeypatch, tmp_path):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    env = job.job_env(tmp_path, CVCOURSE_PROFILE="smoke")
    assert "TF_CPP_MIN_LOG_LEVEL" not in env and "PYTHONHASHSEED" not in env
    assert env["HOME"] == str(tmp_path) and env["CVCOURSE_PROFILE"] == "smoke" and env["PIP_CACHE_DIR"]


def _cell(cid, *outs):
    return {"id": cid, "outputs": list(outs)}


def test_import_cell_must_print_only_the_profile_line():
    good = [_cell("imp", {"type": "stream", "name": "stdout", "text": "profile: smoke | TensorFlow 2.20.0\n"})]
    assert job.import_cell_problems(good, "imp") == []
    noisy = [_cell("imp", {"type": "stream", "name": "stderr", "text": "I0000 cudart_stub.cc:31] Could not find cuda"},
                   {"type": "stream", "name": "stdout", "text": "profile: smoke\n"})]
    assert "stderr" in job.import_cell_problems(noisy, "imp")[0]
    assert "did not run" in job.import_cell_problems([], "imp")[0]
    two = [_cell("imp", {"type": "stream", "name": "stdout", "text": "hello\nprofile: smoke\n"})]
    assert "expected one 'profile: ...' line" in job.import_cell_problems(two, "imp")[0]


def test_nbval_outputs_summarises_each_kind_of_output():
    assert outputs.summarise_output({"output_type": "error", "ename": "NotImplementedError", "evalue": ""}) == {
        "type": "error", "ename": "NotImplementedError", "evalue": ""}
    assert outputs.summarise_output({"output_type": "display_data", "data": {"text/plain": "", "image/png": ""}}) == {
        "type": "display_data", "mime": ["image/png", "text/plain"]}


def test_refresh_parses_colabs_files():
    assert refresh.parse_freeze(["absl-py==1.4.0", "torch @ https://x/torch.whl", "# c", ""]) == {"absl-py": "1.4.0"}
    assert refresh.python_version("Ubuntu 22.04.5 LTS\nPython 3.13.15\nR version 4.6.1\n") == "3.13.15"
    with pytest.raises(ValueError, match="Python X.Y.Z"):
        refresh.python_version("Ubuntu\n")


def test_refresh_renders_a_list_the_job_can_read():
    text = refresh.render({"numpy": "2.1.3", "keras": "3.13.2"}, Path("pip-freeze.txt"), "3.13.15", ["jedi"])
    assert "# colab-python: 3.13.15" in text and "left out as there: jedi" in text
    assert job.read_pins(text) == {"keras": "3.13.2", "numpy": "2.1.3"}


def test_the_pinned_list_names_colabs_python_and_the_opencv_wheels():
    pins = job.read_pins(job.REQUIREMENTS.read_text())
    assert "# colab-python: 3.13." in job.REQUIREMENTS.read_text()
    for name in (*job.OPENCV_ORDER, "tensorflow", "keras", "numpy", "ipywidgets", "ipykernel", "pytest", "pip"):
        assert name in pins, name
    assert pins["ipywidgets"].startswith("7.")


@pytest.mark.skipif(not (SHARED_COLAB / "pip-freeze.txt").exists(), reason="../shared/colab is not beside this checkout")
def test_the_pinned_list_is_colabs_published_versions():
    colab = refresh.parse_freeze((SHARED_COLAB / "pip-freeze.txt").read_text().splitlines())
    pins = job.read_pins(job.REQUIREMENTS.read_text())
    assert {name: version for name, version in pins.items() if colab.get(name) != version} == {}
    colab_python = refresh.python_version((SHARED_COLAB / "os-info.txt").read_text())
    assert f"# colab-python: {colab_python}" in job.REQUIREMENTS.read_text()
