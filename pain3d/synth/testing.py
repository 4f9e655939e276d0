"""A trivial renderer for testing the generation plumbing (never the default).

``GenerateConfig(renderer="pain3d.synth.testing:PlainRenderer")`` draws a flat ellipse whose
colour encodes the identity, position the view and brightness the PSPI: fast, deterministic
and different for every spec, which is all the writers, engines and resume logic need.
It lives in the package (not under tests/) so spawned worker processes can import it.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from pain3d.synth.config import GenerateConfig
from pain3d.synth.renderer import RenderedImage
from pain3d.synth.spec import IdentitySpec, SampleSpec


class PlainRenderer:
    """Flat 2-D drawings standing in for real renders."""

    def __init__(self, cfg: GenerateConfig) -> None:
        self.cfg = cfg

    def prepare(self, identity: IdentitySpec) -> dict[str, Any]:
        rng = np.random.default_rng(identity.appearance_seed)
        return {"identity": identity, "colour": rng.integers(60, 200, size=3)}

    def _ellipse(self, sample: SampleSpec) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
        from pain3d.synth.variation import sample_delta

        n = sample.size
        canvas = np.zeros((n, n), np.uint8)
        d = sample_delta(sample)  # the head pose offset of reference_variation (0 without)
        cx = int(n / 2 + (sample.view.yaw + d.head_yaw) / 90.0 * n / 4)
        cy = int(n / 2 - (sample.view.pitch + d.head_pitch) / 90.0 * n / 4)
        axes = (max(2, n // 4), max(3, n // 3))
        cv2.ellipse(canvas, (cx, cy), axes, sample.view.roll, 0, 360, 255, -1)
        return canvas, (cx, cy), axes

    def render(self, state: Any, sample: SampleSpec, *, mask: bool, depth: bool) -> RenderedImage:
        n = sample.size
        rng = np.random.default_rng(sample.view.background_seed)
        bg = rng.integers(0, 256, size=3).astype(np.float32)
        img = np.empty((n, n, 3), np.float32)
        img[:] = bg * np.linspace(0.6, 1.0, n, dtype=np.float32)[:, None, None]
        face, _, _ = self._ellipse(sample)
        shade = np.asarray(state["colour"], np.float32) * (1.0 + sample.pspi / 32.0)
        img[face > 0] = np.clip(shade, 0, 255)
        noise = np.random.default_rng(sample.seed).normal(0, 4, size=img.shape)
        rgb = np.clip(img + noise, 0, 255).astype(np.uint8)
        d = None
        if depth:
            d = np.where(face > 0, sample.view.distance, 0.0).astype(np.float32)
        return RenderedImage(rgb=rgb, mask=face if mask else None, depth=d,
                             landmarks=self._keypoints(sample))

    def _keypoints(self, sample: SampleSpec) -> np.ndarray:
        """(3, 2) stand-in right eye, left eye, mouth inside the ellipse (rotated with it)."""
        _, (cx, cy), (ax, ay) = self._ellipse(sample)
        offsets = np.array([[-0.45 * ax, -0.2 * ay], [0.45 * ax, -0.2 * ay], [0.0, 0.5 * ay]])
        a = np.radians(sample.view.roll)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        return offsets @ rot.T + np.array([cx, cy], dtype=np.float64)

    def heatmap(self, state: Any, sample: SampleSpec) -> np.ndarray:
        face, _, _ = self._ellipse(sample)
        out = np.zeros((sample.size, sample.size, 3), np.uint8)
        out[face > 0] = (min(255, int(sample.pspi * 16)), int(sample.aus[0] * 40), 0)
        return out

    def mesh_files(self, state: Any) -> dict[str, bytes]:
        name = state["identity"].name
        obj = (
            f"mtllib {name}.mtl\nusemtl skin\n"
            "v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nf 1/1 2/2 3/3\n"
        )
        mtl = f"newmtl skin\nmap_Kd {name}.png\n"
        tex = np.zeros((4, 4, 3), np.uint8)
        tex[:] = state["colour"]
        ok, png = cv2.imencode(".png", tex)
        return {".obj": obj.encode(), ".mtl": mtl.encode(), ".png": png.tobytes()}


class SlowPlainRenderer(PlainRenderer):
    """:class:`PlainRenderer` taking ``PAIN3D_TEST_DELAY`` seconds (default 0.3) per identity,
    so that tests can kill a run in the middle."""

    def prepare(self, identity: IdentitySpec) -> dict[str, Any]:
        import os
        import time

        time.sleep(float(os.environ.get("PAIN3D_TEST_DELAY", "0.3")))
        return super().prepare(identity)
