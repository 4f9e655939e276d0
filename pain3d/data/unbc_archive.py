"""Reading the raw UNBC-McMaster archive: its folders, frames, label files and landmarks.

The raw archive (``FORMATS.md`` section 5) has quirks this reader handles on purpose:

- mirrors nest folders twice (``Images/Images``, ``Frame_Labels/Frame_Labels``, ...);
- PSPI label files end in ``_facs.txt`` although they live under ``Frame_Labels/PSPI``;
- FACS files hold whitespace-separated rows ``AU intensity x x`` (numbers may be in scientific
  notation); an empty file means no AU; an AU43 row means eyes closed (1) whatever its
  intensity column says; only the six pain AUs are kept;
- AAM landmark files may be missing or malformed (:func:`aam_landmarks` answers None).

:func:`pain3d.data.unbc.prepare_unbc` turns the archive into one HDF5 file with these.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from pain3d.data.common import DataError
from pain3d.facs import AU_NAMES, PSPI_MAX

log = logging.getLogger(__name__)

SEQUENCE_SCALES = ("AFF", "OPR", "SEN", "VAS")
_PAIN_AU_CODES = {4: 0, 6: 1, 7: 2, 9: 3, 10: 4, 43: 5}
_SUBJECT_ID = re.compile(r"^(\d+)")
_TRAILING_DIGITS = re.compile(r"(\d+)$")


@lru_cache(maxsize=64)
def resolve(root: Path, *parts: str) -> Path:
    """``root/parts...``, descending into doubled folders (``Images/Images``); cached, since
    it is asked for every frame."""
    d = root
    for part in parts:
        d = d / part
        while (d / part).is_dir():
            d = d / part
    return d


def find_archive_root(root: Path) -> Path:
    """The folder holding ``Images/`` (the given one, or a single level below it)."""
    if (root / "Images").is_dir():
        return root
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        if child.is_dir() and (child / "Images").is_dir():
            return child
    raise DataError(f"{root}: no Images/ folder; expected the raw UNBC-McMaster archive layout "
                    "<root>/Images/<subject>/<sequence>/<frame>.png")


def subject_id(subject: str) -> int:
    """``"042-ll042"`` -> 42."""
    m = _SUBJECT_ID.match(subject)
    if not m:
        raise DataError(f"subject folder {subject!r} does not start with a numeric id "
                        "(expected e.g. 042-ll042)")
    return int(m.group(1))


def read_number(path: Path) -> float:
    """The single number of a PSPI or sequence-label file (scientific notation allowed)."""
    text = path.read_text(errors="replace").split()
    if not text:
        raise DataError(f"{path}: empty label file")
    try:
        return float(text[0])
    except ValueError as exc:
        raise DataError(f"{path}: {text[0]!r} is not a number") from exc


def read_facs(path: Path) -> np.ndarray:
    """Pain-AU vector (6,) float32 from a raw FACS file (empty file = no AU).

    Raises:
        DataError: a malformed row or an intensity outside 0..5.
    """
    out = np.zeros(len(AU_NAMES), np.float32)
    for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        try:
            code = int(round(float(fields[0])))
            intensity = float(fields[1]) if len(fields) > 1 else 0.0
        except ValueError as exc:
            raise DataError(f"{path} line {lineno}: {line.strip()!r} is not 'AU intensity ...'"
                            ) from exc
        if code not in _PAIN_AU_CODES:
            continue
        if code == 43:
            out[5] = 1.0  # presence means eyes closed; the intensity column is unused
            continue
        if not (np.isfinite(intensity) and 0 <= intensity <= 5):
            raise DataError(f"{path} line {lineno}: AU{code} intensity {intensity:g} is outside "
                            "the FACS range 0..5")
        out[_PAIN_AU_CODES[code]] = intensity
    return out


def read_aam(path: Path) -> np.ndarray:
    """(66, 2) float64 AAM landmarks in image pixels."""
    rows = [ln.split() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    try:
        pts = np.array([[float(r[0]), float(r[1])] for r in rows], dtype=np.float64)
    except (ValueError, IndexError) as exc:
        raise DataError(f"{path}: malformed landmark file ({exc})") from exc
    if pts.shape != (66, 2) or not np.isfinite(pts).all():
        raise DataError(f"{path}: expected 66 finite 'x y' rows, got {len(rows)}")
    return pts


@dataclass(frozen=True)
class RawFrame:
    """One frame of the raw archive and where its labels live."""

    subject: str
    sequence: str
    frame: int
    image: Path
    stem: str


def iter_archive_frames(root: Path) -> Iterator[RawFrame]:
    """Frames of ``<root>/Images/<subject>/<sequence>/*.png`` in sorted order."""
    images = resolve(root, "Images")
    for subj in sorted(e.name for e in os.scandir(images) if e.is_dir()):
        sdir = images / subj
        for seq in sorted(e.name for e in os.scandir(sdir) if e.is_dir()):
            qdir = sdir / seq
            for name in sorted(os.listdir(qdir)):
                stem, ext = os.path.splitext(name)
                if ext.lower() not in (".png", ".jpg", ".jpeg") or name.startswith("."):
                    continue
                tail = stem[len(seq):] if stem.startswith(seq) else stem
                m = _TRAILING_DIGITS.search(tail)
                if not m:
                    log.debug("ignoring %s: no frame number", qdir / name)
                    continue
                yield RawFrame(subj, seq, int(m.group(1)), qdir / name, stem)


def frame_labels(root: Path, fr: RawFrame) -> tuple[np.ndarray, float]:
    """``(au (6,) float32, PSPI)`` of a frame from its FACS and PSPI files.

    Raises:
        DataError: a missing or invalid label file.
    """
    rel = Path(fr.subject) / fr.sequence
    pspi_file = resolve(root, "Frame_Labels", "PSPI") / rel / f"{fr.stem}_facs.txt"
    facs_file = resolve(root, "Frame_Labels", "FACS") / rel / f"{fr.stem}_facs.txt"
    if not pspi_file.is_file():
        raise DataError(f"{pspi_file}: missing PSPI label file")
    if not facs_file.is_file():
        raise DataError(f"{facs_file}: missing FACS label file")
    value = read_number(pspi_file)
    if not (np.isfinite(value) and 0 <= value <= PSPI_MAX):
        raise DataError(f"{pspi_file}: PSPI {value:g} is outside 0..16")
    return read_facs(facs_file), value


def sequence_labels(root: Path, subject: str, sequence: str) -> dict[str, float]:
    """The sequence-level self-reports and observer ratings (NaN when missing or unreadable)."""
    out = {}
    for scale in SEQUENCE_SCALES:
        p = resolve(root, "Sequence_Labels", scale) / subject / f"{sequence}.txt"
        try:
            out[scale] = read_number(p) if p.is_file() else float("nan")
        except DataError as exc:
            log.warning("%s", exc)
            out[scale] = float("nan")
    return out


def load_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an archive image."""
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise DataError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def aam_landmarks(root: Path, fr: RawFrame) -> np.ndarray | None:
    """The frame's (66, 2) AAM landmarks, or None when the file is missing or malformed."""
    path = resolve(root, "AAM_landmarks") / fr.subject / fr.sequence / f"{fr.stem}_aam.txt"
    if not path.is_file():
        return None
    try:
        return read_aam(path)
    except DataError as exc:
        log.debug("%s", exc)
        return None
