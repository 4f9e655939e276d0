"""The painted eye region (:mod:`pain3d.appearance.eyelids`): the upper lash fringe is longer
toward the outer corner, as real lashes are; a fringe of even width reads as a drawn line."""

from __future__ import annotations

import numpy as np

from pain3d.appearance import sample_appearance
from pain3d.appearance.textures import _surface
from pain3d.face import identity_mesh, sample_identities
from pain3d.face.mesh import region_id


def _lash_reach_mm(ident) -> tuple[float, float]:
    """How far (mm off the eyeball, 90th percentile) the dark lash texels of the upper lids
    reach on their inner and on their outer third."""
    mesh = identity_mesh(ident)
    app = sample_appearance(ident, ident.seed, mesh=mesh)
    surf = _surface(mesh, app.albedo.shape[0])
    lum = app.albedo.astype(np.float64).mean(-1)
    reach = {"inner": [], "outer": []}
    for eye in (surf.lm.eye_left, surf.lm.eye_right):
        rel = (surf.pos - eye) * 1000.0
        dist = np.linalg.norm(rel, axis=-1) - surf.lm.eye_radius * 1000.0
        t = rel[..., 0] * np.sign(eye[0]) / (surf.lm.eye_radius * 1000.0)
        lid = ((surf.reg == region_id("upper_eyelid")) & (rel[..., 2] > 0)
               & (surf.pos[..., 0] * eye[0] > 0))
        skin = np.median(lum[lid & (dist > 6.0)])
        dark = lid & (lum < 0.5 * skin)
        for name, lo, hi in (("inner", -0.75, -0.3), ("outer", 0.3, 0.75)):
            sel = dark & (t > lo) & (t < hi)
            assert sel.sum() > 5
            reach[name].append(np.percentile(dist[sel], 90))
    return float(np.mean(reach["inner"])), float(np.mean(reach["outer"]))


def test_the_upper_lash_fringe_is_longer_toward_the_outer_corner():
    for ident in sample_identities(3, 0):
        inner, outer = _lash_reach_mm(ident)
        # Uniform lash lines (before 0.9) reached 0.6-0.85 mm off the eyeball at both ends
        # (outer / inner 0.94-1.16); the fringe reaches 1.5-1.8 mm on the outer third (the
        # renderer fades it above a closed lid's line, so it can be as long as an open eye's).
        assert outer > 1.2, (inner, outer)
        assert outer > 1.4 * inner, (inner, outer)


def test_many_east_asian_people_have_no_lid_crease_and_their_lids_are_painted_without_one():
    """Every person had a crease (main's traits had no ``lid_crease``); about half of an East
    Asian sample have a monolid, few of a European one, and a monolid paints no fold."""
    from pain3d.appearance.eyelids import paint_eyelids, sample_eyelid_look
    from pain3d.appearance.traits import sample_traits
    from pain3d.demographics import Demographics
    from pain3d.face import identity_mesh, sample_identities

    def monolids(ancestry: str) -> float:
        demo = Demographics("female", "20-35", ancestry)
        return np.mean([sample_traits(demo, np.random.default_rng(i)).lid_crease == 0.0
                        for i in range(100)])

    assert 0.3 < monolids("east_asian") < 0.7
    assert monolids("european") < 0.1
    surf = _surface(identity_mesh(sample_identities(1, 0)[0]), 512)
    folds = {f: paint_eyelids(surf.pos, surf.reg, surf.lm,
                              sample_eyelid_look(np.random.default_rng(0), f)).relief
             for f in (1.0, 0.5, 0.0)}
    assert folds[1.0].min() < -0.1 and folds[0.5].min() > 0.5 * folds[1.0].min()
    assert np.all(folds[0.0] == 0.0)
