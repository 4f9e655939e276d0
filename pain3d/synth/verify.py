"""``verify``: is a generated dataset complete, decodable and labelled consistently?

Checks, each problem reported as one readable line naming the file:
completeness against the manifest (images, heatmaps, annotations, meshes, extras, hub
shards and their members), stray or half-written files, that every image and heatmap
decodes at the configured size, that PSPI equals the PSPI of the AUs in the manifest and in
every annotation JSON (and that the JSON agrees with the manifest), neutral images with zero
labels, neutral/pain pairs for every view, the split file, face keypoints (all six values or
none, inside the image), the applied nuisance AUs, neutral sessions and capture variation
(manifest and annotations against the plan the config describes; no brow raiser where
AU4 >= 1), and every file's SHA-256 against ``SHA256SUMS`` (damage that still decodes).
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

from pain3d.facs import AU_NAMES, NUISANCE_AUS, pspi
from pain3d.synth import layout
from pain3d.synth.engine import default_workers
from pain3d.synth.manifest import read_manifest
from pain3d.synth.spec import SPLIT_NAMES

_TOL = 1e-6
_ROUNDED_TOL = 5e-6
"""Annotations store each AU rounded to 6 decimals, so the PSPI of the stored AUs (a sum of
up to four of them) may differ from the stored PSPI by up to 2e-6 (continuous AUs)."""
# Images of their own size: mesh textures and the raw photos of photo identities.
_ANY_SIZE = ("textured_meshes/", f"{layout.SOURCE_PHOTOS_DIR}/")


@dataclass
class VerifyReport:
    """Problems found (empty = valid) and how much was checked."""

    root: str
    problems: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self, max_problems: int = 50) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(self.checked.items()))
        if self.ok:
            return f"{self.root}: OK ({counts})"
        lines = [f"{self.root}: {len(self.problems)} problem(s) ({counts} checked)"]
        lines += [f"  - {p}" for p in self.problems[:max_problems]]
        if len(self.problems) > max_problems:
            lines.append(f"  ... and {len(self.problems) - max_problems} more")
        return "\n".join(lines)


def _decode(data: bytes, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray | None:
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        return None


def verify(root: Path, workers: int | None = None) -> VerifyReport:
    """Check the dataset in ``root``; never raises for a broken dataset, reports instead."""
    root = Path(root)
    rep = VerifyReport(str(root))
    problem = rep.problems.append
    cfg_path = root / "config.yaml"
    if not cfg_path.is_file():
        problem("config.yaml is missing")
        cfg: dict = {}
    else:
        cfg = yaml.safe_load(cfg_path.read_text()) or {}
    try:
        df = read_manifest(root)
    except FileNotFoundError as exc:
        problem(str(exc))
        return rep
    rows = df.to_dict("records")
    rep.checked["manifest rows"] = len(rows)
    lay = cfg.get("layout", "3dpain")
    size = int(cfg.get("size", 0)) or None
    _check_manifest_csv(root, df, problem)
    _check_labels(rows, problem)
    _check_keypoints(rows, size, problem)
    _check_pairs(rows, problem)
    _check_applied(rows, cfg, problem)
    _check_splits(root, rows, problem)
    _check_source_photos(root, rows, problem)
    leftovers = [p for p in root.rglob(".*.tmp")]
    for p in leftovers:
        problem(f"{p.relative_to(root)}: half-written temporary file (re-run generate to finish)")

    expected = _expected_files(rows)
    pool = ThreadPoolExecutor(max_workers=workers or default_workers())
    if lay in ("3dpain", "both"):
        _check_loose(root, expected, rows, size, pool, rep)
    else:  # hub only: masks and depth maps are still loose files
        _check_loose(root, {"extras": expected.get("extras", set())}, rows, size, pool, rep)
    if lay in ("hub", "both"):
        _check_hub(root, expected, rows, size, pool, rep, hub="hub" if lay == "both" else "")
    _check_checksums(root, pool, rep)
    pool.shutdown()
    return rep


def _check_checksums(root: Path, pool: ThreadPoolExecutor, rep: VerifyReport) -> None:
    """Every file listed in SHA256SUMS still has its hash: catches damage that still decodes.

    Files that already have a problem are not reported twice.
    """
    path = root / layout.CHECKSUMS
    if not path.is_file():
        rep.problems.append(f"{layout.CHECKSUMS} is missing (cannot check file integrity)")
        return
    sums = {}
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64:
            rep.problems.append(f"{layout.CHECKSUMS} line {n}: not '<sha256>  <path>'")
            continue
        sums[rel] = digest
    reported = {p.split(": ", 1)[0].split(":", 1)[0] for p in rep.problems}

    def check(item: tuple[str, str]) -> str | None:
        rel, digest = item
        if rel in reported:
            return None
        p = root / rel
        if not p.is_file():
            return f"{rel}: missing (listed in {layout.CHECKSUMS})"
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != digest:
            return f"{rel}: content differs from {layout.CHECKSUMS} (modified or corrupted)"
        return None

    for found in pool.map(check, sorted(sums.items()), chunksize=64):
        if found:
            rep.problems.append(found)
    rep.checked["checksums"] += len(sums)


def _check_manifest_csv(root: Path, df, problem: Callable[[str], None]) -> None:
    import pandas as pd

    csv_path = root / "manifest.csv"
    if not csv_path.is_file():
        problem("manifest.csv is missing")
        return
    other = pd.read_csv(csv_path, keep_default_na=False)
    if len(other) != len(df) or list(other["path"]) != list(df["path"]):
        problem("manifest.csv and manifest.parquet list different images")


def _aus(row: dict) -> np.ndarray:
    return np.array([float(row[n]) for n in AU_NAMES])


def _check_labels(rows: list[dict], problem: Callable[[str], None]) -> None:
    for r in rows:
        aus = _aus(r)
        try:
            expect = pspi(aus)
        except ValueError as exc:
            problem(f"manifest row {r['path']}: {exc}")
            continue
        if not math.isclose(float(r["PSPI"]), expect, abs_tol=_TOL):
            problem(f"manifest row {r['path']}: PSPI {r['PSPI']:g} != PSPI of its AUs {expect:g}")
        if r["expression"] == "neutral" and (aus.any() or float(r["PSPI"]) != 0):
            problem(f"manifest row {r['path']}: a neutral image has non-zero AUs or PSPI")


def _plan_images(cfg: dict, problem: Callable[[str], None]) -> dict[str, object] | None:
    """Image path -> its spec, from the plan ``config.yaml`` describes (None if it cannot)."""
    from pain3d.config import ConfigError, from_dict
    from pain3d.synth.config import GenerateConfig
    from pain3d.synth.plan import build_plan

    try:
        gen = from_dict(GenerateConfig, {k: v for k, v in cfg.items() if k != "pain3d_version"},
                        where="config.yaml")
    except ConfigError as exc:
        problem(f"cannot rebuild the plan to check applied AUs and variation: {exc}")
        return None
    return {layout.image_path(s): s for s in build_plan(gen).samples}


def _check_applied(rows: list[dict], cfg: dict, problem: Callable[[str], None]) -> None:
    """Nuisance AUs as applied, neutral sessions and capture variation: the manifest agrees
    with the plan, neutral images and sessions carry no AU at all, and no brow raiser acts
    where AU4 >= 1 (it would hide the brow lowering the label states)."""
    from pain3d.synth.manifest import VARIATION_COLUMNS, variation_values

    if not rows or not all(c in rows[0] for c in (*NUISANCE_AUS, "neutral_session")):
        return  # a dataset written before these columns were recorded
    specs = _plan_images(cfg, problem) if cfg else None
    for r in rows:
        where = f"manifest row {r['path']}"
        nu = {n: float(r[n]) for n in NUISANCE_AUS}
        session = int(r["neutral_session"])
        if (r["expression"] == "neutral" or session) and (any(nu.values()) or _aus(r).any()):
            problem(f"{where}: a neutral image or neutral session has AUs {_aus(r).tolist()} "
                    f"and nuisance AUs {nu}")
        if float(r["AU4"]) >= 1 and (nu["AU1"] > 0 or nu["AU2"] > 0):
            problem(f"{where}: brow raisers AU1 = {nu['AU1']:g}, AU2 = {nu['AU2']:g} applied "
                    f"with AU4 = {float(r['AU4']):g} (they would hide the brow lowering)")
        spec = specs.get(r["path"]) if specs is not None else None
        if specs is not None and spec is None:
            problem(f"{where}: not an image of the plan config.yaml describes")
        if spec is None:
            continue
        want = spec.applied_nuisance
        if any(abs(nu[n] - want[n]) > _TOL for n in NUISANCE_AUS):
            problem(f"{where}: nuisance AUs {nu} differ from those applied {want}")
        if session != spec.session:
            problem(f"{where}: neutral_session {session} but the plan says {spec.session}")
        var = variation_values(spec)
        if all(c in r for c in VARIATION_COLUMNS) and any(
                abs(float(r[c]) - var[c]) > _TOL for c in VARIATION_COLUMNS):
            problem(f"{where}: capture variation {[r[c] for c in VARIATION_COLUMNS]} differs "
                    f"from the plan's {list(var.values())}")


def _check_keypoints(rows: list[dict], size: int | None,
                     problem: Callable[[str], None]) -> None:
    """Each row has all six ``lm_*`` values or none (NaN), and they lie inside the image."""
    from pain3d.face.landmarks import KEYPOINT_COLUMNS

    if not rows or not all(c in rows[0] for c in KEYPOINT_COLUMNS):
        return  # a dataset written before keypoints were recorded
    n_known = 0
    for r in rows:
        vals = np.array([float(r[c]) if r[c] != "" else np.nan for c in KEYPOINT_COLUMNS])
        known = np.isfinite(vals)
        n_known += bool(known.all())
        if known.any() and not known.all():
            problem(f"manifest row {r['path']}: face keypoints are partly missing "
                    f"({dict(zip(KEYPOINT_COLUMNS, vals.tolist(), strict=True))})")
        elif known.all() and size and ((vals < 0) | (vals > size)).any():
            problem(f"manifest row {r['path']}: face keypoints {vals.tolist()} lie outside "
                    f"the {size} px image")
    if 0 < n_known < len(rows):
        # e.g. a run started by a pain3d without keypoints and finished by one with them:
        # training would mix face crops and whole images.
        problem(f"face keypoints are known for {n_known} of {len(rows)} images; regenerate "
                f"the dataset in a new folder so that all images are framed alike")


def _check_pairs(rows: list[dict], problem: Callable[[str], None]) -> None:
    views: dict[int, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for r in rows:
        views[int(r["identity"])][r["expression"]].add(int(r["view"]))
    for ident, by_expr in sorted(views.items()):
        neutral = by_expr.get("neutral", set())
        for expr, vs in sorted(by_expr.items()):
            if expr == "neutral":
                continue
            for v in sorted(vs - neutral):
                problem(f"identity {ident} {expr} view {v} has no neutral image from that view")
            for v in sorted(neutral - vs):
                problem(f"identity {ident} {expr} lacks view {v} that its neutral images have")


def _check_source_photos(root: Path, rows: list[dict], problem: Callable[[str], None]) -> None:
    """Each photo identity's kept raw photo has the SHA-256 the manifest gives its source."""
    kept = {r["source_photo_path"]: r["source_photo_sha256"] for r in rows
            if r.get("source_photo_path")}
    for rel, digest in sorted(kept.items()):
        p = root / rel
        if p.is_file() and hashlib.sha256(p.read_bytes()).hexdigest() != digest:
            problem(f"{rel}: is not the source photo the manifest names (SHA-256 differs from "
                    "source_photo_sha256)")


def _check_splits(root: Path, rows: list[dict], problem: Callable[[str], None]) -> None:
    path = root / "splits.csv"
    if not path.is_file():
        problem("splits.csv is missing")
        return
    lines = path.read_text().splitlines()
    if not lines or lines[0] != "annotation_base_name,split":
        problem("splits.csv: header must be 'annotation_base_name,split'")
        return
    listed = {}
    for n, line in enumerate(lines[1:], start=2):
        base, _, code = line.partition(",")
        if code not in ("0", "1", "2"):
            problem(f"splits.csv line {n}: split {code!r} is not 0, 1 or 2")
            continue
        listed[base] = SPLIT_NAMES[int(code)]
    want = {f"{r['identity_name']}_{r['expression']}": r["split"] for r in rows
            if r["expression"] != "neutral"}
    for base in sorted(set(want) - set(listed)):
        problem(f"splits.csv lacks {base}")
    for base in sorted(set(listed) - set(want)):
        problem(f"splits.csv lists {base}, which the manifest does not have")
    for base in sorted(set(want) & set(listed)):
        if want[base] != listed[base]:
            problem(f"splits.csv puts {base} in {listed[base]}, the manifest in {want[base]}")


def _expected_files(rows: list[dict]) -> dict[str, set[str]]:
    """Loose paths the manifest implies, by hub folder (+ extras)."""
    out: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        out["images"].add(r["path"])
        if r["heatmap_path"]:
            out["heatmaps"].add(r["heatmap_path"])
        if r["expression"] != "neutral":
            out["annotations"].add(f"annotations/{r['identity_name']}_{r['expression']}"
                                   f"_annotations.json")
        if r["mesh_path"]:
            stem = r["mesh_path"][: -len(".obj")]
            out["textured_meshes"].update({stem + ".obj", stem + ".mtl", stem + ".png"})
        for col in ("mask_path", "depth_path", "source_photo_path"):
            if r.get(col):
                out["extras"].add(r[col])
    return out


def _check_content(rel: str, data: bytes | None, labels: dict[str, dict], size: int | None,
                   problem: Callable[[str], None]) -> None:
    if data is None:
        problem(f"{rel}: missing")
        return
    if rel.endswith((".jpg", ".png")):
        img = _decode(data)
        if img is None:
            problem(f"{rel}: does not decode as an image (corrupt or truncated)")
        elif size and img.shape[:2] != (size, size) and not any(k in rel for k in _ANY_SIZE):
            problem(f"{rel}: is {img.shape[1]}x{img.shape[0]}, the config says {size}x{size}")
    elif rel.endswith("_annotations.json"):
        _check_annotation(rel, data, labels, problem)
    elif not data:
        problem(f"{rel}: empty file")


def _check_annotation(rel: str, data: bytes, labels: dict[str, dict],
                      problem: Callable[[str], None]) -> None:
    try:
        ann = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problem(f"{rel}: not valid JSON ({exc})")
        return
    try:
        aus = np.array([float(ann[n]) for n in AU_NAMES])
        expect = pspi(aus)
    except (KeyError, TypeError, ValueError) as exc:
        problem(f"{rel}: bad AU values ({exc}); needs numeric {', '.join(AU_NAMES)}")
        return
    if "PSPI" in ann and not math.isclose(float(ann["PSPI"]), expect, abs_tol=_ROUNDED_TOL):
        problem(f"{rel}: PSPI {ann['PSPI']} != PSPI of its AUs {expect:g}")
    row = labels.get(rel)
    if row is not None:
        if not np.allclose(aus, _aus(row), atol=_TOL):
            problem(f"{rel}: AUs {aus.tolist()} differ from the manifest {_aus(row).tolist()}")
        if not math.isclose(float(ann.get("PSPI", expect)), float(row["PSPI"]), abs_tol=_TOL):
            problem(f"{rel}: PSPI {ann.get('PSPI')} differs from the manifest {row['PSPI']:g}")
        for name in NUISANCE_AUS:
            if name in ann and name in row and not math.isclose(
                    float(ann[name]), float(row[name]), abs_tol=_TOL):
                problem(f"{rel}: nuisance {name} = {ann[name]} differs from the manifest "
                        f"{float(row[name]):g}")


def _tar_batches(path: Path, n: int) -> Iterator[list[tuple[str, bytes]]]:
    """(name, bytes) of the regular members of a tar.gz, ``n`` at a time, in stream order."""
    import tarfile

    batch: list[tuple[str, bytes]] = []
    with tarfile.open(path, "r|gz") as tar:
        for m in tar:
            if m.isfile():
                fh = tar.extractfile(m)
                batch.append((m.name, fh.read() if fh else b""))
                if len(batch) == n:
                    yield batch
                    batch = []
    if batch:
        yield batch


def _annotation_labels(rows: list[dict]) -> dict[str, dict]:
    return {f"annotations/{r['identity_name']}_{r['expression']}_annotations.json": r
            for r in rows if r["expression"] != "neutral"}


def _check_loose(root: Path, expected: dict[str, set[str]], rows: list[dict], size: int | None,
                 pool: ThreadPoolExecutor, rep: VerifyReport) -> None:
    labels = _annotation_labels(rows)
    paths = sorted(p for group in expected.values() for p in group)

    def check(rel: str) -> list[str]:
        found: list[str] = []
        p = root / rel
        _check_content(rel, p.read_bytes() if p.is_file() else None, labels, size, found.append)
        return found

    for found in pool.map(check, paths, chunksize=64):
        rep.problems.extend(found)
    rep.checked["files"] += len(paths)
    # Files in the dataset folders that the manifest does not know about.
    known = set(paths)
    for folder in (layout.IMAGES_DIR, "annotations", "heatmaps", "masks", "depth",
                   layout.SOURCE_PHOTOS_DIR):
        d = root / folder
        if d.is_dir():
            for p in sorted(d.iterdir()):
                rel = f"{folder}/{p.name}"
                # Hidden temporaries are reported above; shards and READMEs of a hub-only
                # layout share the annotations/ and heatmaps/ folders.
                hub_file = p.name.endswith(".tar.gz") or p.name == "README.txt"
                if p.is_file() and rel not in known and not p.name.startswith(".") and (
                        not hub_file):
                    rep.problems.append(f"{rel}: not in the manifest (stray file)")


def _check_hub(root: Path, expected: dict[str, set[str]], rows: list[dict], size: int | None,
               pool: ThreadPoolExecutor, rep: VerifyReport, hub: str) -> None:
    import tarfile

    labels = _annotation_labels(rows)
    base = root / hub if hub else root
    for folder in layout.HUB_FOLDERS:
        want = {layout.member_name(folder, p): p for p in expected.get(folder, ())}
        d = base / folder
        shards = sorted(d.glob(f"{folder}_*.tar.gz")) if d.is_dir() else []
        if not (base / folder / "README.txt").is_file():
            rep.problems.append(f"{(Path(hub) / folder / 'README.txt').as_posix().lstrip('/')}: "
                                f"missing")
        if not shards and want:
            rep.problems.append(f"{folder}/: no {folder}_00000.tar.gz shards (hub layout)")
        seen: set[str] = set()
        for shard in shards:
            rel_shard = shard.relative_to(root).as_posix()

            def check(item: tuple[str, bytes], rel_shard: str = rel_shard,
                      want: dict[str, str] = want) -> list[str]:
                name, data = item
                found: list[str] = []
                if name not in want:
                    return [f"{rel_shard}: member {name} is not in the manifest"]
                # The annotation check looks its manifest row up under the reported name.
                where = f"{rel_shard}:{name}"
                row = labels.get(want[name])
                _check_content(where, data, {where: row} if row else {}, size, found.append)
                return found

            try:
                # Streamed in batches: a shard of 100 identities holds ~400 MB of images.
                for batch in _tar_batches(shard, 256):
                    for found in pool.map(check, batch):
                        rep.problems.extend(found)
                    rep.checked["shard members"] += len(batch)
                    seen.update(name for name, _ in batch)
            except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
                rep.problems.append(f"{rel_shard}: unreadable shard ({exc})")
                continue
            rep.checked["shards"] += 1
        for name in sorted(set(want) - seen):
            rep.problems.append(f"{folder}/{name}: missing from every {folder} shard")
