"""The label-free reference rule: least expressive faces of the opening seconds."""

from __future__ import annotations

import numpy as np

from pain3d.face.landmarks import EXPRESSIVE_POINTS
from pain3d.infer.reference import choose_reference_frames, expression_energy


def _face(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(100, 300, size=(478, 3))


def _similar(lm: np.ndarray, s: float, deg: float, t: tuple[float, float]) -> np.ndarray:
    a = np.radians(deg)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    out = lm.copy()
    out[:, :2] = s * lm[:, :2] @ r.T + np.asarray(t)
    return out


def _expressive(lm: np.ndarray, amount: float, seed: int) -> np.ndarray:
    out = lm.copy()
    rng = np.random.default_rng(seed)
    out[list(EXPRESSIVE_POINTS), :2] += rng.normal(0, amount, (len(EXPRESSIVE_POINTS), 2))
    return out


def test_energy_ignores_head_position_scale_and_roll():
    base = _face()
    sets = np.stack([base, _similar(base, 1.7, 12, (40, -9)), _similar(base, 0.6, -20, (3, 3))])
    assert np.allclose(expression_energy(sets), 0, atol=1e-9)


def test_energy_grows_with_expression():
    base = _face()
    sets = np.stack([base, base, base, _expressive(base, 2, 1), _expressive(base, 8, 2)])
    e = expression_energy(sets)
    assert e[0] < 1e-9 and e[0] < e[3] < e[4]


def test_least_expressive_frames_in_the_window_are_chosen():
    base = _face()
    n = 10
    times = [i * 0.5 for i in range(n)]  # 0 .. 4.5 s
    lms = [_expressive(base, 6, i) for i in range(n)]
    lms[2] = _similar(base, 1.1, 3, (5, 0))  # neutral, moved head
    lms[4] = base.copy()
    lms[8] = base.copy()  # neutral too, but after the 3 s window
    lms[1] = None  # no face
    flags = [[] for _ in range(n)]
    flags[1] = ["no_face"]
    idx, energy = choose_reference_frames(times, lms, flags, k=2, reference_seconds=3.0)
    assert sorted(idx) == [2, 4]
    assert np.all(np.diff(energy) >= 0)


def test_blurry_frames_are_avoided_and_window_without_faces_falls_back():
    base = _face()
    times = [0.0, 0.5, 1.0, 5.0]
    lms = [base.copy(), _expressive(base, 3, 1), None, base.copy()]
    flags = [["blurry"], [], ["no_face"], []]
    idx, _ = choose_reference_frames(times, lms, flags, k=1, reference_seconds=3.0)
    assert idx == [1]
    idx, _ = choose_reference_frames(times, [None, None, None, base], [["no_face"]] * 3 + [[]],
                                     k=1, reference_seconds=3.0)
    assert idx == [3]
    assert choose_reference_frames(times, [None] * 4, [["no_face"]] * 4, k=2)[0] == []
