"""Perspective cameras around the head, as pure numpy matrices.

Head frame (see :mod:`pain3d.face.mesh`): metres, x to the subject's left (the viewer's right
in a frontal view), y up, z toward a frontal camera, origin between the eye centres.

A camera orbits a target point in the head frame: ``yaw`` turns it about the head's y axis
(positive yaw moves the camera toward +x, so the subject's left cheek turns toward the
viewer), ``pitch`` raises it (positive: seen from above), ``roll`` turns the image about the
viewing axis (positive: counter-clockwise in the image). Matrices follow OpenGL conventions
(camera looks down its -z, clip space z in [-1, 1]) and are returned row-major for numpy;
transpose before uploading to GLSL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

DEFAULT_TARGET: tuple[float, float, float] = (0.0, -0.005, -0.02)
"""Point the cameras look at, metres in the head frame: just below the eyes and a little
inside the head, so the whole head with some neck fits a square frame at the default
distance."""


@dataclass(frozen=True)
class Camera:
    """A perspective camera orbiting the head.

    Attributes:
        yaw: degrees about the head's y axis; positive moves the camera to the subject's left.
        pitch: degrees of elevation; positive looks down at the face from above.
        roll: degrees about the viewing axis; positive turns the image counter-clockwise.
        distance: metres from the target point to the camera centre.
        fov: vertical field of view, degrees.
        target: (3,) look-at point in the head frame, metres.
        near: near clipping plane, metres.
        far: far clipping plane, metres.
    """

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    distance: float = 0.8
    fov: float = 20.0
    target: tuple[float, float, float] = DEFAULT_TARGET
    near: float = 0.05
    far: float = 5.0

    def __post_init__(self) -> None:
        if not 0.1 <= self.distance <= 10.0:
            raise ValueError(f"Camera distance = {self.distance} m is outside 0.1..10 m")
        if not 1.0 <= self.fov <= 120.0:
            raise ValueError(f"Camera fov = {self.fov} deg is outside 1..120 deg")
        if not -89.0 <= self.pitch <= 89.0:
            raise ValueError(f"Camera pitch = {self.pitch} deg is outside -89..89 deg")
        if not 0 < self.near < self.far:
            raise ValueError(f"Camera near/far = {self.near}/{self.far} must satisfy 0<near<far")
        object.__setattr__(self, "target", tuple(float(t) for t in self.target))

    @property
    def position(self) -> np.ndarray:
        """(3,) float64 camera centre in the head frame, metres."""
        y, p = math.radians(self.yaw), math.radians(self.pitch)
        offset = np.array([math.sin(y) * math.cos(p), math.sin(p), math.cos(y) * math.cos(p)])
        return np.asarray(self.target) + self.distance * offset

    def view_matrix(self) -> np.ndarray:
        """(4, 4) float64 head frame -> camera frame (camera looks down -z, y up)."""
        return _view_matrix(self).copy()  # one computation for the draw and the keypoints

    def projection_matrix(self, aspect: float = 1.0) -> np.ndarray:
        """(4, 4) float64 OpenGL perspective projection for width/height ``aspect``."""
        f = 1.0 / math.tan(math.radians(self.fov) / 2.0)
        n, fa = self.near, self.far
        return np.array(
            [
                [f / aspect, 0.0, 0.0, 0.0],
                [0.0, f, 0.0, 0.0],
                [0.0, 0.0, (fa + n) / (n - fa), 2.0 * fa * n / (n - fa)],
                [0.0, 0.0, -1.0, 0.0],
            ]
        )

    def project(self, points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Pixel coordinates of head-frame points.

        Args:
            points: (N, 3) metres, head frame.
            size: (width, height) of the image in pixels.

        Returns:
            (N, 3) float64: x (pixels from the left), y (pixels from the top), and the
            depth along the viewing axis in metres.
        """
        w, h = size
        pts = np.asarray(points, dtype=np.float64)
        cam = (self.view_matrix() @ np.c_[pts, np.ones(len(pts))].T).T
        clip = (self.projection_matrix(w / h) @ cam.T).T
        ndc = clip[:, :3] / clip[:, 3:4]
        x = (ndc[:, 0] + 1.0) * 0.5 * w
        y = (1.0 - ndc[:, 1]) * 0.5 * h
        return np.c_[x, y, -cam[:, 2]]

    def to_dict(self) -> dict[str, float]:
        """The manifest fields of this camera (yaw, pitch, roll in degrees, distance in m)."""
        return {"yaw": self.yaw, "pitch": self.pitch, "roll": self.roll,
                "distance": self.distance}


@lru_cache(maxsize=8)
def _view_matrix(camera: Camera) -> np.ndarray:
    """:meth:`Camera.view_matrix`, kept for the last few cameras (each render asks twice)."""
    eye = camera.position
    fwd = np.asarray(camera.target) - eye
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    rot = np.stack([right, up, -fwd])
    r = math.radians(camera.roll)
    c, s = math.cos(r), math.sin(r)
    roll = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    rot = roll @ rot
    m = np.eye(4)
    m[:3, :3] = rot
    m[:3, 3] = -rot @ eye
    return m


def default_views(distance: float = 0.8, fov: float = 20.0) -> tuple[Camera, Camera, Camera]:
    """The three views of the published dataset.

    View 0 is near-frontal and slightly from above, view 1 a clear yaw to one side (the
    subject's right), view 2 a small yaw and pitch to the other side (from slightly below).
    """
    return (
        Camera(yaw=3.0, pitch=10.0, distance=distance, fov=fov),
        Camera(yaw=-30.0, pitch=2.0, distance=distance, fov=fov),
        Camera(yaw=18.0, pitch=-6.0, distance=distance, fov=fov),
    )


def jitter_camera(cam: Camera, rng: np.random.Generator, degrees: float = 3.0,
                  distance_frac: float = 0.05) -> Camera:
    """``cam`` with small random changes of yaw, pitch, roll and distance (seeded by ``rng``)."""
    d = rng.uniform(-degrees, degrees, size=3)
    return Camera(
        yaw=cam.yaw + d[0],
        pitch=float(np.clip(cam.pitch + d[1], -89, 89)),
        roll=cam.roll + d[2] * 0.5,
        distance=cam.distance * (1.0 + rng.uniform(-distance_frac, distance_frac)),
        fov=cam.fov,
        target=cam.target,
        near=cam.near,
        far=cam.far,
    )
