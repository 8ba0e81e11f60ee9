"""``make bench``: the course's from-scratch algorithms timed against the libraries they are checked against.

Benchmarks, not timed tests: every figure is printed and saved (``reports/bench.md``,
``reports/bench.json``) and nothing is asserted about speed. All inputs are fixed
(seeded), and the ratios compare implementations measured in the same run.

- 2-D convolution (cross-correlation, "valid"): naive Python loops, vectorised NumPy,
  ``scipy.signal.correlate2d`` and ``cv2.filter2D``;
- the same as shift-and-add, one pass per kernel tap (the fast NumPy formulation);
- pairwise IoU (broadcast, and in cache-sized blocks against the bandwidth floor) and greedy
  NMS in NumPy (one box at a time, and in chunks) vs ``tf.image.non_max_suppression``;
- the Gram matrix by reshape + matmul vs ``np.einsum``;
- one training epoch of the lecture CNN on MNIST under several set-ups (batch size,
  ``tf.data``, ``steps_per_execution``, XLA, thread pools), compared with its FLOP count
  and the CPU's theoretical peak (with the vector width detected).

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
from cvcourse.hardware import cpu_peak_flops

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


def conv2d_shift_add(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'Valid' cross-correlation as one multiply-add of a shifted image per kernel tap.

    A 3x3 kernel costs 9 passes over the image, each at NumPy's full speed, instead of a
    copy of every window; a tap of 0 costs nothing and a tap of +-1 is a plain addition.

    Example:
        >>> conv2d_shift_add(np.ones((3, 3)), np.ones((2, 2))).tolist()
        [[4.0, 4.0], [4.0, 4.0]]
    """
    kh, kw = kernel.shape
    oh, ow = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    out = np.zeros((oh, ow), dtype=np.result_type(image, kernel))
    tap = np.empty_like(out)
    for i in range(kh):
        for j in range(kw):
            weight, shifted = kernel[i, j], image[i : i + oh, j : j + ow]
            if weight == 1:
                out += shifted
            elif weight == -1:
                out -= shifted
            elif weight:
                np.multiply(shifted, weight, out=tap)
                out += tap
    return out


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


def iou_matrix_blocked(a: np.ndarray, b: np.ndarray, rows: int = 64) -> np.ndarray:
    """:func:`iou_matrix` in float32, ``rows`` boxes of ``a`` at a time, into reused buffers.

    The broadcasting version makes a dozen full-size temporaries; here every step writes
    into a ``(rows, m)`` buffer that stays in the CPU cache, and only the result goes to memory.

    Example:
        >>> float(iou_matrix_blocked(np.array([[0, 0, 2, 2.]]), np.array([[1, 0, 3, 2.]]))[0, 0])
        0.3333333432674408
    """
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    out = np.empty((len(a), len(b)), np.float32)
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    width, height, scratch = (np.empty((rows, len(b)), np.float32) for _ in range(3))
    for start in range(0, len(a), rows):
        block = a[start : start + rows]
        w, h, t = width[: len(block)], height[: len(block)], scratch[: len(block)]
        np.minimum(block[:, 2:3], b[:, 2], out=w)
        np.maximum(block[:, 0:1], b[:, 0], out=t)
        w -= t
        np.maximum(w, 0, out=w)
        np.minimum(block[:, 3:4], b[:, 3], out=h)
        np.maximum(block[:, 1:2], b[:, 1], out=t)
        h -= t
        np.maximum(h, 0, out=h)
        w *= h                                                    # intersections
        np.add(((block[:, 2] - block[:, 0]) * (block[:, 3] - block[:, 1]))[:, None], area_b, out=t)
        t -= w                                                    # unions
        np.divide(w, t, out=out[start : start + len(block)])
    return out


def nms_blocked(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.5, max_output: int = 100,
                chunk: int = 128) -> np.ndarray:
    """Greedy NMS that takes the candidates ``chunk`` at a time, best first, and stops at ``max_output``.

    Each chunk is compared with the boxes kept so far in one IoU matrix, and with itself in
    another; the greedy pass inside a chunk is then a cheap loop over booleans. The result
    is exactly :func:`nms`'s.

    Example:
        >>> nms_blocked(np.array([[0, 0, 2, 2.], [0, 0, 2, 2.1], [5, 5, 6, 6.]]), np.array([0.9, 0.8, 0.7])).tolist()
        [0, 2]
    """
    order = np.argsort(-scores, kind="stable")
    ranked = boxes[order]
    keep: list[int] = []
    for start in range(0, len(order), chunk):
        block = ranked[start : start + chunk]
        alive = np.ones(len(block), bool)
        if keep:
            alive = (iou_matrix_blocked(block, ranked[keep]) <= iou_threshold).all(axis=1)
        overlaps = iou_matrix_blocked(block, block) > iou_threshold
        for i in range(len(block)):
            if alive[i]:
                keep.append(start + i)
                if len(keep) == max_output:
                    return order[keep]
                alive[i + 1 :] &= ~overlaps[i, i + 1 :]
    return order[keep]


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
    for result in (conv2d_loops(image, kernel), conv2d_vectorised(image, kernel), conv2d_shift_add(image, kernel), opencv):
        assert np.allclose(result, reference), "implementations disagree: fix before timing"
    return _group(
        "conv2d 256x256, 3x3 kernel",
        {
            "NumPy, naive loops": lambda: conv2d_loops(image, kernel),
            "NumPy, vectorised (einsum)": lambda: conv2d_vectorised(image, kernel),
            "NumPy, shift-and-add": lambda: conv2d_shift_add(image, kernel),
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

    for ours in (nms(boxes, scores, 0.5, 100), nms_blocked(boxes, scores, 0.5, 100)):
        assert np.array_equal(ours, tf_nms()), "NMS disagrees with TensorFlow: fix before timing"
    assert np.array_equal(nms_blocked(boxes, scores, 0.5, 1000), nms(boxes, scores, 0.5, 1000))
    assert np.allclose(iou_matrix_blocked(boxes, boxes), iou_matrix(boxes, boxes), atol=1e-6)
    rows = _group("NMS, 1,000 boxes, IoU 0.5", {"NumPy greedy NMS": lambda: nms(boxes, scores),
                                                 "NumPy NMS, in chunks": lambda: nms_blocked(boxes, scores),
                                                 "tf.image.non_max_suppression": tf_nms}, baseline="tf.image.non_max_suppression")
    # The floor for any IoU matrix: writing its 1,000 x 1,000 float32 result once (NumPy's copy bandwidth).
    output, ones = np.empty((1000, 1000), np.float32), np.ones((1000, 1000), np.float32)
    rows += _group("IoU matrix 1,000 x 1,000", {"NumPy broadcasting": lambda: iou_matrix(boxes, boxes),
                                                "NumPy, cache-sized blocks": lambda: iou_matrix_blocked(boxes, boxes),
                                                "one copy of the 4 MB result (bandwidth floor)": lambda: np.copyto(output, ones)},
                   baseline="one copy of the 4 MB result (bandwidth floor)")
    return rows


def bench_gram() -> list[dict[str, Any]]:
    """Gram matrix of 64x64x256 features: reshape + matmul vs einsum."""
    features = np.random.default_rng(0).random((64, 64, 256), dtype=np.float32)
    einsum = lambda: np.einsum("ijc,ijd->cd", features, features) / (64 * 64)  # noqa: E731
    assert np.allclose(gram_matmul(features), einsum(), rtol=1e-4)
    return _group("Gram matrix 64x64x256", {"reshape + matmul": lambda: gram_matmul(features), "np.einsum": einsum}, baseline="np.einsum")


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


#: Training set-ups of the lecture CNN measured against today's (the first) in the same run.
TRAINING_OPTIONS: dict[str, dict[str, Any]] = {
    "today: fit(arrays), batch 64": {},
    "batch 128": {"batch_size": 128},
    "batch 256": {"batch_size": 256},
    "tf.data, cache + shuffle + prefetch, batch 64": {"dataset": True},
    "steps_per_execution=16, batch 64": {"steps_per_execution": 16},
    "jit_compile=True (XLA), batch 64": {"jit_compile": True},
    "1 inter-op thread, intra-op = cores, batch 64": {"threads": True},
}


def epoch_seconds(batch_size: int = 64, dataset: bool = False, steps_per_execution: int = 1,
                  jit_compile: bool = False, threads: bool = False) -> dict[str, Any]:
    """Seconds of the second training epoch of the lecture CNN on the offline MNIST digits (the first traces).

    ``threads`` sets TensorFlow's thread pools, which only works before TensorFlow starts:
    :func:`bench_cnn_epoch` runs that option in a fresh process.

    Example:
        >>> epoch_seconds(batch_size=128)["seconds"] > 0  # doctest: +SKIP
        True
    """
    import tensorflow as tf

    if threads:
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.threading.set_intra_op_parallelism_threads(os.cpu_count() or 1)
    import keras

    from cvcourse.data import load_mnist
    from cvcourse.profile import seed_everything

    seed_everything(0)
    (x_train, y_train), _ = load_mnist()
    x = x_train[..., None].astype("float32") / 255.0
    model = lecture_cnn()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    data: Any = x
    if dataset:
        data = (tf.data.Dataset.from_tensor_slices((x, y_train)).cache().shuffle(len(x), seed=0)   # fit() shuffles arrays too
                .batch(batch_size).prefetch(tf.data.AUTOTUNE))
    ends: list[float] = []
    timer = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: ends.append(time.perf_counter()),
                                           on_epoch_end=lambda epoch, logs: ends.append(time.perf_counter()))
    model.fit(data, None if dataset else y_train, batch_size=None if dataset else batch_size, epochs=2, verbose=0,
              shuffle=not dataset, callbacks=[timer])
    return {"seconds": ends[3] - ends[2], "examples": len(x), "forward_flops_per_example": forward_flops(model)}


def _epoch_in_fresh_process(options: dict[str, Any]) -> dict[str, Any]:
    import subprocess

    code = f"import json; from cvcourse.bench import epoch_seconds; print(json.dumps(epoch_seconds(**{options!r})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode != 0:
        raise RuntimeError(f"the epoch benchmark with {options} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_cnn_epoch() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One epoch of the lecture CNN under each of :data:`TRAINING_OPTIONS`, its FLOPs and share of the CPU's peak."""
    peak, how = cpu_peak_flops()
    measured = {name: (_epoch_in_fresh_process(options) if options.get("threads") else epoch_seconds(**options))
                for name, options in TRAINING_OPTIONS.items()}
    today = next(iter(TRAINING_OPTIONS))
    first = measured[today]
    flops = 3 * first["forward_flops_per_example"] * first["examples"]  # backward pass costs about twice the forward pass
    rows = [{"benchmark": f"lecture CNN, 1 epoch of {first['examples']} digits", "implementation": name,
             "seconds": m["seconds"], "relative_to": today, "ratio": m["seconds"] / first["seconds"],
             "share_of_peak": flops / m["seconds"] / peak} for name, m in measured.items()]
    best = min(rows, key=lambda row: row["seconds"])
    summary = {
        "examples": first["examples"],
        "epoch_seconds": first["seconds"],
        "forward_flops_per_example": first["forward_flops_per_example"],
        "training_flops_per_epoch": flops,
        "achieved_gflops": flops / first["seconds"] / 1e9,
        "peak_gflops": peak / 1e9,
        "peak_basis": how,
        "share_of_peak": flops / first["seconds"] / peak,
        "best_option": best["implementation"],
        "best_seconds": best["seconds"],
        "best_share_of_peak": best["share_of_peak"],
        "speedup_over_today": first["seconds"] / best["seconds"],
    }
    return rows, summary


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
        peak_share = f" ({100 * row['share_of_peak']:.1f}% of peak)" if "share_of_peak" in row else ""
        lines.append(f"| {row['benchmark']} | {row['implementation']} | {shown}{peak_share} | {row['ratio']:.2f}x | {row['relative_to']} |")
    lines += [
        "",
        "## The lecture CNN against the machine's arithmetic peak",
        "",
        f"- forward pass: {cnn['forward_flops_per_example'] / 1e6:.1f} MFLOP per digit; training ≈ 3 x forward = "
        f"{cnn['training_flops_per_epoch'] / 1e9:.1f} GFLOP per epoch of {cnn['examples']} digits;",
        f"- one epoch took {cnn['epoch_seconds']:.2f} s: {cnn['achieved_gflops']:.1f} GFLOP/s achieved;",
        f"- theoretical fp32 peak {cnn['peak_gflops']:.0f} GFLOP/s ({cnn['peak_basis']});",
        f"- so today's epoch runs at **{100 * cnn['share_of_peak']:.1f}% of peak**; the fastest set-up measured, "
        f"{cnn['best_option']}, took {cnn['best_seconds']:.2f} s: **{100 * cnn['best_share_of_peak']:.1f}% of peak**, "
        f"{cnn['speedup_over_today']:.2f}x today's speed in the same run. Small convolutions and per-step "
        "framework overhead keep a CPU far from its arithmetic limit.",
    ]
    kernels = {row["implementation"]: row["ratio"] for row in rows}
    goals = [("conv2d, NumPy shift-and-add", kernels.get("NumPy, shift-and-add"), "cv2.filter2D", 3),
             ("NMS, NumPy in chunks", kernels.get("NumPy NMS, in chunks"), "tf.image.non_max_suppression", 5),
             ("IoU matrix, NumPy in cache-sized blocks", kernels.get("NumPy, cache-sized blocks"),
              "one copy of its 4 MB result (about 12 elementwise passes are needed)", None)]
    lines += ["", "## Fast NumPy formulations against their library", ""]
    for what, ratio, against, goal in goals:
        if ratio is not None:
            aim = f" (goal: at most {goal}x)" if goal else ""
            lines.append(f"- {what}: {ratio:.2f}x {against}{aim}")
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
