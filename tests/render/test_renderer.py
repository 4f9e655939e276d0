"""Renderer behaviour on tiny framebuffers (Mesa llvmpipe on CPU)."""

from __future__ import annotations

import numpy as np
import pytest
from scenes import flat_appearance, quad

from pain3d.face.mesh import PARTS
from pain3d.render import Camera, Lighting, compose, default_views, heat_lut, wrinkle_weights

DARK = Lighting(key_rgb=(0, 0, 0), fill_rgb=(0, 0, 0), rim_rgb=(0, 0, 0),
                sky_rgb=(0.8, 0.8, 0.8), ground_rgb=(0.8, 0.8, 0.8), exposure=1.0)
FRONT = Camera(yaw=0, pitch=0, distance=0.5, fov=20, target=(0, 0, 0))


def expected_ambient_pixel(value: int, ambient: float) -> int:
    """The shader's colour for uniform albedo under ambient light only (AO = 1)."""
    lin = (value / 255.0) ** 2 * ambient
    lin = lin / (1 + 0.12 * lin)
    return int(round(np.sqrt(lin) * 255))


def test_flat_quad_under_ambient_light_gives_exact_pixels(renderer):
    res = renderer.render(quad(0.02), flat_appearance(160), FRONT, DARK)
    h, w = res.mask.shape
    c = res.rgb[h // 2, w // 2].astype(int)
    assert np.abs(c - expected_ambient_pixel(160, 0.8)).max() <= 1
    assert res.parts[h // 2, w // 2] == PARTS.index("skin")
    assert res.mask[h // 2, w // 2] == 255
    assert abs(res.depth[h // 2, w // 2] - 0.5) < 1e-4
    # Corners are background in every pass.
    for y, x in ((0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)):
        assert res.mask[y, x] == 0 and res.parts[y, x] == 0 and res.depth[y, x] == 0
        assert res.rgb[y, x].tolist() == [0, 0, 0]


def test_quad_lands_where_the_numpy_camera_projects_it(renderer):
    centre = np.array([0.025, 0.015, 0.0])
    cam = Camera(yaw=10, pitch=-5, roll=7, distance=0.5, fov=25, target=(0, 0, 0))
    res = renderer.render(quad(0.006, centre=centre[:2]), flat_appearance(100), cam, DARK)
    ys, xs = np.nonzero(res.mask)
    px = cam.project(centre[None], renderer.size)[0]
    assert abs(xs.mean() + 0.5 - px[0]) < 0.75
    assert abs(ys.mean() + 0.5 - px[1]) < 0.75
    assert abs(res.depth[ys, xs].mean() - px[2]) < 2e-3


def test_parts_follow_regions(renderer):
    res = renderer.render(quad(0.02, region="lips"), flat_appearance(100), FRONT, DARK)
    assert set(np.unique(res.parts)) == {0, PARTS.index("lips")}


def test_mask_depth_and_parts_agree_on_a_head(renderer, head, head_appearance):
    for cam in default_views():
        res = renderer.render(head, head_appearance, cam, Lighting())
        inside = res.mask > 0
        assert inside.mean() > 0.1
        assert np.array_equal(inside, res.depth > 0)
        assert np.array_equal(inside, res.parts > 0)
        d = res.depth[inside]
        assert d.min() > cam.distance - 0.2 and d.max() < cam.distance + 0.2
        assert res.heatmap is None


def test_neutral_heat_gives_a_black_heatmap(renderer, head, head_appearance):
    res = renderer.render(head, head_appearance, default_views()[0], Lighting(),
                          heat=np.zeros(head.n_vertices, np.float32))
    assert res.heatmap.shape == (*renderer.size[::-1], 3)
    assert res.heatmap.max() == 0


def test_full_heat_is_white_on_the_head_and_black_outside(renderer, head, head_appearance):
    res = renderer.render(head, head_appearance, default_views()[0], Lighting(),
                          heat=np.ones(head.n_vertices, np.float32))
    inside = res.mask > 0
    assert (res.heatmap[inside] == 255).all()
    assert (res.heatmap[~inside] == 0).all()


def test_heat_lut_runs_black_red_yellow_white():
    lut = heat_lut(4).tolist()
    assert lut == [[0, 0, 0], [255, 0, 0], [255, 255, 0], [255, 255, 255]]
    full = heat_lut().astype(int)
    assert (np.diff(full, axis=0) >= 0).all()


def test_colourise_maps_every_code_through_the_lut():
    from pain3d.render import colourise

    codes = np.arange(256, dtype=np.uint8).reshape(16, 16)
    rgb = colourise(codes[:, ::-1])  # a strided view too
    assert rgb.shape == (16, 16, 3) and rgb.dtype == np.uint8
    assert np.array_equal(rgb, heat_lut()[codes[:, ::-1]])


def test_same_inputs_render_identical_bytes(renderer, head, head_appearance):
    cam = default_views()[1]
    a = renderer.render(head, head_appearance, cam, Lighting(), aus=np.array([3, 2, 2, 1, 1, 0]))
    b = renderer.render(head, head_appearance, cam, Lighting(), aus=np.array([3, 2, 2, 1, 1, 0]))
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth, b.depth)


def test_zero_aus_draw_no_expression_wrinkles(renderer, head, head_appearance):
    cam = default_views()[0]
    none = renderer.render(head, head_appearance, cam, Lighting(), aus=None)
    zero = renderer.render(head, head_appearance, cam, Lighting(), aus=np.zeros(6))
    assert np.array_equal(none.rgb, zero.rgb)
    assert wrinkle_weights(np.zeros(6)).max() == 0
    w = wrinkle_weights(np.array([5, 0, 0, 0, 0, 0]))
    assert w[0] > 0.9 and w[1:].max() == 0


def test_compose_keeps_head_pixels_and_background_elsewhere(renderer, head, head_appearance):
    res = renderer.render(head, head_appearance, default_views()[0], Lighting())
    bg = np.full_like(res.rgb, 77)
    out = compose(res, bg, feather=0.0)
    inside = res.mask > 0
    assert np.array_equal(out[inside], res.rgb[inside])
    # Outside, only the stray hairs beside the scalp hair (pain3d.render.strays) differ.
    import cv2

    from pain3d.face.mesh import PARTS

    hair = (res.parts == PARTS.index("hair")).astype(np.uint8)
    near_hair = cv2.dilate(hair, np.ones((27, 27), np.uint8)) > 0
    assert (out[~inside & ~near_hair] == 77).all()


def test_wrong_heat_length_is_rejected(renderer, head, head_appearance):
    with pytest.raises(ValueError, match="heat"):
        renderer.render(head, head_appearance, default_views()[0], Lighting(),
                        heat=np.zeros(3, np.float32))


def test_supersampling_keeps_the_passes_and_smooths_edges(renderer, head, head_appearance):
    from pain3d.render import Renderer

    cam = default_views()[1]
    plain = renderer.render(head, head_appearance, cam, Lighting(), heat=np.ones(head.n_vertices))
    with Renderer(renderer.size, supersample=2, auto_exposure=False) as ss:
        smooth = ss.render(head, head_appearance, cam, Lighting(), heat=np.ones(head.n_vertices))
    a, b = plain.mask > 0, smooth.mask > 0
    assert (a & b).sum() / (a | b).sum() > 0.9
    assert smooth.rgb.shape == plain.rgb.shape and smooth.depth.shape == plain.depth.shape
    assert np.array_equal(smooth.mask > 0, smooth.depth > 0)
    # Averaged silhouette pixels take in-between values that a single sample never has.
    edge = b & ~np.pad(b, 1)[2:, 1:-1]
    assert smooth.heat[edge].min() < 255 and plain.heat[a].min() == 255


def test_a_light_in_front_lights_the_face_and_one_behind_does_not(renderer):
    dark = dict(fill_rgb=(0, 0, 0), rim_rgb=(0, 0, 0), sky_rgb=(0, 0, 0), ground_rgb=(0, 0, 0))
    front = Lighting(key_dir=(0, 0, 1), key_rgb=(1, 1, 1), **dark)
    behind = Lighting(key_dir=(0, 0, -1), key_rgb=(1, 1, 1), **dark)
    app = flat_appearance(160)
    lit = renderer.render(quad(0.02), app, FRONT, front).rgb[24, 24].astype(int)
    unlit = renderer.render(quad(0.02), app, FRONT, behind).rgb[24, 24].astype(int)
    assert lit.min() > 100 and unlit.max() < 60


def test_a_new_vertex_array_is_uploaded_even_right_after_another(renderer, head, head_appearance):
    cam = default_views()[0]
    a = renderer.render(head, head_appearance, cam, Lighting())
    moved = head.with_vertices(head.vertices + np.float32([0.01, 0, 0]))
    b = renderer.render(moved, head_appearance, cam, Lighting())
    again = renderer.render(head, head_appearance, cam, Lighting())
    assert not np.array_equal(a.mask, b.mask)
    assert np.array_equal(a.rgb, again.rgb)


def test_skipping_painted_labels_keeps_colour_mask_heat_and_depth(renderer, head,
                                                                  head_appearance):
    cam = default_views()[0]
    heat = np.linspace(0, 1, head.n_vertices, dtype=np.float32)
    aus = np.array([3, 2, 2, 1, 1, 0])
    full = renderer.render(head, head_appearance, cam, Lighting(), aus=aus, heat=heat)
    fast = renderer.render(head, head_appearance, cam, Lighting(), aus=aus, heat=heat,
                           labels=False)
    for name in ("rgb", "mask", "depth", "heat", "heatmap"):
        assert np.array_equal(getattr(full, name), getattr(fast, name)), name
    # Only the skin/brow/lip refinement of the part ids may differ.
    differ = full.parts != fast.parts
    refined = {PARTS.index(p) for p in ("skin", "brows", "lips")}
    assert set(np.unique(full.parts[differ])) <= refined
    assert set(np.unique(fast.parts[differ])) <= refined


def test_labels_false_draws_with_a_program_that_never_fetches_the_labels(renderer, head,
                                                                         head_appearance):
    import dataclasses

    assert "label_tex" in renderer._programs[True, True, False]
    assert "label_tex" not in renderer._programs[False, True, False]
    cam = default_views()[0]
    with_labels = renderer.render(head, head_appearance, cam, Lighting())
    without = renderer.render(head, head_appearance, cam, Lighting(), labels=False)
    assert not np.array_equal(with_labels.parts, without.parts)  # the labels do refine
    # An appearance without painted labels draws with the label-free program either way.
    unlabelled = dataclasses.replace(head_appearance, labels=None)
    plain = renderer.render(head, unlabelled, cam, Lighting())
    assert np.array_equal(plain.parts, without.parts)
    assert np.array_equal(plain.rgb, without.rgb)


def test_zero_wrinkle_weights_draw_without_the_fetch_and_the_same_bytes(renderer, head,
                                                                        head_appearance):
    assert "wrinkle_tex" in renderer._programs[True, True, False]
    assert "wrinkle_tex" not in renderer._programs[True, False, False]
    # Shut lids' code (LIDS) is pass 2's only: every skin fragment runs pass 1's program.
    assert "lid_shut" in renderer._prog_shut[True, True]
    assert "lid_shut" not in renderer._programs[True, True, True]
    cam = default_views()[0]
    fast = renderer.render(head, head_appearance, cam, Lighting(), aus=np.zeros(6))
    # The same draw through the program with the wrinkle fetch (weights still zero).
    programs = dict(renderer._programs)
    try:
        for labels in (True, False):
            renderer._programs[labels, False, False] = programs[labels, True, False]
        full = renderer.render(head, head_appearance, cam, Lighting(), aus=np.zeros(6))
    finally:
        renderer._programs.update(programs)
    for name in ("rgb", "parts", "mask", "depth"):
        assert np.array_equal(getattr(fast, name), getattr(full, name)), name
    frown = renderer.render(head, head_appearance, cam, Lighting(), aus=[5, 0, 0, 5, 0, 0])
    assert not np.array_equal(frown.rgb, fast.rgb)  # the wrinkles do show


def test_results_are_fresh_arrays_that_a_later_draw_leaves_alone(renderer, head,
                                                                 head_appearance):
    heat = np.linspace(0, 1, head.n_vertices, dtype=np.float32)
    first = renderer.render(head, head_appearance, default_views()[0], Lighting(), heat=heat)
    kept = {name: getattr(first, name).copy() for name in ("rgb", "parts", "heat", "mask")}
    renderer.render(head, head_appearance, default_views()[1], Lighting(), heat=1.0 - heat)
    for name, value in kept.items():
        assert np.array_equal(getattr(first, name), value), name
        assert getattr(first, name).flags.writeable, name


def test_a_second_renderer_made_and_released_meanwhile_changes_no_draw(renderer, head,
                                                                       head_appearance):
    from pain3d.render import Renderer

    app = flat_appearance(160)
    dark = dict(fill_rgb=(0, 0, 0), rim_rgb=(0, 0, 0), sky_rgb=(0, 0, 0), ground_rgb=(0, 0, 0))
    light = Lighting(key_dir=(0, 0, 1), key_rgb=(1, 1, 1), **dark)
    before = renderer.render(quad(0.02), app, FRONT, light).rgb
    with Renderer(renderer.size, supersample=2, auto_exposure=False) as other:
        other.render(head, head_appearance, default_views()[1], Lighting())
    after = renderer.render(quad(0.02), app, FRONT, light).rgb
    assert np.array_equal(before, after)


def test_views_with_and_without_a_heatmap_draw_as_if_uploaded_fresh(renderer, head,
                                                                     head_appearance):
    # One expressed mesh drawn from several views, with, without and with another heatmap:
    # the geometry is uploaded once, the heat must still be each draw's own.
    from pain3d.render import Renderer

    cams = default_views()
    heat = np.linspace(0, 1, head.n_vertices)
    draws = [(cams[0], heat), (cams[0], 1.0 - heat), (cams[1], None), (cams[0], heat)]
    seq = [renderer.render(head, head_appearance, c, Lighting(), heat=h) for c, h in draws]
    for (cam, h), got in zip(draws, seq, strict=True):
        with Renderer(renderer.size, auto_exposure=False) as fresh:
            want = fresh.render(head, head_appearance, cam, Lighting(), heat=h)
        assert np.array_equal(got.rgb, want.rgb)
        assert (got.heat is None and want.heat is None) or np.array_equal(got.heat, want.heat)
    assert not np.array_equal(seq[0].heat, seq[1].heat)
