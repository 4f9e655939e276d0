"""Can an independent face tracker see the labelled pain AUs? Spearman rho per AU measure.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/au_visibility.py          # 1,200 pairs, ~2 min
    PYTHONPATH=$PWD .venv/bin/python benchmarks/au_visibility.py --quick  # 180 pairs, < 1 min
    PYTHONPATH=$PWD .venv/bin/python benchmarks/au_visibility.py --nuisance AU1,AU2,AU12
    PYTHONPATH=$PWD .venv/bin/python benchmarks/au_visibility.py --calibration  # per-AU sizes
    PYTHONPATH=$PWD .venv/bin/python benchmarks/au_visibility.py --probe  # what moves the tracker

Renders ``--identities`` procedural identities (default 40) at ``--size`` px (256), each
neutral and in ``--per-identity`` pain configurations (10) drawn by
:func:`pain3d.facs.sample_plan` (PSPI levels uniform over 1..16, as the generator draws
them), from the first ``--views`` published views (3) with per-identity camera jitter: the
generator's default composition, 1,200 pairs. A pair shares camera, lighting and background,
as a dataset's neutral and pain images do; camera effects (noise, blur, JPEG) are drawn per
image, as the generator draws them.

Three results are printed:

1. *tracker*: MediaPipe FaceMesh (:class:`pain3d.infer.detect.FaceDetector`, static images)
   finds 478 landmarks in every image; :func:`pain3d.face.visibility.visibility_table`
   turns them into Spearman rho of each label with its landmark change (definitions there);
   the ``cheek_motion`` row reads the cheeks' pixels instead (optical flow where the
   tracker places the cheeks: :func:`pain3d.face.visibility.cheek_motion`).
2. *geometry*: the same table on the rig's own vertices projected through the same camera
   (what a perfect tracker would report; identity shift exactly what the rig moves).
3. *tracker floor*: the outline shift between two renders of the same neutral face that
   differ only in their camera effects, i.e. the tracker's own repeatability (and the
   cheek motion it reads there).

``--calibration`` prints instead, per pain AU alone at FACS 5 (AU43 = 1), the median change
of each measure in % IOD: in py-feat's AU-to-mesh model (learned from MediaPipe landmarks of
real faces; global motion removed), on the rig's geometry, and as the tracker sees it on
frontal renders (``--identities`` faces, default 8 here); the last column is the outline
shift (identity points, mean displacement), which the rig leaves at zero and the tracker
does not.

``--probe`` edits neutral renders in image space (:data:`PROBE_EDITS`: the cheek's pixels,
the lower lids' or the mouth corners' moved up, all else unchanged) and prints what the
tracker's cheek, lower-lid and outline measures and ``cheek_motion`` make of each: which
pixels MediaPipe places its cheek points from; then the same on py-feat's real photos.

Targets (issue 13): rho <= -0.5 for aperture, brow-eye and nose-lip, cheek raise clearly
positive, identity (outline shift) median < 1% IOD. :func:`au_visibility` is the reusable
part: images and labels in, table out (photo identities use it too).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


def tracker_landmarks(images: Sequence[np.ndarray]) -> list[np.ndarray | None]:
    """(478, 3) MediaPipe landmarks (pixels) of each (H, W, 3) uint8 RGB image, None if none.

    The same array object given twice is tracked once.
    """
    from pain3d.infer.detect import FaceDetector

    seen: dict[int, np.ndarray | None] = {}
    out = []
    with FaceDetector() as det:
        for img in images:
            if id(img) not in seen:
                face, _ = det(img)
                seen[id(img)] = None if face is None else face.landmarks
            out.append(seen[id(img)])
    return out


def au_visibility(neutral_images: Sequence[np.ndarray], pain_images: Sequence[np.ndarray],
                  aus: np.ndarray, *, coupling: bool = False):
    """:class:`~pain3d.face.visibility.VisibilityTable` of neutral/pain image pairs.

    Args:
        neutral_images: per pair, the (H, W, 3) uint8 RGB neutral image (the same array
            may serve several pairs; it is tracked once and counted once).
        pain_images: per pair, the pain image, same camera as its neutral.
        aus: (P, 6) AU vectors of the pain images, FACS 0..5.
        coupling: also split the identity shift (:func:`identity_split`) and add it to the
            table's notes (tracks one more image per pair).
    """
    from pain3d.face.visibility import motion_row, visibility_table

    images = list(neutral_images) + list(pain_images)
    lm = tracker_landmarks(images)
    n = len(neutral_images)
    table = visibility_table(lm[:n], lm[n:], aus)
    table.rows.append(motion_row(neutral_images, pain_images, lm[:n], aus))
    unique = {id(img): x for img, x in zip(images, lm, strict=True)}
    table.images = len(unique)
    table.detected_images = sum(x is not None for x in unique.values())
    if coupling:
        split = identity_split(neutral_images, pain_images, lm[:n], lm[n:])
        table.notes.append(
            f"identity split over {split['pairs']} pairs (median outline shift, % IOD): "
            f"hybrid vs neutral {split['coupling_pct']:.2f} (only the AU regions' pixels "
            f"changed: the tracker's coupling), pain vs hybrid {split['outside_pct']:.2f} "
            f"(only the pixels outside the AU regions differ: what the render changes there); "
            f"after a similarity on the identity points (aligned_shift) "
            f"{split['coupling_aligned_pct']:.2f} and {split['outside_aligned_pct']:.2f}")
    return table


_PAIN_AU_REGIONS = ("AU04", "AU06", "AU07", "AU09", "AU10")  # AU43: the lids, inside AU07's


def au_region_mask(landmarks: np.ndarray, shape: tuple[int, int], grow: float = 0.08
                   ) -> np.ndarray:
    """(H, W) bool: the pain AUs' regions of a face (the hulls of py-feat's ``au_region_map``
    vertices of AU4, AU6, AU7, AU9, AU10 and of the lips, at ``landmarks``), grown by
    ``grow`` inter-ocular distances."""
    import cv2

    from pain3d.assets import feat_resource
    from pain3d.face import landmarks as lmk

    regions = json.loads(feat_resource("au_region_map.json").read_text())["regions"]
    p = np.asarray(landmarks, np.float64)[:, :2]
    groups = [regions[au]["mp478_vertices"] for au in _PAIN_AU_REGIONS]
    groups.append(list(lmk.LIPS_UPPER_OUTER + lmk.LIPS_LOWER_OUTER))
    mask = np.zeros(shape, np.uint8)
    for idx in groups:
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(p[idx]).astype(np.int32)), 1)
    iod = float(np.linalg.norm(p[lmk.IRIS_R] - p[lmk.IRIS_L]))
    k = max(1, int(round(grow * iod)))
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1,) * 2)) > 0


def aligned_shift(neutral: np.ndarray, pain: np.ndarray) -> float:
    """Mean residual of :data:`~pain3d.face.landmarks.IDENTITY_POINTS` (fraction of the
    neutral IOD) after the 2-D similarity that best maps the pain set onto the neutral set:
    how much the outline changes shape, with a whole-face shift, turn or scale of the
    tracker's fit removed."""
    from pain3d.face.landmarks import IDENTITY_POINTS, similarity_fit
    from pain3d.face.visibility import landmark_measures

    idx = list(IDENTITY_POINTS)
    a = np.c_[np.asarray(neutral, np.float64)[idx, :2], np.zeros(len(idx))]
    b = np.c_[np.asarray(pain, np.float64)[idx, :2], np.zeros(len(idx))]
    scale, rot, t = similarity_fit(b, a)
    moved = scale * b @ rot.T + t
    return float(np.linalg.norm(moved - a, axis=1).mean() / landmark_measures(neutral)["iod"])


def identity_split(neutral_images: Sequence[np.ndarray], pain_images: Sequence[np.ndarray],
                   lm_neutral: Sequence[np.ndarray | None], lm_pain: Sequence[np.ndarray | None]
                   ) -> dict:
    """Where the identity shift of pain vs neutral comes from (outline shift, % IOD).

    A *hybrid* image is the neutral image with the pain image's pixels inside the pain AUs'
    regions (:func:`au_region_mask`). Hybrid vs neutral differ only inside the regions, so
    the outline shift between them is the tracker's coupling (one network places every
    landmark from the whole face); pain vs hybrid differ only outside the regions, so their
    shift is what the render itself changes there. Each is given raw and after the
    similarity of :func:`aligned_shift`.
    """
    from pain3d.face.visibility import measure_changes

    pairs = [(i, a, b) for i, (a, b) in enumerate(zip(lm_neutral, lm_pain, strict=True))
             if a is not None and b is not None]
    hybrids = []
    for i, a, _ in pairs:
        inside = au_region_mask(a, neutral_images[i].shape[:2])[..., None]
        hybrids.append(np.where(inside, pain_images[i], neutral_images[i]))
    lm_h = tracker_landmarks(hybrids)
    coupling, outside, coupling_al, outside_al = [], [], [], []
    for (_, a, b), h in zip(pairs, lm_h, strict=True):
        if h is not None:
            coupling.append(measure_changes(a, h)["stable"] * 100)
            outside.append(measure_changes(h, b)["stable"] * 100)
            coupling_al.append(aligned_shift(a, h) * 100)
            outside_al.append(aligned_shift(h, b) * 100)
    return {"pairs": len(coupling), "coupling_pct": _median(coupling),
            "outside_pct": _median(outside), "coupling_aligned_pct": _median(coupling_al),
            "outside_aligned_pct": _median(outside_al)}


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")


def tracker_floor(first: Sequence[np.ndarray], second: Sequence[np.ndarray]
                  ) -> tuple[float, float]:
    """Median outline shift and median absolute cheek motion (both % IOD) between pairs of
    renders of one unchanged face."""
    from pain3d.face.visibility import cheek_motion, measure_changes

    lm = tracker_landmarks(list(first) + list(second))
    n = len(first)
    pairs = [(k, a, b) for k, (a, b) in enumerate(zip(lm[:n], lm[n:], strict=True))
             if a is not None and b is not None]
    shifts = [measure_changes(a, b)["stable"] * 100 for _, a, b in pairs]
    motion = [abs(cheek_motion(first[k], second[k], a)) * 100 for k, a, _ in pairs]
    return _median(shifts), _median(motion)


@dataclass
class Pairs:
    """Rendered pairs: images, AU labels, projected rig vertices and tracker-floor pairs."""

    neutral: list = field(default_factory=list)  # per pair, (H, W, 3) uint8 (shared arrays)
    pain: list = field(default_factory=list)
    aus: list = field(default_factory=list)  # per pair, (6,) FACS
    neutral_geom: list = field(default_factory=list)  # per pair, (468, 3) projected vertices
    pain_geom: list = field(default_factory=list)
    floor: list = field(default_factory=list)  # per identity and view, a second neutral


def render_pairs(n_identities: int, per_identity: int, size: int, seed: int, views: int = 3,
                 nuisance: tuple[str, ...] = (), nuisance_max: float = 2.0) -> Pairs:
    """Render the pairs (module docstring); neutral images are shared by their pairs."""
    from pain3d.appearance import procedural_background, sample_appearance, sample_effects
    from pain3d.face import express, identity_mesh, sample_identities
    from pain3d.facs import PlanConfig, sample_plan
    from pain3d.render import Renderer, compose, default_views, jitter_camera, sample_lighting

    plan = sample_plan(PlanConfig(identities=n_identities, per_identity=per_identity,
                                  seed=seed, nuisance_aus=nuisance, nuisance_max=nuisance_max))
    renderer = Renderer(size)
    out = Pairs()
    try:
        for ident in sample_identities(n_identities, seed):
            mesh0 = identity_mesh(ident)
            app = sample_appearance(ident, ident.seed, mesh=mesh0, texture_size=512)
            rows = [r for r in plan if r.identity == ident.index]
            meshes = [express(mesh0, r.aus, nuisance=dict(r.nuisance) or None) for r in rows]
            for v in range(views):
                rng = np.random.default_rng([seed, ident.index, v])
                cam = jitter_camera(default_views()[v], rng)
                light = sample_lighting(rng)
                bg = procedural_background(rng, size)

                def shot(mesh, a, k, _app=app, _cam=cam, _light=light, _bg=bg, _i=ident.index,
                         _v=v):
                    res = renderer.render(mesh, _app, _cam, _light, aus=a, depth=False)
                    fx = np.random.default_rng([seed, _i, _v, k])
                    return compose(res, _bg, sample_effects(fx), fx)

                def geom(mesh, _cam=cam):
                    return _cam.project(mesh.vertices[:468], (size, size))

                neutral, neutral_geom = shot(mesh0, np.zeros(6), 0), geom(mesh0)
                out.floor.append((neutral, shot(mesh0, np.zeros(6), 1000)))
                for k, (r, mesh) in enumerate(zip(rows, meshes, strict=True), start=1):
                    out.pain.append(shot(mesh, np.asarray(r.aus), k))
                    out.neutral.append(neutral)
                    out.aus.append(np.asarray(r.aus))
                    out.neutral_geom.append(neutral_geom)
                    out.pain_geom.append(geom(mesh))
    finally:
        renderer.release()
    return out


def pls_changes(au: str) -> dict[str, float]:
    """Measure changes (fractions of IOD) of py-feat's model for one AU at input 1 (FACS 5)."""
    from pain3d.face import landmarks as cf
    from pain3d.face.visibility import measure_changes

    pls = cf.pls_model()
    raw = pls.coef[pls.columns.index(f"AU{int(au[2:]):02d}")]
    s, rot, t = cf.similarity_fit(pls.neutral + raw, pls.neutral)
    return measure_changes(pls.neutral, s * (pls.neutral + raw) @ rot.T + t)


def calibration_table(n_identities: int, size: int, seed: int) -> str:
    """Per pain AU alone at FACS 5: py-feat / rig geometry / tracker changes, % IOD."""
    from pain3d.appearance import procedural_background, sample_appearance, sample_effects
    from pain3d.face import express, identity_mesh, sample_identities
    from pain3d.face.visibility import measure_changes
    from pain3d.facs import AU_NAMES
    from pain3d.render import Renderer, compose, default_views, jitter_camera, sample_lighting

    keys = ("aperture", "brow_eye", "nose_lip", "cheek_raise", "lower_lid_raise", "stable")
    configs = {n: np.eye(len(AU_NAMES))[i] * (1 if n == "AU43" else 5)
               for i, n in enumerate(AU_NAMES)}
    geo = {n: [] for n in configs}
    images: dict[str, list] = {n: [] for n in configs}
    neutrals = []
    renderer = Renderer(size)
    try:
        for ident in sample_identities(n_identities, seed):
            mesh0 = identity_mesh(ident)
            app = sample_appearance(ident, ident.seed, mesh=mesh0, texture_size=512)
            rng = np.random.default_rng([seed, ident.index])
            cam = jitter_camera(default_views()[0], rng)
            light, bg = sample_lighting(rng), procedural_background(rng, size)
            for k, (name, a) in enumerate([("neutral", np.zeros(6)), *configs.items()]):
                mesh = express(mesh0, a) if a.any() else mesh0
                fx = np.random.default_rng([seed, ident.index, k])
                img = compose(renderer.render(mesh, app, cam, light, aus=a, depth=False), bg,
                              sample_effects(fx), fx)
                if name == "neutral":
                    neutrals.append(img)
                    geo0 = cam.project(mesh0.vertices[:468], (size, size))
                    continue
                images[name].append(img)
                geo[name].append(measure_changes(geo0, cam.project(mesh.vertices[:468],
                                                                   (size, size))))
    finally:
        renderer.release()
    lm_neutral = tracker_landmarks(neutrals)
    lines = [f"{'AU':<6}" + "".join(f"{'outline' if k == 'stable' else k:>26}" for k in keys),
             f"{'':<6}" + "".join(f"{'py-feat / rig / tracker':>26}" for _ in keys)]
    for name in configs:
        lm = tracker_landmarks(images[name])
        trk = [measure_changes(n, p) for n, p in zip(lm_neutral, lm, strict=True)
               if n is not None and p is not None]
        pls = pls_changes(name)
        cells = []
        for k in keys:
            g = np.median([c[k] for c in geo[name]]) * 100
            t = np.median([c[k] for c in trk]) * 100 if trk else float("nan")
            cells.append(f"{pls[k] * 100:>+8.1f} /{g:>+6.1f} /{t:>+6.1f}")
        lines.append(f"{name:<6}" + "".join(f"{c:>26}" for c in cells))
    return "\n".join(lines)


def _warp_up(img: np.ndarray, centres: np.ndarray, shift: float, sigma: float) -> np.ndarray:
    """``img`` with its content moved up by ``shift`` pixels around each of ``centres`` (K, 2),
    Gaussian falloff of ``sigma`` pixels (a smooth image-space warp, nothing else changes)."""
    import cv2

    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dy = np.zeros((h, w), np.float32)
    for c in centres:
        dy += shift * np.exp(-0.5 * ((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / sigma**2)
    return cv2.remap(img, xx, yy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


PROBE_EDITS: dict[str, tuple[tuple[tuple[int, ...], ...], float, float]] = {
    "cheek skin up 10% IOD": (((50, 101, 118, 117, 123, 205), (280, 330, 347, 346, 352, 425)),
                              0.10, 0.25),
    "lower lids up 3% IOD": (((144, 145, 153), (373, 374, 380)), 0.03, 0.12),
    "mouth corners up 6% IOD": (((61,), (291,)), 0.06, 0.12),
}
"""Image-space edits of :func:`probe_table`: (landmark groups whose mean is a warp centre,
upward shift and Gaussian sigma, both in IOD)."""


def probe_table(images: Sequence[np.ndarray]) -> str:
    """Median tracker change (% IOD) of the cheek and lower-lid measures and of the outline,
    each of ``images`` edited by each of :data:`PROBE_EDITS` vs the unedited image (the same
    pixels elsewhere, so no camera-effect noise)."""
    from pain3d.face.landmarks import IRIS_L, IRIS_R
    from pain3d.face.visibility import cheek_motion, measure_changes

    lm0 = tracker_landmarks(images)
    keys = ("cheek_raise", "lower_lid_raise", "stable")
    lines = [f"{'edit':<26}" + "".join(f"{'outline' if k == 'stable' else k:>17}" for k in keys)
             + f"{'cheek_motion':>17}"]
    for name, (groups, shift, sigma) in PROBE_EDITS.items():
        edited, kept, motion = [], [], []
        for img, lm in zip(images, lm0, strict=True):
            if lm is None:
                continue
            iod = float(np.linalg.norm(lm[IRIS_R, :2] - lm[IRIS_L, :2]))
            centres = np.array([lm[list(g), :2].mean(0) for g in groups])
            edited.append(_warp_up(img, centres, shift * iod, sigma * iod))
            kept.append(lm)
            motion.append(cheek_motion(img, edited[-1], lm) * 100)
        lm1 = tracker_landmarks(edited)
        ch = [measure_changes(a, b) for a, b in zip(kept, lm1, strict=True) if b is not None]
        lines.append(f"{name:<26}" + "".join(
            f"{np.median([c[k] for c in ch]) * 100:>+16.2f}%" for k in keys)
            + f"{_median(motion):>+16.2f}%")
    return "\n".join(lines)


def neutral_renders(n_identities: int, size: int, seed: int) -> list[np.ndarray]:
    """Neutral renders of ``n_identities`` procedural faces from the first 3 views (camera
    jitter, lighting, background and camera effects as :func:`render_pairs` draws them)."""
    from pain3d.appearance import procedural_background, sample_appearance, sample_effects
    from pain3d.face import identity_mesh, sample_identities
    from pain3d.render import Renderer, compose, default_views, jitter_camera, sample_lighting

    renderer = Renderer(size)
    images = []
    try:
        for ident in sample_identities(n_identities, seed):
            mesh0 = identity_mesh(ident)
            app = sample_appearance(ident, ident.seed, mesh=mesh0, texture_size=512)
            for v in range(3):
                rng = np.random.default_rng([seed, ident.index, v])
                cam = jitter_camera(default_views()[v], rng)
                light, bg = sample_lighting(rng), procedural_background(rng, size)
                fx = np.random.default_rng([seed, ident.index, v, 0])
                res = renderer.render(mesh0, app, cam, light, aus=np.zeros(6), depth=False)
                images.append(compose(res, bg, sample_effects(fx), fx))
    finally:
        renderer.release()
    return images


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--identities", type=int, default=40)
    ap.add_argument("--per-identity", type=int, default=10)
    ap.add_argument("--views", type=int, default=3, choices=(1, 2, 3),
                    help="the first N published views (0 frontal, 1 yaw -30, 2 yaw 18)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nuisance", default="", help="comma-separated nuisance AUs, e.g. AU1,AU2")
    ap.add_argument("--nuisance-max", type=float, default=2.0)
    ap.add_argument("--quick", action="store_true", help="6 identities (180 pairs)")
    ap.add_argument("--json", help="write the tables here as JSON")
    ap.add_argument("--calibration", action="store_true",
                    help="per-AU sizes: py-feat's real-face model vs rig vs tracker")
    ap.add_argument("--probe", action="store_true",
                    help="tracker response to image-space edits of neutral renders")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from pain3d.face.visibility import visibility_table
    from pain3d.facs import AU_NAMES

    if args.calibration:
        n = 8 if args.identities == 40 else args.identities
        print(f"each pain AU alone at FACS 5 (AU43 = 1), median change in % IOD, {n} "
              f"identities, frontal view, {args.size} px")
        print(calibration_table(n, args.size, args.seed))
        return 0
    if args.probe:
        n = 6 if args.identities == 40 else args.identities
        print(f"tracker change (% IOD) for image-space edits of neutral renders, {n} "
              f"identities x 3 views, {args.size} px")
        print(probe_table(neutral_renders(n, args.size, args.seed)))
        from pain3d.synth.photo_input import sample_photos

        photos = [rgb for _, rgb in sample_photos()]
        print(f"the same edits of py-feat's {len(photos)} real photos (their own size)")
        print(probe_table(photos))
        return 0
    if args.quick:
        args.identities = 6
    nuisance = tuple(s.strip().upper() for s in args.nuisance.split(",") if s.strip())
    t0 = time.perf_counter()
    pairs = render_pairs(args.identities, args.per_identity, args.size, args.seed, args.views,
                         nuisance, args.nuisance_max)
    t1 = time.perf_counter()
    aus = np.asarray(pairs.aus)
    table = au_visibility(pairs.neutral, pairs.pain, aus)
    floor, motion_floor = tracker_floor(*zip(*pairs.floor, strict=True))
    geometry = visibility_table(pairs.neutral_geom, pairs.pain_geom, aus)
    t2 = time.perf_counter()
    print(f"{args.identities} identities x {args.per_identity} pain configurations x "
          f"{args.views} views = {len(aus)} pairs, {args.size} px, seed {args.seed}, "
          f"nuisance {nuisance or 'none'}")
    print("== tracker (MediaPipe FaceMesh)")
    print(table.format())
    print(f"tracker floor (same face, other camera effects): outline shift median {floor:.2f}% "
          f"IOD, |cheek_motion| median {motion_floor:.2f}% IOD over {len(pairs.floor)} pairs")
    print("== geometry (rig vertices through the same camera)")
    print(geometry.format())
    opened = aus[:, AU_NAMES.index("AU43")] == 0
    print(f"== open eyes only (AU43 = 0, {opened.sum()} pairs: closed lids meet where AU43 puts "
          "them, so the lower lid can show AU6 only while the eyes are open)")
    print(au_visibility([n for n, k in zip(pairs.neutral, opened, strict=True) if k],
                        [p for p, k in zip(pairs.pain, opened, strict=True) if k],
                        aus[opened]).format())
    print("geometry, open eyes only:")
    print(visibility_table([g for g, k in zip(pairs.neutral_geom, opened, strict=True) if k],
                           [g for g, k in zip(pairs.pain_geom, opened, strict=True) if k],
                           aus[opened]).format())
    print(f"render {t1 - t0:.0f} s, track {t2 - t1:.0f} s (shared machine: timings noisy)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "tracker": [r.__dict__ for r in table.rows],
                       "rho": {r.measure: r.rho for r in table.rows},
                       "geometry": [r.__dict__ for r in geometry.rows],
                       "detection_rate": table.detection_rate,
                       "stable_median_pct": table.stable_median_pct,
                       "tracker_floor_pct": floor, "motion_floor_pct": motion_floor,
                       "geometry_stable_median_pct": geometry.stable_median_pct}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
