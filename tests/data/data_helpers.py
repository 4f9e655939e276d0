"""Tiny fixtures in every layout the data readers support.

Pixels encode the labels they belong to, so a test can check that a sample's image, its
labels and its reference belong together: a solid colour with
R = 20 * identity + 10, G = 20 * config + 10 (0 = neutral), B = 60 * view + 10.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from pain3d.facs import pspi

SIDE = 12


def colour(identity: int, config: int, view: int) -> tuple[int, int, int]:
    return (20 * identity + 10, 20 * config + 10, 60 * view + 10)


def decode_colour(img) -> tuple[int, int, int]:
    """(identity, config, view) from an image tensor (3, H, W) in [0, 1] or uint8 (loader
    batches), or an (H, W, 3) uint8 array."""
    a = np.asarray(img)
    unit = a.dtype != np.uint8
    a = a.astype(np.float64)
    if a.ndim == 3 and a.shape[0] == 3:
        a = a.transpose(1, 2, 0) * (255.0 if unit else 1.0)
    r, g, b = a.reshape(-1, 3).mean(axis=0)
    return int(round((r - 10) / 20)), int(round((g - 10) / 20)), int(round((b - 10) / 60))


def encode(identity: int, config: int, view: int, fmt: str = "PNG", side: int = SIDE) -> bytes:
    arr = np.zeros((side, side, 3), np.uint8)
    arr[:] = colour(identity, config, view)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, quality=95) if fmt == "JPEG" else \
        Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def aus_for(identity: int, config: int) -> list[float]:
    """Deterministic valid AUs (FACS 0..5, AU43 0/1) for a pain configuration."""
    rng = np.random.default_rng([identity, config])
    a = rng.integers(0, 6, size=6).astype(float)
    a[5] = float(rng.integers(0, 2))
    if config and a.sum() == 0:
        a[0] = 1.0
    return a.tolist()


def image_name(identity: int, config: int, view: int, style: int = 0) -> str:
    expr = f"pain_{config}" if config else "neutral"
    base = f"flame_sample_{identity:04d}_{expr}"
    styles = [f"{base}_textured_view_{view:03d}_inpainted.jpg", f"{base}_view_{view}.png",
              f"{base}_bg_view_{view:02d}_render.jpeg"]
    return styles[style % len(styles)]


def published_files(n_ids: int = 6, n_cfg: int = 3, views: int = 2
                    ) -> tuple[dict[str, bytes], dict[str, bytes], str]:
    """(images, annotations, split CSV text) of a tiny published-style dataset."""
    images: dict[str, bytes] = {}
    anns: dict[str, bytes] = {}
    rows = ["annotation_base_name,split"]
    for i in range(n_ids):
        split = 0 if i < n_ids - 2 else (1 if i == n_ids - 2 else 2)
        for c in range(n_cfg + 1):
            for v in range(views):
                name = image_name(i, c, v, style=i + c)
                fmt = "JPEG" if name.endswith((".jpg", ".jpeg")) else "PNG"
                images[name] = encode(i, c, v, fmt)
            if c:
                base = f"flame_sample_{i:04d}_pain_{c}"
                a = aus_for(i, c)
                obj = dict(zip(["AU4", "AU6", "AU7", "AU9", "AU10", "AU43"], a, strict=True))
                if c % 2:
                    obj["PSPI"] = pspi(a)
                anns[f"{base}_annotations.json"] = json.dumps(obj).encode()
                rows.append(f"{base},{split}")
    return images, anns, "\n".join(rows) + "\n"


def write_3dpain(root: Path, **kw) -> Path:
    images, anns, split = published_files(**kw)
    (root / "meshes_inpainted").mkdir(parents=True)
    (root / "annotations").mkdir()
    for n, b in images.items():
        (root / "meshes_inpainted" / n).write_bytes(b)
    for n, b in anns.items():
        (root / "annotations" / n).write_bytes(b)
    (root / "splits.csv").write_text(split)
    return root


def write_tar_gz(path: Path, members: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def write_hub(root: Path, shards: int = 2, **kw) -> Path:
    images, anns, split = published_files(**kw)
    for folder, members in (("images", images), ("annotations", anns)):
        names = sorted(members)
        for s in range(shards):
            part = {n: members[n] for n in names[s::shards]}
            write_tar_gz(root / folder / f"{folder}_{s:05d}.tar.gz", part)
        (root / folder / "README.txt").write_text(f"{folder} shards\n")
    (root / "splits.csv").write_text(split)
    return root


def split_dataset(root: Path, split: str = "all", size: int | None = 8,
                  policy: str = "same-identity", *, include_neutral: bool = True,
                  heatmaps: bool = False, n: int = 1, view: str = "same", seed: int = 0,
                  deterministic: bool = False, **data):
    """The samples of one split (``all``: every row) of a dataset, opened the one way
    (``open_data``); ``data`` are further ``DataConfig`` fields (``cache_dir``, ...)."""
    from pain3d.data import DataConfig, open_data

    opened = open_data(DataConfig(root=str(root), **{k: (str(v) if isinstance(v, Path) else v)
                                                     for k, v in data.items()}))
    rows = opened.rows(split=None if split == "all" else split, include_neutral=include_neutral)
    return opened.dataset(rows, size, policy, n=n, view=view, seed=seed,
                          deterministic=deterministic, heatmaps=heatmaps)
