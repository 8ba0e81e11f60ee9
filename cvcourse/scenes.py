"""Synthetic scenes with exact labels: boxes, masks and captions (modules 06, 07, 08).

Each scene is a small RGB image with one or more coloured shapes (circle, square,
triangle) on a varied, textured background. Shapes may overlap: a later shape
occludes an earlier one, and every label describes what is *visible*. Because the
scene is drawn by the course, its labels are exact:

- ``boxes``: one ``[x_min, y_min, x_max, y_max]`` box per object, in pixels, tight
  around the object's visible pixels. Coordinates are pixel *edges*: pixel column
  ``c`` spans ``[c, c + 1)``, so a box covers columns ``x_min .. x_max - 1`` and its
  width ``x_max - x_min`` is a pixel count;
- ``labels``: the class of each object, an index into :data:`CLASS_NAMES`;
- ``class_mask``: per-pixel class, 0 for background and ``1 + label`` for an object
  (semantic segmentation);
- ``instance_mask``: per-pixel object, 0 for background and ``i + 1`` for object ``i``
  (instance segmentation);
- ``caption``: a sentence from a small fixed grammar, e.g.
  ``"a small red circle above a large blue square"``.

The caption grammar (see :data:`CAPTION_WORDS` for the whole vocabulary)::

    caption  := object                                  (1 object)
              | object relation object                  (2 objects)
              | object ", " object ... " and " object   (3 or more objects)
    object   := "a" size colour shape
    size     := "small" | "large"
    colour   := "red" | "green" | "blue" | "yellow"
    shape    := "circle" | "square" | "triangle"
    relation := "left of" | "right of" | "above" | "below"

Objects are named in the order they were drawn (object 0 first). In a two-object
scene the relation says where object 0 is relative to object 1, judged from the
centres of the two shapes; the generator only places pairs whose relation is clear
(the larger of the horizontal and vertical offsets is at least twice the smaller).

Everything is seeded: the same seed gives the same scene, byte for byte.

Example:
    >>> scene = make_scene(0)
    >>> scene.image.shape, scene.image.dtype
    ((64, 64, 3), dtype('uint8'))
    >>> scenes = make_scenes(1000, seed=1, n_objects=(1, 2))
    >>> batch = stack_scenes(scenes)
    >>> batch["images"].shape
    (1000, 64, 64, 3)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The object classes, background excluded. ``labels`` index this tuple; ``class_mask`` holds ``1 + label``.
CLASS_NAMES: tuple[str, ...] = ("circle", "square", "triangle")

#: The colour palette: name -> nominal RGB (each object's colour is jittered around it).
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 40, 40),
    "green": (40, 175, 60),
    "blue": (45, 85, 225),
    "yellow": (235, 205, 35),
}

#: The two size words of the captions; "small" and "large" objects come from separate size ranges.
SIZE_NAMES: tuple[str, ...] = ("small", "large")

#: The relation words of two-object captions (object 0 relative to object 1).
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")

#: The object's extent (diameter / side) as a fraction of the image size, per size word.
SIZE_RANGES: dict[str, tuple[float, float]] = {"small": (0.16, 0.24), "large": (0.32, 0.44)}

#: Every word of a caption split with ``caption.replace(",", " ,").split()`` ("," and "and" join 3+ objects).
CAPTION_WORDS: tuple[str, ...] = (
    ("a",) + SIZE_NAMES + tuple(COLOURS) + CLASS_NAMES + ("left", "right", "of", "above", "below", ",", "and")
)

#: The background styles drawn at random when ``background="textured"``.
BACKGROUND_KINDS: tuple[str, ...] = ("noise", "stripes", "checker", "gradient")

MAX_OBJECTS = 6
MIN_SIZE = 32
MAX_SIZE = 512


@dataclass
class Scene:
    """One generated scene and its exact labels (``n`` objects).

    Attributes:
        image: ``uint8`` RGB image, shape ``(H, W, 3)``.
        boxes: ``float32`` array ``(n, 4)`` of ``[x_min, y_min, x_max, y_max]`` pixel-edge
            coordinates, tight around each object's visible pixels.
        labels: ``int64`` array ``(n,)`` of indices into :data:`CLASS_NAMES`.
        colours: the colour name of each object (keys of :data:`COLOURS`).
        sizes: the size word of each object (``"small"`` or ``"large"``).
        class_mask: ``uint8`` ``(H, W)``: 0 background, ``1 + label`` on an object's visible pixels.
        instance_mask: ``int32`` ``(H, W)``: 0 background, ``i + 1`` on object ``i``'s visible pixels.
        caption: the sentence describing the scene (see the module docstring for the grammar).
    """

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    colours: list[str]
    sizes: list[str]
    class_mask: np.ndarray
    instance_mask: np.ndarray
    caption: str

    @property
    def n(self) -> int:
        """The number of objects in the scene."""
        return int(len(self.labels))

    @property
    def class_names(self) -> list[str]:
        """The class name of each object."""
        return [CLASS_NAMES[int(label)] for label in self.labels]


# --------------------------------------------------------------------------- validation


def _as_rng(rng_or_seed: Any) -> np.random.Generator:
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    if isinstance(rng_or_seed, bool) or not isinstance(rng_or_seed, (int, np.integer)):
        raise TypeError(
            f"rng_or_seed must be a non-negative integer seed or a numpy.random.Generator, got {type(rng_or_seed).__name__}"
        )
    if rng_or_seed < 0:
        raise ValueError(f"rng_or_seed must be a non-negative integer seed, got {rng_or_seed}")
    return np.random.default_rng(int(rng_or_seed))


def _check_int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer between {low} and {high}, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer between {low} and {high}, got {value}")
    return int(value)


def _object_range(n_objects: Any) -> tuple[int, int]:
    if isinstance(n_objects, (int, np.integer)) and not isinstance(n_objects, bool):
        low = high = _check_int(n_objects, "n_objects", 1, MAX_OBJECTS)
        return low, high
    if not isinstance(n_objects, (tuple, list)) or len(n_objects) != 2:
        raise TypeError(f"n_objects must be an integer or a (min, max) pair of integers, got {n_objects!r}")
    low = _check_int(n_objects[0], "n_objects[0] (the minimum)", 1, MAX_OBJECTS)
    high = _check_int(n_objects[1], "n_objects[1] (the maximum)", 1, MAX_OBJECTS)
    if low > high:
        raise ValueError(f"n_objects must be (min, max) with min <= max, got {tuple(n_objects)}")
    return low, high


def _choice_list(values: Any, allowed: Sequence[str], name: str) -> tuple[str, ...]:
    if values is None:
        return tuple(allowed)
    if isinstance(values, str) or not isinstance(values, (tuple, list)) or len(values) == 0:
        raise TypeError(f"{name} must be a non-empty list of names from {list(allowed)}, got {values!r}")
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise ValueError(f"{name} contains unknown names {unknown}; expected names from {list(allowed)}")
    return tuple(values)


# --------------------------------------------------------------------------- drawing


@functools.lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates scaled to [0, 1): (ys, xs), each float32 (size, size); cached, read-only."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
    ys.flags.writeable = False
    xs.flags.writeable = False
    return ys, xs


def _background(rng: np.random.Generator, size: int, kind: str) -> np.ndarray:
    """A muted (low-saturation) textured background, float32 (size, size, 3) in 0..255."""
    import cv2

    base = rng.uniform(70, 180) + rng.uniform(-18, 18, size=3)
    amplitude = rng.uniform(15, 40)
    if kind == "plain":
        return np.broadcast_to(base, (size, size, 3)).astype(np.float32).copy()
    ys, xs = _grid(size)
    if kind == "noise":
        cells = int(rng.integers(3, 9))
        coarse = rng.uniform(-1, 1, size=(cells, cells)).astype(np.float32)
        pattern = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    elif kind == "stripes":
        angle = rng.uniform(0, np.pi)
        frequency = rng.uniform(2, 7)
        pattern = np.sin(2 * np.pi * frequency * (xs * np.cos(angle) + ys * np.sin(angle)) + rng.uniform(0, 2 * np.pi))
    elif kind == "checker":
        period = rng.uniform(0.08, 0.25)
        pattern = ((np.floor(xs / period) + np.floor(ys / period)) % 2) * 2.0 - 1.0
        amplitude *= 0.6
    elif kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        pattern = 2.0 * ((xs - 0.5) * np.cos(angle) + (ys - 0.5) * np.sin(angle))
    else:  # pragma: no cover - kinds are validated before
        raise ValueError(kind)
    tint = 1.0 + rng.uniform(-0.25, 0.25, size=3)
    return (base + amplitude * pattern[..., None] * tint).astype(np.float32)


def _shape_mask(shape: str, centre: tuple[float, float], extent: float, size: int) -> np.ndarray:
    """A hard-edged boolean mask of one shape (no anti-aliasing, so image and labels agree exactly)."""
    import cv2

    canvas = np.zeros((size, size), np.uint8)
    cx, cy = centre
    half = extent / 2.0
    shift = 4  # cv2 sub-pixel coordinates: 4 fractional bits
    scale = 1 << shift
    if shape == "circle":
        cv2.circle(canvas, (int(round(cx * scale)), int(round(cy * scale))), int(round(half * scale)), 1, -1,
                   lineType=cv2.LINE_8, shift=shift)
    elif shape == "square":
        points = np.array([[cx - half, cy - half], [cx + half, cy - half], [cx + half, cy + half], [cx - half, cy + half]])
        cv2.fillPoly(canvas, [np.round(points * scale).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=shift)
    elif shape == "triangle":
        height = extent * 0.9
        points = np.array([[cx, cy - height / 2], [cx + half, cy + height / 2], [cx - half, cy + height / 2]])
        cv2.fillPoly(canvas, [np.round(points * scale).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=shift)
    else:  # pragma: no cover - shapes come from CLASS_NAMES
        raise ValueError(shape)
    return canvas.astype(bool)


def _relation(centre_a: tuple[float, float], centre_b: tuple[float, float]) -> str:
    """Where point a is relative to point b: 'left of', 'right of', 'above' or 'below' (image y points down)."""
    dx, dy = centre_a[0] - centre_b[0], centre_a[1] - centre_b[1]
    if abs(dx) >= abs(dy):
        return "left of" if dx < 0 else "right of"
    return "above" if dy < 0 else "below"


def _caption(sizes: Sequence[str], colours: Sequence[str], shapes: Sequence[str], centres: Sequence[tuple[float, float]]) -> str:
    phrases = [f"a {s} {c} {k}" for s, c, k in zip(sizes, colours, shapes)]
    if len(phrases) == 1:
        return phrases[0]
    if len(phrases) == 2:
        return f"{phrases[0]} {_relation(centres[0], centres[1])} {phrases[1]}"
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def make_scene(
    rng_or_seed: int | np.random.Generator,
    *,
    size: int = 64,
    n_objects: int | tuple[int, int] = (1, 3),
    classes: Sequence[str] | None = None,
    colours: Sequence[str] | None = None,
    background: str = "textured",
    min_visible: float = 0.5,
    noise: float = 4.0,
) -> Scene:
    """Draw one scene and return it with its exact labels.

    Args:
        rng_or_seed: a non-negative integer seed or a ``numpy.random.Generator``.
        size: the image side in pixels (32..512); the image is ``(size, size, 3)``.
        n_objects: how many objects, an integer or an inclusive ``(min, max)`` range (1..6).
        classes: the shape names to draw from (default: all of :data:`CLASS_NAMES`);
            ``labels`` always index the full :data:`CLASS_NAMES`.
        colours: the colour names to draw from (default: all of :data:`COLOURS`).
        background: ``"textured"`` (a random one of :data:`BACKGROUND_KINDS`), one of those
            kinds by name, or ``"plain"`` (one flat muted colour).
        min_visible: the smallest visible fraction (0..1) of every object after occlusion;
            use 1.0 for scenes without any overlap.
        noise: the standard deviation of the Gaussian pixel noise added at the end (0..50).

    Example:
        >>> scene = make_scene(7, n_objects=2)
        >>> scene.n, len(scene.caption.split()) > 6
        (2, True)
    """
    rng = _as_rng(rng_or_seed)
    size = _check_int(size, "size", MIN_SIZE, MAX_SIZE)
    low, high = _object_range(n_objects)
    shape_pool = _choice_list(classes, CLASS_NAMES, "classes")
    colour_pool = _choice_list(colours, tuple(COLOURS), "colours")
    if not isinstance(background, str) or background not in ("textured", "plain") + BACKGROUND_KINDS:
        raise ValueError(f"background must be 'textured', 'plain' or one of {list(BACKGROUND_KINDS)}, got {background!r}")
    if isinstance(min_visible, bool) or not isinstance(min_visible, (int, float, np.floating, np.integer)):
        raise TypeError(f"min_visible must be a number between 0 and 1, got {type(min_visible).__name__}")
    if not 0.0 <= float(min_visible) <= 1.0:
        raise ValueError(f"min_visible must be between 0 and 1, got {min_visible}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating, np.integer)) or not 0 <= noise <= 50:
        raise ValueError(f"noise must be a number between 0 and 50, got {noise!r}")

    count = int(rng.integers(low, high + 1))
    kind = background if background != "textured" else BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))]
    canvas = _background(rng, size, kind)

    for _attempt in range(100):  # restart the layout if some object cannot be placed
        instance = np.zeros((size, size), np.int32)
        full_areas: list[int] = []
        shapes: list[str] = []
        sizes: list[str] = []
        names: list[str] = []
        centres: list[tuple[float, float]] = []
        for index in range(count):
            shape = shape_pool[int(rng.integers(len(shape_pool)))]
            size_word = SIZE_NAMES[int(rng.integers(2))]
            extent = rng.uniform(*SIZE_RANGES[size_word]) * size
            placed = False
            for _try in range(60):
                margin = extent / 2 + 1
                centre = (float(rng.uniform(margin, size - margin)), float(rng.uniform(margin, size - margin)))
                if index == 1 and count == 2:
                    dx, dy = abs(centre[0] - centres[0][0]), abs(centre[1] - centres[0][1])
                    if max(dx, dy) < 2 * min(dx, dy) or max(dx, dy) < 0.12 * size:
                        continue  # ambiguous relation: try another position
                mask = _shape_mask(shape, centre, extent, size)
                trial = instance.copy()
                trial[mask] = index + 1
                visible = np.bincount(trial.ravel(), minlength=index + 2)[1:]
                areas = full_areas + [int(mask.sum())]
                if all(v >= max(min_visible * a, 6) for v, a in zip(visible, areas)):
                    instance, placed = trial, True
                    break
            if not placed:
                break
            full_areas.append(int(mask.sum()))
            shapes.append(shape)
            sizes.append(size_word)
            names.append(colour_pool[int(rng.integers(len(colour_pool)))])
            centres.append(centre)
        else:
            break
    else:  # pragma: no cover - only with extreme settings
        raise RuntimeError("could not place the objects; lower min_visible or n_objects")

    labels = np.array([CLASS_NAMES.index(s) for s in shapes], dtype=np.int64)
    for index, name in enumerate(names):
        colour = np.asarray(COLOURS[name], np.float32) + rng.uniform(-22, 22, size=3).astype(np.float32)
        canvas[instance == index + 1] = colour
    if noise > 0:
        canvas += rng.standard_normal(size=canvas.shape, dtype=np.float32) * np.float32(noise)
    image = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)

    class_lookup = np.concatenate([[0], labels + 1]).astype(np.uint8)
    class_mask = class_lookup[instance]
    boxes = np.zeros((count, 4), np.float32)
    for index in range(count):
        on = instance == index + 1
        rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
        boxes[index] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    return Scene(
        image=image,
        boxes=boxes,
        labels=labels,
        colours=names,
        sizes=sizes,
        class_mask=class_mask,
        instance_mask=instance,
        caption=_caption(sizes, names, shapes, centres),
    )


def make_scenes(n: int, *, seed: int = 0, progress: bool | None = None, **kwargs: Any) -> list[Scene]:
    """Generate ``n`` scenes; scene ``i`` is ``make_scene(np.random.default_rng([seed, i]), **kwargs)``.

    So a scene does not depend on ``n``: ``make_scenes(10, seed=3)[:5]`` equals
    ``make_scenes(5, seed=3)``. Use different seeds for training and test sets.
    ``kwargs`` are those of :func:`make_scene` (``size``, ``n_objects``, ``classes``, ...).
    A tqdm progress bar is shown when ``progress`` is True, or by default when ``n >= 2000``.

    Example:
        >>> train = make_scenes(500, seed=1, n_objects=(1, 2))
        >>> len(train)
        500
    """
    n = _check_int(n, "n", 0, 10_000_000)
    seed = _check_int(seed, "seed", 0, 2**63 - 1)
    if progress is None:
        progress = n >= 2000
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    make_scene(np.random.default_rng([seed, 0]), **kwargs)  # validate the options once, before the loop
    indices: Any = range(n)
    if progress:
        from tqdm.auto import tqdm

        indices = tqdm(indices, desc="scenes", unit="scene")
    return [make_scene(np.random.default_rng([seed, i]), **kwargs) for i in indices]


def stack_scenes(scenes: Sequence[Scene]) -> dict[str, np.ndarray]:
    """Stack scenes into arrays for training, padding the per-object arrays to the largest ``n``.

    Returns a dict with ``images`` ``(N, H, W, 3)`` uint8, ``class_masks`` ``(N, H, W)`` uint8,
    ``instance_masks`` ``(N, H, W)`` int32, ``boxes`` ``(N, M, 4)`` float32 (zero padded),
    ``labels`` ``(N, M)`` int64 (padded with -1), ``n_objects`` ``(N,)`` int64 and
    ``captions`` ``(N,)`` str, where ``M`` is the largest object count.

    Example:
        >>> batch = stack_scenes(make_scenes(8, seed=0))
        >>> batch["labels"].shape[0], batch["boxes"].shape[2]
        (8, 4)
    """
    if isinstance(scenes, Scene) or not isinstance(scenes, Sequence) or len(scenes) == 0:
        raise TypeError("scenes must be a non-empty list of Scene objects (from make_scenes)")
    bad = [i for i, scene in enumerate(scenes) if not isinstance(scene, Scene)]
    if bad:
        raise TypeError(f"scenes must hold Scene objects; entry {bad[0]} is {type(scenes[bad[0]]).__name__}")
    shapes = {scene.image.shape for scene in scenes}
    if len(shapes) != 1:
        raise ValueError(f"all scenes must have the same image size to be stacked, got {sorted(shapes)}")
    most = max(scene.n for scene in scenes)
    boxes = np.zeros((len(scenes), most, 4), np.float32)
    labels = np.full((len(scenes), most), -1, np.int64)
    for i, scene in enumerate(scenes):
        boxes[i, : scene.n] = scene.boxes
        labels[i, : scene.n] = scene.labels
    return {
        "images": np.stack([scene.image for scene in scenes]),
        "class_masks": np.stack([scene.class_mask for scene in scenes]),
        "instance_masks": np.stack([scene.instance_mask for scene in scenes]),
        "boxes": boxes,
        "labels": labels,
        "n_objects": np.array([scene.n for scene in scenes], np.int64),
        "captions": np.array([scene.caption for scene in scenes]),
    }


# --------------------------------------------------------------------------- figures

#: Colours used to draw classes (index = label) in :func:`draw_boxes` and :func:`overlay_mask`.
CLASS_DRAW_COLOURS: tuple[tuple[int, int, int], ...] = (
    (255, 255, 255), (255, 0, 255), (0, 255, 255), (255, 128, 0), (128, 255, 0), (255, 255, 0), (0, 128, 255),
)


def draw_boxes(
    image: np.ndarray,
    boxes: Any,
    labels: Any,
    scores: Any = None,
    class_names: Sequence[str] = CLASS_NAMES,
    *,
    scale: int = 1,
    thickness: int = 1,
) -> np.ndarray:
    """Return a copy of ``image`` with labelled boxes drawn on it (the image is not changed).

    ``boxes`` is ``(n, 4)`` as ``[x_min, y_min, x_max, y_max]`` pixel-edge coordinates (as in
    :class:`Scene`), ``labels`` ``(n,)`` class indices, ``scores`` optional ``(n,)`` confidences
    shown after the class name. ``scale`` enlarges the image first (nearest neighbour) so that
    the text is readable on a 64x64 scene; each class has its own colour.

    Example:
        >>> scene = make_scene(0)
        >>> drawn = draw_boxes(scene.image, scene.boxes, scene.labels, scale=4)
        >>> drawn.shape
        (256, 256, 3)
    """
    import cv2

    from cvcourse._validate import as_image, positive_int

    array = as_image(image, "image", channels=(3,))
    if array.ndim != 3:
        raise ValueError(f"image must be an RGB image (H, W, 3), got shape {array.shape}")
    scale = positive_int(scale, "scale")
    thickness = positive_int(thickness, "thickness")
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if np.size(boxes) else np.zeros((0, 4))
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(boxes):
        raise ValueError(f"labels must have one entry per box: {len(boxes)} boxes, {len(labels)} labels")
    if len(labels) and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(f"labels must be integers in 0..{len(class_names) - 1} (indices into class_names), got {labels.tolist()}")
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if len(scores) != len(boxes):
            raise ValueError(f"scores must have one entry per box: {len(boxes)} boxes, {len(scores)} scores")
    canvas = np.ascontiguousarray(array.astype(np.uint8))
    if scale > 1:
        canvas = cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    font_scale = max(0.3, canvas.shape[0] / 600)
    for i, (box, label) in enumerate(zip(boxes, labels)):
        colour = CLASS_DRAW_COLOURS[int(label) % len(CLASS_DRAW_COLOURS)]
        x0, y0, x1, y1 = (int(round(v * scale)) for v in box)
        cv2.rectangle(canvas, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), colour, thickness, lineType=cv2.LINE_AA)
        text = str(class_names[int(label)]) + (f" {scores[i]:.2f}" if scores is not None else "")
        ty = y0 - 3 if y0 > 12 else min(canvas.shape[0] - 2, y1 + 11)
        cv2.putText(canvas, text, (x0, ty), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(canvas, text, (x0, ty), cv2.FONT_HERSHEY_SIMPLEX, font_scale, colour, 1, cv2.LINE_AA)
    return canvas


def overlay_mask(image: np.ndarray, class_mask: Any, alpha: float = 0.5) -> np.ndarray:
    """Return ``image`` with every non-zero mask value tinted in its own colour (background untouched).

    ``class_mask`` is ``(H, W)`` of non-negative integers matching the image size: a class
    mask (``1 + label``), an instance mask or a model's prediction. ``alpha`` (0..1) is the
    weight of the tint.

    Example:
        >>> scene = make_scene(0)
        >>> overlay_mask(scene.image, scene.class_mask).shape
        (64, 64, 3)
    """
    from cvcourse._validate import as_image

    array = as_image(image, "image", channels=(3,))
    if array.ndim != 3:
        raise ValueError(f"image must be an RGB image (H, W, 3), got shape {array.shape}")
    mask = np.asarray(class_mask)
    if mask.shape != array.shape[:2]:
        raise ValueError(f"class_mask must have the image's shape {array.shape[:2]}, got {mask.shape}")
    if not (np.issubdtype(mask.dtype, np.integer) or mask.dtype == bool):
        raise TypeError(f"class_mask must hold integers, got dtype {mask.dtype}")
    if mask.size and mask.min() < 0:
        raise ValueError("class_mask must hold non-negative integers (0 = background)")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be a number between 0 and 1, got {alpha!r}")
    palette = np.array(CLASS_DRAW_COLOURS[1:], np.float32)
    mask = mask.astype(np.int64)
    tint = palette[(mask - 1) % len(palette)]
    out = array.astype(np.float32)
    on = mask > 0
    out[on] = (1 - alpha) * out[on] + alpha * tint[on]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


__all__ = [
    "BACKGROUND_KINDS",
    "CAPTION_WORDS",
    "CLASS_NAMES",
    "COLOURS",
    "RELATIONS",
    "SIZE_NAMES",
    "Scene",
    "draw_boxes",
    "make_scene",
    "make_scenes",
    "overlay_mask",
    "stack_scenes",
]
