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
