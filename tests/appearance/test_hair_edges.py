"""Where hair ends on a procedural face: the scalp's hairline, the beard's edges, the brows'
heads. Real hair thins out there; a drawn outline, a saw-tooth or a cut end reads as CG."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pain3d.appearance import sample_appearance
from pain3d.appearance.hair import build_hair_shell, hair_coverage
from pain3d.appearance.landmarks import face_landmarks
from pain3d.appearance.textures import (
    _paint_brows,
    _paint_facial_hair,
    _surface,
)
from pain3d.face import identity_mesh, sample_identities
from pain3d.face.mesh import region_id


@pytest.fixture(scope="module")
def face():
    """A male identity's neutral mesh, its 512-texel surface and its traits."""
    ident = next(i for i in sample_identities(8, 0) if i.demographics.sex == "male")
    mesh = identity_mesh(ident)
    traits = sample_appearance(ident, ident.seed, mesh=mesh).traits
    return mesh, _surface(mesh, 512), traits


def test_the_hair_shell_reaches_past_the_hairline_and_its_edge_lies_on_the_scalp(face):
    mesh, _, _ = face
    lm = face_landmarks(mesh)
    shell = build_hair_shell(mesh, lm, "medium", np.random.default_rng(0))
    cov = hair_coverage(mesh.vertices, mesh.regions, lm, "medium")[shell.vertex_index]
    edge = cov < 0.2
    # The shader shows the painted hairline on these edge triangles, so the hair's edge
    # follows the coverage rather than ending in a saw-tooth of shell triangles.
    assert edge.sum() > 50
    assert shell.offset[edge].max() <= 0.0005 + 1e-6
    assert shell.offset[cov > 0.95].min() > 0.002
    bare = np.isin(mesh.regions[shell.vertex_index], [region_id("ear"), region_id("eyeball")])
    assert not bare.any()


def test_facial_hair_thins_out_at_its_edge_and_leaves_the_neck_shaved(face):
    mesh, surf, traits = face
    stubble = dataclasses.replace(traits, facial_hair="stubble", hair_colour="black",
                                  hair_rgb=(0.05, 0.04, 0.035))
    albedo = np.full((surf.size, surf.size, 3), 0.6, np.float32)
    strands = np.full((surf.size, surf.size), 0.5, np.float32)
    painted, beard = _paint_facial_hair(surf, albedo.copy(), stubble, np.random.default_rng(0),
                                        strands)
    neck = surf.is_("neck") > 0.99
    assert beard[neck].max() < 1e-6
    assert np.abs(painted[neck] - 0.6).max() < 1e-4
    # Seen as hairs: inside the area texels differ from their neighbours (single hairs),
    # and the share of texels carrying one falls off towards the edge, not at a line.
    darker = painted.mean(-1) < 0.42  # a hair's texel, not only the shaved skin's shadow
    core, rim = beard > 0.9, (beard > 0.15) & (beard < 0.45)
    assert core.sum() > 200 and rim.sum() > 200
    assert 0.03 < darker[rim].mean() < 0.6 * darker[core].mean()
    assert painted.mean(-1)[core].std() > 0.03


def test_a_brow_fades_in_from_its_head_instead_of_starting_at_a_cut(face):
    mesh, surf, traits = face
    albedo = np.full((surf.size, surf.size, 3), 0.6, np.float32)
    _, brow, _, _ = _paint_brows(surf, albedo, traits, np.random.default_rng(0), "male")
    lm = surf.lm
    x, y = surf.pos[..., 0], surf.pos[..., 1]
    band = (np.abs(y - lm.brow_y) < 0.003) & (surf.front > 0.5) & (x > 0)
    # The left brow's profile from the middle of the forehead outwards, per 0.5 mm.
    bins = np.arange(0.0, lm.eye_left[0], 0.0005)
    prof = np.array([brow[band & (x >= b) & (x < b + 0.0005)].max(initial=0.0) for b in bins])
    start = bins[np.argmax(prof > 0.05)]
    full = bins[np.argmax(prof > 0.9)]
    assert full - start >= 0.005


def test_long_hair_hangs_beside_the_jaw_instead_of_standing_off_it_in_skin_coloured_walls(face):
    # Below the ears long hair's shell stood up to 5 cm off the skin along the normals: the
    # triangles from its edge (on the skin, showing the painted skin) up to that height read
    # as skin-coloured facets beside the jaw and between the strands beside the neck.
    mesh, _, _ = face
    lm = face_landmarks(mesh)
    shell = build_hair_shell(mesh, lm, "long", np.random.default_rng(0))
    v = mesh.vertices
    lift = np.linalg.norm(shell.positions(v, mesh.vertex_normals()) - v[shell.vertex_index],
                          axis=1)
    cov = hair_coverage(v, mesh.regions, lm, "long")[shell.vertex_index]
    below_ears = (v[shell.vertex_index, 1] < lm.eye_left[1] - 0.04)[shell.faces].all(axis=1)
    edge = below_ears & (cov[shell.faces] < 0.5).any(axis=1)
    assert edge.sum() > 50
    # The triangles that show the painted skin lie on the skin...
    assert lift[shell.faces[edge]].max() < 0.006
    # ...and a few triangles in, the hair hangs with volume.
    inner = below_ears & (cov[shell.faces] > 0.95).all(axis=1)
    assert np.median(lift[shell.faces[inner]]) > 0.008
