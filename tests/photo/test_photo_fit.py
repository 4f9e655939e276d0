"""Fitting the built-in head to landmarks, and the photo's camera (pure numpy, no detector)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pain3d.face import identity_mesh, sample_identities
from pain3d.face.photo_fit import FitConfig, PinholePose, fit_head


def _pose(yaw: float, pitch: float, roll: float, size=(512, 512), fov=20.0, d=0.8,
          shift=(0.01, -0.02)) -> PinholePose:
    """A camera at distance ``d`` seeing the head turned by yaw/pitch/roll (degrees)."""
    from pain3d.face.photo_fit import _rotvec

    rot = (_rotvec(np.array([0, 0, math.radians(roll)])) @ _rotvec(np.array(
        [math.radians(pitch), 0, 0])) @ _rotvec(np.array([0, math.radians(-yaw), 0])))
    focal = 0.5 * size[1] / math.tan(math.radians(fov) / 2)
    origin_cam = np.array([shift[0], shift[1], -d])
    return PinholePose(rotation=rot, centre=-rot.T @ origin_cam, focal_px=focal, size=size)


def _landmarks(mesh, pose: PinholePose) -> np.ndarray:
    """(478, 3) landmarks as MediaPipe would report them for this mesh and camera."""
    proj = pose.project(mesh.vertices[:468])
    depth = proj[:, 2]
    # MediaPipe's z: pixel scale, relative to the face, negative toward the camera.
    z = (depth - depth.mean()) * pose.focal_px / depth.mean()
    lm = np.c_[proj[:, :2], z]
    eyes = mesh.rig.eye_centres + np.array([0, 0, mesh.rig.eye_radius])
    iris = pose.project(eyes)[:, :2]
    extra = np.repeat(np.c_[iris, np.zeros(2)], 5, axis=0)
    return np.r_[lm, extra].astype(np.float32)


@pytest.fixture(scope="module")
def target_mesh():
    return identity_mesh(sample_identities(3, seed=11)[2])


@pytest.mark.parametrize("yaw, pitch, roll", [(0, 5, 0), (25, -8, 6), (-35, 10, -4)])
def test_fitted_face_lands_on_the_landmarks(target_mesh, yaw, pitch, roll):
    pose = _pose(yaw, pitch, roll)
    lm = _landmarks(target_mesh, pose)
    fit = fit_head(lm, pose.size)
    assert fit.rms_px < 0.5, fit.rms_px
    got_yaw, got_pitch, got_roll = fit.pose.view_angles()
    want = pose.view_angles()
    assert abs(got_yaw - want[0]) < 5 and abs(got_pitch - want[1]) < 5
    assert abs(got_roll - want[2]) < 3


def test_fit_without_residual_is_the_parametric_shape(target_mesh):
    pose = _pose(5, 5, 0)
    lm = _landmarks(target_mesh, pose)
    fit = fit_head(lm, pose.size, cfg=FitConfig(residual=False))
    from pain3d.face.identity import coarse_shape

    np.testing.assert_allclose(fit.coarse, coarse_shape(fit.params))
    # The fitted shape explains a procedural face to a few percent of the eye distance.
    assert fit.shape_rms < 0.05, fit.shape_rms


def test_camera_from_pose_projects_like_the_pose():
    from pain3d.render.photo import camera_from_pose

    pose = _pose(-20, 12, 7, size=(400, 300), fov=30, d=0.6)
    cam = camera_from_pose(pose)
    pts = np.random.default_rng(0).normal(0, 0.05, (50, 3))
    np.testing.assert_allclose(cam.project(pts, pose.size), pose.project(pts), atol=1e-6)


def test_bad_landmarks_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="478"):
        fit_head(np.zeros((10, 3)), (64, 64))
    with pytest.raises(ValueError, match="NaN"):
        fit_head(np.full((478, 3), np.nan), (64, 64))
    with pytest.raises(ValueError, match="degenerate"):
        fit_head(np.zeros((478, 3)), (64, 64))


def test_fit_config_rejects_impossible_values():
    with pytest.raises(ValueError, match="fov_deg"):
        FitConfig(fov_deg=0.5)
    with pytest.raises(ValueError, match="depth_weight"):
        FitConfig(depth_weight=2.0)
