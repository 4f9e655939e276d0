"""Label-free choice of neutral reference frames for a video.

ViTPain compares a face with a neutral image of the same person. For a video without a
given reference, the reference is chosen from the video itself, without labels:

**Rule (documented behaviour).**
1. Candidates are the frames in the first ``reference_seconds`` seconds whose face was found
   with landmarks and carries no ``blurry`` or ``extreme_pose`` flag (if fewer than ``k``
   such frames exist, flagged-but-landmarked frames are admitted; when the window holds
   no face at all, it is extended until faces are found).
2. Every candidate's 468 mesh landmarks (x, y) are aligned to the candidates' median shape
   with a similarity transform fitted on *stable* points (inner eye corners, nose bridge,
   face sides, forehead), which pain expressions barely move.
3. A candidate's *expression energy* is the RMS distance, over the *expressive* points
   (brows, eyelids, nose wings, upper lip, mouth corners, cheeks: where AU4, AU6, AU7, AU9,
   AU10 and AU43 act), between its aligned landmarks and the median shape, divided by the
   median shape's inter-ocular distance.
4. The ``k`` candidates with the lowest energy are the references (multi-shot: the model
   averages over them), ties broken by time.

Assumption: in the first seconds the face is mostly at rest, so the median shape is close
to neutral and deviations from it are expressions. A person already in pain for the whole
opening window breaks the assumption; pass an explicit reference then.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pain3d.face.landmarks import EXPRESSIVE_POINTS, STABLE_POINTS, similarity_fit


def expression_energy(landmarks: np.ndarray) -> np.ndarray:
    """Expression energy of each face relative to the median face of the set.

    Args:
        landmarks: (N, >=468, 2 or 3) landmark sets in any pixel frame (one face per row).

    Returns:
        (N,) float64, unitless (fraction of the inter-ocular distance); 0 for a face equal
        to the median shape. N = 1 gives [0].
    """
    pts = np.asarray(landmarks, dtype=np.float64)[:, :468, :2]
    if pts.ndim != 3 or pts.shape[0] == 0:
        raise ValueError(f"expected (N, 468+, 2) landmarks with N >= 1, got {pts.shape}")
    stable = list(STABLE_POINTS)
    expressive = list(EXPRESSIVE_POINTS)
    template = pts[0]
    aligned = pts
    for _ in range(3):  # generalised Procrustes to the median, on stable points
        out = np.empty_like(pts)
        for i, p in enumerate(pts):
            s, r, t = similarity_fit(p[stable], template[stable])
            out[i] = s * p @ r.T + t
        aligned = out
        template = np.median(aligned, axis=0)
    iod = float(np.linalg.norm(template[133] - template[362]))
    iod = iod if iod > 0 else 1.0
    diff = aligned[:, expressive] - template[expressive]
    return np.sqrt((diff**2).sum(axis=2).mean(axis=1)) / iod


def choose_reference_frames(
    times_s: Sequence[float],
    landmarks: Sequence[np.ndarray | None],
    flags: Sequence[Sequence[str]],
    k: int = 3,
    reference_seconds: float = 3.0,
) -> tuple[list[int], np.ndarray]:
    """Indices of the ``k`` reference frames under the module's rule, and their energies.

    Args:
        times_s: (N,) frame times in seconds.
        landmarks: per frame (478, 3) landmarks or None (no face / no landmarks).
        flags: per frame quality flags.
        k: number of references wanted (fewer are returned when fewer faces exist).
        reference_seconds: length of the opening window searched first.

    Returns:
        (indices into the inputs sorted by energy then time, energies of those indices).
        Empty when no frame has landmarks.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n = len(times_s)
    if not (len(landmarks) == len(flags) == n):
        raise ValueError("times_s, landmarks and flags must have the same length")
    has = [i for i in range(n) if landmarks[i] is not None]
    clean = [i for i in has if not ({"blurry", "extreme_pose"} & set(flags[i]))]
    early_clean = [i for i in clean if times_s[i] <= reference_seconds]
    early = [i for i in has if times_s[i] <= reference_seconds]
    for pool in (early_clean, early, clean, has):
        if len(pool) >= min(k, len(has)) and pool:
            cand = pool
            break
    else:
        return [], np.zeros(0)
    energy = expression_energy(np.stack([landmarks[i] for i in cand]))
    order = sorted(range(len(cand)), key=lambda j: (energy[j], times_s[cand[j]]))[:k]
    return [cand[j] for j in order], energy[order]
