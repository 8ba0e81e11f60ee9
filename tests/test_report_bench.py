"""make report / make bench: their pieces on tiny inputs (the real runs are not timed tests)."""

import json

import nbformat
import numpy as np
import pytest

from cvcourse import bench, report


def test_conv_implementations_agree_with_scipy():
    import scipy.signal

    rng = np.random.default_rng(1)
    image, kernel = rng.random((9, 7)), rng.random((3, 2))
    expected = scipy.signal.correlate2d(image, kernel, mode="valid")
    assert np.allclose(bench.conv2d_loops(image, kernel), expected)
    assert np.allclose(bench.conv2d_vectorised(image, kernel), expected)
    assert np.allclose(bench.conv2d_shift_add(image, kernel), expected)
    signs = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0]])          # the +-1 and the multiply paths
    assert np.allclose(bench.conv2d_shift_add(image, signs), scipy.signal.correlate2d(image, signs, mode="valid"))


def test_nms_matches_tensorflow():
    import tensorflow as tf

    boxes, scores = bench._random_boxes(200, seed=3)
    ours = bench.nms(boxes, scores, 0.4, 50)
    theirs = tf.image.non_max_suppression(boxes[:, [1, 0, 3, 2]], scores, 50, iou_threshold=0.4).numpy()
    assert np.array_equal(ours, theirs)
    for threshold, most, chunk in [(0.4, 50, 128), (0.3, 200, 16), (0.7, 7, 3)]:
        assert np.array_equal(bench.nms_blocked(boxes, scores, threshold, most, chunk), bench.nms(boxes, scores, threshold, most))
    assert np.allclose(bench.iou_matrix_blocked(boxes, boxes[:37], rows=16), bench.iou_matrix(boxes, boxes[:37]), atol=1e-6)


def test_gram_and_flops():
    features = np.random.default_rng(0).random((4, 5, 3))
    assert np.allclose(bench.gram_matmul(features), np.einsum("ijc,ijd->cd", features, features) / 20)
    model = bench.lecture_cnn()
    # conv1 alone: 26*26*32 outputs x 3*3*1 multiply-adds x 2
    assert bench.forward_flops(model) > 2 * 26 * 26 * 32 * 9
    assert model.count_params() == 167114


def test_best_time_is_positive():
    assert 0 < bench.best_time(lambda: None, repeat=2, min_seconds=0.001) < 0.01


def test_report_runs_a_notebook_and_collects_published_figures(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    exercise = nbformat.v4.new_code_cell("def f():\n    return 2")
    exercise.metadata["tags"] = ["exercise"]
    nb.cells = [
        exercise,
        nbformat.v4.new_code_cell(
            "from cvcourse.checks import check, expect, target\n"
            "with check('Exercise 1'):\n    expect(f() == 2, 'two')\n"
            "target('accuracy', 0.95, at_least=0.9)"
        ),
        # what cvcourse.wrong_answers.reject publishes when it re-runs the check on a wrong answer
        nbformat.v4.new_code_cell(
            "from cvcourse import checks\n"
            "checks._publish({'kind': 'check', 'name': 'Exercise 1', 'outcome': 'failed'})\n"
            "checks._publish({'kind': 'wrong-answer', 'name': 'Exercise 1', 'mistake': 'three', 'rejected': True})"
        ),
    ]
    path = tmp_path / "01_demo.ipynb"
    nbformat.write(nb, path)
    rows = report.run_report("smoke", [path], out_dir=tmp_path / "reports")
    (row,) = rows
    assert row["error"] is None and row["exercises"] == 1 and row["checks"] == row["checks_passed"] == 1
    assert row["targets"][0]["name"] == "accuracy" and row["targets"][0]["met"] and row["peak_memory_mb"] > 0
    assert row["cpu_stolen_s"] is None or row["cpu_stolen_s"] >= 0
    saved = json.loads((tmp_path / "reports" / "smoke.json").read_text())
    assert saved["notebooks"][0]["notebook"] == "01_demo.ipynb"
    markdown = (tmp_path / "reports" / "smoke.md").read_text()
    assert "| 01_demo.ipynb |" in markdown and "CPU stolen (s)" in markdown and "vector width" not in markdown


def test_report_rejects_unknown_profile(tmp_path):
    with pytest.raises(ValueError, match="smoke, full"):
        report.run_report("medium", [], out_dir=tmp_path)


def test_update_readme_replaces_only_the_marked_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- REPORT:smoke -->\nold\n<!-- /REPORT:smoke -->\nafter\n")
    table = report.to_markdown([], "smoke")
    assert report.update_readme(table, "smoke", readme)
    text = readme.read_text()
    assert "old" not in text and "| notebook |" in text and text.startswith("intro\n") and text.endswith("after\n")
    assert not report.update_readme(table, "full", readme)
