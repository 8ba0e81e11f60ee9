"""Repository-wide pytest hooks: print how long each notebook (or test file) took."""

from collections import defaultdict

_durations: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    _durations[report.fspath] += report.duration


def pytest_terminal_summary(terminalreporter):
    notebooks = {path: seconds for path, seconds in _durations.items() if path.endswith(".ipynb")}
    if not notebooks:
        return
    terminalreporter.section("time per notebook")
    for path, seconds in sorted(notebooks.items()):
        terminalreporter.write_line(f"{seconds:8.1f} s  {path}")
    terminalreporter.write_line(f"{sum(notebooks.values()):8.1f} s  total")
