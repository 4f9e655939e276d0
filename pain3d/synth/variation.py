"""Capture-to-capture variation: each image its own small head pose, light and camera change.

With ``reference_variation`` (:class:`~pain3d.synth.config.VariationConfig`) the plan gives
every image a :class:`~pain3d.synth.spec.VariationSpec` (:func:`draw_variation`, seeded by the
image's identity, configuration and view alone, so ``--only`` and resumed runs draw the same
values). A renderer turns it into its camera and light with one call, :func:`sample_delta`
(the seam: the built-in renderer and any other, e.g. one rendering fitted photo identities,
read the same pose and lighting delta), then :func:`vary_camera` and :func:`vary_lighting`.

Head pose is applied as an orbit of the camera about the head (the background is composited
afterwards, so this is the same image as the head turning), and the light rig turns with the
camera, so the room's lights stay where they were while the head moves; the light change of
the spec comes on top. Without a variation the camera and light are returned unchanged (the
published composition, byte for byte).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from pain3d.seeds import derive_seed
from pain3d.synth.config import VariationConfig
from pain3d.synth.spec import SampleSpec, VariationSpec

TAG_VARIATION = 0x7A2
"""Seed stream of the variation draws: ``derive_seed(seed, TAG, identity, config, view)``."""

NO_VARIATION = VariationSpec()
"""The identity delta: the view's camera and light exactly."""


def draw_variation(cfg: VariationConfig, seed: int, identity: int, config: int, view: int
                   ) -> VariationSpec:
    """One image's variation, uniform in ``[-x, x]`` for each magnitude of ``cfg``.

    Args:
        cfg: the magnitudes.
        seed: the dataset's master seed.
        identity, config, view: which image (config 0 = the neutral reference).

    Returns:
        Values rounded to 4 decimals (what the manifest records is exactly what is applied).
    """
    rng = np.random.default_rng(derive_seed(seed, TAG_VARIATION, identity, config, view))
    u = rng.uniform(-1.0, 1.0, size=9)

    def r(x: float) -> float:
        return round(float(x), 4)

    return VariationSpec(
        head_yaw=r(cfg.head_deg * u[0]), head_pitch=r(cfg.head_deg * u[1]),
        head_roll=r(cfg.roll_deg * u[2]), distance_scale=r(1.0 + cfg.distance_frac * u[3]),
        shift_x=r(cfg.shift_m * u[4]), shift_y=r(cfg.shift_m * u[5]),
        light_azimuth=r(cfg.light_deg * u[6]), light_elevation=r(0.5 * cfg.light_deg * u[7]),
        light_gain=r(1.0 + cfg.light_gain * u[8]))


def sample_delta(sample: SampleSpec) -> VariationSpec:
    """The pose, camera and light delta a renderer applies to ``sample`` (the seam).

    :data:`NO_VARIATION` when the sample has none. Head angles in degrees (camera-angle
    conventions of :class:`~pain3d.synth.spec.ViewSpec`), shifts in metres (head frame),
    light rotation in degrees, gains as multipliers.
    """
    return sample.variation if sample.variation is not None else NO_VARIATION


def vary_camera(camera, delta: VariationSpec):
    """``camera`` (:class:`pain3d.render.camera.Camera`) with the head pose offset, the
    distance scale and the look-at shift of ``delta``; the same object for no variation."""
    if delta == NO_VARIATION:
        return camera
    tx, ty, tz = camera.target
    return dataclasses.replace(
        camera, yaw=camera.yaw + delta.head_yaw, pitch=camera.pitch + delta.head_pitch,
        roll=camera.roll + delta.head_roll, distance=camera.distance * delta.distance_scale,
        target=(tx + delta.shift_x, ty + delta.shift_y, tz))


def _rotation(azimuth: float, elevation: float) -> np.ndarray:
    """(3, 3) rotation turning directions by ``elevation`` about x, then ``azimuth`` about y
    (degrees; + moves a frontal direction to the subject's left and up)."""
    a, e = math.radians(azimuth), math.radians(elevation)
    ry = np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0],
                   [-math.sin(a), 0.0, math.cos(a)]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(e), math.sin(e)],
                   [0.0, -math.sin(e), math.cos(e)]])
    return ry @ rx


def vary_lighting(lighting, delta: VariationSpec):
    """``lighting`` (:class:`pain3d.render.lighting.Lighting`, head frame) as seen by a head
    turned by ``delta``'s pose offset under lights moved by its light change; exposure times
    ``light_gain``. The same object for no variation."""
    if delta == NO_VARIATION:
        return lighting
    rot = _rotation(delta.head_yaw + delta.light_azimuth,
                    delta.head_pitch + delta.light_elevation)
    turned = {name: tuple(float(x) for x in rot @ np.asarray(getattr(lighting, name)))
              for name in ("key_dir", "fill_dir", "rim_dir")}
    return dataclasses.replace(lighting, **turned,
                               exposure=lighting.exposure * delta.light_gain)
