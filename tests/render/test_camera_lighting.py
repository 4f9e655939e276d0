"""Cameras and light rigs (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from pain3d.render import Camera, Lighting, default_views, sample_lighting


def test_view_matrix_puts_the_target_straight_ahead():
    cam = Camera(yaw=30, pitch=15, roll=10, distance=0.7, target=(0.01, -0.02, 0.0))
    p = cam.view_matrix() @ np.r_[cam.target, 1.0]
    assert np.allclose(p[:3], [0, 0, -0.7], atol=1e-9)


def test_positive_yaw_moves_the_camera_to_the_subjects_left_and_pitch_up():
    assert Camera(yaw=90, target=(0, 0, 0)).position[0] > 0
    assert Camera(pitch=30, target=(0, 0, 0)).position[1] > 0


def test_project_centre_of_frontal_view_is_image_centre():
    cam = Camera(target=(0, 0, 0))
    x, y, d = cam.project(np.zeros((1, 3)), (64, 48))[0]
    assert (x, y) == pytest.approx((32, 24)) and d == pytest.approx(cam.distance)


def test_default_views_mirror_the_published_layout():
    v0, v1, v2 = default_views()
    assert abs(v0.yaw) < 10 and v0.pitch > 0
    assert abs(v1.yaw) >= 25
    assert np.sign(v2.yaw) != np.sign(v1.yaw) and abs(v2.yaw) < abs(v1.yaw) and v2.pitch != 0


def test_camera_rejects_bad_values():
    with pytest.raises(ValueError, match="distance"):
        Camera(distance=0.0)
    with pytest.raises(ValueError, match="fov"):
        Camera(fov=0.0)


def test_sampled_lighting_is_seeded_varied_and_lights_the_face():
    rigs = [sample_lighting(np.random.default_rng(s)) for s in range(40)]
    again = sample_lighting(np.random.default_rng(3))
    assert again == rigs[3]
    assert all(r.key_dir[2] > 0.2 for r in rigs)  # the key light is in front of the face
    assert len({round(r.key_dir[0], 3) for r in rigs}) > 30
    assert {np.sign(r.key_dir[0]) for r in rigs} == {-1.0, 1.0}


def test_lighting_rejects_negative_colours():
    with pytest.raises(ValueError, match="key_rgb"):
        Lighting(key_rgb=(-1, 0, 0))


def test_face_exposure_brightens_darker_skin_within_bounds():
    from pain3d.appearance.traits import MONK_TONES
    from pain3d.render.renderer import face_exposure

    gains = [face_exposure(tuple(t)) for t in MONK_TONES]
    assert (np.diff(gains) >= 0).all()
    assert min(gains) >= 0.9 and max(gains) <= 1.6 and gains[-1] > gains[0] + 0.3


def test_heat_is_normalised_by_the_fixed_scale_and_saturates():
    from pain3d.render import normalise_heat

    got = normalise_heat(np.array([0.0, 0.001, 0.002, 0.01]), scale=0.002)
    assert got.tolist() == [0.0, 0.5, 1.0, 1.0]
    with pytest.raises(ValueError, match="scale"):
        normalise_heat(np.zeros(2), 0.0)


def test_detection_rates_group_records_by_key():
    from pain3d.render.quality import detection_rates

    recs = [{"view": 0, "sex": "male", "detected": True},
            {"view": 0, "sex": "female", "detected": False},
            {"view": 1, "sex": "male", "detected": True}]
    rates = detection_rates(recs, by=("view", "sex"))
    assert rates["view"] == {"0": (0.5, 2), "1": (1.0, 1)}
    assert rates["sex"] == {"female": (0.0, 1), "male": (1.0, 2)}


def test_view_matrix_is_a_fresh_array_each_time():
    cam = Camera(yaw=12.0, pitch=-4.0, roll=3.0)
    m = cam.view_matrix()
    m[:] = 0.0
    again = cam.view_matrix()
    assert np.allclose(again[:3, :3] @ again[:3, :3].T, np.eye(3))
    assert np.allclose(again @ np.append(cam.position, 1.0), [0.0, 0.0, 0.0, 1.0])
