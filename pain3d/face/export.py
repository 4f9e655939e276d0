"""Textured-mesh export: Wavefront OBJ with UVs and normals, its MTL, and the texture PNG."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from pain3d.face.mesh import Mesh
from pain3d.io import atomic_write_bytes, atomic_write_text


def obj_text(mesh: Mesh, mtl_name: str | None = None, material: str = "skin") -> str:
    """The OBJ file body: ``v``, ``vt`` (when the mesh has UVs), ``vn`` and ``f v/vt/vn``."""
    v = mesh.vertices.astype(np.float64)
    vn = mesh.vertex_normals().astype(np.float64)
    f = mesh.faces.astype(np.int64) + 1
    lines = ["# pain3d mesh: metres, head frame (x subject's left, y up, z toward camera)"]
    if mtl_name:
        lines.append(f"mtllib {mtl_name}")
    buf = io.StringIO()
    np.savetxt(buf, v, fmt="v %.6f %.6f %.6f")
    if mesh.uv is not None:
        np.savetxt(buf, mesh.uv.astype(np.float64), fmt="vt %.6f %.6f")
    np.savetxt(buf, vn, fmt="vn %.5f %.5f %.5f")
    lines.append(buf.getvalue().rstrip("\n"))
    if mtl_name:
        lines.append(f"usemtl {material}")
    buf = io.StringIO()
    if mesh.uv is not None:
        trip = np.repeat(f, 3, axis=1)  # v/vt/vn with the same index
        np.savetxt(buf, trip, fmt="f %d/%d/%d %d/%d/%d %d/%d/%d")
    else:
        trip = np.repeat(f, 2, axis=1)
        np.savetxt(buf, trip, fmt="f %d//%d %d//%d %d//%d")
    lines.append(buf.getvalue().rstrip("\n"))
    return "\n".join(lines) + "\n"


def export_obj(mesh: Mesh, path: str | Path, texture: np.ndarray | None = None) -> Path:
    """Write ``path`` (.obj), a ``.mtl`` beside it, and ``<stem>.png`` when a texture is given.

    Args:
        mesh: the mesh (metres, head frame).
        path: destination ``.obj``.
        texture: optional (H, W, 3) uint8 RGB in image order (row 0 at the top, i.e. v = 1),
            written as PNG and referenced as ``map_Kd``.

    Returns:
        The OBJ path.
    """
    path = Path(path)
    if path.suffix.lower() != ".obj":
        raise ValueError(f"{path}: export_obj writes .obj files")
    path.parent.mkdir(parents=True, exist_ok=True)
    mtl = path.with_suffix(".mtl")
    mtl_lines = ["newmtl skin", "Ka 0 0 0", "Kd 0.8 0.8 0.8", "Ks 0.05 0.05 0.05", "Ns 10"]
    if texture is not None:
        tex = np.asarray(texture)
        if tex.ndim != 3 or tex.shape[2] not in (3, 4) or tex.dtype != np.uint8:
            raise ValueError(f"texture must be (H, W, 3|4) uint8, got {tex.shape} {tex.dtype}")
        from PIL import Image

        png = path.with_suffix(".png")
        buf = io.BytesIO()
        Image.fromarray(tex).save(buf, format="PNG")
        atomic_write_bytes(png, buf.getvalue())
        mtl_lines.append(f"map_Kd {png.name}")
    atomic_write_text(mtl, "\n".join(mtl_lines) + "\n")
    atomic_write_text(path, obj_text(mesh, mtl.name))
    return path


def read_obj(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Read back vertices (V, 3), faces (F, 3) and UVs (V, 2) of a file :func:`export_obj` wrote."""
    v, vt, f = [], [], []
    for line in Path(path).read_text().splitlines():
        if line.startswith("v "):
            v.append([float(x) for x in line.split()[1:4]])
        elif line.startswith("vt "):
            vt.append([float(x) for x in line.split()[1:3]])
        elif line.startswith("f "):
            f.append([int(tok.split("/")[0]) - 1 for tok in line.split()[1:4]])
    return np.asarray(v), np.asarray(f, dtype=np.int64), (np.asarray(vt) if vt else None)
