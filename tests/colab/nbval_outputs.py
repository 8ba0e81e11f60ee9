"""A pytest plugin for the Colab job: record what every notebook cell printed under nbval.

nbval keeps a cell's outputs in ``item.test_outputs`` but compares them only for cells
that ask for it; the Colab job wants them all, to check that the import cell prints only
its profile line and that nothing alarming reaches the notebook. Loaded with
``-p nbval_outputs`` (found through ``PYTHONPATH``, which is removed again at once so that
the notebook's kernel does not inherit it); it appends one JSON object a cell to the file
named by ``$CVCOURSE_COLAB_OUTPUTS``.

Example:
    >>> summarise_output({"output_type": "stream", "name": "stdout", "text": "profile: smoke\\n"})
    {'type': 'stream', 'name': 'stdout', 'text': 'profile: smoke\\n'}
"""

from __future__ import annotations

import json
import os

_PATH = os.environ.pop("CVCOURSE_COLAB_OUTPUTS", None)
if _PATH is not None:  # loaded by the Colab job, through PYTHONPATH: keep it out of the kernel
    os.environ.pop("PYTHONPATH", None)


def summarise_output(output) -> dict:
    """A JSON-ready summary of one nbval output: streams whole, errors by name, displays by MIME type."""
    kind = output.get("output_type")
    if kind == "stream":
        return {"type": "stream", "name": output.get("name"), "text": output.get("text", "")}
    if kind == "error":
        return {"type": "error", "ename": output.get("ename"), "evalue": str(output.get("evalue"))[:500]}
    return {"type": kind, "mime": sorted(output.get("data", {}))}


def pytest_runtest_makereport(item, call):
    """After each cell ran, append its id, tags, duration and outputs to ``$CVCOURSE_COLAB_OUTPUTS``."""
    cell = getattr(item, "cell", None)
    if _PATH is None or call.when != "call" or cell is None:
        return None
    record = {"id": cell.get("id"), "tags": list(cell.get("metadata", {}).get("tags", [])),
              "seconds": round(call.stop - call.start, 2),
              "outputs": [summarise_output(o) for o in (getattr(item, "test_outputs", None) or [])]}
    with open(_PATH, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
    return None
