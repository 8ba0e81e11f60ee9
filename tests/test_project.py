"""The repository's promises: README commands, CI entry point, dependency lists in step."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _requirement_names(lines):
    return {re.split(r"[<>=!\[ ]", line.strip(), maxsplit=1)[0].lower() for line in lines if line.strip()}


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = _requirement_names(project["dependencies"] + [dep for extra in extras.values() for dep in extra])
    yml = (ROOT / "environment.yml").read_text().splitlines()
    pip_lines = [line.strip()[2:] for line in yml if line.startswith("      - ") and not line.strip().startswith("- -e")]
    assert _requirement_names(pip_lines) == wanted


def test_opencv_is_pinned_below_5_for_a_local_lab_and_the_runtime_fallback_is_the_same_pin():
    from cvcourse.runtime import OPENCV_FALLBACK

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (opencv,) = [dep for dep in project["optional-dependencies"]["lab"] if dep.startswith("opencv")]
    assert "<5" in opencv
    assert opencv == OPENCV_FALLBACK


def test_run_time_dependencies_replace_nothing_colab_ships():
    # pip would replace Colab's shared cv2 for any OpenCV requirement, upgrade its ipywidgets 7.7.1
    # (its front end supports 7 only) for ipywidgets>=8, and add a JupyterLab it does not use.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = _requirement_names(project["dependencies"])
    assert not any(name.startswith("opencv") for name in names)
    assert "jupyterlab" not in names
    assert "ipywidgets>=7.7" in project["dependencies"]
    assert '-e ".[lab,test,book,browser]"' in (ROOT / "Makefile").read_text()  # a local set-up adds the extras


def test_the_repository_address_lives_in_one_place():
    from cvcourse import REPO_URL
    from cvcourse.build import colab_url

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["urls"]["Homepage"] == REPO_URL
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\(https://colab\.research\.google\.com/github/[^)]+\)", readme)
    assert len(links) == 12
    for link in links:
        path = link[1:-1].split("/blob/main/", 1)[1]
        assert link[1:-1] == colab_url(path)


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("\n## ", 1)] if "\n## " in readme else readme
    assert "make lab" in head and "make test" in head
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    makefile = (ROOT / "Makefile").read_text()
    for target in ("lab", "test", "test-full", "student", "check-student", "solutions"):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), target


@pytest.mark.parametrize("module", sorted(p.stem for p in (ROOT / "cvcourse").glob("[a-z]*.py")))
def test_every_public_function_has_a_docstring(module):
    import importlib
    import inspect

    mod = importlib.import_module(f"cvcourse.{module}")
    for name, obj in vars(mod).items():
        if name.startswith("_") or not inspect.isfunction(obj) or obj.__module__ != mod.__name__:
            continue
        doc = inspect.getdoc(obj) or ""
        assert doc, f"cvcourse.{module}.{name} has no docstring"
