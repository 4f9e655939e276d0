"""AU contact sheets: each pain AU alone at 0/3/5 and PSPI 0/4/8/12/16, per identity.

    PYTHONPATH=$PWD .venv/bin/python scripts/au_sheet.py --identities 4 --out out/au_sheets

One PNG per identity (``au_sheet_<i>.png``): rows AU9, AU10, AU6, AU4, AU7 (levels 0, 3, 5),
AU43 (0, 1) and PSPI (0, 4, 8, 12, 16; AU vectors in :data:`PSPI_ROWS`); frontal view
(view 0 of the published views, no jitter), neutral lighting, no camera effects, cropped to
the face so each tile shows the face large. ``--nuisance AU1=2,AU2=2`` adds nuisance AUs to
every non-neutral tile (to look at antagonists).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import cv2
import numpy as np

from pain3d.facs import AU_NAMES, pspi

AU_ROWS = ("AU9", "AU10", "AU6", "AU4", "AU7", "AU43")
PSPI_ROWS: dict[int, tuple[float, ...]] = {
    0: (0, 0, 0, 0, 0, 0),
    4: (2, 1, 1, 1, 1, 0),
    8: (3, 3, 2, 2, 2, 0),
    12: (4, 4, 4, 4, 3, 0),
    16: (5, 5, 5, 5, 5, 1),
}


def _label(img: np.ndarray, text: str) -> None:
    for colour, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(img, text, (4, img.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour,
                    thick, cv2.LINE_AA)


def _rows() -> list[list[tuple[str, np.ndarray]]]:
    rows = []
    for au in AU_ROWS:
        levels = (0, 1) if au == "AU43" else (0, 3, 5)
        row = []
        for lv in levels:
            a = np.zeros(len(AU_NAMES))
            a[AU_NAMES.index(au)] = lv
            row.append((f"{au}={lv}", a))
        rows.append(row)
    rows.append([(f"PSPI {int(pspi(np.asarray(v)))}", np.asarray(v, float))
                 for v in PSPI_ROWS.values()])
    return rows


def identity_sheet(ident, renderer, tile: int, nuisance: dict[str, float] | None) -> np.ndarray:
    """(rows * tile, 5 * tile, 3) uint8 RGB sheet of one identity."""
    from pain3d.appearance import sample_appearance
    from pain3d.face import express, identity_mesh
    from pain3d.render import Lighting, compose, default_views

    neutral = identity_mesh(ident)
    app = sample_appearance(ident, ident.seed, mesh=neutral)
    cam = default_views()[0]
    s = renderer.size[0]
    grey = np.full((s, s, 3), 128, np.uint8)
    rows = _rows()
    sheet = np.zeros((len(rows) * tile, 5 * tile, 3), np.uint8)

    crop = slice(int(0.27 * s), int(0.83 * s)), slice(int(0.22 * s), int(0.78 * s))
    for r, row in enumerate(rows):
        for c, (name, a) in enumerate(row):
            nu = nuisance if a.any() else None
            mesh = express(neutral, a, nuisance=nu) if a.any() or nu else neutral
            img = compose(renderer.render(mesh, app, cam, Lighting(), aus=a, depth=False), grey)
            img = cv2.resize(np.ascontiguousarray(img[crop]), (tile, tile),
                             interpolation=cv2.INTER_AREA)
            _label(img, name)
            sheet[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = img
    return sheet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--identities", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=512, help="render size before the face crop")
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--nuisance", default="", help="e.g. AU1=2,AU2=2")
    ap.add_argument("--out", type=Path, default=Path("out/au_sheets"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO)
    from pain3d.face import sample_identities
    from pain3d.render import Renderer

    nuisance = {k.strip().upper(): float(v) for k, v in
                (p.split("=") for p in args.nuisance.split(",") if p.strip())} or None
    args.out.mkdir(parents=True, exist_ok=True)
    renderer = Renderer(args.size, supersample=2)
    try:
        for ident in sample_identities(args.identities, args.seed):
            sheet = identity_sheet(ident, renderer, args.tile, nuisance)
            path = args.out / f"au_sheet_{ident.index}.png"
            cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
            logging.info("wrote %s (%s)", path, ident.demographics)
    finally:
        renderer.release()


if __name__ == "__main__":
    main()
