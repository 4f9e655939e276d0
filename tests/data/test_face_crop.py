"""Synthetic manifests with face keypoints are read as inference-style face crops."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from data_helpers import split_dataset

from pain3d.data.align import DEFAULT_GEOMETRY
from pain3d.data.synthetic import KEYPOINT_COLUMNS
from pain3d.facs import AU_NAMES

SIDE = 96
DOT_COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255))  # right eye, left eye, mouth


def _keypoints(rng: np.random.Generator) -> np.ndarray:
    """(3, 2) canonical keypoints under a random rotation, scale and shift."""
    canon = DEFAULT_GEOMETRY.keypoints(40) - 20.0
    a = np.radians(rng.uniform(-25, 25))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return canon @ rot.T * rng.uniform(0.9, 1.4) + rng.uniform(35, 61, size=2)


def _image(kp: np.ndarray) -> np.ndarray:
    img = np.full((SIDE, SIDE, 3), 128, np.uint8)
    for (x, y), c in zip(kp, DOT_COLOURS, strict=True):
        # sub-pixel centre (shift 4 = 1/16 px), in the index coordinates cv2.warpAffine uses
        cv2.circle(img, (int(round(x * 16)), int(round(y * 16))), 40, c, -1,
                   lineType=cv2.LINE_AA, shift=4)
    return img


def _dots(img: np.ndarray) -> np.ndarray:
    """(3, 2) centroids of the red, green and blue dots (pixel index coordinates)."""
    out = []
    for c in DOT_COLOURS:
        ch = int(np.argmax(c))
        others = [k for k in range(3) if k != ch]
        w = np.clip(img[..., ch].astype(float) - img[..., others].astype(float).max(-1), 0, None)
        ys, xs = np.mgrid[: img.shape[0], : img.shape[1]]
        out.append([(w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()])
    return np.array(out)


def _write(root, csv: bool = False, missing_identity: int | None = None):
    """A manifest dataset of 3 identities x (neutral, pain_1) with dots at its keypoints."""
    rng = np.random.default_rng(0)
    rows, truth = [], {}
    (root / "meshes_inpainted").mkdir(parents=True)
    for ident in range(3):
        for expr, aus in (("neutral", [0.0] * 6), ("pain_1", [2.0, 1.0, 1.0, 0.0, 0.0, 0.0])):
            kp = _keypoints(rng)
            stem = f"flame_sample_{ident:04d}_{expr}_textured_view_000_inpainted"
            rel = f"meshes_inpainted/{stem}.png"
            cv2.imwrite(str(root / rel), cv2.cvtColor(_image(kp), cv2.COLOR_RGB2BGR))
            truth[rel] = kp
            row = {"path": rel, "identity": ident, "identity_name": f"flame_sample_{ident:04d}",
                   "expression": expr, "kind": "image", "view": 0, "split": "train",
                   **dict(zip(AU_NAMES, aus, strict=True)),
                   "PSPI": aus[0] + max(aus[1], aus[2]) + max(aus[3], aus[4]) + aus[5]}
            vals = kp.reshape(-1) if ident != missing_identity else [np.nan] * 6
            row.update(dict(zip(KEYPOINT_COLUMNS, vals, strict=True)))
            rows.append(row)
    df = pd.DataFrame(rows)
    if csv:
        df.to_csv(root / "manifest.csv", index=False, na_rep="")
    else:
        df.to_parquet(root / "manifest.parquet")
    return truth


def test_keypoints_put_image_and_reference_at_the_canonical_crop_positions(tmp_path):
    truth = _write(tmp_path / "ds")
    size = 64
    ds = split_dataset(tmp_path / "ds", "all", size, cache_dir=tmp_path / "c")
    want = DEFAULT_GEOMETRY.keypoints(size)
    for i in range(len(ds)):
        s = ds[i]
        for img in (s["image"], s["neutral"]):
            arr = (img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            np.testing.assert_allclose(_dots(arr), want, atol=0.25, err_msg=s["meta"]["path"])
    # Switched off: the whole image, only resized.
    whole = split_dataset(tmp_path / "ds", "all", size, cache_dir=tmp_path / "c",
                          face_crop=False)
    s = whole[0]
    arr = (s["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    np.testing.assert_allclose(_dots(arr), truth[s["meta"]["path"]] * size / SIDE, atol=1.0)


def test_data_config_switch_and_rows_without_keypoints_keep_whole_images(tmp_path, caplog):
    _write(tmp_path / "ds", csv=True, missing_identity=1)
    size = 48
    with caplog.at_level("WARNING", logger="pain3d.data.dataset"):
        on = split_dataset(tmp_path / "ds", "train", size, cache_dir=tmp_path / "c")
    assert "face keypoints are known for 4 of 6 images" in caplog.text
    off = split_dataset(tmp_path / "ds", "train", size, cache_dir=tmp_path / "c",
                        face_crop=False)
    assert on.keypoints is not None and off.keypoints is None
    for i in range(len(on)):
        a, b = on[i], off[i]
        same = bool((a["image"] == b["image"]).all())
        # identity 1 has empty keypoint cells: whole image either way; others are cropped
        assert same == (a["subject"] == "flame_sample_0001"), a["meta"]["path"]


def test_keypoint_columns_match_what_the_generator_writes():
    from pain3d.synth.keypoints import keypoint_columns, keypoints_from_row

    written = keypoint_columns([float(v) for v in range(6)])
    assert tuple(written) == tuple(KEYPOINT_COLUMNS)
    # the reader's column order is the generator's: right eye, left eye, mouth (x, y)
    assert keypoints_from_row(written).tolist() == [[0, 1], [2, 3], [4, 5]]
