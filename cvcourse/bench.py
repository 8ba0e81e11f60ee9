"""``make bench``: the course's from-scratch algorithms timed against the libraries they are checked against.

Benchmarks, not timed tests: every figure is printed and saved (``reports/bench.md``,
``reports/bench.json``) and nothing is asserted about speed. All inputs are fixed
(seeded), and the ratios compare implementations measured in the same run.

- 2-D convolution (cross-correlation, "valid"): naive Python loops, vectorised NumPy,
  ``scipy.signal.correlate2d`` and ``cv2.filter2D``;
- pairwise IoU and greedy NMS in NumPy vs ``tf.image.non_max_suppression``;
- the Gram matrix by reshape + matmul vs ``np.einsum``;
- one training epoch of the lecture CNN on MNIST, compared with its FLOP count and the
  CPU's theoretical peak.

Example:
    >>> rows = run_bench()  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from cvcourse.build import ROOT

REPORTS = ROOT / "reports"


# --- the from-scratch versions, written as the notebooks teach them -------------------------

def conv2d_loops(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'Valid' cross-correlation with two Python loops over the output.

    Example:
        >>> conv2d_loops(np.ones((3, 3)), np.ones((2, 2))).tolist()
        [[4.0, 4.0], [4.0, 4.0]]
    """
    kh, kw = kernel.shape
    out = np.empty((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


def conv2d_vectorised(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'Valid' cross-correlation as one ``einsum`` over all sliding windows.

    Example:
        >>> conv2d_vectorised(np.ones((3, 3)), np.ones((2, 2))).tolist()
        [[4.0, 4.0], [4.0, 4.0]]
    """
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``[x1, y1, x2, y2]``: ``(n, 4)`` x ``(m, 4)`` -> ``(n, m)``.

    Example:
        >>> float(iou_matrix(np.array([[0, 0, 2, 2.]]), np.array([[1, 0, 3, 2.]]))[0, 0])
        0.3333333333333333
    """
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.5, max_output: int = 100) -> np.ndarray:
    """Greedy non-max suppression: indices kept, best score first.

    Example:
        >>> nms(np.array([[0, 0, 2, 2.], [0, 0, 2, 2.1], [5, 5, 6, 6.]]), np.array([0.9, 0.8, 0.7])).tolist()
        [0, 2]
    """
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_output:
        best = order[0]
        keep.append(int(best))
        rest = order[1:]
        order = rest[iou_matrix(boxes[best : best + 1], boxes[rest])[0] <= iou_threshold]
    return np.array(keep, dtype=int)


def gram_matmul(features: np.ndarray) -> np.ndarray:
    """Gram matrix of ``(H, W, C)`` features by reshape and matmul, divided by H*W.

    Example:
        >>> gram_matmul(np.ones((2, 2, 3))).shape
        (3, 3)
    """
    flat = features.reshape(-1, features.shape[-1])
    return flat.T @ flat / flat.shape[0]


# --- timing ------------------------------------------------------------------------------------

def best_time(fn: Callable[[], Any], repeat: int = 5, min_seconds: float = 0.2) -> float:
    """Best wall time of one call over ``repeat`` runs of enough calls to last ``min_seconds``.

    Example:
        >>> best_time(lambda: sum(range(100))) > 0
        True
    """
    fn()  # warm up (imports, allocations, tracing)
    calls, elapsed = 1, 0.0
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds or calls >= 1 << 16:
            break
        calls *= 2
    times = [elapsed / calls]
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls)
    return min(times)


def _group(title: str, entries: dict[str, Callable[[], Any]], baseline: str) -> list[dict[str, Any]]:
    seconds = {name: best_time(fn, repeat=3 if "loops" in name else 5) for name, fn in entries.items()}
    return [
        {"benchmark": title, "implementation": name, "seconds": s, "relative_to": baseline, "ratio": s / seconds[baseline]}
        for name, s in seconds.items()
    ]


def bench_convolution() -> list[dict[str, Any]]:
    """Naive loops and vectorised NumPy vs SciPy and OpenCV on a 256x256 image, 3x3 kernel."""
    import cv2
    import scipy.signal

    rng = np.random.default_rng(0)
    image = rng.random((256, 256))
    kernel = np.array([[1.0, 0.0, -1.0]] * 3)
    reference = scipy.signal.correlate2d(image, kernel, mode="valid")
    opencv = cv2.filter2D(image, -1, kernel, anchor=(1, 1), borderType=cv2.BORDER_CONSTANT)[1:-1, 1:-1]
    for result in (conv2d_loops(image, kernel), conv2d_vectorised(image, kernel), opencv):
        assert np.allclose(result, reference), "implementations disagree: fix before timing"
    return _group(
        "conv2d 256x256, 3x3 kernel",
        {
            "NumPy, naive loops": lambda: conv2d_loops(image, kernel),
            "NumPy, vectorised (einsum)": lambda: conv2d_vectorised(image, kernel),
            "scipy.signal.correlate2d": lambda: scipy.signal.correlate2d(image, kernel, mode="valid"),
            "cv2.filter2D": lambda: cv2.filter2D(image, -1, kernel, anchor=(1, 1), borderType=cv2.BORDER_CONSTANT),
        },
        baseline="cv2.filter2D",
    )


def _random_boxes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 200, size=(n, 2))
    wh = rng.uniform(10, 60, size=(n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype(np.float32), rng.random(n).astype(np.float32)


def bench_detection() -> list[dict[str, Any]]:
    """IoU matrix and NMS on 1,000 random boxes vs ``tf.image.non_max_suppression``."""
    import tensorflow as tf

    boxes, scores = _random_boxes(1000)
    tf_boxes = tf.constant(boxes[:, [1, 0, 3, 2]])  # TF wants [y1, x1, y2, x2]
    tf_scores = tf.constant(scores)

    def tf_nms():
        return tf.image.non_max_suppression(tf_boxes, tf_scores, max_output_size=100, iou_threshold=0.5).numpy()

    assert np.array_equal(nms(boxes, scores, 0.5, 100), tf_nms()), "NMS disagrees with TensorFlow: fix before timing"
    rows = _group("NMS, 1,000 boxes, IoU 0.5", {"NumPy greedy NMS": lambda: nms(boxes, scores), "tf.image.non_max_suppression": tf_nms}, baseline="tf.image.non_max_suppression")
    rows += _group("IoU matrix 1,000 x 1,000", {"NumPy broadcasting": lambda: iou_matrix(boxes, boxes)}, baseline="NumPy broadcasting")
    return rows


def bench_gram() -> list[dict[str, Any]]:
    """Gram matrix of 64x64x256 features: reshape + matmul vs einsum."""
    features = np.random.default_rng(0).random((64, 64, 256), dtype=np.float32)
    einsum = lambda: np.einsum("ijc,ijd->cd", features, features) / (64 * 64)  # noqa: E731
    assert np.allclose(gram_matmul(features), einsum(), rtol=1e-4)
    return _group("Gram matrix 64x64x256", {"reshape + matmul": lambda: gram_matmul(features), "np.einsum": einsum}, baseline="np.einsum")


def _peak_flops() -> tuple[float, str]:
    """A theoretical fp32 peak: cores x clock x FLOPs per cycle (FMA width from the CPU flags)."""
    import psutil

    cores = os.cpu_count() or 1
    freq = psutil.cpu_freq()
    ghz = (freq.max or freq.current) / 1000 if freq and (freq.max or freq.current) else None
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = line
                    if ghz is None:
                        continue
                    break
                if ghz is None and line.startswith("cpu MHz"):
                    ghz = float(line.split(":")[1]) / 1000
    except OSError:
        pass
    ghz = ghz or 2.0
    # two FMA units; AVX-512: 16 fp32 lanes, AVX2: 8, else SSE: 4; an FMA counts as 2 FLOPs
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    per_cycle = 2 * lanes * 2
    return cores * ghz * 1e9 * per_cycle, f"{cores} cores x {ghz:.2f} GHz x {per_cycle} FLOP/cycle (2 FMA units, {lanes} fp32 lanes)"


def lecture_cnn():
    """The lecture's CNN: Conv32-Pool-Conv64-Pool-Conv128-Flatten-Dense64-Dense10 for 28x28x1 digits.

    Example:
        >>> lecture_cnn().count_params()  # doctest: +SKIP
        167114
    """
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )


def forward_flops(model) -> int:
    """Multiply-adds x 2 of one forward pass of a Conv2D/Dense model, per example.

    Example:
        >>> forward_flops(lecture_cnn()) > 1e6  # doctest: +SKIP
        True
    """
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw, c_in, _ = layer.kernel.shape
            total += 2 * h * w * c_out * kh * kw * c_in
        elif isinstance(layer, layers.Dense):
            c_in, c_out = layer.kernel.shape
            total += 2 * c_in * c_out
    return int(total)


def bench_cnn_epoch() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One epoch of the lecture CNN on the offline MNIST training digits, and its FLOPs."""
    import keras

    from cvcourse.data import load_mnist
    from cvcourse.profile import seed_everything

    seed_everything(0)
    (x_train, y_train), _ = load_mnist()
    x = x_train[..., None].astype("float32") / 255.0
    model = lecture_cnn()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:256], y_train[:256], batch_size=64, epochs=1, verbose=0)  # warm-up: graph tracing
    start = time.perf_counter()
    model.fit(x, y_train, batch_size=64, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    flops = 3 * forward_flops(model) * len(x)  # backward pass costs about twice the forward pass
    peak, how = _peak_flops()
    summary = {
        "examples": len(x),
        "epoch_seconds": seconds,
        "forward_flops_per_example": forward_flops(model),
        "training_flops_per_epoch": flops,
        "achieved_gflops": flops / seconds / 1e9,
        "peak_gflops": peak / 1e9,
        "peak_basis": how,
        "share_of_peak": flops / seconds / peak,
    }
    row = {"benchmark": f"lecture CNN, 1 epoch of {len(x)} digits", "implementation": "Keras (TensorFlow, CPU)", "seconds": seconds, "relative_to": "-", "ratio": 1.0}
    return [row], summary


def to_markdown(rows: list[dict[str, Any]], cnn: dict[str, Any]) -> str:
    """The benchmark table (and the CNN epoch's arithmetic) in Markdown."""
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}; `make bench` on {time.strftime('%Y-%m-%d')}.",
        "Best of several runs; a ratio is time / time of the reference in the same group (lower is faster).",
        "",
        "| benchmark | implementation | time per call | ratio | reference |",
        "|---|---|---:|---:|---|",
    ]
    for row in rows:
        s = row["seconds"]
        shown = f"{s * 1e6:.1f} µs" if s < 1e-3 else f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"
        lines.append(f"| {row['benchmark']} | {row['implementation']} | {shown} | {row['ratio']:.2f}x | {row['relative_to']} |")
    lines += [
        "",
        "## The lecture CNN against the machine's arithmetic peak",
        "",
        f"- forward pass: {cnn['forward_flops_per_example'] / 1e6:.1f} MFLOP per digit; training ≈ 3 x forward = "
        f"{cnn['training_flops_per_epoch'] / 1e9:.1f} GFLOP per epoch of {cnn['examples']} digits;",
        f"- one epoch took {cnn['epoch_seconds']:.2f} s: {cnn['achieved_gflops']:.1f} GFLOP/s achieved;",
        f"- theoretical fp32 peak {cnn['peak_gflops']:.0f} GFLOP/s ({cnn['peak_basis']});",
        f"- so the epoch runs at **{100 * cnn['share_of_peak']:.1f}% of peak**: small convolutions, batch 64 and "
        "framework overhead keep a CPU far from its arithmetic limit.",
    ]
    return "\n".join(lines) + "\n"


def run_bench(out_dir=REPORTS) -> list[dict[str, Any]]:
    """Run every benchmark, print the table and save ``reports/bench.md`` / ``.json``.

    Example:
        >>> rows = run_bench()  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    rows: list[dict[str, Any]] = []
    cnn: dict[str, Any] = {}
    steps = [("convolution", bench_convolution), ("IoU / NMS", bench_detection), ("Gram matrix", bench_gram), ("CNN epoch", bench_cnn_epoch)]
    for name, step in tqdm(steps, desc="bench", unit="group"):
        result = step()
        if isinstance(result, tuple):
            result, cnn = result
        rows += result
    out_dir.mkdir(parents=True, exist_ok=True)
    table = to_markdown(rows, cnn)
    (out_dir / "bench.md").write_text(table, encoding="utf-8")
    (out_dir / "bench.json").write_text(json.dumps({"rows": rows, "cnn_epoch": cnn}, indent=1) + "\n", encoding="utf-8")
    print(table)
    return rows


if __name__ == "__main__":
    run_bench()
    sys.exit(0)
