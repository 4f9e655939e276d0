"""Contact sheet of the built-in geometry: 16 identities x {neutral, PSPI 4, 8, 12, 16}.

Shaded, untextured renders (moderngl over EGL, software GL is fine) with the regions tinted
lightly so lids, lips and brows can be told apart. Usage::

    .venv/bin/python scripts/geometry_sheet.py --out docs/img/geometry_sheet.png
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger("geometry_sheet")

_VS = """
#version 330
uniform mat4 mvp;
uniform mat3 rot;
in vec3 in_pos;
in vec3 in_nrm;
in vec3 in_col;
out vec3 v_nrm;
out vec3 v_col;
void main() {
    gl_Position = mvp * vec4(in_pos, 1.0);
    v_nrm = rot * in_nrm;
    v_col = in_col;
}
"""
_FS = """
#version 330
in vec3 v_nrm;
in vec3 v_col;
out vec4 f_color;
void main() {
    vec3 n = normalize(v_nrm);
    vec3 l1 = normalize(vec3(0.4, 0.5, 1.0));
    vec3 l2 = normalize(vec3(-0.8, 0.2, 0.4));
    float d = 0.25 + 0.65 * max(dot(n, l1), 0.0) + 0.2 * max(dot(n, l2), 0.0);
    vec3 h = normalize(l1 + vec3(0.0, 0.0, 1.0));
    float s = 0.15 * pow(max(dot(n, h), 0.0), 30.0);
    f_color = vec4(v_col * d + s, 1.0);
}
"""

# Light tints per region id so the parts read in a grey render.
_TINT = {
    "brow": (0.45, 0.38, 0.32), "lips": (0.80, 0.52, 0.50), "eyeball": (0.95, 0.95, 0.95),
    "mouth_interior": (0.35, 0.12, 0.12), "scalp": (0.55, 0.50, 0.46),
    "upper_eyelid": (0.82, 0.74, 0.70), "lower_eyelid": (0.82, 0.74, 0.70),
}  # fmt: skip


def _colours(mesh) -> np.ndarray:
    from pain3d.face.mesh import REGIONS

    base = np.array([0.85, 0.78, 0.72], np.float32)
    table = np.array([_TINT.get(r, base) for r in REGIONS], np.float32)
    col = table[mesh.regions] if mesh.regions is not None else np.tile(base, (mesh.n_vertices, 1))
    # Pupils: the front cap of each eyeball.
    if mesh.uv is not None and mesh.regions is not None:
        from pain3d.face.head import ISLAND_CENTRES, ISLAND_RADIUS

        eye = mesh.regions == REGIONS.index("eyeball")
        for key in ("eye_r", "eye_l"):
            r = np.linalg.norm(mesh.uv - np.array(ISLAND_CENTRES[key]), axis=1)
            col[eye & (r < 0.42 * ISLAND_RADIUS)] = (0.30, 0.22, 0.15)
            col[eye & (r < 0.2 * ISLAND_RADIUS)] = (0.05, 0.05, 0.05)
    return col


def _look(yaw_deg: float, distance: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    yaw = np.radians(yaw_deg)
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], np.float32)  # object yaw
    f = 1.0 / np.tan(np.radians(14.0) / 2)
    near, far = 0.05, 5.0
    proj = np.array(
        [
            [f, 0, 0, 0],
            [0, f, 0, 0],
            [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)],
            [0, 0, -1, 0],
        ],
        np.float32,
    )
    view = np.eye(4, dtype=np.float32)
    view[:3, :3] = rot
    view[:3, 3] = (0.0, 0.03 if distance > 0.4 else 0.06, -distance)
    return proj @ view, rot


class ShadedRenderer:
    """Tiny moderngl renderer: one mesh, one yaw, a grey-shaded RGB image."""

    def __init__(self, size: int = 256) -> None:
        import moderngl

        self.size = size
        self.ctx = moderngl.create_standalone_context(backend="egl")
        self.prog = self.ctx.program(vertex_shader=_VS, fragment_shader=_FS)
        self.fbo = self.ctx.simple_framebuffer((size, size), components=4)

    def render(self, mesh, yaw: float = 0.0, distance: float = 0.75) -> np.ndarray:
        """(size, size, 3) uint8 RGB."""
        v = mesh.vertices.astype(np.float32)
        data = np.concatenate([v, mesh.vertex_normals(), _colours(mesh)], 1).astype("f4")
        vbo = self.ctx.buffer(data.tobytes())
        ibo = self.ctx.buffer(mesh.faces.astype("i4").tobytes())
        vao = self.ctx.vertex_array(
            self.prog, [(vbo, "3f 3f 3f", "in_pos", "in_nrm", "in_col")], ibo
        )
        mvp, rot = _look(yaw, distance, self.size)
        self.prog["mvp"].write(mvp.T.copy().tobytes())
        self.prog["rot"].write(rot.T.copy().tobytes())
        self.fbo.use()
        self.ctx.enable(self.ctx.DEPTH_TEST)
        self.fbo.clear(0.12, 0.13, 0.15, 1.0)
        vao.render()
        img = np.frombuffer(self.fbo.read(components=3), np.uint8).reshape(self.size, self.size, 3)
        vao.release(), vbo.release(), ibo.release()
        return img[::-1].copy()


def _pain_aus(pspi: int) -> np.ndarray:
    """A representative AU vector for a PSPI value (AU4, AU6/7, AU9/10, AU43)."""
    from pain3d.facs import pspi as pspi_of

    table = {
        0: [0, 0, 0, 0, 0, 0],
        4: [2, 1, 0, 1, 0, 0],
        8: [3, 3, 2, 2, 1, 0],
        12: [4, 3, 4, 4, 3, 0],
        16: [5, 5, 5, 5, 4, 1],
    }
    aus = np.asarray(table[pspi], np.float32)
    if round(float(pspi_of(aus))) != pspi:
        raise ValueError(f"table row for PSPI {pspi} gives {pspi_of(aus)}")
    return aus


def make_sheet(out: Path, n_identities: int = 16, size: int = 112, seed: int = 0) -> Path:
    """Render the sheet (identities in two column groups) and write it to ``out`` (PNG)."""
    from PIL import Image, ImageDraw

    from pain3d.face import express, identity_mesh, sample_identities

    renderer = ShadedRenderer(size)
    levels = (0, 4, 8, 12, 16)
    ids = sample_identities(n_identities, seed=seed)
    per_group = (n_identities + 1) // 2
    cols = len(levels) + 1
    header = 18
    gap = 12
    width = 2 * cols * size + gap
    sheet = np.full((header + per_group * size, width, 3), 24, np.uint8)
    for i, ident in enumerate(ids):
        row, group = i % per_group, i // per_group
        x0, y0 = group * (cols * size + gap), header + row * size
        neutral = identity_mesh(ident)
        tiles = [renderer.render(neutral, yaw=40.0, distance=1.05)]
        tiles += [renderer.render(express(neutral, _pain_aus(lv)), distance=0.62) for lv in levels]
        for j, tile in enumerate(tiles):
            sheet[y0 : y0 + size, x0 + j * size : x0 + (j + 1) * size] = tile
    img = Image.fromarray(sheet)
    draw = ImageDraw.Draw(img)
    labels = ["yaw 40", "neutral"] + [f"PSPI {lv}" for lv in levels[1:]]
    for group in range(2):
        for j, text in enumerate(labels):
            draw.text((group * (cols * size + gap) + j * size + 6, 3), text, fill=(220, 220, 220))
    out.parent.mkdir(parents=True, exist_ok=True)
    # A 40-colour palette keeps the sheet small enough for the docs.
    img = img.quantize(colors=40, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    img.save(out, optimize=True)
    log.info("wrote %s", out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img/geometry_sheet.png"))
    parser.add_argument("--identities", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    make_sheet(args.out, args.identities, args.size, args.seed)


if __name__ == "__main__":
    main()
