"""GpuAugment, the face-crop geometry, collate and worker loading."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from data_helpers import decode_colour, split_dataset

from pain3d.data import GpuAugment, collate, make_loader
from pain3d.data.align import (
    DEFAULT_GEOMETRY,
    alignment_matrix,
    crop_from_landmarks,
    face_keypoints,
)
from pain3d.data.augment import PRESETS

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def _img(b=4, s=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, s, s, generator=g)


def test_eval_mode_only_normalises_with_the_given_statistics():
    aug = GpuAugment("synthetic", MEAN, STD).eval()
    x = _img()
    y, n = aug(x, x[:, None].repeat(1, 2, 1, 1, 1))
    expected = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    torch.testing.assert_close(y, expected)
    torch.testing.assert_close(n[:, 1], expected)


def test_joint_augmentation_applies_the_same_transform_to_the_pair():
    x = _img(6)
    aug = GpuAugment("synthetic", MEAN, STD, joint=True, seed=0).train()
    y, n = aug(x, x.clone())
    torch.testing.assert_close(y, n)
    multi = x[:, None].repeat(1, 3, 1, 1, 1)
    y, n = GpuAugment("synthetic", MEAN, STD, joint=True, seed=1).train()(x, multi)
    for k in range(3):
        torch.testing.assert_close(n[:, k], y)


def test_independent_augmentation_differs_across_the_pair_and_is_seeded():
    x = _img(6)
    y1, n1 = GpuAugment("synthetic", MEAN, STD, seed=5).train()(x, x.clone())
    y2, n2 = GpuAugment("synthetic", MEAN, STD, seed=5).train()(x, x.clone())
    assert not torch.allclose(y1, n1)
    torch.testing.assert_close(y1, y2)
    torch.testing.assert_close(n1, n2)


def test_flip_only_mirrors_the_image():
    x = _img(8)
    aug = GpuAugment("none", (0, 0, 0), (1, 1, 1), seed=0, flip=1.0).train()
    y, _ = aug(x)
    torch.testing.assert_close(y, x.flip(-1), atol=1e-5, rtol=0)


def test_presets_hold_the_published_values():
    s, u = PRESETS["synthetic"], PRESETS["unbc"]
    assert (s.flip, s.rotation, s.translate, s.scale, s.blur_kernel) == (0.3, 5, 0.1,
                                                                         (0.9, 1.1), 3)
    assert (s.brightness, s.contrast, s.saturation, s.hue) == (0.3, 0.3, 0.2, 0.1)
    assert (u.flip, u.rotation, u.brightness, u.contrast) == (0.3, 15, 0.2, 0.2)


def test_geometric_preset_moves_pixels_but_never_changes_their_colours():
    g = PRESETS["geometric"]
    s = PRESETS["synthetic"]
    assert (g.flip, g.rotation, g.translate, g.scale) == (s.flip, s.rotation, s.translate,
                                                          s.scale)
    # A heatmap-like image: a few flat colour blocks. After geometric augmentation every
    # pixel well inside a block keeps exactly that block's colour (no jitter, no blur).
    x = torch.zeros(8, 3, 32, 32)
    colours = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    for i, c in enumerate(colours):
        x[:, :, :, i * 10:i * 10 + 10] = c.view(1, 3, 1, 1)
    y, _ = GpuAugment("geometric", (0, 0, 0), (1, 1, 1), seed=3).train()(x)
    assert not torch.allclose(y, x)  # it did move things
    pix = y.permute(0, 2, 3, 1).reshape(-1, 3)
    palette = torch.cat([colours, torch.zeros(1, 3)])
    nearest = torch.cdist(pix, palette).min(dim=1).values
    # interpolated edges are a small minority; most pixels are palette colours exactly
    assert (nearest < 1e-5).float().mean() > 0.8


def test_augmented_batch_dict_keeps_shapes_and_labels():
    batch = {"image": _img(2), "neutral": _img(2, seed=1), "pspi": torch.tensor([1.0, 2.0])}
    out = GpuAugment.from_preprocessing({"mean": MEAN, "std": STD, "size": 32}, "unbc").train()(
        batch)
    assert out["image"].shape == (2, 3, 32, 32) and out["neutral"].shape == (2, 3, 32, 32)
    assert out["pspi"] is batch["pspi"] and torch.isfinite(out["image"]).all()


def test_face_keypoints_are_mapped_to_the_canonical_geometry_for_every_scheme():
    rng = np.random.default_rng(0)
    canon = DEFAULT_GEOMETRY.keypoints(100)
    for n in (66, 68, 468, 478):
        pts = rng.uniform(0, 200, size=(n, 3))
        a = np.deg2rad(20)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        # place the keypoints where a rotated, scaled, shifted canonical face would be
        target = (canon - 50) @ rot.T * 1.7 + [120, 90]
        k = face_keypoints(pts)
        pts[:, :2] += 0  # keep the scheme's own subsets; shift them to the targets below
        for j, idx in enumerate(_subsets(n)):
            pts[idx, :2] += target[j] - k[j]
        m = alignment_matrix(pts, 100)
        mapped = face_keypoints(pts) @ m[:, :2].T + m[:, 2]
        np.testing.assert_allclose(mapped, canon, atol=1e-6)
    with pytest.raises(ValueError, match="supported schemes"):
        face_keypoints(np.zeros((10, 2)))


def _subsets(n):
    from pain3d.face import landmarks as L

    if n in (66, 68):
        return [list(L.IBUG_EYE_R), list(L.IBUG_EYE_L), list(range(48, n))]
    if n == 478:
        return [[L.IRIS_R], [L.IRIS_L], list(L.MOUTH_KEYPOINT)]
    return [list(L.EYE_KEYPOINT_R), list(L.EYE_KEYPOINT_L), list(L.MOUTH_KEYPOINT)]


def test_crop_keeps_dtype_and_size():
    img = np.full((50, 60, 3), 7, np.uint8)
    pts = np.random.default_rng(1).uniform(10, 40, (68, 2))
    out = crop_from_landmarks(img, pts, size=24)
    assert out.shape == (24, 24, 3) and out.dtype == np.uint8 and (out == 7).all()


def test_collate_stacks_samples(folder_ds):
    ds = split_dataset(folder_ds, "train", 8)
    b = collate([ds[0], ds[1], ds[2]])
    assert b["image"].shape == (3, 3, 8, 8) and b["neutral"].shape == (3, 3, 8, 8)
    assert b["au"].shape == (3, 6) and b["pspi"].shape == (3,) and len(b["meta"]) == 3


def test_two_workers_read_hub_shards_with_per_worker_handles(hub_ds, tmp_path):
    ds = split_dataset(hub_ds, "all", 8, cache_dir=tmp_path / "c")
    loader = make_loader(ds, 8, train=False, num_workers=2)
    seen = 0
    for batch in loader:
        for img, m in zip(batch["image"], batch["meta"], strict=True):
            assert decode_colour(img)[:2] == (m["identity"], m["frame"])
            seen += 1
    assert seen == len(ds)


def test_colour_jitter_matches_the_step_by_step_definition_away_from_clipping():
    x = 0.3 + 0.4 * _img(5)
    aug = GpuAugment("none", seed=0, brightness=0.2, contrast=0.2, saturation=0.3).train()
    p = aug.sample_params(5)
    y = aug.apply(x, p)
    grey = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    v = (1, 1, 1)
    z = x * p["brightness"].view(-1, *v)
    m = (z * grey).sum(1, keepdim=True).mean(dim=(2, 3), keepdim=True)
    z = (z - m) * p["contrast"].view(-1, *v) + m
    g = (z * grey).sum(1, keepdim=True)
    z = ((z - g) * p["saturation"].view(-1, *v) + g).clamp(0, 1)
    torch.testing.assert_close(y, z, atol=1e-5, rtol=0)


def test_hue_and_saturation_leave_grey_images_grey():
    x = _img(4)[:, :1].repeat(1, 3, 1, 1)
    y = GpuAugment("none", seed=1, saturation=0.5, hue=0.5).train().apply(
        x, GpuAugment("none", seed=1, saturation=0.5, hue=0.5).sample_params(4))
    torch.testing.assert_close(y, x, atol=1e-5, rtol=0)


def test_separable_blur_equals_kornia_gaussian_blur():
    import kornia

    from pain3d.data.augment import gaussian_blur

    x = _img(3, 20)
    sigma = torch.tensor([0.3, 1.0, 2.0])
    ref = kornia.filters.gaussian_blur2d(x, (3, 3), sigma.view(3, 1).expand(3, 2).contiguous())
    torch.testing.assert_close(gaussian_blur(x, 3, sigma), ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(gaussian_blur(x, 5, torch.zeros(3)), x)


def test_augmentation_in_workers_keeps_images_in_unit_range(folder_ds):
    from pain3d.data.augment import AugmentCollate

    ds = split_dataset(folder_ds, "train", 16)
    aug = GpuAugment("synthetic", seed=0, normalize=False)
    batch = next(iter(make_loader(ds, 4, train=False, collate=AugmentCollate(aug))))
    assert batch["image"].shape == (4, 3, 16, 16) and batch["neutral"].shape == (4, 3, 16, 16)
    assert 0 <= float(batch["image"].min()) and float(batch["image"].max()) <= 1


def test_fast_affine_grid_equals_torch():
    from pain3d.data.augment import affine_grid

    theta = torch.eye(2, 3).expand(3, 2, 3) + 0.1 * torch.randn(3, 2, 3)
    ref = torch.nn.functional.affine_grid(theta, [3, 3, 7, 9], align_corners=True)
    torch.testing.assert_close(affine_grid(theta, 7, 9), ref, atol=1e-6, rtol=0)
