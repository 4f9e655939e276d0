"""Photo identities in a dataset: the photos of ``identities_from``, their screening, and
what the plan, manifest, card and run report say about them.

``identities_from`` is a folder (its image files, sorted by name, not recursive) or a CSV
file with a ``path`` column (relative to the CSV's folder, or absolute) and optional ``sex``,
``age_band``, ``ancestry`` columns (values of :mod:`pain3d.demographics`; empty = unknown).
Before anything is planned, every photo is screened once
(:func:`pain3d.synth.photo_input.screen_photo`, in the driver): the accepted ones become the
identities ``flame_sample_0000`` ... in listing order, up to ``identities``; the others are
skipped with their reason, listed in the run report and the dataset card (or, with
``--strict``, the run stops before writing anything). A dataset folder remembers which
photos it was planned from (``.pain3d/photos.json``) and refuses to resume when they
changed.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pain3d.demographics import AGE_BANDS, ANCESTRIES, SEXES
from pain3d.io import atomic_write_text
from pain3d.synth import layout
from pain3d.synth.config import GenerateConfig
from pain3d.synth.photo_input import REASONS, PhotoRejected, decode_photo, screen_photo
from pain3d.synth.spec import IdentitySpec, ViewSpec

log = logging.getLogger(__name__)

PHOTO_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
"""Files of an ``identities_from`` folder that are photos (other files are ignored)."""
UNKNOWN = "unknown"
"""Demographic value of a photo identity whose CSV row (or folder) does not give it."""
CSV_COLUMNS = {"sex": SEXES, "age_band": AGE_BANDS, "ancestry": ANCESTRIES}
RECORD = "photos.json"  # under layout.STATE_DIR


class PhotoSourceError(ValueError):
    """``identities_from`` cannot be used (missing, a bad CSV, no usable photo, or --strict
    with skipped photos); the message says what to do."""


@dataclass(frozen=True)
class PhotoEntry:
    """One listed photo.

    Attributes:
        name: as listed: the file name in the folder, or the CSV's ``path`` value.
        path: where it is read (joined to the folder or to the CSV's folder).
        sex, age_band, ancestry: from the CSV, or :data:`UNKNOWN`.
    """

    name: str
    path: str
    sex: str = UNKNOWN
    age_band: str = UNKNOWN
    ancestry: str = UNKNOWN


@dataclass(frozen=True)
class AcceptedPhoto:
    """A photo that passed the screening.

    Attributes:
        entry: the listed photo.
        sha256: SHA-256 of its file bytes.
        warnings: notes (:data:`pain3d.synth.photo_input.WARNINGS`).
        yaw, pitch, roll: the photo camera's angles as the tracker estimates them (degrees,
            :class:`pain3d.synth.spec.ViewSpec` convention; a few degrees off the fitted
            camera the images are rendered from).
        landmarks: (478, 3) float32, the face's landmarks in photo pixels (the identity spec
            carries them to the workers, which then need no face tracker).
        person: the identity crop's person pixels, packed
            (:func:`pain3d.synth.photo.person_mask`, :func:`~pain3d.synth.photo.pack_mask`),
            carried to the workers the same way; empty for accepted photos beyond the
            dataset's ``identities`` (not used).
    """

    entry: PhotoEntry
    sha256: str
    warnings: tuple[str, ...]
    yaw: float
    pitch: float
    roll: float
    landmarks: np.ndarray = field(default=None, repr=False, compare=False)
    person: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True)
class SkippedPhoto:
    """A photo that cannot become an identity: its name, reason code and why."""

    name: str
    reason: str
    message: str


@dataclass(frozen=True)
class PhotoScreen:
    """The verdict on every listed photo.

    Attributes:
        source: ``identities_from`` as given.
        accepted: photos that can become identities, in listing order.
        skipped: photos that cannot, with their reasons.
    """

    source: str
    accepted: tuple[AcceptedPhoto, ...]
    skipped: tuple[SkippedPhoto, ...]

    @property
    def listed(self) -> int:
        return len(self.accepted) + len(self.skipped)


# --------------------------------------------------------------------------------------------
# Listing and screening


def list_photos(source: str | Path) -> list[PhotoEntry]:
    """The photos of a folder or a CSV (module docstring).

    Raises:
        PhotoSourceError: naming the path, row or column that is wrong.
    """
    src = Path(source)
    if src.is_dir():
        files = sorted(p for p in src.iterdir()
                       if p.is_file() and not p.name.startswith(".")
                       and p.suffix.lower() in PHOTO_SUFFIXES)
        return [PhotoEntry(name=p.name, path=str(p)) for p in files]
    if src.is_file() and src.suffix.lower() == ".csv":
        return _list_csv(src)
    if src.exists():
        raise PhotoSourceError(f"identities_from = {source}: not a folder or a .csv file")
    raise PhotoSourceError(f"identities_from = {source} does not exist: give a folder of photos "
                           "or a CSV with a 'path' column")


def _list_csv(src: Path) -> list[PhotoEntry]:
    with open(src, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in (reader.fieldnames or [])]
        if "path" not in fields:
            raise PhotoSourceError(f"{src}: the header {fields} has no 'path' column (optional "
                                   f"columns: {', '.join(CSV_COLUMNS)})")
        out = []
        for n, row in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            if not row["path"]:
                raise PhotoSourceError(f"{src} line {n}: empty 'path'")
            demo = {}
            for key, allowed in CSV_COLUMNS.items():
                value = row.get(key, "") or UNKNOWN
                if value != UNKNOWN and value not in allowed:
                    raise PhotoSourceError(f"{src} line {n}: {key} = {value!r} is not one of "
                                           f"{', '.join(allowed)} (or empty for unknown)")
                demo[key] = value
            path = Path(row["path"]).expanduser()
            path = path if path.is_absolute() else src.parent / path
            out.append(PhotoEntry(name=row["path"], path=str(path), **demo))
    return out


def _camera_angles(face) -> tuple[float, float, float]:
    """(yaw, pitch, roll) degrees of the camera relative to the head, from the tracker's head
    pose (a face turned toward image right means a camera to the subject's right, yaw < 0)
    and the eye line (:class:`pain3d.synth.spec.ViewSpec` convention)."""
    from pain3d.face.landmarks import IRIS_L, IRIS_R

    d = face.landmarks[IRIS_L, :2] - face.landmarks[IRIS_R, :2]
    roll = -np.degrees(np.arctan2(d[1], d[0]))
    return (round(-float(face.yaw_deg), 1), round(-float(face.pitch_deg), 1),
            round(float(roll), 1))


def screen_photos(cfg: GenerateConfig) -> PhotoScreen:
    """Screen every photo of ``cfg.identities_from`` with ``cfg.photo`` (one tracker), and
    find the person pixels in the identity crop of each accepted photo the dataset uses."""
    from pain3d.face.tracker import FaceTracker
    from pain3d.synth.photo import pack_mask, person_mask

    accepted, skipped = [], []
    with FaceTracker() as tracker:
        for entry in list_photos(cfg.identities_from):
            try:
                try:
                    data = Path(entry.path).read_bytes()
                except OSError as exc:
                    raise PhotoRejected("unreadable", f"cannot be read ({exc.strerror})"
                                        ) from None
                image = decode_photo(data, entry.name)
                screened = screen_photo(image, cfg.photo, tracker)
            except PhotoRejected as exc:
                skipped.append(SkippedPhoto(entry.name, exc.reason, str(exc)))
                log.warning("photo %s skipped (%s): %s", entry.name, exc.reason, exc)
                continue
            person = ""  # only the photos the dataset uses (the first cfg.identities)
            if len(accepted) < cfg.identities:
                person = pack_mask(person_mask(image, screened.face.landmarks, cfg.size,
                                               cfg.photo.framing, tracker))
            accepted.append(AcceptedPhoto(entry, hashlib.sha256(data).hexdigest(),
                                          screened.warnings, *_camera_angles(screened.face),
                                          landmarks=screened.face.landmarks, person=person))
    return PhotoScreen(str(cfg.identities_from), tuple(accepted), tuple(skipped))


def resolve_photos(cfg: GenerateConfig, screen: PhotoScreen | None = None
                   ) -> tuple[GenerateConfig, PhotoScreen]:
    """The config of the dataset the photos make (``identities`` = the photos used: the
    first ``cfg.identities`` accepted ones) and the screening.

    Raises:
        PhotoSourceError: when no photo can become an identity.
    """
    screen = screen or screen_photos(cfg)
    n = min(cfg.identities, len(screen.accepted))
    if n == 0:
        raise PhotoSourceError(
            f"none of the {screen.listed} photos of {screen.source} can become an identity"
            + (": " + skip_summary(screen) if screen.skipped else "")
            + "; see docs/photo_identities.md for what a usable photo is")
    if n < len(screen.accepted):
        log.info("%d photos accepted, the first %d used (identities = %d)",
                 len(screen.accepted), n, cfg.identities)
    return dataclasses.replace(cfg, identities=n), screen


def check_strict(plan, strict: bool) -> None:
    """With ``--strict``, refuse a dataset whose photos were not all usable.

    Raises:
        PhotoSourceError: listing every skipped photo and its reason.
    """
    screen = plan.photos
    if strict and screen is not None and screen.skipped:
        lines = [f"  {s.name}: {s.reason}: {s.message}" for s in screen.skipped]
        raise PhotoSourceError(f"--strict: {len(screen.skipped)} of {screen.listed} photos of "
                               f"{screen.source} cannot become identities (nothing was "
                               "written):\n" + "\n".join(lines))


# --------------------------------------------------------------------------------------------
# The plan


def photo_identity_specs(cfg: GenerateConfig, screen: PhotoScreen, splits: list[str],
                         appearance_seeds: list[int]) -> list[IdentitySpec]:
    """One ``photo`` identity per used photo, in listing order, with its screening's
    landmarks and person mask (so no worker runs the face tracker)."""
    out = []
    for i, photo in enumerate(screen.accepted[: cfg.identities]):
        e = photo.entry
        out.append(IdentitySpec(
            index=i, sex=e.sex, age_band=e.age_band, ancestry=e.ancestry, split=splits[i],
            appearance_seed=appearance_seeds[i], source="photo", face_model="builtin",
            photo=e.path, photo_sha256=photo.sha256, photo_name=e.name,
            photo_warnings=photo.warnings,
            photo_landmarks=() if photo.landmarks is None else photo.landmarks.ravel().tolist(),
            photo_person=photo.person))
    return out


def photo_views(views: tuple[ViewSpec, ...], screen: PhotoScreen | None, identity: int
                ) -> tuple[ViewSpec, ...]:
    """A photo identity's views: view 0 is the photo's own camera (its angles as the tracker
    estimates them; no distance: the fit decides it); the others keep the planned absolute
    angles, rendered from the photo camera turned about the head."""
    photo = screen.accepted[identity]
    own = dataclasses.replace(views[0], yaw=photo.yaw, pitch=photo.pitch, roll=photo.roll,
                              distance=float("nan"))
    return (own,) + tuple(dataclasses.replace(v, distance=float("nan")) for v in views[1:])


# --------------------------------------------------------------------------------------------
# What the dataset says about its photos


def photo_columns(identity: IdentitySpec, cfg: GenerateConfig) -> dict[str, Any]:
    """The manifest's photo columns of one image (empty for procedural identities), and its
    ``appearance`` (``photo``)."""
    if identity.source != "photo":
        return {"appearance": cfg.appearance, "source_photo": "", "source_photo_sha256": "",
                "source_photo_path": "", "photo_warnings": ""}
    return {"appearance": "photo", "source_photo": identity.photo_name,
            "source_photo_sha256": identity.photo_sha256,
            "source_photo_path": layout.source_photo_path(identity),
            "photo_warnings": "|".join(identity.photo_warnings)}


def skip_summary(screen: PhotoScreen) -> str:
    """``reason: n`` counts of the skipped photos."""
    counts = Counter(s.reason for s in screen.skipped)
    return ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items()))


def run_report(plan) -> dict[str, Any]:
    """What the run log and the summary say about the photos ({} without photos)."""
    screen = plan.photos
    if screen is None:
        return {}
    return {"source": screen.source, "listed": screen.listed, "accepted": len(screen.accepted),
            "used": plan.config.identities,
            "skipped": [dataclasses.asdict(s) for s in screen.skipped]}


def report_text(report: dict[str, Any]) -> str:
    """One line for :meth:`pain3d.synth.generate.GenerateSummary.text` ("" without photos)."""
    if not report:
        return ""
    skipped = report["skipped"]
    text = (f"\nphotos of {report['source']}: {report['listed']} listed, {report['accepted']} "
            f"usable, {report['used']} used as identities, {len(skipped)} skipped")
    return text + "".join(f"\n  skipped {s['name']}: {s['reason']}: {s['message']}"
                          for s in skipped)


def card_section(plan) -> str:
    """The dataset card's section on photo identities ("" without photos)."""
    screen = plan.photos
    if screen is None:
        return ""
    cfg = plan.config
    used = screen.accepted[: cfg.identities]
    warned = Counter(w for p in used for w in p.warnings)
    lines = ["## Photo identities", "",
             f"The identities come from {screen.listed} photos listed by `identities_from` "
             f"({screen.source}): {len(screen.accepted)} were usable and {len(used)} used, in "
             f"listing order (`source_photo` in the manifest names each identity's photo, "
             f"`source_photo_sha256` its hash, `source_photo_path` the raw file kept in this "
             f"dataset for provenance).",
             "", "| reason skipped | photos |", "|---|---|"]
    counts = Counter(s.reason for s in screen.skipped)
    lines += [f"| {reason} ({REASONS[reason]}) | {counts.get(reason, 0)} |" for reason in REASONS]
    if screen.skipped:
        lines += ["", "| skipped photo | reason | why |", "|---|---|---|"]
        lines += [f"| {s.name} | {s.reason} | {s.message} |" for s in screen.skipped]
    if warned:
        lines += ["", "Notes on photos used: " + ", ".join(
            f"{w} {n}" for w, n in sorted(warned.items())) + " (`photo_warnings`)."]
    lines += ["", "These images show real people: share the dataset only as the consent of "
              "the people photographed allows.", ""]
    return "\n".join(lines) + "\n"


def appearance_text(cfg: GenerateConfig) -> str:
    """Step 5 of the card's "How it was made" for photo identities."""
    return ("Appearance: photo. Each identity is a real photo: MediaPipe's 478 landmarks fit "
            "the builtin head (shape and camera), the photo is baked onto its texture "
            "(unseen parts mirrored and inpainted) and every image is rendered from the "
            "photo's own camera and composited into the photo inside the face outline "
            "(views after the first turn the camera about the head and show the whole "
            "rendered head over the photo with its head filled in). The neutral images are "
            "re-rendered too, so a pair differs only by the expression. See "
            "docs/photo_identities.md.")


# --------------------------------------------------------------------------------------------
# Resuming: the folder remembers its photos


def record_photos(root: Path, plan) -> None:
    """Write ``.pain3d/photos.json`` on the first run; on a resume, refuse photos that changed.

    Raises:
        PhotoSourceError: naming what was added, removed or changed.
    """
    screen = plan.photos
    if screen is None:
        return
    used = {p.entry.name: p.sha256 for p in screen.accepted[: plan.config.identities]}
    path = Path(root) / layout.STATE_DIR / RECORD
    if path.is_file():
        old = json.loads(path.read_text())["photos"]
        if old != used:
            diff = sorted(set(old) ^ set(used)) + sorted(
                k for k in set(old) & set(used) if old[k] != used[k])
            raise PhotoSourceError(
                f"{root} was planned from other photos than {screen.source} holds now "
                f"(added, removed or changed: {', '.join(diff[:5])}); use a new --out, or "
                "restore the photos")
        return
    atomic_write_text(path, json.dumps({"source": screen.source, "photos": used}, indent=1))
