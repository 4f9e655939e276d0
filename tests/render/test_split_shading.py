"""Split shading (mark pass, skin and hair-shell pass, eyeball/mouth pass) draws the same
bytes as one draw."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scenes import flat_appearance, quad

from pain3d.face.mesh import PARTS, REGION_PART_IDS, Mesh, region_id
from pain3d.render import Camera, Lighting, Renderer, default_views
from pain3d.render.shaders import FRAGMENT, FRAGMENT_FEATURES, FRAGMENT_SKIN, with_switches

PASSES = ("rgb", "mask", "parts", "depth", "heat", "heatmap")
FRONT = Camera(yaw=0, pitch=0, distance=0.5, fov=20, target=(0, 0, 0))


@pytest.fixture(scope="module")
def renderers():
    split, single = Renderer(64), Renderer(64, split_shading=False)
    yield split, single
    split.release()
    single.release()


def assert_same_draw(a, b):
    for name in PASSES:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert np.array_equal(x, y), f"{name}: {np.count_nonzero(x != y)} values differ"


def stacked(regions: list[str]) -> Mesh:
    """Coplanar overlapping squares (same depth everywhere), one per region, in this face
    order: every covered pixel is a depth tie that only the draw order decides."""
    parts = [quad(0.02, centre=(0.004 * k, 0.0), region=r) for k, r in enumerate(regions)]
    offsets = np.cumsum([0] + [p.n_vertices for p in parts[:-1]])
    return Mesh(np.concatenate([p.vertices for p in parts]),
                np.concatenate([p.faces + o for p, o in zip(parts, offsets, strict=True)]),
                np.concatenate([p.uv for p in parts]),
                np.concatenate([p.regions for p in parts]))


@pytest.mark.parametrize("order", [["skin", "eyeball"], ["eyeball", "skin"],
                                   ["eyeball", "mouth_interior"], ["mouth_interior", "eyeball"],
                                   ["skin", "mouth_interior", "eyeball", "skin"]])
def test_depth_ties_go_to_the_first_triangle_drawn_as_in_one_draw(renderers, order):
    split, single = renderers
    mesh = stacked(order)
    app = flat_appearance(150, n_vertices=mesh.n_vertices)
    heat = np.linspace(0, 1, mesh.n_vertices).astype(np.float32)
    a = split.render(mesh, app, FRONT, Lighting(), heat=heat)
    b = single.render(mesh, app, FRONT, Lighting(), heat=heat)
    assert_same_draw(a, b)
    # The tie really decides something: the first square drawn covers the overlap, and the
    # eyeball and mouth-interior squares are drawn before the skin squares.
    first = next((r for r in order if r != "skin"), order[0])
    assert a.parts[32, 32] == REGION_PART_IDS[region_id(first)]


def test_split_shading_draws_a_real_head_with_hair_byte_for_byte():
    from pain3d.appearance import appearance_from_traits
    from pain3d.appearance.traits import sample_traits
    from pain3d.face import express, identity_mesh, sample_identities

    ident = sample_identities(1, seed=4)[0]
    mesh = identity_mesh(ident)
    traits = dataclasses.replace(sample_traits(ident.demographics, np.random.default_rng(1)),
                                 hair_style="long")
    app = appearance_from_traits(mesh, ident.demographics, traits, seed=2, texture_size=128)
    assert app.hair_shell is not None
    aus = np.array([3.0, 4.0, 3.0, 2.0, 3.0, 0.0])  # brows down, lids narrowed, lip up
    pain = express(mesh, aus)
    shut_aus = aus + np.eye(6)[5]  # and the eyes shut (the LIDS code)
    shut = express(mesh, shut_aus)
    heat = np.linspace(0, 1, mesh.n_vertices).astype(np.float32)
    split, single = Renderer(96), Renderer(96, split_shading=False)
    try:
        for view, cam in enumerate(default_views()):
            for m, a_u, h, labels in ((mesh, aus, None, False), (pain, aus, heat, True),
                                      (shut, shut_aus, heat, True)):
                a = split.render(m, app, cam, Lighting(), aus=a_u, heat=h, labels=labels)
                b = single.render(m, app, cam, Lighting(), aus=a_u, heat=h, labels=labels)
                assert_same_draw(a, b)
                if view == 0 and m is not shut:  # eyes and hair are in the picture
                    for part in ("eyes", "hair"):
                        assert (a.parts == PARTS.index(part)).sum() > 10, part
    finally:
        split.release()
        single.release()


def test_a_subclass_with_its_own_shader_draws_once_unless_it_brings_its_split_pair():
    class Own(Renderer):
        FRAGMENT_SHADER = "own"

    class Split(Renderer):
        FRAGMENT_SHADER = "own"
        SPLIT_SHADERS = ("pass 1", "pass 2")

    class Child(Split):  # keeps its parent's shader and pair
        TEXTURES = ("albedo_tex",)

    assert Renderer.SPLIT_SHADERS == (FRAGMENT_SKIN, FRAGMENT_FEATURES)
    assert Own.SPLIT_SHADERS is None  # the inherited pair was cut from another shader
    assert Split.SPLIT_SHADERS == Child.SPLIT_SHADERS == ("pass 1", "pass 2")


def test_switches_are_defined_only_in_shaders_that_use_them():
    skin = with_switches(FRAGMENT_SKIN, LABELS=False, WRINKLES=True, LIDS=True)
    assert skin.splitlines()[1:4] == ["#version 330", "#define LABELS 0", "#define WRINKLES 1"]
    assert "#if LIDS" not in skin  # the shut-lid code is pass 2's (Renderer.SHUT_SHADER)
    whole = with_switches(FRAGMENT, LABELS=False, WRINKLES=True, LIDS=True)
    assert whole.splitlines()[1:5] == ["#version 330", "#define LABELS 0",
                                       "#define WRINKLES 1", "#define LIDS 1"]
    # The eyeball and mouth pass fetches neither labels nor wrinkles.
    assert with_switches(FRAGMENT_FEATURES, LABELS=True, WRINKLES=True) == FRAGMENT_FEATURES
    with pytest.raises(ValueError, match="version"):
        with_switches("#if LABELS\n#endif\n", LABELS=True)
