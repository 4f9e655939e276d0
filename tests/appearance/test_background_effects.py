"""Backgrounds and camera effects."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pain3d.appearance import (
    CameraEffects,
    camera_effects,
    photo_background,
    procedural_background,
    sample_effects,
)


def test_procedural_background_is_seeded_and_sized():
    a = procedural_background(np.random.default_rng(1), (64, 48))
    b = procedural_background(np.random.default_rng(1), (64, 48))
    c = procedural_background(np.random.default_rng(2), (64, 48))
    assert a.shape == (48, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_photo_background_crops_a_photo_from_the_folder(tmp_path):
    img = np.zeros((120, 200, 3), np.uint8)
    img[:, :100] = (255, 0, 0)  # left half pure blue in BGR
    cv2.imwrite(str(tmp_path / "room.png"), img)
    bg = photo_background(tmp_path, np.random.default_rng(0), 32, blur=(0, 0))
    assert bg.shape == (32, 32, 3)
    assert bg[..., 2].max() > 200 and bg[..., 0].max() < 30  # blue survives as RGB blue


def test_photo_background_names_the_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing_here"):
        photo_background(tmp_path / "nothing_here", np.random.default_rng(0), 16)
    with pytest.raises(FileNotFoundError, match="no photos"):
        photo_background(tmp_path, np.random.default_rng(0), 16)


def test_neutral_effects_leave_the_image_unchanged():
    img = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert np.array_equal(camera_effects(img, CameraEffects(), np.random.default_rng(0)), img)


def test_exposure_brightens_and_noise_changes_pixels():
    img = np.full((16, 16, 3), 100, np.uint8)
    rng = np.random.default_rng(0)
    bright = camera_effects(img, CameraEffects(exposure=1.0), rng)
    noisy = camera_effects(img, CameraEffects(noise=5.0), rng)
    assert bright.mean() > 120
    assert noisy.std() > 1 and abs(noisy.mean() - 100) < 2
    jpeg = camera_effects(img, CameraEffects(jpeg_quality=50), rng, jpeg_roundtrip=True)
    assert jpeg.shape == img.shape


def test_sampled_effects_are_valid_and_zero_strength_is_neutral():
    for s in range(20):
        sample_effects(np.random.default_rng(s))  # validated in __post_init__
    e = sample_effects(np.random.default_rng(0), strength=0.0)
    assert (e.exposure, e.blur, e.noise, e.vignette) == (0.0, 0.0, 0.0, 0.0)


def test_effects_reject_out_of_range_values():
    with pytest.raises(ValueError, match="jpeg_quality"):
        CameraEffects(jpeg_quality=0)


def _plain_effects(img: np.ndarray, e: CameraEffects, rng: np.random.Generator) -> np.ndarray:
    """camera_effects written with plain numpy (per-channel table lookup, broadcast gain)."""
    from pain3d.appearance.effects import _noise_tile, _tone_lut, _vignette

    gain = 2.0 ** e.exposure
    lut = _tone_lut(round(gain * e.wb_red, 3), round(gain, 3), round(gain * e.wb_blue, 3))
    out = np.stack([lut[0, img[..., k], k] for k in range(3)], -1)
    if e.blur >= 0.3:
        out = cv2.GaussianBlur(out, (0, 0), e.blur)
    h, w = out.shape[:2]
    f = out.astype(np.float32) * _vignette(h, w, round(e.vignette, 3))[..., None]
    y0, x0 = int(rng.integers(0, 1024 - h + 1)), int(rng.integers(0, 1024 - w + 1))
    f += np.float32(e.noise) * _noise_tile()[y0:y0 + h, x0:x0 + w]
    return np.clip(np.rint(np.abs(f)), 0, 255).astype(np.uint8)


def test_camera_effects_equal_the_plain_formulas():
    img = np.random.default_rng(3).integers(0, 256, (96, 80, 3), dtype=np.uint8)
    for s in range(12):
        e = sample_effects(np.random.default_rng(s), strength=2.0)
        e = CameraEffects(**{**e.__dict__, "vignette": max(e.vignette, 0.05),
                             "noise": max(e.noise, 0.5)})
        got = camera_effects(img, e, np.random.default_rng(s))
        assert np.array_equal(got, _plain_effects(img, e, np.random.default_rng(s))), e
