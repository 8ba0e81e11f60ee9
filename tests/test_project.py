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
    wanted = _requirement_names(project["dependencies"] + project["optional-dependencies"]["test"])
    yml = (ROOT / "environment.yml").read_text().splitlines()
    pip_lines = [line.strip()[2:] for line in yml if line.startswith("      - ") and not line.strip().startswith("- -e")]
    assert _requirement_names(pip_lines) == wanted


def test_opencv_is_pinned_below_5():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (opencv,) = [dep for dep in project["dependencies"] if dep.startswith("opencv")]
    assert "<5" in opencv


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
