"""Expression wrinkles: weights are a pure function of the AUs, patterns sit where FACS puts
them on a real identity's face."""

from __future__ import annotations

import numpy as np
import pytest

from pain3d.appearance.landmarks import face_landmarks
from pain3d.appearance.paint import Canvas
from pain3d.appearance.uvmap import cached_raster
from pain3d.appearance.wrinkles import WRINKLE_CHANNELS, paint_wrinkles, wrinkle_weights
from pain3d.facs import AU_NAMES


def _aus(**values: float) -> np.ndarray:
    out = np.zeros(len(AU_NAMES))
    for name, value in values.items():
        out[AU_NAMES.index(name)] = value
    return out


# Which channels each AU alone deepens (FACS): the others stay at zero.
CHANNELS_OF = {
    "AU4": {"glabellar"},
    "AU6": {"periorbital", "nasolabial"},
    "AU7": {"periorbital"},
    "AU9": {"nose", "nasolabial"},
    "AU10": {"nose", "nasolabial"},
    "AU43": set(),
}


@pytest.mark.parametrize("au", AU_NAMES)
def test_each_au_deepens_its_own_wrinkles_monotonically(au):
    levels = [1] if au == "AU43" else [1, 2, 3, 4, 5]
    weights = np.array([wrinkle_weights(_aus(**{au: x})) for x in levels])
    on = [WRINKLE_CHANNELS.index(c) for c in CHANNELS_OF[au]]
    off = [i for i in range(len(WRINKLE_CHANNELS)) if i not in on]
    assert np.all(weights[:, off] == 0)
    assert np.all(weights[:, on] > 0)
    assert np.all(np.diff(weights[:, on], axis=0) >= 0)
    assert weights.max() <= 1.0


def test_wrinkle_weights_are_pure_and_zero_without_aus():
    assert wrinkle_weights(None).tolist() == [0, 0, 0, 0]
    assert wrinkle_weights(np.zeros(6)).tolist() == [0, 0, 0, 0]
    a = np.array([3, 2, 4, 1, 5, 0.0])
    before = a.copy()
    assert np.array_equal(wrinkle_weights(a), wrinkle_weights(a))
    assert np.array_equal(a, before)
    with pytest.raises(ValueError, match="AU43"):
        wrinkle_weights(np.zeros(5))


@pytest.fixture(scope="module")
def painted():
    from pain3d.face import identity_mesh, sample_identities

    mesh = identity_mesh(sample_identities(1, 3)[0])
    raster = cached_raster(mesh.uv, mesh.faces, 192)
    pos = raster.interpolate(mesh.faces, mesh.vertices)
    lm = face_landmarks(mesh)
    front = pos[..., 2] > lm.face_z - 0.06
    return paint_wrinkles(Canvas(pos, valid=front), pos, lm), pos, lm


def test_wrinkle_patterns_sit_where_facs_puts_them(painted):
    parts, pos, lm = painted
    eye_y = 0.5 * (lm.eye_left[1] + lm.eye_right[1])
    eye_x = abs(lm.eye_left[0])

    def where(name):
        p = pos[parts[name] > 0.3]
        assert len(p) > 5, name
        return p

    nose = where("nose")  # over the upper nose, between the eyes
    assert np.abs(nose[:, 0]).max() < 0.022
    assert np.all((nose[:, 1] < eye_y + 0.01) & (nose[:, 1] > eye_y - 0.02))
    fold = where("nasolabial")  # beside the nose wing down to beside the mouth corner
    assert np.abs(fold[:, 0]).min() > 0.015
    assert np.all((fold[:, 1] < lm.nose_tip[1] + 0.006) & (fold[:, 1] > lm.mouth[1] - 0.015))
    crows = where("crows_feet")  # lateral to the eyes
    assert np.abs(crows[:, 0]).min() > eye_x + 0.01
    under = where("infraorbital")  # below the eyes
    assert np.all(under[:, 1] < eye_y - 0.005)
    glab = where("glabellar")  # between the brows
    assert np.abs(glab[:, 0]).max() < 0.016


def test_arcs_painted_on_the_front_give_the_same_wrinkle_maps():
    from pain3d.appearance.textures import _masked_wrinkles, _surface
    from pain3d.face import identity_mesh, sample_identities

    surf = _surface(identity_mesh(sample_identities(1, 3)[0]), 192)
    every = paint_wrinkles(surf.canvas, surf.pos, surf.lm)
    front = paint_wrinkles(surf.canvas, surf.pos, surf.lm, where=surf.front > 0)
    assert not np.array_equal(every["nose"], front["nose"])  # the back of the head is skipped
    not_face = np.clip(surf.eyeball + surf.lips + surf.mouth_in, 0, 1)
    assert np.array_equal(_masked_wrinkles(surf, front, not_face),
                          _masked_wrinkles(surf, every, not_face))


def test_glabellar_patterns_differ_between_faces_and_repeat_per_seed():
    from pain3d.appearance.wrinkles import sample_glabellar

    patterns = [sample_glabellar(np.random.default_rng(s)) for s in range(60)]
    assert sample_glabellar(np.random.default_rng(5)) == patterns[5]
    per_side = {sum(x > 0.0015 for x, *_ in p.furrows) for p in patterns}
    assert per_side == {1, 2, 3}  # one deep furrow, the "11", three lines
    assert {len(p.procerus) for p in patterns} == {0, 1, 2, 3}
    assert any(sum(x > 0 for x, *_ in p.furrows) != sum(x < 0 for x, *_ in p.furrows)
               for p in patterns)  # sometimes a furrow fewer on one side
    for p in patterns:  # all between the brows, below the forehead lines
        assert all(abs(x) < 0.016 and -0.004 < top < 0.03 and 0 < w <= 1
                   for x, top, w, _ in p.furrows)


def test_the_glabellar_pattern_is_where_the_furrows_are_painted(painted):
    from pain3d.appearance.wrinkles import DEFAULT_GLABELLAR, GlabellarPattern

    _, pos, lm = painted
    front = pos[..., 2] > lm.face_z - 0.06
    cv = Canvas(pos, valid=front)
    one = GlabellarPattern(furrows=((0.006, 0.015, 1.0, 0.0),), procerus=())
    glab = paint_wrinkles(cv, pos, lm, glabellar=one)["glabellar"]
    p = pos[glab > 0.3]
    assert len(p) > 5 and np.all(np.abs(p[:, 0] - 0.006) < 0.002)  # one line, left of centre
    both = paint_wrinkles(cv, pos, lm, glabellar=DEFAULT_GLABELLAR)["glabellar"]
    assert (pos[both > 0.3][:, 0] < 0).any() and (pos[both > 0.3][:, 0] > 0).any()


def test_the_nasolabial_fold_fades_out_beside_the_mouth_corner(painted):
    """Issue 13: the fold starts at the nose wing, is deepest there and fades out beside the
    mouth corner; it does not run on below it (main's fold kept 0.48 of its depth there)."""
    parts, pos, lm = painted
    fold, y = parts["nasolabial"], pos[..., 1]
    my, ny = float(lm.mouth[1]), float(lm.nose_tip[1])
    side = np.abs(pos[..., 0]) > lm.mouth_half_width - 0.004
    wing = fold[side & (y < ny) & (y > ny - 0.006)].max()
    beside = fold[side & (y < my + 0.002) & (y > my - 0.002)].max()
    below = fold[side & (y < my - 0.005) & (y > my - 0.03)].max()
    assert wing > 0.6
    assert beside < 0.75 * wing
    assert below < 0.1 * wing
