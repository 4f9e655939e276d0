"""Tracker measures of the pain AUs: frame independent, signed the FACS way, rank-correlated."""

from __future__ import annotations

import numpy as np
import pytest

from pain3d.face import landmarks as cf
from pain3d.face.visibility import (
    BROW_POINTS,
    CHEEK_POINTS,
    LID_PAIRS,
    LOWER_LID_POINTS,
    UPPER_LIP_TOP,
    landmark_measures,
    measure_changes,
    partial_spearman,
    visibility_table,
)


def _to_image(points_cm: np.ndarray, scale: float = 9.0, roll: float = 0.1) -> np.ndarray:
    """Head-frame points (y up) as image pixels (y down), rolled a little and shifted."""
    c, s = np.cos(roll), np.sin(roll)
    xy = points_cm[:, :2] @ np.array([[c, -s], [s, c]]).T
    return np.c_[xy[:, 0] * scale + 128, -xy[:, 1] * scale + 128, points_cm[:, 2] * scale]


def _moved(v: np.ndarray, idx, dy: float) -> np.ndarray:
    out = v.copy()
    out[list(idx), 1] += dy
    return out


def test_measures_do_not_depend_on_the_frame():
    v = cf.canonical_vertices()
    head, image = landmark_measures(v), landmark_measures(_to_image(v))
    for key in ("aperture", "brow_eye", "nose_lip", "cheek"):
        assert image[key] / image["iod"] == pytest.approx(head[key] / head["iod"], rel=1e-6)


@pytest.mark.parametrize("idx, dy, key, sign", [
    (BROW_POINTS, -0.3, "brow_eye", -1),
    (CHEEK_POINTS, 0.3, "cheek_raise", 1),
    (UPPER_LIP_TOP, 0.3, "nose_lip", -1),
    (LOWER_LID_POINTS, 0.1, "lower_lid_raise", 1),
    ([a for a, _ in LID_PAIRS], -0.2, "aperture", -1),
])  # fmt: skip
def test_facs_motion_gives_the_expected_sign_in_both_frames(idx, dy, key, sign):
    v = cf.canonical_vertices()
    moved = _moved(v, idx, dy)
    for a, b in ((v, moved), (_to_image(v), _to_image(moved))):
        c = measure_changes(a, b)
        assert sign * c[key] > 0.01
        assert c["stable"] == pytest.approx(0.0, abs=1e-12)


def test_visibility_table_ranks_labels_against_changes():
    v = cf.canonical_vertices()
    rng = np.random.default_rng(0)
    aus = np.c_[rng.integers(0, 6, (40, 5)), rng.integers(0, 2, 40)].astype(float)
    pain = [_moved(_moved(v, BROW_POINTS, -0.1 * a[0]), CHEEK_POINTS, 0.1 * a[1]) for a in aus]
    neutral = [v] * len(aus)
    pain[3] = None  # a face the tracker missed
    table = visibility_table(neutral, pain, aus)
    assert table.rho("brow_eye") == pytest.approx(-1.0)
    assert table.rho("cheek_raise") == pytest.approx(1.0)
    assert table.detected_pairs == 39 and table.detected_images == 79
    assert table.stable_median_pct == pytest.approx(0.0)
    assert "brow_eye" in table.format()
    with pytest.raises(ValueError, match="one entry per pair"):
        visibility_table(neutral[:3], pain, aus)


def test_partial_rho_does_not_credit_an_au_for_a_co_varying_one():
    rng = np.random.default_rng(1)
    a7 = rng.integers(0, 6, 300).astype(float)
    a6 = np.clip(a7 + rng.integers(-1, 2, 300), 0, 5)  # drawn together, as the plan does
    a43 = rng.integers(0, 2, 300).astype(float)
    only_au7 = 0.3 * a7 + 0.01 * rng.normal(size=300)
    assert partial_spearman(a6, only_au7, np.c_[a7, a43]) == pytest.approx(0.0, abs=0.15)
    both = only_au7 + 0.2 * a6
    assert partial_spearman(a6, both, np.c_[a7, a43]) > 0.5
    from scipy.stats import spearmanr

    assert spearmanr(a6, only_au7)[0] > 0.7  # the plain rho would credit AU6


def test_table_reports_partial_rho_of_the_au6_measures():
    v = cf.canonical_vertices()
    rng = np.random.default_rng(2)
    aus = np.c_[np.zeros(60), rng.integers(0, 6, (60, 2)), np.zeros((60, 2)),
                rng.integers(0, 2, 60)].astype(float)
    # moved by AU7 only (and a little noise)
    pain = [_moved(v, LOWER_LID_POINTS, 0.05 * a[2] + 0.002 * rng.normal()) for a in aus]
    table = visibility_table([v] * len(aus), pain, aus)
    row = next(r for r in table.rows if r.measure == "lower_lid_raise")
    assert row.controls == ("AU7", "AU43")
    assert abs(row.partial_rho) < 0.3
    assert "held out: AU7, AU43" in table.format()


def _textured(size: int = 256, seed: int = 0, contrast: float = 170.0) -> np.ndarray:
    """A smooth random texture (skin-like blobs), (size, size, 3) uint8."""
    import cv2

    noise = np.random.default_rng(seed).random((size, size)).astype(np.float32)
    g = cv2.GaussianBlur(noise, (0, 0), 2.0)
    g = (g - g.min()) / (g.max() - g.min())
    return np.repeat((120 + contrast * (g - 0.5))[..., None], 3, axis=2).astype(np.uint8)


def _shifted_up(img: np.ndarray, dy: float) -> np.ndarray:
    """``img`` with its content moved up by ``dy`` pixels (down when negative)."""
    import cv2

    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(img, xx, yy + np.float32(dy), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT)


def test_cheek_motion_reads_the_cheeks_pixels_in_iod_and_ignores_exposure():
    from pain3d.face.visibility import cheek_mask, cheek_motion, landmark_measures

    lm = _to_image(cf.canonical_vertices())
    iod = landmark_measures(lm)["iod"]
    img = _textured()
    assert cheek_mask(lm, img.shape[:2]).sum() > 200
    # The face is rolled by 0.1 rad, so an image-vertical motion of d px is d*cos(0.1) along
    # the face's up axis. Faint texture (skin's: a few grey levels) reads the same.
    for contrast in (170.0, 12.0):
        img = _textured(contrast=contrast)
        up = cheek_motion(img, _shifted_up(img, 3.0), lm)
        assert up == pytest.approx(3.0 * np.cos(0.1) / iod, rel=0.15), contrast
    assert cheek_motion(img, _shifted_up(img, -2.0), lm) == pytest.approx(
        -2.0 * np.cos(0.1) / iod, rel=0.15)
    brighter = np.clip(img.astype(np.float32) * 1.25 + 10, 0, 255).astype(np.uint8)
    assert abs(cheek_motion(img, brighter, lm)) < 0.1 / iod
    with pytest.raises(ValueError, match="shape"):
        cheek_motion(img, img[:100], lm)


def test_motion_row_ranks_au6_against_the_cheeks_motion():
    from pain3d.face.visibility import motion_row

    lm = _to_image(cf.canonical_vertices())
    img = _textured(seed=1)
    rng = np.random.default_rng(2)
    aus = np.c_[rng.integers(0, 6, (12, 5)), rng.integers(0, 2, 12)].astype(float)
    pains = [_shifted_up(img, 0.6 * a[1]) for a in aus]  # AU6 moves the cheeks up
    landmarks = [lm] * len(aus)
    landmarks[4] = None  # a neutral face the tracker missed
    row = motion_row([img] * len(aus), pains, landmarks, aus)
    assert row.measure == "cheek_motion" and row.n == 11
    assert row.rho > 0.95 and row.partial_rho > 0.9
    assert row.controls == ("AU7", "AU43", "AU9", "AU10")
