"""Contact sheets of the built-in generator: identities x {neutral, low, mid, high PSPI} x views.

    .venv/bin/python scripts/render_sheet.py                       # 24 identities -> out/sheets
    .venv/bin/python scripts/render_sheet.py --docs       # + reduced docs/img copies (8 rows)

Writes ``render_sheet.png`` (composited photos with backgrounds and camera effects) and
``heatmap_sheet.png`` (the displacement heatmaps of the same renders, black -> red -> yellow
-> white over black). Each row is one identity (label: sex, age band, ancestry, Monk tone,
hair / facial hair); columns are the four expressions, each from the three default views.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import cv2
import numpy as np

from pain3d.facs import pspi

EXPRESSIONS: dict[str, np.ndarray] = {
    "neutral": np.zeros(6),
    "low": np.array([1, 1, 1, 1, 0, 0], float),
    "mid": np.array([3, 3, 2, 2, 2, 0], float),
    "high": np.array([5, 5, 5, 4, 4, 1], float),
}

log = logging.getLogger("render_sheet")


def _label(img: np.ndarray, text: str, scale: float = 0.35) -> None:
    for colour, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(img, text, (3, img.shape[0] - 5), cv2.FONT_HERSHEY_SIMPLEX, scale, colour,
                    thick, cv2.LINE_AA)


def build_sheets(n: int, size: int, tile: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rgb sheet, heatmap sheet) as (H, W, 3) uint8 RGB."""
    from pain3d.appearance import procedural_background, sample_appearance, sample_effects
    from pain3d.face import HEATMAP_SCALE_M, displacement, express, identity_mesh, sample_identities
    from pain3d.render import Renderer, compose, default_views, normalise_heat, sample_lighting

    renderer = Renderer(size)
    views = default_views()
    rows, heat_rows = [], []
    for ident in sample_identities(n, seed):
        t0 = time.perf_counter()
        neutral = identity_mesh(ident)
        app = sample_appearance(ident, ident.seed, mesh=neutral)
        rng = np.random.default_rng(ident.seed)
        lights = [sample_lighting(rng) for _ in views]
        bgs = [procedural_background(rng, size) for _ in views]
        row, heat_row = [], []
        for name, aus in EXPRESSIONS.items():
            mesh = neutral if name == "neutral" else express(neutral, aus)
            heat = normalise_heat(displacement(neutral, mesh), HEATMAP_SCALE_M)
            for v, cam in enumerate(views):
                res = renderer.render(mesh, app, cam, lights[v], aus=aus, heat=heat, depth=False)
                fx_rng = np.random.default_rng([ident.seed, v])
                img = compose(res, bgs[v], sample_effects(fx_rng), fx_rng)
                img = cv2.resize(img, (tile, tile), interpolation=cv2.INTER_AREA)
                hm = cv2.resize(res.heatmap, (tile, tile), interpolation=cv2.INTER_AREA)
                if v == 0:
                    _label(img, f"{name} PSPI {pspi(aus):g}")
                    _label(hm, f"{name} PSPI {pspi(aus):g}")
                row.append(img)
                heat_row.append(hm)
        d, t = ident.demographics, app.traits
        _label(row[1], f"{d.sex[0].upper()} {d.age_band} {d.ancestry} MST{t.monk_tone}")
        _label(row[2], f"{t.hair_style}/{t.facial_hair}")
        rows.append(np.concatenate(row, 1))
        heat_rows.append(np.concatenate(heat_row, 1))
        log.info("identity %d done in %.2f s", ident.index, time.perf_counter() - t0)
    renderer.release()
    return np.concatenate(rows, 0), np.concatenate(heat_rows, 0)


def save_png(path: Path, rgb: np.ndarray, max_bytes: int | None = None) -> int:
    """Write RGB as PNG; when ``max_bytes`` is set, shrink (and palette-quantise) to fit."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(rgb)
    scale = 1.0
    while True:
        out = img if scale == 1.0 else img.resize(
            (int(img.width * scale), int(img.height * scale)), Image.Resampling.LANCZOS)
        if max_bytes is not None:
            out = out.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        out.save(path, optimize=True)
        size = path.stat().st_size
        if max_bytes is None or size <= max_bytes or scale < 0.2:
            return size
        scale *= 0.85


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--identities", type=int, default=24)
    ap.add_argument("--size", type=int, default=512, help="render size in pixels")
    ap.add_argument("--tile", type=int, default=160, help="tile size in the sheet")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("out/sheets"))
    ap.add_argument("--docs", action="store_true",
                    help="also write reduced copies (first --docs-rows identities, palette "
                         "PNG < 300 KB) to docs/img")
    ap.add_argument("--docs-rows", type=int, default=8)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rgb, heat = build_sheets(args.identities, args.size, args.tile, args.seed)
    for name, img in (("render_sheet.png", rgb), ("heatmap_sheet.png", heat)):
        n = save_png(args.out / name, img)
        log.info("wrote %s (%d KB)", args.out / name, n // 1024)
        if args.docs:
            rows = img[: args.docs_rows * args.tile]
            n = save_png(Path("docs/img") / name, rows, max_bytes=295_000)
            log.info("wrote docs/img/%s (%d KB)", name, n // 1024)


if __name__ == "__main__":
    main()
