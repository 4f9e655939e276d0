"""Per-topology caches of the renderer: merged head + hair faces, static attributes and the
sparse operators that turn new vertex positions into normals and ambient occlusion fast."""

from __future__ import annotations

import hashlib

import numpy as np
from scipy import sparse

from pain3d.appearance.hair import HAIR_SHELL_REGION, HairShell
from pain3d.appearance.landmarks import eye_centres
from pain3d.face.mesh import Mesh, region_id


class Topology:
    """Everything about a mesh + hair shell that does not change with the expression.

    Attributes:
        n_mesh: vertices of the head mesh V.
        n_total: V + shell vertices.
        faces: (F + G, 3) uint32 merged triangles, in draw order, indexing the vertex rows
            of :attr:`static` and :meth:`dynamic`.
        static: (n_total, 5) float32 interleaved uv (2), region id, specular strength and
            scalp-hair coverage.

    The vertex rows of the GL buffers are the head's then the shell's vertices renumbered in
    the order the triangles first use them: llvmpipe shades the vertices of each run of ~340
    triangles once through a cache keyed by index modulo 256, which then misses less
    (~0.25 ms less per draw at FLAME size; the triangles and their order are unchanged).
    """

    def __init__(self, mesh: Mesh, shell: HairShell | None, spec: np.ndarray,
                 hair: np.ndarray) -> None:
        v, f = mesh.vertices, mesh.faces.astype(np.int64)
        nv, nf = len(v), len(f)
        draw_faces = _inward_mouth(v, f, mesh.regions)
        self.n_mesh = nv
        self.shell = shell
        k = 0 if shell is None else len(shell.vertex_index)
        self.n_total = nv + k
        faces = [draw_faces]
        uv = [mesh.uv]
        reg = [mesh.regions.astype(np.float32)]
        spc = [np.broadcast_to(np.asarray(spec, np.float32), (nv,))]
        hr = [np.broadcast_to(np.asarray(hair, np.float32), (nv,))]
        if shell is not None:
            faces.append(shell.faces.astype(np.int64) + nv)
            uv.append(mesh.uv[shell.vertex_index])
            reg.append(np.full(k, HAIR_SHELL_REGION, np.float32))
            spc.append(np.full(k, 0.12, np.float32))
            hr.append(hr[0][shell.vertex_index])  # the shader fades the shell's edge
        merged = np.concatenate(faces)
        if shell is not None:
            # Front-to-back order for the usual views (faces facing the camera first, the hair
            # shell before the scalp under it) lets early depth tests skip hidden fragments.
            pos = np.concatenate([v, shell.positions(v, self._normals_once(v, f))])
            order = np.argsort(-pos[merged].mean(axis=1)[:, 2], kind="stable")
        else:
            order = np.argsort(-v[merged].mean(axis=1)[:, 2], kind="stable")
        merged = merged[order]
        self._rows = _first_use_order(merged, self.n_total)  # GL row -> vertex
        renumber = np.empty(self.n_total, np.int64)
        renumber[self._rows] = np.arange(self.n_total)
        self.faces = np.ascontiguousarray(renumber[merged].astype(np.uint32))
        self.static = np.ascontiguousarray(np.c_[np.concatenate(uv), np.concatenate(reg),
                                                 np.concatenate(spc), np.concatenate(hr)
                                                 ].astype(np.float32)[self._rows])
        rows = f.ravel()
        cols = np.repeat(np.arange(nf), 3)
        self._v_of_f = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(nv, nf))
        e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        e = np.concatenate([e, e[:, ::-1]])
        adj = sparse.csr_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(nv, nv))
        adj.data[:] = 1.0
        deg = np.asarray(adj.sum(axis=1)).ravel()
        self._avg = sparse.diags(1.0 / np.maximum(deg, 1)) @ adj
        self._avg2 = (self._avg @ self._avg).tocsr()
        lengths = np.linalg.norm(v[e[:, 0]] - v[e[:, 1]], axis=1)
        edge = np.bincount(e[:, 0], lengths, minlength=nv) / np.maximum(np.bincount(
            e[:, 0], minlength=nv), 1)
        self._edge = np.maximum(edge, 1e-5).astype(np.float32)
        regions = mesh.regions
        self._eye = regions == region_id("eyeball")
        self._mouth = regions == region_id("mouth_interior")
        self._regions = regions
        self._corners = tuple(np.ascontiguousarray(f[:, k]) for k in range(3))
        self.eye_centres_now = eye_centres(v, regions)[:2]
        self._mouth_idx = np.flatnonzero(self._mouth)
        self.mouth_centre_now = self._mouth_centre(v)
        self._buf = np.zeros((self.n_total, 8), np.float32)
        self._rows_buf = np.empty_like(self._buf)
        self._geometry_of = None  # the vertex array the buffer's geometry columns hold

    @staticmethod
    def _normals_once(v: np.ndarray, f: np.ndarray) -> np.ndarray:
        t = v[f].astype(np.float64)
        fn = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
        vn = np.zeros_like(v, dtype=np.float64)
        for k in range(3):
            np.add.at(vn, f[:, k], fn)
        return (vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)).astype(
            np.float32)

    def _mouth_centre(self, v: np.ndarray) -> np.ndarray:
        """(3,) centre of the mouth opening: the front-most ring of the mouth interior."""
        if len(self._mouth_idx) == 0:
            return np.array([0.0, -1.0, -1.0])  # far away: no teeth drawn
        m = v[self._mouth_idx]
        front = m[m[:, 2] > m[:, 2].max() - 0.003]
        return np.array([0.0, float(front[:, 1].mean()), float(front[:, 2].max())])

    def normals(self, vertices: np.ndarray) -> np.ndarray:
        """(V, 3) float32 area-weighted unit vertex normals."""
        a, b, c = (vertices.take(k, axis=0) for k in self._corners)  # ~5x faster than v[f]
        b -= a
        c -= a
        fn = np.cross(b, c)
        vn = np.asarray(self._v_of_f @ fn, dtype=np.float32)
        vn /= np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)
        return vn

    def ambient_occlusion(self, vertices: np.ndarray, normals: np.ndarray) -> np.ndarray:
        """(V,) float32 in [0.3, 1]: darker where the surface is concave at the 2-ring scale
        (creases, eye sockets, nostrils), recomputed per expression so folds deepen."""
        lap = np.asarray(self._avg2 @ vertices, np.float32) - vertices
        concave = np.einsum("ij,ij->i", lap, normals) / self._edge
        ao = 1.0 - 1.6 * np.clip(concave, 0.0, 0.45)
        ao = np.asarray(self._avg @ ao, np.float32)
        ao[self._eye] = 0.75
        ao[self._mouth] = 0.25
        return np.clip(ao, 0.3, 1.0)

    def dynamic(self, vertices: np.ndarray, heat: np.ndarray | None) -> np.ndarray:
        """Interleaved (n_total, 8) float32 position, normal, heat, AO in GL row order (a
        buffer re-used by the next call).

        The same ``vertices`` array again (views of one expression, drawn with and without a
        heatmap) reuses its positions, normals and AO: only the heat column is rewritten
        (vertex arrays are treated as immutable, as by the renderer)."""
        nv = self.n_mesh
        h = None
        if heat is not None:
            h = np.asarray(heat, np.float32)
            if h.shape != (nv,):
                raise ValueError(f"heat must be (V,) = ({nv},), got {h.shape}")
        if vertices is not self._geometry_of:
            self._write_geometry(vertices)
        buf = self._buf
        buf[:nv, 6] = 0.0 if h is None else np.clip(h, 0.0, 1.0)
        if self.shell is not None:
            buf[nv:, 6] = buf[self.shell.vertex_index, 6]
        return np.take(buf, self._rows, axis=0, out=self._rows_buf)

    def _write_geometry(self, vertices: np.ndarray) -> None:
        """Positions, normals and AO of ``vertices`` (and the hair shell) into the buffer."""
        v = np.asarray(vertices, np.float32)
        if v.shape != (self.n_mesh, 3):
            raise ValueError(f"mesh has {v.shape} vertices, the bound topology {self.n_mesh}")
        n = self.normals(v)
        buf = self._buf
        nv = self.n_mesh
        buf[:nv, 0:3] = v
        buf[:nv, 3:6] = n
        buf[:nv, 7] = self.ambient_occlusion(v, n)
        if self.shell is not None:
            idx = self.shell.vertex_index
            buf[nv:, 0:3] = self.shell.positions(v, n)
            buf[nv:, 3:6] = n[idx]
            buf[nv:, 7] = 1.0
        self.eye_centres_now = eye_centres(v, self._regions)[:2] if self._eye.any() else (
            self.eye_centres_now)
        self.mouth_centre_now = self._mouth_centre(v)
        self._geometry_of = vertices


def _first_use_order(faces: np.ndarray, n: int) -> np.ndarray:
    """(n,) vertex ids in the order ``faces`` first use them, unused ones last."""
    used, first = np.unique(faces.ravel(), return_index=True)
    unused = np.setdiff1d(np.arange(n), used)
    return np.concatenate([used[np.argsort(first, kind="stable")], unused])


def _inward_mouth(v: np.ndarray, f: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Faces to draw: the mouth-interior bag is seen from inside, so its triangles are wound
    to face its centre (the renderer culls back faces)."""
    mouth = (regions == region_id("mouth_interior"))[f].all(axis=1)
    if not mouth.any():
        return f
    out = f.copy()
    t = v[f[mouth]].astype(np.float64)
    normal = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    to_centre = t.reshape(-1, 3).mean(0) - t.mean(axis=1)
    flip = np.einsum("ij,ij->i", normal, to_centre) < 0
    rows = np.flatnonzero(mouth)[flip]
    out[rows] = out[rows][:, ::-1]
    return out


_CACHE: dict[tuple, Topology] = {}


def topology_key(mesh: Mesh, token: int | None) -> tuple:
    """Cache key of a topology: face content hash, vertex count and the appearance token."""
    digest = hashlib.sha1(np.ascontiguousarray(mesh.faces).tobytes()).digest()
    return (digest, mesh.n_vertices, token)


def topology_for(mesh: Mesh, shell: HairShell | None, spec: np.ndarray, hair: np.ndarray,
                 key: tuple) -> Topology:
    """The cached :class:`Topology` of a mesh topology + hair shell (a few kept)."""
    topo = _CACHE.get(key)
    if topo is None:
        if len(_CACHE) >= 4:
            _CACHE.pop(next(iter(_CACHE)))
        topo = _CACHE[key] = Topology(mesh, shell, spec, hair)
    return topo


LID_NEAR_MM = 14.0
"""Hand-set: vertices this close to a lid margin (mm, neutral mesh) carry their distance
from it (:func:`lid_margin_mm`): the upper lid's skin reaches about 9 mm above its margin,
so every lid triangle's corners are covered."""


def lid_margin_mm(mesh: Mesh) -> np.ndarray | None:
    """(V,) float32 distance of each vertex from the nearest lid margin (either lid, either
    eye), mm on ``mesh`` (the neutral mesh), at most :data:`LID_NEAR_MM`. None for a mesh
    without the head template's eye loops (FLAME)."""
    from pain3d.face.head import head_template

    loops = head_template().fine_eye_loops
    idx = np.unique(np.concatenate([lid for key in ("r", "l") for lid in loops[key]]))
    if mesh.n_vertices < head_template().n_fine or len(idx) == 0:
        return None
    from scipy.spatial import cKDTree

    v = np.asarray(mesh.vertices, np.float64)
    dist, _ = cKDTree(v[idx]).query(v, distance_upper_bound=LID_NEAR_MM / 1000.0)
    return np.minimum(dist * 1000.0, LID_NEAR_MM).astype(np.float32)
