"""Procedural appearance: demographic-linked traits, seeded textures, age and AU cues."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pain3d.appearance import WRINKLE_CHANNELS, appearance_from_traits, sample_appearance
from pain3d.appearance.hair import hair_coverage
from pain3d.appearance.landmarks import face_landmarks
from pain3d.appearance.traits import (
    HAIR_STYLES,
    MONK_TONES,
    monk_tone_probabilities,
    sample_traits,
)
from pain3d.appearance.uvmap import cached_raster, rasterize_uv
from pain3d.demographics import ANCESTRIES, Demographics, demographic_grid
from pain3d.face.mesh import region_id


def test_monk_tones_cover_the_scale_and_ancestries_overlap():
    tones: dict[str, set[int]] = {a: set() for a in ANCESTRIES}
    for i, demo in enumerate(demographic_grid() * 20):
        tones[demo.ancestry].add(sample_traits(demo, np.random.default_rng(i)).monk_tone)
    assert set().union(*tones.values()) == set(range(1, 11))
    assert all(len(t) >= 3 for t in tones.values())
    assert tones["european"] & tones["east_asian"] and tones["south_asian"] & tones["african"]
    # Darker tones are more likely for African than for European ancestry.
    mean = {a: (np.arange(1, 11) * monk_tone_probabilities(a)).sum() for a in ANCESTRIES}
    assert mean["african"] > mean["south_asian"] > mean["european"]
    assert MONK_TONES.shape == (10, 3) and (np.diff(MONK_TONES.mean(1)) < 0.01).all()


def test_facial_hair_only_on_men_and_styles_are_known():
    for i, demo in enumerate(demographic_grid() * 5):
        t = sample_traits(demo, np.random.default_rng(i))
        assert t.hair_style in HAIR_STYLES
        if demo.sex == "female":
            assert t.facial_hair == "none"


def test_same_seed_gives_identical_textures_and_another_seed_differs(head):
    demo = Demographics("male", "36-60", "african")
    a = sample_appearance(demo, 5, mesh=head, texture_size=64)
    b = sample_appearance(demo, 5, mesh=head, texture_size=64)
    c = sample_appearance(demo, 6, mesh=head, texture_size=64)
    for name in ("albedo", "height", "wrinkles"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.albedo, c.albedo)
    assert a.albedo.shape == (64, 64, 3) and a.albedo.dtype == np.uint8
    assert a.wrinkles.shape == (64, 64, len(WRINKLE_CHANNELS))
    assert a.vertex_spec.shape == a.vertex_hair.shape == (head.n_vertices,)
    assert a.labels.shape == (64, 64, 2) and a.labels[..., 1].max() > 200  # painted lips


def test_darker_monk_tone_paints_darker_skin(head):
    demo = Demographics("female", "20-35", "latino")
    base = sample_traits(demo, np.random.default_rng(0))
    light = dataclasses.replace(base, monk_tone=2, skin_rgb=tuple(MONK_TONES[1]))
    dark = dataclasses.replace(base, monk_tone=9, skin_rgb=tuple(MONK_TONES[8]))
    a = appearance_from_traits(head, demo, light, 0, texture_size=64)
    b = appearance_from_traits(head, demo, dark, 0, texture_size=64)
    raster = cached_raster(head.uv, head.faces, 64)
    cheek = head.regions[raster.nearest_vertex(head.faces)] == region_id("cheek")
    assert a.albedo[cheek].mean() > b.albedo[cheek].mean() + 100


def test_age_deepens_static_creases(head):
    demo = Demographics("female", "61-85", "european")
    base = sample_traits(demo, np.random.default_rng(1))
    young = appearance_from_traits(head, demo, dataclasses.replace(base, age_level=0.0), 0, 128)
    old = appearance_from_traits(head, demo, dataclasses.replace(base, age_level=1.0), 0, 128)
    raster = cached_raster(head.uv, head.faces, 128)
    forehead = head.regions[raster.nearest_vertex(head.faces)] == region_id("forehead")
    # Creases cut into the relief map (below 128 = flat).
    assert (old.height[forehead] < 100).sum() > 3 * max((young.height[forehead] < 100).sum(), 1)


def test_glabellar_wrinkles_sit_between_the_brows(head):
    app = sample_appearance(Demographics("male", "20-35", "east_asian"), 0, mesh=head,
                            texture_size=128)
    raster = cached_raster(head.uv, head.faces, 128)
    pos = raster.interpolate(head.faces, head.vertices)
    lm = face_landmarks(head)
    glab = app.wrinkles[..., WRINKLE_CHANNELS.index("glabellar")] > 64
    assert glab.any()
    assert np.abs(pos[glab][:, 0]).max() < 0.016
    assert np.abs(pos[glab][:, 1] - lm.brow_y).max() < 0.03


def test_hair_covers_the_crown_but_never_the_face(head):
    lm = face_landmarks(head)
    crown = np.array([[0.0, lm.brow_y + 0.09, lm.face_z - 0.08]])
    face = np.array([[0.0, lm.brow_y - 0.02, lm.face_z]])
    reg = np.zeros(1, np.uint8)
    for style in ("short", "medium", "long"):
        assert hair_coverage(crown, reg, lm, style)[0] > 0.9
        assert hair_coverage(face, reg, lm, style)[0] == 0
    assert hair_coverage(crown, reg, lm, "bald")[0] < 0.1


def test_uv_raster_interpolates_linear_functions_exactly():
    uv = np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9]])
    faces = np.array([[0, 1, 2], [1, 3, 2]])
    values = uv @ np.array([2.0, -3.0]) + 0.5
    r = rasterize_uv(uv, faces, 32)
    got = r.interpolate(faces, values)
    centres = (np.arange(32) + 0.5) / 32
    want = 2.0 * centres[None, :] - 3.0 * centres[:, None] + 0.5  # row = v, column = u
    assert np.allclose(got[r.covered], want[r.covered], atol=1e-5)
    assert r.covered.sum() == pytest.approx(0.64 * 32 * 32, rel=0.1)


def test_uv_raster_reuses_corners_only_for_the_same_face_list():
    uv = np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9]])
    faces = np.array([[0, 1, 2], [1, 3, 2]])
    r = rasterize_uv(uv, faces, 16)
    values = np.array([[1.0, 2.0], [3.0, 5.0], [7.0, 11.0], [13.0, 17.0]], np.float32)

    def fresh(f):  # the interpolation without any kept corners
        corner = values[f[r.tri]]
        return np.einsum("ijk,ijkc->ijc", r.bary, corner)

    assert np.array_equal(r.interpolate(faces, values), fresh(faces))
    # Another face list of the same shape (corners relabelled) on the same raster: its own
    # corners, not the kept ones of the first list.
    other = faces[:, ::-1].copy()
    assert np.array_equal(r.interpolate(other, values), fresh(other))
    assert not np.array_equal(fresh(other), fresh(faces))
    assert np.array_equal(r.nearest_vertex(other), np.take_along_axis(
        other[r.tri], np.argmax(r.bary, axis=-1)[..., None], -1)[..., 0])
    assert np.array_equal(r.interpolate(faces.astype(np.int32), values), fresh(faces))


def test_nearest_vertex_is_the_corner_of_largest_weight_and_the_first_of_equal_ones():
    from pain3d.appearance.uvmap import UVRaster

    # One texel per row of weights: a clear maximum at each corner, and ties (0.4 = 0.4 at
    # corners 0 and 1, 0.5 = 0.5 at 0 and 2 and at 1 and 2, all three equal).
    rows = np.array([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2], [0.4, 0.4, 0.2],
                     [0.5, 0.0, 0.5], [0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], np.float32)
    raster = UVRaster(size=len(rows), tri=np.zeros((1, len(rows)), np.int32),
                      bary=rows[None], covered=np.ones((1, len(rows)), bool))
    faces = np.array([[10, 11, 12]])
    assert raster.nearest_vertex(faces).tolist() == [[11, 12, 10, 10, 10, 11, 10]]


def test_hair_shell_sits_outside_the_scalp_and_indexes_its_own_vertices(head):
    from pain3d.appearance.hair import build_hair_shell

    lm = face_landmarks(head)
    shell = build_hair_shell(head, lm, "medium", np.random.default_rng(0))
    assert shell is not None
    assert (shell.offset > 0).all() and shell.offset.max() < 0.05
    assert shell.faces.min() == 0 and shell.faces.max() == len(shell.vertex_index) - 1
    assert build_hair_shell(head, lm, "buzz", np.random.default_rng(0)) is None
    with pytest.raises(ValueError, match="hair style"):
        build_hair_shell(head, lm, "mohawk", np.random.default_rng(0))


def test_uv_raster_kept_on_disk_is_reused_and_a_damaged_copy_made_again(tmp_path):
    from pain3d.appearance.uvmap import stored_raster

    uv = np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9]])
    faces = np.array([[0, 1, 2], [1, 3, 2]])
    path = tmp_path / "cache" / "raster.npz"
    fresh = rasterize_uv(uv, faces, 32)

    def same(raster, want=fresh):
        return all(np.array_equal(getattr(raster, n), getattr(want, n))
                   for n in ("tri", "bary", "covered"))

    assert same(stored_raster(path, uv, faces, 32)) and path.exists()  # made, then kept
    marked = np.where(fresh.tri >= 0, 1 - fresh.tri, -1).astype(np.int32)
    np.savez(path, tri=marked, bary=fresh.bary, covered=fresh.covered)
    assert np.array_equal(stored_raster(path, uv, faces, 32).tri, marked)  # read, not made
    path.write_bytes(b"not a zip")  # damaged: made again, and the file replaced
    assert same(stored_raster(path, uv, faces, 32))
    with np.load(path) as z:
        assert np.array_equal(z["tri"], fresh.tri)
    assert same(stored_raster(path, uv, faces, 16), rasterize_uv(uv, faces, 16))  # other size


def test_cached_raster_keeps_its_file_in_the_user_cache(tmp_path, monkeypatch):
    from pain3d.appearance import uvmap

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(uvmap, "_CACHE", {})
    uv = np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9]])
    raster = cached_raster(uv, np.array([[0, 1, 2]]), 16)
    files = list((tmp_path / "pain3d" / "uv_raster").glob(f"v{uvmap.RASTER_VERSION}-*-16.npz"))
    assert len(files) == 1
    with np.load(files[0]) as z:
        assert np.array_equal(z["tri"], raster.tri)
