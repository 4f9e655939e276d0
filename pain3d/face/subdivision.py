"""Loop subdivision as a sparse linear operator, with sharp crease edges.

Subdivision is linear in the vertex positions, so it is built once per topology as a sparse
matrix ``S`` (V_fine, V_coarse): fine vertices are ``S @ coarse``, and so are displacement
fields, shape bases and AU bases. Boundary edges and edges marked as creases (lid margins,
lip line) follow the cubic B-spline curve rule, so they stay crisp and stay where the coarse
curve says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Subdivision:
    """One level of Loop subdivision.

    Attributes:
        matrix: (V + E, V) sparse CSR operator; rows < V are the moved old vertices, the rest
            are new vertices on the edges, in the order of ``edges``.
        faces: (4F, 3) int64 fine triangles, same winding as the coarse ones.
        edges: (E, 2) int64 coarse edge endpoints, sorted per row.
        creases: (E,) bool, True where the edge is a boundary or a marked crease.
    """

    matrix: sp.csr_matrix
    faces: np.ndarray
    edges: np.ndarray
    creases: np.ndarray


def _edge_keys(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return lo.astype(np.int64) * n + hi


def loop_subdivision(
    faces: np.ndarray, n_vertices: int, crease_edges: np.ndarray | None = None
) -> Subdivision:
    """Build the Loop operator for a triangle mesh (manifold, possibly with boundaries).

    Args:
        faces: (F, 3) int vertex indices.
        n_vertices: V; vertices not used by any face are copied unchanged.
        crease_edges: (C, 2) int edges kept sharp, in addition to boundary edges.

    Returns:
        The :class:`Subdivision` of this topology.
    """
    f = np.asarray(faces, dtype=np.int64)
    n = n_vertices
    edges, inv, crease = _edges(f, n, crease_edges)
    odd = _odd_weights(f, n, edges, inv, crease)
    even = _even_weights(n, edges, crease)
    rows, cols, vals = (np.concatenate(odd[k] + even[k]) for k in range(3))
    mat = sp.csr_matrix((vals, (rows, cols)), shape=(n + len(edges), n))
    return Subdivision(matrix=mat, faces=_fine_faces(f, n, inv), edges=edges, creases=crease)


def _edges(f: np.ndarray, n: int, crease_edges: np.ndarray | None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique edges (E, 2), the edge of each half-edge (3F,) in face order, and (E,) crease
    flags (boundary edges, used by one face, and the marked ones)."""
    keys = _edge_keys(f.reshape(-1), f[:, [1, 2, 0]].reshape(-1), n)
    uniq, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    edges = np.stack([uniq // n, uniq % n], axis=1)
    crease = counts == 1
    if crease_edges is not None and len(crease_edges):
        crease |= np.isin(uniq, _edge_keys(crease_edges[:, 0], crease_edges[:, 1], n))
    return edges, inv, crease


def _odd_weights(f: np.ndarray, n: int, edges: np.ndarray, inv: np.ndarray,
                 crease: np.ndarray) -> tuple[list, list, list]:
    """Rows, columns and weights of the new edge vertices: 3/8 per end and 1/8 per opposite
    vertex, or the curve rule (1/2 per end) on creases."""
    rows, cols, vals = [], [], []
    e_rows = n + np.arange(len(edges))
    w_end = np.where(crease, 0.5, 0.375)
    for k in (0, 1):
        rows.append(e_rows)
        cols.append(edges[:, k])
        vals.append(w_end)
    smooth_half = ~crease[inv]
    rows.append(n + inv[smooth_half])
    cols.append(f[:, [2, 0, 1]].reshape(-1)[smooth_half])  # the vertex opposite each half-edge
    vals.append(np.full(smooth_half.sum(), 0.125))
    return rows, cols, vals


def _even_weights(n: int, edges: np.ndarray, crease: np.ndarray) -> tuple[list, list, list]:
    """Rows, columns and weights of the moved old vertices: Loop's beta rule (smooth, and a
    dart on one crease), the curve rule on two creases, fixed on more (corners)."""
    ea, eb = edges[:, 0], edges[:, 1]
    valence = np.bincount(np.concatenate([ea, eb]), minlength=n)
    n_crease = np.bincount(np.concatenate([ea[crease], eb[crease]]), minlength=n)
    cosv = np.cos(2 * np.pi / np.maximum(valence, 1))
    beta = np.where(valence > 0, (0.625 - (0.375 + 0.25 * cosv) ** 2) / np.maximum(valence, 1), 0.0)
    smooth_v = (n_crease == 0) | (n_crease == 1)
    crease_v = n_crease == 2
    self_w = np.where(smooth_v, 1 - valence * beta, np.where(crease_v, 0.75, 1.0))
    rows, cols, vals = [np.arange(n)], [np.arange(n)], [self_w]
    for p, q in ((ea, eb), (eb, ea)):
        use_s = smooth_v[p]
        rows.append(p[use_s])
        cols.append(q[use_s])
        vals.append(beta[p[use_s]])
        use_c = crease_v[p] & crease
        rows.append(p[use_c])
        cols.append(q[use_c])
        vals.append(np.full(use_c.sum(), 0.125))
    return rows, cols, vals


def _fine_faces(f: np.ndarray, n: int, inv: np.ndarray) -> np.ndarray:
    """(4F, 3) fine triangles: three corners and the middle of each coarse face."""
    mid = (n + inv).reshape(-1, 3)  # edge vertex of (v0v1), (v1v2), (v2v0)
    v0, v1, v2 = f[:, 0], f[:, 1], f[:, 2]
    m01, m12, m20 = mid[:, 0], mid[:, 1], mid[:, 2]
    return np.concatenate([np.stack([v0, m01, m20], 1), np.stack([v1, m12, m01], 1),
                           np.stack([v2, m20, m12], 1), np.stack([m01, m12, m20], 1)])
