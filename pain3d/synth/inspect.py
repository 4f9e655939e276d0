"""``inspect``: label and demographic tables and a contact sheet of a generated dataset."""

from __future__ import annotations

import logging
import tarfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from pain3d.facs import PSPI_MAX
from pain3d.io import atomic_path
from pain3d.synth.card import is_pain_row, label_tables
from pain3d.synth.keypoints import keypoints_from_row
from pain3d.synth.manifest import read_manifest

log = logging.getLogger(__name__)


def pspi_histogram(rows: list[dict], width: int = 40) -> str:
    """Text bar chart of PSPI over pain configurations (one per annotation)."""
    configs = {(r["identity"], r["expression"]): r for r in rows if is_pain_row(r)}
    hist = Counter(int(round(float(r["PSPI"]))) for r in configs.values())
    top = max(hist.values(), default=1)
    lines = [f"PSPI of {len(configs)} pain configurations:"]
    for lv in range(PSPI_MAX + 1):
        n = hist.get(lv, 0)
        lines.append(f"  {lv:2d} {n:7d} {'#' * round(width * n / top)}")
    return "\n".join(lines)


class _Reader:
    """Bytes of loose paths, from the root or, for hub-only datasets, from the shards.

    Call :meth:`want` for every path first: each shard is then read once, keeping only the
    wanted members (an image shard of 100 identities holds ~400 MB at 512 px).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._wanted: dict[str, set[str]] = {}
        self._tars: dict[str, dict[str, bytes]] = {}

    def _where(self, rel: str, shard: str) -> tuple[str, str]:
        folder = "images" if rel.startswith("meshes_inpainted/") else rel.split("/", 1)[0]
        return shard.replace("images/images_", f"{folder}/{folder}_"), rel.split("/", 1)[1]

    def want(self, rel: str, shard: str = "") -> None:
        if rel and shard and not (self.root / rel).is_file():
            tar_rel, member = self._where(rel, shard)
            self._wanted.setdefault(tar_rel, set()).add(member)

    def read(self, rel: str, shard: str = "") -> bytes | None:
        p = self.root / rel
        if p.is_file():
            return p.read_bytes()
        if not shard:
            return None
        tar_rel, member = self._where(rel, shard)
        if tar_rel not in self._tars:
            wanted = self._wanted.get(tar_rel, {member})
            found: dict[str, bytes] = {}
            try:
                with tarfile.open(self.root / tar_rel, "r|gz") as tar:
                    for m in tar:
                        if m.isfile() and m.name in wanted:
                            found[m.name] = tar.extractfile(m).read()
            except (OSError, tarfile.TarError, EOFError):
                log.warning("cannot read %s for the contact sheet", tar_rel)
            self._tars[tar_rel] = found
        return self._tars[tar_rel].get(member)


def _tile(data: bytes | None, n: int, label: str, points: np.ndarray | None = None
          ) -> np.ndarray:
    """A labelled ``n`` px tile; ``points`` (K, 2) image pixels are marked with small
    crosses (the face keypoints of the manifest)."""
    img = None
    if data is not None:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        img = np.full((n, n, 3), 40, np.uint8)
        cv2.line(img, (0, 0), (n - 1, n - 1), (0, 0, 255), 1)
        points = None
    h, w = img.shape[:2]
    if h != w:  # a raw photo: pad to a square, so it is not squashed
        side = max(h, w)
        img = cv2.copyMakeBorder(img, (side - h) // 2, side - h - (side - h) // 2,
                                 (side - w) // 2, side - w - (side - w) // 2,
                                 cv2.BORDER_CONSTANT, value=(40, 40, 40))
    scale_px = n / img.shape[1]
    img = cv2.resize(img, (n, n), interpolation=cv2.INTER_AREA)
    if points is not None:
        for x, y in np.asarray(points) * scale_px:
            cv2.drawMarker(img, (int(x), int(y)), (0, 255, 255), cv2.MARKER_CROSS,
                           max(3, n // 24), 1)
    if label:
        scale = n / 256
        cv2.putText(img, label, (3, int(22 * scale) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale,
                    (0, 0, 0), max(1, int(4 * scale)), cv2.LINE_AA)
        cv2.putText(img, label, (3, int(22 * scale) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale,
                    (255, 255, 255), max(1, int(1.5 * scale)), cv2.LINE_AA)
    return img


def _source_photo_tiles(reader: _Reader, row: dict, n: int) -> tuple[list, list]:
    """A photo identity's row starts with its raw photo (nothing for procedural ones)."""
    if not row.get("source_photo_path"):
        return [], []
    label = f"{row['identity_name'][-4:]} {Path(str(row['source_photo'])).stem[:10]}"
    return ([_tile(reader.read(row["source_photo_path"]), n, label)],
            [np.zeros((n, n, 3), np.uint8)])


def contact_sheet(root: Path, rows: list[dict], identities: int = 6, tile: int = 128,
                  view: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 BGR sheet: per identity a row of images (neutral, then pain by PSPI)
    from ``view`` with the face keypoints marked (yellow crosses), and below it the heatmap
    of each pain configuration; photo identities' rows start with their raw photo."""
    reader = _Reader(root)
    idents = sorted({int(r["identity"]) for r in rows})
    # Spread the chosen identities over the dataset so several demographic cells show up.
    pick = [idents[int(i)] for i in np.linspace(0, len(idents) - 1, min(identities, len(idents)))]
    chosen = {}
    for ident in dict.fromkeys(pick):
        own = [r for r in rows if int(r["identity"]) == ident and int(r["view"]) == view]
        own.sort(key=lambda r: (r["expression"] != "neutral", float(r["PSPI"]),
                                int(r.get("neutral_session", 0) or 0)))
        chosen[ident] = own
        for r in own:
            reader.want(r["path"], r.get("shard", ""))
            reader.want(r["heatmap_path"], r.get("shard", ""))
    lines = []
    for own in chosen.values():
        top, bottom = _source_photo_tiles(reader, own[0], tile)
        for r in own:
            who = f"{r['identity_name'][-4:]} {r['sex'][0]}{r['age_band'][:2]}"
            session = int(r.get("neutral_session", 0) or 0)
            label = (who if r["expression"] == "neutral" else f"session {session}" if session
                     else f"PSPI {float(r['PSPI']):g}")
            top.append(_tile(reader.read(r["path"], r.get("shard", "")), tile, label,
                             keypoints_from_row(r)))
            heat = reader.read(r["heatmap_path"], r.get("shard", "")) if r["heatmap_path"] else None
            bottom.append(_tile(heat, tile, "") if heat else np.zeros((tile, tile, 3), np.uint8))
        lines += [np.concatenate(top, axis=1), np.concatenate(bottom, axis=1)]
    width = max(line.shape[1] for line in lines)
    lines = [np.pad(li, ((0, 0), (0, width - li.shape[1]), (0, 0))) for li in lines]
    return np.concatenate(lines, axis=0)


def inspect_dataset(root: Path, sheet: Path, identities: int = 6) -> str:
    """Tables as text; writes the contact sheet PNG to ``sheet``."""
    root = Path(root)
    rows = read_manifest(root).to_dict("records")
    t = label_tables(rows)
    people = len({r["identity"] for r in rows})
    text = [f"{root}: {len(rows)} images of {people} identities", "", pspi_histogram(rows), "",
            "AU intensities of the pain configurations:", t["aus"], "",
            "Identities by sex and age band:", t["sex_age"], "", t["ancestry"], "", t["split"]]
    img = contact_sheet(root, rows, identities=identities)
    with atomic_path(sheet) as tmp:
        ok, buf = cv2.imencode(".png", img)
        tmp.write_bytes(buf.tobytes())
    text += ["", f"contact sheet: {sheet}"]
    return "\n".join(text)
