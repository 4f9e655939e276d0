"""How wide the procedural eyes look: the visible eyeball's width in a frontal render against
the distance between the eyes' centres and the lid margins' own width.

    PYTHONPATH=$PWD .venv/bin/python scripts/eye_opening.py --identities 4

A real eye opening is 27-30 mm wide (about 0.45 of the distance between the pupils). Prints,
per identity, the visible eyeball's width (the render's eye part, each side), its height,
the distance between the eyeball centres and the lid margin's width (outer to inner corner
of the upper lid's loop), all in mm (`docs/rig.md`, "What still looks synthetic").
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--identities", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=1024, help="render size in pixels")
    args = ap.parse_args()

    from pain3d.appearance import sample_appearance
    from pain3d.appearance.landmarks import face_landmarks
    from pain3d.face import identity_mesh, sample_identities
    from pain3d.face.head import head_template
    from pain3d.face.mesh import PARTS
    from pain3d.render import Renderer, default_views, sample_lighting

    loops = head_template().fine_eye_loops
    print("identity  visible width R / L  height  between centres  lid margin width (mm)")
    with Renderer(args.size) as renderer:
        for ident in sample_identities(args.identities, args.seed):
            mesh = identity_mesh(ident)
            app = sample_appearance(ident, ident.seed, mesh=mesh)
            res = renderer.render(mesh, app, default_views()[0],
                                  sample_lighting(np.random.default_rng(0)), aus=np.zeros(6),
                                  depth=False)
            eye = res.parts == PARTS.index("eyes")
            cols = np.flatnonzero(eye.any(0))
            rows = np.flatnonzero(eye.any(1))
            split = int(np.argmax(np.diff(cols))) + 1  # the gap between the two eyes
            right, left = cols[:split], cols[split:]
            lm = face_landmarks(mesh)
            between = float(np.linalg.norm(lm.eye_left - lm.eye_right))
            px_per_m = (left.mean() - right.mean()) / between
            upper = list(loops["l"][0])
            margin = float(np.linalg.norm(mesh.vertices[upper[0]] - mesh.vertices[upper[-1]]))
            mm = 1000.0 / px_per_m
            print(f"{ident.index:8d}  {np.ptp(right) * mm:8.1f} / {np.ptp(left) * mm:4.1f}"
                  f"  {np.ptp(rows) * mm:6.1f}  {between * 1000:15.1f}  {margin * 1000:8.1f}")


if __name__ == "__main__":
    main()
