"""Decoding training images: OpenCV gives Pillow's pixels, draft decoding stays close to the
full decode and puts the face where the crop geometry says, uint8 samples equal float ones."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from pain3d.data.align import DEFAULT_GEOMETRY
from pain3d.data.common import DataError
from pain3d.data.images import (
    crop_reduction,
    decode,
    decode_face_crop,
    decode_image,
    face_crop,
    jpeg_frame,
)


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A photo-like test image: smooth colour fields, fine texture and hard edges."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 32 + 1, w // 32 + 1, 3), dtype=np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float64)
    img += cv2.GaussianBlur(rng.normal(0, 25, (h, w, 3)), (0, 0), 1.5)
    for _ in range(12):
        x, y = rng.integers(0, w), rng.integers(0, h)
        cv2.circle(img, (int(x), int(y)), int(rng.integers(5, h // 6)),
                   tuple(float(c) for c in rng.integers(0, 256, 3)), 2)
    return np.clip(img, 0, 255).astype(np.uint8)


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _pillow(data: bytes, reduction: int = 1) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        if reduction > 1:
            im.draft("RGB", (im.width // reduction, im.height // reduction))
        return np.array(im.convert("RGB"))


def _variants() -> dict[str, bytes]:
    im = Image.fromarray(_texture(100, 120))
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90": Pillow's plain decode ignores it, and so must we
    return {
        "jpeg 4:2:0": _encode(im, "JPEG", quality=90),
        "jpeg 4:4:4": _encode(im, "JPEG", quality=90, subsampling=0),
        "jpeg progressive": _encode(im, "JPEG", quality=85, progressive=True),
        "jpeg grey": _encode(im.convert("L"), "JPEG"),
        "jpeg cmyk": _encode(im.convert("CMYK"), "JPEG"),
        "jpeg exif-rotated": _encode(im, "JPEG", exif=exif.tobytes()),
        "png rgb": _encode(im, "PNG"),
        "png rgba": _encode(im.convert("RGBA"), "PNG"),
        "png palette": _encode(im.convert("P"), "PNG"),
        "png grey": _encode(im.convert("L"), "PNG"),
        "png 16-bit": _encode(Image.fromarray(np.arange(12000, dtype=np.uint16).reshape(100, 120)
                                              * 5), "PNG"),
        "webp": _encode(im, "WEBP", lossless=True),
    }


@pytest.mark.parametrize("name", list(_variants()))
def test_decoding_gives_pillows_pixels_for_every_format(name):
    data = _variants()[name]
    for reduction in (1, 2, 4, 8) if name.startswith("jpeg") else (1,):
        got = decode(data, name, reduction)
        want = _pillow(data, reduction)
        assert got.dtype == np.uint8 and got.shape == want.shape, (name, reduction)
        np.testing.assert_array_equal(got, want, err_msg=f"{name} at 1/{reduction}")


def test_whole_images_are_decoded_as_pillows_draft_then_resize():
    img = Image.fromarray(_texture(512, 600))
    data = _encode(img, "JPEG", quality=90)
    assert jpeg_frame(data) == (8, 512, 600, 3)
    for size in (224, 100, 48, 700):
        with Image.open(io.BytesIO(data)) as im:  # what decode_image did with Pillow alone
            im.draft("RGB", (size, size))
            arr = np.array(im.convert("RGB"))
        s = min(arr.shape[:2])
        y0, x0 = (arr.shape[0] - s) // 2, (arr.shape[1] - s) // 2
        want = np.array(Image.fromarray(np.ascontiguousarray(arr[y0:y0 + s, x0:x0 + s])).resize(
            (size, size), Image.Resampling.BILINEAR))
        np.testing.assert_array_equal(decode_image(data, size, "x"), want, err_msg=str(size))


def test_unreadable_bytes_raise_a_data_error_naming_the_file():
    with pytest.raises(DataError, match="broken.jpg: not a readable image"):
        decode(b"\xff\xd8\xff\xe0 definitely not a jpeg", "broken.jpg")
    with pytest.raises(DataError, match="x.png"):
        decode_image(b"nothing", 32, "x.png")


def test_crop_reduction_keeps_at_least_one_decoded_pixel_per_crop_pixel():
    # scale = crop pixels per image pixel; 512 px renders cropped to 224 px sit at 0.51-0.66
    assert [crop_reduction(s) for s in (1.4, 0.66, 0.51, 0.5, 0.3, 0.25, 0.2, 0.1, 0.01)] == \
        [1, 1, 1, 2, 2, 4, 4, 8, 8]


def _dot_image(side: int, kp: np.ndarray) -> np.ndarray:
    img = np.full((side, side, 3), 128, np.uint8)
    for (x, y), c in zip(kp, ((255, 0, 0), (0, 255, 0), (0, 0, 255)), strict=True):
        cv2.circle(img, (int(round(x * 16)), int(round(y * 16))), 16 * side // 40, c, -1,
                   lineType=cv2.LINE_AA, shift=4)
    return img


def _dots(img: np.ndarray) -> np.ndarray:
    out = []
    for ch in range(3):
        others = [k for k in range(3) if k != ch]
        w = np.clip(img[..., ch].astype(float) - img[..., others].astype(float).max(-1) - 60,
                    0, None)
        ys, xs = np.mgrid[: img.shape[0], : img.shape[1]]
        out.append([(w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()])
    return np.array(out)


@pytest.mark.parametrize("side,reduction", [(800, 2), (1600, 4)])
def test_draft_face_crop_puts_the_keypoints_at_the_canonical_positions(side, reduction):
    size = 96
    a = np.radians(12)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    canon = DEFAULT_GEOMETRY.keypoints(1.0) - 0.5
    kp = canon @ rot.T * (0.3 * side) + np.array([0.47, 0.52]) * side
    data = _encode(Image.fromarray(_dot_image(side, kp)), "JPEG", quality=95)
    from pain3d.data.align import alignment_matrix

    m = alignment_matrix(kp, size)
    assert crop_reduction(float(np.hypot(m[0, 0], m[0, 1]))) == reduction
    want = DEFAULT_GEOMETRY.keypoints(size)
    for draft in (True, False):
        crop = decode_face_crop(data, kp, size, "dots.jpg", draft=draft)
        np.testing.assert_allclose(_dots(crop), want, atol=0.1, err_msg=f"draft={draft}")


def test_draft_face_crop_differs_from_the_full_decode_by_jpeg_noise_only():
    side, size = 1024, 224
    img = _texture(side, side, seed=3)
    data = _encode(Image.fromarray(img), "JPEG", quality=90)
    kp = DEFAULT_GEOMETRY.keypoints(1.0) * 0.8 * side + 0.1 * side  # scale ~0.27: reduction 2
    full = decode_face_crop(data, kp, size, "x", draft=False)
    np.testing.assert_array_equal(full, face_crop(decode(data, "x"), kp, size))
    draft = decode_face_crop(data, kp, size, "x")
    diff = np.abs(draft.astype(np.int16) - full.astype(np.int16))
    # JPEG's own error (q90) on this harsh image (thin lines shrunk 3.7x) is the yardstick.
    jpeg = np.abs(face_crop(img, kp, size).astype(np.int16) - full.astype(np.int16))
    assert 0 < diff.mean() < min(1.5, jpeg.mean()), (diff.mean(), jpeg.mean())
    assert np.percentile(diff, 99) <= 2 * np.percentile(jpeg, 99)


def _manifest(root) -> None:
    """2 identities x (neutral, pain_1) of textured JPEGs with face keypoints."""
    import pandas as pd

    from pain3d.face.landmarks import KEYPOINT_COLUMNS
    from pain3d.facs import AU_NAMES

    (root / "meshes_inpainted").mkdir(parents=True)
    rows = []
    for ident in range(2):
        for k, (expr, aus) in enumerate((("neutral", [0.0] * 6), ("pain_1", [2.0] + [0.0] * 5))):
            rel = f"meshes_inpainted/flame_sample_{ident:04d}_{expr}_textured_view_000.jpg"
            (root / rel).write_bytes(_encode(Image.fromarray(_texture(160, 160, 2 * ident + k)),
                                             "JPEG", quality=90))
            kp = DEFAULT_GEOMETRY.keypoints(1.0) * 90 + 30 + k
            rows.append({"path": rel, "identity": ident, "expression": expr, "view": 0,
                         "split": "train", **dict(zip(AU_NAMES, aus, strict=True)),
                         "PSPI": aus[0], **dict(zip(KEYPOINT_COLUMNS, kp.reshape(-1),
                                                    strict=True))})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)


@pytest.mark.parametrize("face_crop", [True, False])
def test_uint8_samples_scale_to_the_float_samples_bit_for_bit(tmp_path, face_crop):
    from data_helpers import split_dataset

    from pain3d.data import GpuAugment, make_loader
    from pain3d.data.augment import to_unit

    _manifest(tmp_path / "ds")
    f32 = split_dataset(tmp_path / "ds", "all", 40, cache_dir=tmp_path / "c",
                        face_crop=face_crop)
    u8 = f32.with_pixels("uint8")
    aug = GpuAugment("synthetic", seed=0).eval()
    for i in range(len(f32)):
        a, b = f32[i], u8[i]
        for k in ("image", "neutral"):
            assert a[k].dtype == torch.float32 and b[k].dtype == torch.uint8
            assert torch.equal(to_unit(b[k]), a[k])
        for x, y in zip(aug(a["image"][None], a["neutral"][None]),
                        aug(b["image"][None], b["neutral"][None]), strict=True):
            assert torch.equal(x, y)
    # The loader asks for uint8 by default; float32 on request; same pixels either way.
    batch = next(iter(make_loader(f32, 4, train=False)))
    ref = next(iter(make_loader(f32, 4, train=False, pixels="float32")))
    assert batch["image"].dtype == torch.uint8 and ref["image"].dtype == torch.float32
    assert torch.equal(to_unit(batch["image"]), ref["image"])
    assert torch.equal(to_unit(batch["neutral"]), ref["neutral"])
