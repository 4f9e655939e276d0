"""UNBC-McMaster raw archive -> one aligned, labelled HDF5 file (``pain3d prepare-unbc``).

The raw archive (``FORMATS.md`` section 5) has quirks this reader handles on purpose:

- mirrors nest folders twice (``Images/Images``, ``Frame_Labels/Frame_Labels``, ...);
- PSPI label files end in ``_facs.txt`` although they live under ``Frame_Labels/PSPI``;
- FACS files hold whitespace-separated rows ``AU intensity x x`` (numbers may be in scientific
  notation); an empty file means no AU; an AU43 row means eyes closed (1) whatever its
  intensity column says; only the six pain AUs are kept;
- seven frames of ``095-tv095/tv095t2aeunaff`` (001-007) are black: black frames are skipped
  and reported;
- frames without AAM landmarks (or with a malformed file) are aligned from MediaPipe landmarks
  when a detector is available, otherwise skipped with that reason.

Output layout (``prepare_unbc``): ``image`` (N, S, S, 3) uint8 face crops (the geometry of
:mod:`pain3d.data.align`), ``au`` (N, 6) float32, ``pspi`` (N,) float32 (the PSPI file),
``pspi_from_aus`` (N,), ``subject`` / ``sequence`` / ``path`` / ``landmarks`` (N,) bytes,
``subject_id`` (N,) int32, ``frame`` (N,) int32, ``sequence_labels/{AFF,OPR,SEN,VAS}`` (N,)
float32 (NaN when missing), folds under ``folds/kfold5/fold-K`` and ``folds/loso/fold-K``
(``train_subjects``, ``test_subjects``: integer subject ids), and attributes ``config``,
``report`` (JSON of what was skipped and why) and ``pain3d_version``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from pain3d import __version__
from pain3d.data.align import CropGeometry, crop_from_landmarks
from pain3d.data.common import DataError, SkipReport
from pain3d.facs import AU_NAMES, PSPI_MAX, pspi

log = logging.getLogger(__name__)

SEQUENCE_SCALES = ("AFF", "OPR", "SEN", "VAS")
_PAIN_AU_CODES = {4: 0, 6: 1, 7: 2, 9: 3, 10: 4, 43: 5}
_SUBJECT_ID = re.compile(r"^(\d+)")
_TRAILING_DIGITS = re.compile(r"(\d+)$")
BLACK_MAX = 8  # a frame whose brightest pixel is below this is treated as black

LandmarkFn = Callable[[np.ndarray], "np.ndarray | None"]


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


def iter_frames(root: Path) -> Iterator[RawFrame]:
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


@dataclass(frozen=True)
class PrepareConfig:
    """Options of ``pain3d prepare-unbc``.

    Attributes:
        size: side of the stored face crops in pixels.
        folds: number of subject folds (5 as published).
        fold_seed: seed of the subject-to-fold assignment.
        use_mediapipe: align frames without AAM landmarks with MediaPipe.
        skip_bad: skip unreadable images and invalid labels with a report instead of stopping.
        compression: HDF5 compression of the image dataset (``none``, ``lzf``, ``gzip``).
        limit: stop after this many frames (0 = all; for quick checks).
    """

    size: int = 224
    folds: int = 5
    fold_seed: int = 0
    use_mediapipe: bool = True
    skip_bad: bool = False
    compression: str = "lzf"
    limit: int = 0

    def __post_init__(self) -> None:
        if self.size < 32:
            raise ValueError(f"size must be >= 32 pixels, got {self.size}")
        if self.folds < 2:
            raise ValueError(f"folds must be >= 2, got {self.folds}")
        if self.compression not in ("none", "lzf", "gzip"):
            raise ValueError(f"compression must be none, lzf or gzip, got {self.compression!r}")
        if self.limit < 0:
            raise ValueError(f"limit must be >= 0, got {self.limit}")


def kfold_subjects(subject_ids: np.ndarray, k: int = 5, seed: int = 0
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Deterministic k-fold split of subjects: [(train ids, test ids)] per fold.

    Subjects are sorted, permuted with ``seed`` and dealt round-robin, so fold sizes differ by
    at most one and every subject is tested exactly once.
    """
    ids = np.unique(np.asarray(subject_ids, dtype=np.int64))
    if len(ids) < k:
        raise DataError(f"{len(ids)} subject(s) cannot make {k} folds by subject")
    perm = np.random.default_rng([seed, 0xF01D]).permutation(ids)
    fold_of = {int(s): i % k for i, s in enumerate(perm)}
    out = []
    for f in range(k):
        test = np.array(sorted(s for s, g in fold_of.items() if g == f), np.int64)
        out.append((np.setdiff1d(ids, test), test))
    return out


def loso_subjects(subject_ids: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Leave-one-subject-out: one fold per subject, in id order."""
    ids = np.unique(np.asarray(subject_ids, dtype=np.int64))
    return [(ids[ids != s], np.array([s], np.int64)) for s in ids]


def mediapipe_landmarks() -> LandmarkFn:
    """A function image (H, W, 3) uint8 RGB -> (478, 2) pixels or None, using MediaPipe."""
    import mediapipe as mp

    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                           refine_landmarks=True)

    def detect(image: np.ndarray) -> np.ndarray | None:
        res = mesh.process(np.ascontiguousarray(image))
        if not res.multi_face_landmarks:
            return None
        h, w = image.shape[:2]
        lm = res.multi_face_landmarks[0].landmark
        return np.array([[p.x * w, p.y * h] for p in lm], dtype=np.float64)

    return detect


def _frame_labels(root: Path, fr: RawFrame) -> tuple[np.ndarray, float]:
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


def _sequence_labels(root: Path, subject: str, sequence: str) -> dict[str, float]:
    out = {}
    for scale in SEQUENCE_SCALES:
        p = resolve(root, "Sequence_Labels", scale) / subject / f"{sequence}.txt"
        try:
            out[scale] = read_number(p) if p.is_file() else float("nan")
        except DataError as exc:
            log.warning("%s", exc)
            out[scale] = float("nan")
    return out


def _load_rgb(path: Path) -> np.ndarray:
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise DataError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def prepare_unbc(raw: str | Path, out: str | Path, cfg: PrepareConfig | None = None,
                 landmark_fn: LandmarkFn | None = None) -> dict:
    """Align, crop and label every frame of a raw UNBC archive into one HDF5 file.

    Args:
        raw: the archive root (doubled folders are handled).
        out: the ``.h5`` file to write (atomically: written beside, then renamed).
        cfg: options; default :class:`PrepareConfig`.
        landmark_fn: landmark detector for frames without AAM landmarks (default MediaPipe
            when ``cfg.use_mediapipe``); returns (K, 2) pixels or None.

    Returns:
        Summary: frames written, subjects, sequences, skipped items per reason, PSPI files
        that disagree with the FACS files.

    Raises:
        DataError: an unreadable image or an invalid label (unless ``cfg.skip_bad``).
    """
    import h5py

    from pain3d.config import dump_config
    from pain3d.io import atomic_path

    cfg = cfg or PrepareConfig()
    root = find_archive_root(Path(raw))
    if landmark_fn is None and cfg.use_mediapipe:
        landmark_fn = _LazyMediapipe()
    report = SkipReport()  # always collects black frames / no-landmark frames
    strict = not cfg.skip_bad
    s = cfg.size
    buf: dict[str, list] = {k: [] for k in ("image", "au", "pspi", "pspi_from_aus", "subject",
                                             "sequence", "frame", "path", "landmarks")}
    seq_labels: dict[str, list[float]] = {k: [] for k in SEQUENCE_SCALES}
    seq_cache: dict[tuple[str, str], dict[str, float]] = {}
    mismatches: list[str] = []
    n = 0
    comp = None if cfg.compression == "none" else cfg.compression
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
        images = h5.create_dataset("image", (0, s, s, 3), dtype=np.uint8,
                                   maxshape=(None, s, s, 3), chunks=(1, s, s, 3),
                                   compression=comp)

        def flush() -> None:
            if not buf["image"]:
                return
            k = len(buf["image"])
            images.resize(images.shape[0] + k, axis=0)
            images[-k:] = np.stack(buf["image"])
            buf["image"].clear()

        for fr in iter_frames(root):
            if cfg.limit and n >= cfg.limit:
                break
            where = str(fr.image.relative_to(root))
            try:
                au, value = _frame_labels(root, fr)
            except DataError as exc:
                if strict:
                    raise DataError(f"{exc} (pass --skip-bad to skip such frames)") from exc
                report.add(where, f"bad label: {exc}")
                continue
            try:
                img = _load_rgb(fr.image)
            except DataError as exc:
                if strict:
                    raise DataError(f"{exc} (pass --skip-bad to skip such frames)") from exc
                report.add(where, f"unreadable image: {exc}")
                continue
            if int(img.max()) < BLACK_MAX:
                report.add(where, "black frame: no face to align")
                continue
            aam = resolve(root, "AAM_landmarks") / fr.subject / fr.sequence / f"{fr.stem}_aam.txt"
            source = "aam"
            try:
                pts = read_aam(aam) if aam.is_file() else None
            except DataError as exc:
                log.debug("%s", exc)
                pts = None
            if pts is None:
                pts = landmark_fn(img) if landmark_fn is not None else None
                source = "mediapipe"
                if pts is None:
                    why = ("no AAM landmarks and MediaPipe found no face" if landmark_fn
                           else "no AAM landmarks (MediaPipe fallback disabled)")
                    report.add(where, f"no landmarks: {why}")
                    continue
            try:
                crop = crop_from_landmarks(img, pts, size=s)
            except ValueError as exc:
                report.add(where, f"no landmarks: degenerate landmarks ({exc})")
                continue
            from_aus = float(pspi(au, validate=False))
            if abs(from_aus - value) > 1e-3:
                mismatches.append(where)
            key = (fr.subject, fr.sequence)
            if key not in seq_cache:
                seq_cache[key] = _sequence_labels(root, fr.subject, fr.sequence)
            for scale in SEQUENCE_SCALES:
                seq_labels[scale].append(seq_cache[key][scale])
            for k, v in (("image", crop), ("au", au), ("pspi", value),
                         ("pspi_from_aus", from_aus), ("subject", fr.subject),
                         ("sequence", fr.sequence), ("frame", fr.frame), ("path", where),
                         ("landmarks", source)):
                buf[k].append(v)
            n += 1
            if len(buf["image"]) >= 256:
                flush()
        flush()
        if n == 0:
            raise DataError(f"{root}: no frame could be prepared ({report.reasons()})")
        strs = {k: np.array(buf[k], dtype="S") for k in ("subject", "sequence", "path",
                                                          "landmarks")}
        for k, v in strs.items():
            h5.create_dataset(k, data=v)
        h5.create_dataset("subject_id", data=np.array(
            [subject_id(x) for x in buf["subject"]], np.int32))
        h5.create_dataset("frame", data=np.array(buf["frame"], np.int32))
        h5.create_dataset("au", data=np.stack(buf["au"]).astype(np.float32))
        h5.create_dataset("pspi", data=np.array(buf["pspi"], np.float32))
        h5.create_dataset("pspi_from_aus", data=np.array(buf["pspi_from_aus"], np.float32))
        for scale in SEQUENCE_SCALES:
            h5.create_dataset(f"sequence_labels/{scale}",
                              data=np.array(seq_labels[scale], np.float32))
        ids = h5["subject_id"][:]
        if len(np.unique(ids)) >= cfg.folds:
            write_folds(h5, f"kfold{cfg.folds}", kfold_subjects(ids, cfg.folds, cfg.fold_seed))
        else:
            log.warning("only %d subject(s): no %d-fold split written (leave-one-subject-out "
                        "folds are)", len(np.unique(ids)), cfg.folds)
        write_folds(h5, "loso", loso_subjects(ids))
        summary = {
            "frames": n, "subjects": int(len(np.unique(ids))),
            "sequences": len(seq_cache), "skipped": len(report), "skip_reasons": report.reasons(),
            "pspi_file_differs_from_facs": len(mismatches),
            "landmarks": {k: int(v) for k, v in zip(*np.unique(strs["landmarks"].astype(str),
                                                               return_counts=True),
                                                     strict=True)},
        }
        if mismatches:
            log.warning("%d frame(s) have a PSPI file that differs from PSPI of their FACS file "
                        "(the PSPI file is kept in 'pspi', the FACS value in 'pspi_from_aus'), "
                        "e.g. %s", len(mismatches), mismatches[:3])
        h5.attrs["pain3d_version"] = __version__
        h5.attrs["config"] = dump_config(cfg)
        h5.attrs["crop_geometry"] = json.dumps(CropGeometry().__dict__)
        h5.attrs["au_names"] = json.dumps(list(AU_NAMES))
        h5.attrs["report"] = json.dumps({**summary, **report.to_dict(),
                                         "pspi_mismatch_examples": mismatches[:50]})
    log.info("wrote %s: %d frames of %d subjects; skipped %d (%s)", out, n,
             summary["subjects"], len(report), report.reasons())
    summary["report"] = report
    return summary


def write_folds(h5, name: str, folds: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """``folds/<name>/fold-K/{train_subjects,test_subjects}`` integer subject ids."""
    width = len(str(len(folds) - 1))
    for k, (train, test) in enumerate(folds):
        g = h5.create_group(f"folds/{name}/fold-{k:0{width}d}")
        g.create_dataset("train_subjects", data=np.asarray(train, np.int64))
        g.create_dataset("test_subjects", data=np.asarray(test, np.int64))


class _LazyMediapipe:
    """Creates the MediaPipe face mesh on the first frame that needs it."""

    def __init__(self) -> None:
        self._fn: LandmarkFn | None = None

    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        if self._fn is None:
            self._fn = mediapipe_landmarks()
        return self._fn(image)
