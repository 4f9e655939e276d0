"""Where a diffusion portrait lands on the face: a test pattern through the real projection.

    .venv/bin/python scripts/diffusion_projection.py          # -> out/diffusion_projection.png
    .venv/bin/python scripts/diffusion_projection.py --docs   # + docs/img copy

A fake "portrait" (left half of the picture red, right half blue, top third plus green) goes
through :func:`pain3d.synth.diffusion.portrait_appearance` exactly as a Stable Diffusion
portrait would in ``generate --appearance diffusion``: frontal depth render, projection onto
the UV texture. Columns: the procedural render, then the textured head from the portrait
camera and from the published views 1 and 2. Red must stay on the image's left (the
subject's right), green on top; what the frontal camera does not see stays procedural.
No diffusers or weights needed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from pain3d.appearance.diffusion_testing import PatternPipeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="out/diffusion_projection.png")
    ap.add_argument("--docs", action="store_true", help="also write docs/img/")
    ap.add_argument("--identities", type=int, default=2)
    ap.add_argument("--size", type=int, default=224)
    args = ap.parse_args()

    from pain3d import face
    from pain3d.appearance import sample_appearance
    from pain3d.appearance.diffusion import DepthPortrait
    from pain3d.render import Camera, Lighting, Renderer
    from pain3d.render.camera import default_views
    from pain3d.synth.diffusion import portrait_appearance

    frontal = Camera(yaw=0.0, pitch=0.0)
    views = default_views()
    portrait = DepthPortrait(pipeline=PatternPipeline())
    rows = []
    with Renderer(args.size) as r:
        for ident in face.sample_identities(args.identities, 4):
            mesh = face.identity_mesh(ident)
            app = sample_appearance(ident, ident.seed, mesh=mesh)
            new, _ = portrait_appearance(r, mesh, app, frontal, portrait, "", 0, size=512)
            cells = [r.render(mesh, app, frontal, Lighting()).rgb]
            cells += [r.render(mesh, new, cam, Lighting()).rgb for cam in (frontal, *views[1:])]
            rows.append(np.hstack(cells))
    sheet = cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR)
    outs = [Path(args.out)] + ([Path("docs/img/diffusion_projection.png")] if args.docs else [])
    for out in outs:
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
