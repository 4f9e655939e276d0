"""Synthetic readers yield each pain configuration's heatmap, framed like its view-0 image."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from data_helpers import split_dataset

from pain3d.data import DataError, collate
from pain3d.data.align import DEFAULT_GEOMETRY
from pain3d.data.naming import parse_names
from pain3d.data.synthetic import KEYPOINT_COLUMNS
from pain3d.facs import AU_NAMES

SIDE, CROP = 80, 32
AUS = [2.0, 1.0, 1.0, 0.0, 0.0, 0.0]


def _keypoints(rng: np.random.Generator) -> np.ndarray:
    canon = DEFAULT_GEOMETRY.keypoints(36) - 18.0
    a = np.radians(rng.uniform(-20, 20))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return canon @ rot.T * rng.uniform(0.9, 1.2) + rng.uniform(32, 48, size=2)


def _write_manifest(root, views: int = 2, with_heatmaps: bool = True) -> None:
    """2 identities x (neutral, pain_1) x ``views`` views of random pixels with keypoints.

    The heatmap file of each pain configuration holds a copy of the pixels of that
    configuration's view-0 image (as if rendered by its camera), so after framing the
    heatmap must equal the view-0 image exactly.
    """
    rng = np.random.default_rng(0)
    (root / "meshes_inpainted").mkdir(parents=True)
    (root / "heatmaps").mkdir()
    rows = []
    for ident in range(2):
        name = f"flame_sample_{ident:04d}"
        for expr in ("neutral", "pain_1"):
            aus = [0.0] * 6 if expr == "neutral" else AUS
            heat_rel = f"heatmaps/{name}_{expr}_heatmap.png" if expr != "neutral" else ""
            for view in range(views):
                img = rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
                kp = _keypoints(rng)
                rel = f"meshes_inpainted/{name}_{expr}_textured_view_{view:03d}_inpainted.png"
                cv2.imwrite(str(root / rel), img[..., ::-1])
                if view == 0 and heat_rel and with_heatmaps:
                    cv2.imwrite(str(root / heat_rel), img[..., ::-1])
                row = {"path": rel, "identity": ident, "identity_name": name, "expression": expr,
                       "kind": "image", "view": view, "split": "train", "heatmap_path": heat_rel,
                       **dict(zip(AU_NAMES, aus, strict=True)),
                       "PSPI": aus[0] + max(aus[1], aus[2]) + max(aus[3], aus[4]) + aus[5]}
                row.update(dict(zip(KEYPOINT_COLUMNS, kp.reshape(-1), strict=True)))
                rows.append(row)
    pd.DataFrame(rows).to_parquet(root / "manifest.parquet")


def _by(ds, **want):
    out = []
    for i in range(len(ds)):
        s = ds[i]
        if all(s["meta"].get(k) == v for k, v in want.items()):
            out.append(s)
    return out


def test_heatmap_equals_the_view0_image_pixels_after_the_same_crop(tmp_path):
    root = tmp_path / "ds"
    _write_manifest(root)
    ds = split_dataset(root, "all", CROP, heatmaps=True)
    for ident in range(2):
        name = f"flame_sample_{ident:04d}"
        v0, v1 = (_by(ds, identity=ident, expression="pain_1", view=v)[0] for v in (0, 1))
        assert v0["heatmap"].shape == (3, CROP, CROP) and v0["heatmap"].dtype == torch.float32
        # view 0: the heatmap lines up with its image pixel for pixel (same file pixels, crop)
        assert torch.equal(v0["heatmap"], v0["image"])
        # view 1 gets the view-0 heatmap, framed by view 0's keypoints, not its own
        assert torch.equal(v1["heatmap"], v0["image"])
        assert not torch.equal(v1["heatmap"], v1["image"])
        assert v1["meta"]["heatmap"] == f"heatmaps/{name}_pain_1_heatmap.png"
        for neutral in _by(ds, identity=ident, expression="neutral"):
            assert torch.count_nonzero(neutral["heatmap"]) == 0
            assert neutral["heatmap"].shape == neutral["image"].shape
    assert collate([ds[i] for i in range(4)])["heatmap"].shape == (4, 3, CROP, CROP)


def test_heatmaps_are_read_only_when_asked(tmp_path):
    root = tmp_path / "ds"
    _write_manifest(root)
    assert "heatmap" not in split_dataset(root, "all", CROP)[0]


def test_heatmap_input_makes_the_heatmap_the_image_and_a_black_reference(tmp_path):
    root = tmp_path / "ds"
    _write_manifest(root)
    rgb = split_dataset(root, "all", CROP, heatmaps=True)
    hm = split_dataset(root, "all", CROP, input="heatmap")
    for i in range(len(rgb)):
        a, b = rgb[i], hm[i]
        assert torch.equal(b["image"], a["heatmap"])
        assert torch.count_nonzero(b["neutral"]) == 0 and b["neutral"].shape == a["neutral"].shape
        assert "heatmap" not in b
        assert float(b["pspi"]) == float(a["pspi"])


def test_a_missing_heatmap_is_an_error_naming_the_file(tmp_path):
    root = tmp_path / "ds"
    _write_manifest(root, with_heatmaps=False)
    ds = split_dataset(root, "all", CROP, heatmaps=True, include_neutral=False)
    with pytest.raises(DataError, match=r"heatmaps/flame_sample_0000_pain_1_heatmap\.png"):
        ds[0]


def test_published_layout_heatmaps_are_found_by_name_and_resized_like_the_image(tmp_path):
    from data_helpers import write_3dpain

    root = write_3dpain(tmp_path / "3dpain", n_ids=3, n_cfg=2, views=2)
    (root / "heatmaps").mkdir()
    files = sorted((root / "meshes_inpainted").iterdir())
    p = parse_names([f.name for f in files])
    for f, base, config, view in zip(files, p["base"], p["config"], p["view"], strict=True):
        if config and view == 0:
            shutil.copy(f, root / "heatmaps" / f"{base}_heatmap{f.suffix}")
    ds = split_dataset(root, "all", 8, heatmaps=True)
    seen = 0
    for s in (ds[i] for i in range(len(ds))):
        if s["meta"]["expression"] == "neutral":
            assert torch.count_nonzero(s["heatmap"]) == 0
            continue
        v0 = [x for x in (ds[i] for i in range(len(ds)))
              if x["meta"]["path"] != s["meta"]["path"] and x["meta"]["view"] == 0
              and x["subject"] == s["subject"] and x["meta"]["frame"] == s["meta"]["frame"]]
        ref = s if s["meta"]["view"] == 0 else v0[0]
        # same bytes, same decoding and resize: the heatmap equals the view-0 image
        assert torch.equal(s["heatmap"], ref["image"])
        seen += 1
    assert seen == 3 * 2 * 2


def test_hub_layout_heatmaps_are_read_from_their_shards(tmp_path):
    from data_helpers import published_files, write_hub, write_tar_gz

    root = write_hub(tmp_path / "hub", n_ids=3, n_cfg=2, views=1)
    images, _, _ = published_files(n_ids=3, n_cfg=2, views=1)
    p = parse_names(list(images))
    heat = {f"{b}_heatmap.png": images[n] for n, b, c in zip(images, p["base"], p["config"],
                                                             strict=True) if c}
    write_tar_gz(root / "heatmaps" / "heatmaps_00000.tar.gz", heat)
    ds = split_dataset(root, "all", 8, heatmaps=True)
    n_pain = 0
    for s in (ds[i] for i in range(len(ds))):
        if s["meta"]["expression"] == "neutral":
            assert torch.count_nonzero(s["heatmap"]) == 0
        else:
            assert s["meta"]["heatmap"].endswith("_heatmap.png")
            assert torch.equal(s["heatmap"], s["image"])  # same bytes, same decoding
            n_pain += 1
    assert n_pain == 3 * 2
