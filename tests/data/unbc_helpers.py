"""A fake raw UNBC-McMaster archive with every quirk of FORMATS.md section 5, and a fake
derived HDF5 trio.

Frames are 64 x 48 RGB. The background encodes (subject index, frame number):
R = 30 * subject_index + 20, G = 10 * frame + 20, B = 90. Three dots mark the keypoints the
AAM landmarks describe: red at the subject's right eye, green at the left eye, blue at the
mouth centre, so a test can check where the crop puts them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SUBJECTS = ("042-ll042", "043-jh043", "047-jl047", "048-aa048", "049-bm049", "095-tv095")
W, H = 64, 48
RIGHT_EYE, LEFT_EYE, MOUTH = (24.0, 20.0), (40.0, 20.0), (32.0, 34.0)
FRAMES = 8


def sequences(subject: str) -> list[str]:
    tag = subject.split("-")[1]
    if tag == "tv095":
        return ["tv095t2aeunaff"]  # frames 001-007 black in the real archive
    return [f"{tag}t1aaaff", f"{tag}t2bbbff"]


def frame_aus(s: int, q: int, f: int) -> dict[int, float]:
    """Coded AUs (incl. non-pain 12 and 25) of a frame; {} for an empty FACS file."""
    if f % 4 == 0:
        return {}
    rng = np.random.default_rng([s, q, f])
    aus = {4: float(rng.integers(0, 6)), 6: float(rng.integers(0, 6)), 7: 1.0,
           9: float(rng.integers(0, 4)), 10: 2.0, 12: 3.0, 25: 1.0}
    if f % 3 == 0:
        aus[43] = 0.0  # AU43 row: presence means eyes closed whatever the intensity says
    return {k: v for k, v in aus.items() if v > 0 or k == 43}


def expected_labels(s: int, q: int, f: int) -> tuple[np.ndarray, float]:
    a = frame_aus(s, q, f)
    vec = np.array([a.get(4, 0), a.get(6, 0), a.get(7, 0), a.get(9, 0), a.get(10, 0),
                    1.0 if 43 in a else 0.0], np.float32)
    p = vec[0] + max(vec[1], vec[2]) + max(vec[3], vec[4]) + vec[5]
    return vec, float(p)


def landmarks66() -> np.ndarray:
    pts = np.zeros((66, 2))
    pts[:36] = np.column_stack([np.linspace(10, 54, 36), np.full(36, 40.0)])  # jaw/brow/nose
    ring6 = np.array([[-3, 0], [-1.5, -1.5], [1.5, -1.5], [3, 0], [1.5, 1.5], [-1.5, 1.5]])
    pts[36:42] = np.array(RIGHT_EYE) + ring6
    pts[42:48] = np.array(LEFT_EYE) + ring6
    t = np.linspace(0, 2 * np.pi, 18, endpoint=False)
    pts[48:66] = np.array(MOUTH) + np.column_stack([6 * np.cos(t), 2.5 * np.sin(t)])
    return pts


def frame_image(s: int, f: int) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    img[:] = (30 * s + 20, 10 * f + 20, 90)
    for (x, y), c in ((RIGHT_EYE, (255, 0, 0)), (LEFT_EYE, (0, 255, 0)),
                      (MOUTH, (0, 0, 255))):
        cv2.circle(img, (int(x), int(y)), 1, c, -1)
    return img


def _sci(x: float) -> str:
    return f"{x:.7e}"


def write_raw_unbc(root: Path, missing_aam: tuple[str, int] = ("043-jh043", 5),
                   no_face: tuple[str, int] = ("048-aa048", 6),
                   pspi_mismatch: tuple[str, int] = ("049-bm049", 2)) -> Path:
    """Write the fake archive (doubled Images/Images and Frame_Labels/Frame_Labels)."""
    images = root / "Images" / "Images"
    labels = root / "Frame_Labels" / "Frame_Labels"
    aam_root = root / "AAM_landmarks"
    lm = landmarks66()
    for s, subj in enumerate(SUBJECTS):
        for q, seq in enumerate(sequences(subj)):
            for d in (images, labels / "PSPI", labels / "FACS", aam_root):
                (d / subj / seq).mkdir(parents=True, exist_ok=True)
            for f in range(1, FRAMES + 1):
                stem = f"{seq}{f:03d}"
                img = frame_image(s, f)
                if subj == "095-tv095" and f <= 7:
                    img[:] = 0
                cv2.imwrite(str(images / subj / seq / f"{stem}.png"),
                            cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
                aus = frame_aus(s, q, f)
                _, p = expected_labels(s, q, f)
                if (subj, f) == pspi_mismatch and q == 0:
                    p += 1.0
                (labels / "PSPI" / subj / seq / f"{stem}_facs.txt").write_text(f"  {_sci(p)}\n")
                rows = "".join(f"   {_sci(k)}   {_sci(v)}   {_sci(0)}   {_sci(0)}\n"
                               for k, v in aus.items())
                (labels / "FACS" / subj / seq / f"{stem}_facs.txt").write_text(rows)
                if (subj, f) in (missing_aam, no_face):
                    continue
                (aam_root / subj / seq / f"{stem}_aam.txt").write_text(
                    "".join(f"{_sci(x)} {_sci(y)}\n" for x, y in lm))
        for scale, value in (("VAS", 3.0), ("OPR", 1.0), ("AFF", 5.0), ("SEN", 6.0)):
            d = root / "Sequence_Labels" / scale / subj
            d.mkdir(parents=True, exist_ok=True)
            for seq in sequences(subj):
                (d / f"{seq}.txt").write_text(f"{_sci(value)}\n")
    return root


def write_trio(root: Path, n_per_subject: int = 4) -> tuple[Path, Path, Path]:
    """frames.h5 / annotations.h5 / folds.h5 in the derived layout (frames stored shuffled)."""
    import h5py

    root.mkdir(parents=True)
    subjects = [f"{100 + i:03d}-xx{100 + i}" for i in range(5)]
    n = len(subjects) * n_per_subject
    rng = np.random.default_rng(0)
    index = np.arange(1000, 1000 + n)
    sub = np.repeat(np.arange(len(subjects)), n_per_subject)
    au = rng.integers(0, 4, size=(n, 6)).astype(np.float64)
    au[:, 5] = rng.integers(0, 2, size=n)
    p = au[:, 0] + np.maximum(au[:, 1], au[:, 2]) + np.maximum(au[:, 3], au[:, 4]) + au[:, 5]
    p[[1, 6]] = np.nan
    au[0, :] = 0  # frame 0: PSPI 0 reference candidate of subject 0
    p[0] = 0
    for i in range(len(subjects)):
        au[i * n_per_subject, :] = 0
        p[i * n_per_subject] = 0
    img = np.zeros((n, 8, 8, 3), np.uint8)
    img[..., 0] = (index % 256)[:, None, None]  # the frame's own index, to check joins
    img[..., 1] = (sub * 40 + 10)[:, None, None]
    order = rng.permutation(n)
    frames = root / "frames.h5"
    with h5py.File(frames, "w") as h5:
        h5["image"] = img[order]
        h5["index"] = index[order]
    ann = root / "annotations.h5"
    with h5py.File(ann, "w") as h5:
        h5["index"] = index
        h5["subject_name"] = np.array([subjects[i].encode() for i in sub])
        for j, name in enumerate(("4", "6", "7", "9", "10", "43")):
            h5[f"label_AU_{name}"] = au[:, j]
        h5["label_pspi"] = p
    folds = root / "folds.h5"
    ids = np.array([100 + i for i in range(5)])
    with h5py.File(folds, "w") as h5:
        for k in range(5):
            h5[f"fold-{k}/train_subjects"] = np.delete(ids, k)
            h5[f"fold-{k}/validation_subjects"] = ids[k:k + 1]
    return frames, ann, folds
