"""Pixels of training samples: encoded bytes (or stored arrays) in, (S, S, 3) uint8 RGB out.

Two framings, both used by :class:`pain3d.data.dataset.PainDataset`:

- the whole image (:func:`decode_image`): centre-cropped to a square and resized to ``S``;
- the face crop (:func:`decode_face_crop`): the inference crop geometry
  (:func:`pain3d.data.align.alignment_matrix`) from the image's three face keypoints.

Why it is written this way (``docs/inference.md``, "Training data"):

- JPEG and 8-bit PNG are decoded by OpenCV straight into a numpy array. The pixels are the
  ones Pillow gives (both use libjpeg-turbo's default islow IDCT and fancy upsampling, and
  libpng; ``tests/data/test_images.py`` checks it), but Pillow's array export copies the
  decoded image twice and cost more than the decoding itself. Everything else (CMYK JPEG,
  16-bit PNG, WebP, BMP, TIFF, ...) goes through Pillow as before.
- JPEGs are decoded at a reduced DCT scale (libjpeg's 1/2, 1/4, 1/8; Pillow calls it
  ``draft``) when the output needs no more pixels than that: for a whole image when the
  reduced image still covers ``S`` (Pillow's rule), for a face crop when the crop samples
  the image at most every second (fourth, eighth) pixel. The DCT scaling is itself the
  low-pass such a shrink needs. Face crops of 512 px renders at 224 px sample about every
  1.8th pixel and are decoded in full; 1024 px renders are decoded at half scale.
- Nothing here converts to float: samples stay uint8 until the training device (see
  :func:`pain3d.data.loader.make_loader`).

OpenCV is used single-threaded here (decoding and one ``warpAffine`` of a small crop spawn
no threads), which keeps it safe in forked DataLoader workers (see ``pain3d.data.loader``).
"""

from __future__ import annotations

import io

import numpy as np

from pain3d.data.common import DataError

REDUCTIONS = (8, 4, 2, 1)
"""The DCT scalings libjpeg decodes at cheaply (1/8 .. 1/1), largest first."""

_JPEG = b"\xff\xd8\xff"
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def jpeg_frame(data: bytes) -> tuple[int, int, int, int] | None:
    """(bits per sample, height, width, components) from a JPEG's frame header (SOFn marker)
    without decoding, or None when ``data`` is not a JPEG or has no frame header."""
    if data[:3] != _JPEG:
        return None
    i, n = 2, len(data)
    while i + 9 < n and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker in _SOF:
            return (data[i + 4], int.from_bytes(data[i + 5:i + 7], "big"),
                    int.from_bytes(data[i + 7:i + 9], "big"), data[i + 9])
        elif marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            i += 2
        else:
            i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


def _opencv_format(data: bytes) -> str | None:
    """``jpeg`` or ``png`` when OpenCV decodes ``data`` exactly as Pillow would, else None."""
    if data[:3] == _JPEG:
        # 8-bit grey, YCbCr or RGB; CMYK / YCCK (4 components) and 12-bit JPEGs: Pillow
        frame = jpeg_frame(data)
        return "jpeg" if frame is not None and frame[0] == 8 and frame[3] in (1, 3) else None
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 25 and data[12:16] == b"IHDR":
        return "png" if data[24] == 8 else None  # bit depth 8 (16-bit PNGs: Pillow)
    return None


def decode(data: bytes, where: str, reduction: int = 1) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an encoded image, JPEGs at 1/``reduction`` scale.

    Args:
        data: the file's bytes (JPEG, PNG or anything Pillow reads).
        where: the file or member, for the error message.
        reduction: 1, 2, 4 or 8: JPEGs are decoded at ``ceil(side / reduction)`` pixels by
            DCT scaling; other formats ignore it (their pixels are returned in full).

    Raises:
        DataError: naming ``where`` when the bytes are not a decodable image.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction}")
    kind = _opencv_format(data)
    if kind is not None:
        import cv2

        # EXIF orientation is ignored, as Pillow's plain decode does.
        flags = cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION
        if kind == "jpeg" and reduction > 1:
            flags |= {2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
                      8: cv2.IMREAD_REDUCED_GRAYSCALE_8}[reduction]
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
        if arr is not None:
            return arr
    return _decode_pillow(data, where, reduction)


def _decode_pillow(data: bytes, where: str, reduction: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            if reduction > 1 and im.format == "JPEG":
                # Pillow reduces by the largest a <= min(W // w, H // h): ask for W // a
                im.draft("RGB", (max(im.width // reduction, 1), max(im.height // reduction, 1)))
            return np.array(im.convert("RGB"))  # writable, so torch.from_numpy needs no copy
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{where}: not a readable image ({exc.__class__.__name__}: {exc})"
                        ) from exc


def whole_reduction(width: int, height: int, size: int) -> int:
    """The DCT reduction that still covers ``size`` x ``size`` (Pillow's ``draft`` rule)."""
    scale = min(width // size, height // size)
    return next((a for a in REDUCTIONS if scale >= a), 1)


def crop_reduction(scale: float) -> int:
    """The largest DCT reduction at which a crop that samples the image every ``1 / scale``
    pixels still finds at least one decoded pixel per crop pixel (1 when ``scale > 1/2``)."""
    return next((a for a in REDUCTIONS if scale * a <= 1.0 + 1e-9), 1)


def to_rgb_square(arr: np.ndarray, size: int | None) -> np.ndarray:
    """Centre-crop to a square (when not square) and resize to ``size``.

    Resizing uses Pillow (antialiased bilinear), which keeps OpenCV's thread pool out of the
    per-sample path of DataLoader workers (see ``pain3d.data.loader``).

    Args:
        arr: (H, W, 3) uint8 RGB.
        size: output side, or None to keep the image as it is.
    """
    if size is None:
        return arr
    h, w = arr.shape[:2]
    if h != w:
        s = min(h, w)
        y0, x0 = (h - s) // 2, (w - s) // 2
        arr = arr[y0:y0 + s, x0:x0 + s]
    if arr.shape[0] != size:
        from PIL import Image

        arr = np.array(Image.fromarray(np.ascontiguousarray(arr)).resize(
            (size, size), Image.Resampling.BILINEAR))
    return np.ascontiguousarray(arr)


def decode_image(data: bytes | np.ndarray, size: int | None, where: str) -> np.ndarray:
    """The whole image as (size, size, 3) uint8 RGB (centre square, resized), or as stored
    when ``size`` is None. ``data``: encoded bytes or an (H, W[, 3|4]) array.

    JPEGs much larger than ``size`` are decoded at a reduced DCT scale
    (:func:`whole_reduction`), several times faster than a full decode and a resize.

    Raises:
        DataError: naming ``where`` when the bytes are not a decodable image.
    """
    if isinstance(data, np.ndarray):
        arr = data
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise DataError(f"{where}: image array has shape {arr.shape}, expected (H, W, 3)")
        return to_rgb_square(np.ascontiguousarray(arr[..., :3], dtype=np.uint8), size)
    frame = jpeg_frame(data) if size is not None else None
    reduction = whole_reduction(frame[2], frame[1], size) if frame else 1
    return to_rgb_square(decode(data, where, reduction), size)


def decode_face_crop(data: bytes | np.ndarray, keypoints: np.ndarray, size: int, where: str,
                     draft: bool = True) -> np.ndarray:
    """(size, size, 3) uint8 RGB face crop of an encoded image (or an array) from its (3, 2)
    keypoints (right eye, left eye, mouth; pixels of the stored image).

    With ``draft`` a JPEG is decoded at the largest DCT reduction the crop's scale allows
    (:func:`crop_reduction`) and the crop is taken from the reduced image; it then differs
    from the full decode's by JPEG-noise-sized amounts (``tests/data/test_images.py``).
    Without a reduction (``draft=False``, or crops that need every pixel) the pixels are
    exactly :func:`face_crop`'s of the fully decoded image.
    """
    from pain3d.data.align import alignment_matrix

    m = alignment_matrix(keypoints, size)
    if isinstance(data, np.ndarray):
        return _warp(decode_image(data, None, where), m, size)
    reduction = crop_reduction(_scale(m)) if draft and data[:3] == _JPEG else 1
    if reduction > 1:
        # Decoded pixel j covers full-resolution pixels [a j, a j + a): in the pixel-index
        # coordinates cv2.warpAffine uses, full x = a * reduced x + (a - 1) / 2.
        a, c = float(reduction), (reduction - 1) / 2
        m = np.concatenate([m[:, :2] * a, (m[:, :2].sum(axis=1) * c + m[:, 2])[:, None]], 1)
    return _warp(decode(data, where, reduction), m, size)


def face_crop(image: np.ndarray, keypoints: np.ndarray, size: int) -> np.ndarray:
    """(size, size, 3) uint8 face crop of a whole (H, W, 3) image from its (3, 2) keypoints,
    with the inference crop geometry (:func:`pain3d.infer.align.align_face`: low-pass before
    a strong shrink, then :func:`pain3d.data.align.crop_from_landmarks`' warp)."""
    from pain3d.data.align import alignment_matrix

    return _warp(image, alignment_matrix(keypoints, size), size)


def _scale(m: np.ndarray) -> float:
    return float(np.hypot(m[0, 0], m[0, 1]))


def _warp(image: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """``crop_from_landmarks``' warp by the (2, 3) image-to-crop matrix ``m``, after a
    low-pass when ``m`` shrinks more than twofold (as :func:`pain3d.infer.align.align_face`)."""
    import cv2

    scale = _scale(m)
    if scale < 0.5:  # low-pass so the linear resample does not alias
        image = cv2.GaussianBlur(image, (0, 0), sigmaX=0.3 / scale)
    return cv2.warpAffine(np.ascontiguousarray(image), m, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
