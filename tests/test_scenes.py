"""Tests of the synthetic scene generator: labels are exact, seeds reproduce, bad inputs are refused."""

from __future__ import annotations

import numpy as np
import pytest

from cvcourse.scenes import (
    CAPTION_WORDS,
    CLASS_NAMES,
    COLOURS,
    RELATIONS,
    SIZE_NAMES,
    Scene,
    draw_boxes,
    make_scene,
    make_scenes,
    overlay_mask,
    stack_scenes,
)


@pytest.fixture(scope="module")
def scenes() -> list[Scene]:
    return make_scenes(300, seed=11, n_objects=(1, 4), progress=False)


def test_types_and_shapes(scenes):
    for scene in scenes[:50]:
        assert scene.image.shape == (64, 64, 3) and scene.image.dtype == np.uint8
        assert scene.boxes.shape == (scene.n, 4) and scene.boxes.dtype == np.float32
        assert scene.labels.shape == (scene.n,) and np.issubdtype(scene.labels.dtype, np.integer)
        assert scene.class_mask.shape == (64, 64) and scene.class_mask.dtype == np.uint8
        assert scene.instance_mask.shape == (64, 64) and np.issubdtype(scene.instance_mask.dtype, np.integer)
        assert len(scene.colours) == len(scene.sizes) == scene.n
        assert 1 <= scene.n <= 4
        assert set(scene.colours) <= set(COLOURS) and set(scene.sizes) <= set(SIZE_NAMES)
        assert all(0 <= label < len(CLASS_NAMES) for label in scene.labels)


def test_every_object_count_occurs(scenes):
    assert {scene.n for scene in scenes} == {1, 2, 3, 4}


def test_boxes_are_tight_around_visible_masks(scenes):
    for scene in scenes:
        ids = set(np.unique(scene.instance_mask).tolist())
        assert ids == set(range(scene.n + 1)), "every object keeps visible pixels, and only objects are labelled"
        for i, (x0, y0, x1, y1) in enumerate(scene.boxes.astype(int)):
            rows, cols = np.nonzero(scene.instance_mask == i + 1)
            assert (x0, y0, x1, y1) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
            assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64


def test_class_mask_agrees_with_instances(scenes):
    for scene in scenes:
        expected = np.concatenate([[0], scene.labels + 1])[scene.instance_mask]
        np.testing.assert_array_equal(scene.class_mask, expected)


def test_objects_change_the_image_where_the_masks_say(scenes):
    # An object's pixels are near its palette colour (jitter 22 + noise), which the muted background is not.
    for scene in scenes[:100]:
        for i, name in enumerate(scene.colours):
            pixels = scene.image[scene.instance_mask == i + 1].astype(float)
            assert np.abs(pixels.mean(axis=0) - np.array(COLOURS[name])).max() < 30


def test_occlusion_happens_and_is_bounded():
    scenes = make_scenes(200, seed=3, n_objects=3, progress=False)
    occluded = 0
    for scene in scenes:
        for i in range(scene.n):
            visible = int((scene.instance_mask == i + 1).sum())
            x0, y0, x1, y1 = scene.boxes[i]
            occluded += visible < 0.6 * (x1 - x0) * (y1 - y0)  # partly hidden (or a circle/triangle)
    assert occluded > 0
    no_overlap = make_scenes(50, seed=3, n_objects=3, min_visible=1.0, progress=False)
    for scene in no_overlap:
        assert len(np.unique(scene.instance_mask)) == scene.n + 1


def test_captions_name_exactly_the_objects(scenes):
    for scene in scenes:
        words = scene.caption.replace(",", " ,").split()
        assert set(words) <= set(CAPTION_WORDS), scene.caption
        mentioned = [
            (words[i + 1], words[i + 2], words[i + 3]) for i in range(len(words)) if words[i] == "a"
        ]
        present = list(zip(scene.sizes, scene.colours, scene.class_names))
        assert mentioned == present, (scene.caption, present)


def test_two_object_relations_match_the_geometry():
    scenes = make_scenes(200, seed=5, n_objects=2, min_visible=1.0, progress=False)
    seen = set()
    for scene in scenes:
        relation = next(r for r in RELATIONS if f" {r} " in scene.caption)
        seen.add(relation)
        (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = scene.boxes
        dx, dy = (ax0 + ax1 - bx0 - bx1) / 2, (ay0 + ay1 - by0 - by1) / 2
        # boxes of unoccluded shapes have the shapes' centres (within the triangle's offset)
        expected = ("left of" if dx < 0 else "right of") if abs(dx) >= abs(dy) else ("above" if dy < 0 else "below")
        assert relation == expected, scene.caption
    assert seen == set(RELATIONS)


def test_one_object_caption():
    scene = make_scene(4, n_objects=1)
    assert scene.caption == f"a {scene.sizes[0]} {scene.colours[0]} {scene.class_names[0]}"


def test_same_seed_same_scene_and_generator_input():
    a, b = make_scene(123), make_scene(123)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    np.testing.assert_array_equal(a.instance_mask, b.instance_mask)
    assert a.caption == b.caption
    c = make_scene(np.random.default_rng(123))
    np.testing.assert_array_equal(a.image, c.image)
    assert not np.array_equal(make_scene(124).image, a.image)


def test_make_scenes_is_prefix_stable_and_seeded():
    five, ten = make_scenes(5, seed=2), make_scenes(10, seed=2)
    for x, y in zip(five, ten):
        np.testing.assert_array_equal(x.image, y.image)
    other = make_scenes(5, seed=3)
    assert not all(np.array_equal(x.image, y.image) for x, y in zip(five, other))
    assert make_scenes(0) == []


def test_options_size_classes_colours_background():
    scene = make_scene(0, size=96, n_objects=(2, 2), classes=["circle"], colours=["red"], background="plain", noise=0)
    assert scene.image.shape == (96, 96, 3) and scene.n == 2
    assert scene.class_names == ["circle", "circle"] and scene.colours == ["red", "red"]
    background = scene.image[scene.instance_mask == 0]
    assert len(np.unique(background, axis=0)) == 1  # plain, noise-free background


def test_backgrounds_vary():
    means = [make_scene(i).image[make_scene(i).instance_mask == 0].std() for i in range(20)]
    assert np.ptp(means) > 5


def test_stack_scenes(scenes):
    batch = stack_scenes(scenes[:20])
    most = max(s.n for s in scenes[:20])
    assert batch["images"].shape == (20, 64, 64, 3)
    assert batch["class_masks"].shape == batch["instance_masks"].shape == (20, 64, 64)
    assert batch["boxes"].shape == (20, most, 4) and batch["labels"].shape == (20, most)
    for i, scene in enumerate(scenes[:20]):
        assert batch["n_objects"][i] == scene.n
        assert (batch["labels"][i, scene.n:] == -1).all()
        np.testing.assert_array_equal(batch["boxes"][i, : scene.n], scene.boxes)
        assert batch["captions"][i] == scene.caption


def test_draw_boxes_and_overlay(scenes):
    scene = next(s for s in scenes if s.n >= 2)
    drawn = draw_boxes(scene.image, scene.boxes, scene.labels, scores=np.full(scene.n, 0.9), scale=4)
    assert drawn.shape == (256, 256, 3) and drawn.dtype == np.uint8
    assert not np.array_equal(drawn[::4, ::4], scene.image)
    original = scene.image.copy()
    draw_boxes(scene.image, scene.boxes, scene.labels)
    np.testing.assert_array_equal(scene.image, original)  # not drawn in place
    assert draw_boxes(scene.image, np.zeros((0, 4)), []).shape == (64, 64, 3)
    tinted = overlay_mask(scene.image, scene.class_mask, alpha=0.5)
    np.testing.assert_array_equal(tinted[scene.class_mask == 0], scene.image[scene.class_mask == 0])
    assert not np.array_equal(tinted[scene.class_mask > 0], scene.image[scene.class_mask > 0])
    np.testing.assert_array_equal(overlay_mask(scene.image, scene.class_mask, alpha=0.0), scene.image)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rng_or_seed": 1.5}, TypeError, "rng_or_seed"),
        ({"rng_or_seed": None}, TypeError, "rng_or_seed"),
        ({"rng_or_seed": -1}, ValueError, "non-negative"),
        ({"rng_or_seed": 0, "size": 16}, ValueError, "size"),
        ({"rng_or_seed": 0, "size": 64.0}, TypeError, "size"),
        ({"rng_or_seed": 0, "n_objects": 0}, ValueError, "n_objects"),
        ({"rng_or_seed": 0, "n_objects": (3, 1)}, ValueError, "min <= max"),
        ({"rng_or_seed": 0, "n_objects": (1, 2, 3)}, TypeError, "n_objects"),
        ({"rng_or_seed": 0, "n_objects": 99}, ValueError, "n_objects"),
        ({"rng_or_seed": 0, "classes": ["hexagon"]}, ValueError, "hexagon"),
        ({"rng_or_seed": 0, "classes": "circle"}, TypeError, "classes"),
        ({"rng_or_seed": 0, "colours": ["purple"]}, ValueError, "purple"),
        ({"rng_or_seed": 0, "background": "marble"}, ValueError, "background"),
        ({"rng_or_seed": 0, "min_visible": 1.5}, ValueError, "min_visible"),
        ({"rng_or_seed": 0, "noise": -1}, ValueError, "noise"),
    ],
)
def test_make_scene_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_scene(**kwargs)


def test_make_scenes_and_stack_reject_bad_input():
    with pytest.raises(ValueError, match="n must be"):
        make_scenes(-1)
    with pytest.raises(TypeError, match="n must be"):
        make_scenes(2.0)
    with pytest.raises(ValueError, match="size"):
        make_scenes(2, size=8)
    with pytest.raises(TypeError, match="Scene"):
        stack_scenes([make_scene(0), "not a scene"])
    with pytest.raises(TypeError, match="non-empty"):
        stack_scenes([])
    with pytest.raises(ValueError, match="same image size"):
        stack_scenes([make_scene(0), make_scene(0, size=32)])


def test_figures_reject_bad_input():
    scene = make_scene(0)
    with pytest.raises(ValueError, match="one entry per box"):
        draw_boxes(scene.image, scene.boxes, np.zeros(scene.n + 1, int))
    with pytest.raises(ValueError, match="labels must be integers"):
        draw_boxes(scene.image, scene.boxes, np.full(scene.n, 7))
    with pytest.raises(ValueError, match="RGB"):
        draw_boxes(scene.image[..., 0], scene.boxes, scene.labels)
    with pytest.raises(ValueError, match="shape"):
        overlay_mask(scene.image, scene.class_mask[:10])
    with pytest.raises(ValueError, match="alpha"):
        overlay_mask(scene.image, scene.class_mask, alpha=2)
    with pytest.raises(TypeError, match="integers"):
        overlay_mask(scene.image, scene.class_mask.astype(float))
