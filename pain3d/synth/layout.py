"""Where every file of a dataset goes, and deterministic tar.gz shards for the hub layout.

Loose paths (relative to the dataset root) follow the layout the published 3DPain training
code reads (FORMATS.md section 2)::

    meshes_inpainted/flame_sample_0007_pain_3_textured_view_001_inpainted.jpg
    annotations/flame_sample_0007_pain_3_annotations.json      (pain configurations only)
    heatmaps/flame_sample_0007_pain_3_heatmap.png               (one per pain configuration)
    textured_meshes/flame_sample_0007/flame_sample_0007.obj     (+ .mtl, .png texture)
    masks/<image stem>_mask.png, depth/<image stem>_depth.png    (optional extras)
    source_photos/flame_sample_0007.jpg       (photo identities: the raw photo, provenance)

The hub layout packs the same files, under the same member names (without the folder),
into ``<folder>/<folder>_00000.tar.gz`` shards of ``shard_identities`` identities each, plus a
``README.txt`` per folder. With ``layout="both"`` the hub folders live under ``hub/``. The
extras (masks, depth maps, source photos) stay loose files in every layout.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

from pain3d.io import atomic_path
from pain3d.synth.config import GenerateConfig
from pain3d.synth.spec import IdentitySpec, SampleSpec, UnitSpec, identity_name

IMAGES_DIR = "meshes_inpainted"
SOURCE_PHOTOS_DIR = "source_photos"
HUB_FOLDERS: tuple[str, ...] = ("images", "annotations", "heatmaps", "textured_meshes")
MESH_SUFFIXES: tuple[str, ...] = (".obj", ".mtl", ".png")
STATE_DIR = ".pain3d"  # completion records and staging; not part of the dataset
CHECKSUMS = "SHA256SUMS"  # `sha256sum -c SHA256SUMS` checks every dataset file
RUN_LOG = "run_log.jsonl"  # the only file whose bytes depend on the run (times, workers)

# Images and PNGs barely compress; a low level saves CPU at no cost in size.
_GZIP_LEVEL = {"images": 1, "heatmaps": 1, "annotations": 6, "textured_meshes": 6}


def image_path(s: SampleSpec) -> str:
    return f"{IMAGES_DIR}/{s.name}.jpg"


def annotation_path(s: SampleSpec) -> str:
    return f"annotations/{s.base_name}_annotations.json"


def heatmap_path(s: SampleSpec) -> str:
    return f"heatmaps/{s.base_name}_heatmap.png"


def mask_path(s: SampleSpec) -> str:
    return f"masks/{s.name}_mask.png"


def depth_path(s: SampleSpec) -> str:
    return f"depth/{s.name}_depth.png"


def source_photo_path(identity: IdentitySpec) -> str:
    """The raw photo of a photo identity, kept in the dataset: ``source_photos/<name><ext>``
    (the photo file's own extension, lower case)."""
    suffix = Path(identity.photo or "").suffix.lower() or ".jpg"
    return f"{SOURCE_PHOTOS_DIR}/{identity.name}{suffix}"


def mesh_paths(identity: int) -> list[str]:
    name = identity_name(identity)
    return [f"textured_meshes/{name}/{name}{suffix}" for suffix in MESH_SUFFIXES]


def unit_paths(cfg: GenerateConfig, unit: UnitSpec) -> dict[str, list[str]]:
    """Loose paths of one unit's files, grouped by hub folder, in their fixed order."""
    out: dict[str, list[str]] = {k: [] for k in HUB_FOLDERS}
    out["images"] = [image_path(s) for s in unit.samples]
    out["annotations"] = [annotation_path(s) for s in unit.heatmaps]
    out["heatmaps"] = [heatmap_path(s) for s in unit.heatmaps]
    out["textured_meshes"] = mesh_paths(unit.identity.index)
    extras = []
    if "masks" in cfg.extras:
        extras += [mask_path(s) for s in unit.samples]
    if "depth" in cfg.extras:
        extras += [depth_path(s) for s in unit.samples]
    if unit.identity.source == "photo":
        extras.append(source_photo_path(unit.identity))
    out["extras"] = extras
    return out


def all_unit_files(cfg: GenerateConfig, unit: UnitSpec) -> list[str]:
    return [p for paths in unit_paths(cfg, unit).values() for p in paths]


# --------------------------------------------------------------------------------------------
# Hub shards


def hub_root(cfg: GenerateConfig) -> str:
    """Folder of the hub layout relative to the dataset root ("" = the root itself)."""
    return "hub" if cfg.layout == "both" else ""


def n_shards(cfg: GenerateConfig) -> int:
    return -(-cfg.identities // cfg.shard_identities)


def shard_of(cfg: GenerateConfig, identity: int) -> int:
    return identity // cfg.shard_identities


def shard_path(cfg: GenerateConfig, folder: str, shard: int) -> str:
    """``[hub/]<folder>/<folder>_00000.tar.gz`` relative to the dataset root."""
    prefix = f"{hub_root(cfg)}/" if hub_root(cfg) else ""
    return f"{prefix}{folder}/{folder}_{shard:05d}.tar.gz"


def member_name(folder: str, loose: str) -> str:
    """Name inside a shard: the loose path without its top folder."""
    return loose.split("/", 1)[1]


def shard_identities(cfg: GenerateConfig, shard: int) -> range:
    start = shard * cfg.shard_identities
    return range(start, min(start + cfg.shard_identities, cfg.identities))


class TarGzWriter:
    """A tar.gz whose bytes depend only on the member names, order and contents.

    Fixed mtime, uid/gid, owner names and mode; gzip header without name or time. Members go
    to a temporary file beside ``path``, renamed onto it by :meth:`commit`, so ``path`` is
    absent or complete.
    """

    def __init__(self, path: Path, level: int = 6) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                   dir=self.path.parent)
        self._tmp = Path(tmp)
        self._raw = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self,
                                 compresslevel=level, mtime=0)
        self._tar = tarfile.open(fileobj=self._gz, mode="w", format=tarfile.GNU_FORMAT)
        self.members = 0

    # The gzip stream writes through these two methods, so the file is hashed as it is written.
    def write(self, data: bytes) -> int:
        self._hash.update(data)
        return self._raw.write(data)

    def flush(self) -> None:
        self._raw.flush()

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes written so far (of the whole file after commit)."""
        return self._hash.hexdigest()

    def add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 0
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        self._tar.addfile(info, io.BytesIO(data))
        self.members += 1

    def _close(self) -> None:
        for f in (self._tar, self._gz, self._raw):
            f.close()

    def commit(self) -> None:
        self._close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        try:
            self._close()
        finally:
            self._tmp.unlink(missing_ok=True)


def write_tar_gz(path: Path, members: Iterable[tuple[str, bytes]], level: int = 6) -> None:
    """Write ``members`` (name, bytes) as a deterministic tar.gz (see :class:`TarGzWriter`)."""
    w = TarGzWriter(path, level)
    try:
        for name, data in members:
            w.add(name, data)
    except BaseException:
        w.abort()
        raise
    w.commit()


def write_tar(path: Path, files: dict[str, bytes]) -> None:
    """A plain tar of ``files`` (sorted), written atomically (staging of hub-only runs)."""
    with atomic_path(path) as tmp:
        with tarfile.open(tmp, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for name in sorted(files):
                info = tarfile.TarInfo(name)
                info.size = len(files[name])
                tar.addfile(info, io.BytesIO(files[name]))


def gzip_level(folder: str) -> int:
    return _GZIP_LEVEL[folder]


def read_tar_members(path: Path) -> dict[str, bytes]:
    """All regular members of a tar or tar.gz, name -> bytes."""
    out = {}
    with tarfile.open(path, mode="r:*") as tar:
        for info in tar:
            if info.isfile():
                fh = tar.extractfile(info)
                out[info.name] = fh.read() if fh else b""
    return out


def readme_text(cfg: GenerateConfig, folder: str, counts: dict[str, int]) -> str:
    """The README.txt of one hub folder (deterministic)."""
    what = {
        "images": "RGB renders (JPEG), neutral and pain, every view: "
        "<identity>_<neutral|pain_Y>_textured_view_VVV_inpainted.jpg",
        "annotations": "one JSON per pain configuration with AU4, AU6, AU7, AU9, AU10, AU43 "
        "(FACS 0-5, AU43 0/1) and PSPI: <identity>_pain_Y_annotations.json",
        "heatmaps": "one PNG per pain configuration: per-vertex displacement neutral -> pain, "
        "colour-mapped black-red-yellow-white on a fixed dataset-wide scale: "
        "<identity>_pain_Y_heatmap.png",
        "textured_meshes": "one textured neutral mesh per identity (OBJ + MTL + texture PNG) "
        "in a folder per identity: <identity>/<identity>.obj",
    }[folder]
    return (
        f"{folder}/ of a pain3d synthetic 3DPain-compatible dataset\n\n"
        f"{what}\n\n"
        f"{counts['shards']} shards named {folder}_00000.tar.gz ..., "
        f"{cfg.shard_identities} identities per shard, {counts['files']} files in all.\n"
        f"Extract with: for f in {folder}_*.tar.gz; do tar -xzf \"$f\"; done\n"
        f"manifest.csv / manifest.parquet at the dataset root list every image with its "
        f"labels; column 'shard' names the shard holding it.\n"
    )
