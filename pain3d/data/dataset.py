"""The one torch Dataset of training samples over a frame table (made by
:meth:`pain3d.data.open.OpenedData.dataset`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from pain3d.data.common import DataError, FrameTable, ImageSource, SkipReport
from pain3d.data.heatmaps import HeatmapSource
from pain3d.data.images import decode_face_crop, decode_image, face_crop
from pain3d.data.references import ReferenceConfig, ReferenceSampler

log = logging.getLogger(__name__)


def table_keypoints(table: FrameTable) -> np.ndarray | None:
    """(N, 3, 2) float64 face keypoints (right eye, left eye, mouth; stored-image pixels) of
    a table with :data:`~pain3d.face.landmarks.KEYPOINT_COLUMNS`, NaN where unknown; None
    when the table has no such columns (published datasets, UNBC, labelled tables)."""
    from pain3d.face.landmarks import KEYPOINT_COLUMNS

    if not all(c in table.extra for c in KEYPOINT_COLUMNS):
        return None
    cols = [np.asarray(table.extra[c], dtype=np.float64) for c in KEYPOINT_COLUMNS]
    kp = np.stack(cols, axis=1).reshape(len(table), 3, 2)
    known = np.isfinite(kp).all(axis=(1, 2))
    if known.any() and not known.all():
        log.warning("face keypoints are known for %d of %d images (e.g. %s has none): those "
                    "are face crops, the others whole images; regenerate the dataset so all "
                    "are framed alike", known.sum(), len(known), table.key[~known][0])
    return kp


class PainDataset(Dataset):
    """Training samples (see ``pain3d.data``) for selected rows of a frame table.

    Args:
        table: all rows of the dataset (references may come from rows that are not samples).
        source: where the pixels of each row live.
        rows: the rows that are samples (default: all).
        size: output side in pixels (square), or None to keep the stored size.
        reference: neutral-reference policy.
        skip_bad: when a sample (its image or a reference) cannot be read, log it, record
            it in ``self.skipped`` (per worker process) and return a dropped-sample marker
            ``{"dropped": "<path>: <why>"}`` instead of raising: ``collate`` leaves it out of
            the batch and lists it under ``batch["dropped"]``, so a bad frame is counted,
            never replaced by another one (which would score that one twice).
        report: what the reader skipped while indexing (kept for the caller).
        face_crop: when the table has face keypoints (``extra`` columns
            :data:`~pain3d.face.landmarks.KEYPOINT_COLUMNS`, recorded by ``pain3d generate``),
            cut each image (and each reference) with
            :func:`pain3d.data.align.crop_from_landmarks` at ``size``: the framing of
            inference crops. Rows without finite keypoints keep the whole image. False
            always keeps whole images.
        heatmaps: a :class:`~pain3d.data.heatmaps.HeatmapSource` (synthetic data): every
            sample also carries ``heatmap`` (3, H, W) float32 in [0, 1], its pain
            configuration's heatmap framed like the configuration's view-0 image (cropped
            with that image's keypoints, or resized like it), all black for neutral rows.
            None (default) reads no heatmap.
        input: ``rgb`` (default) or ``heatmap``: the sample's ``image`` is its heatmap and
            its ``neutral`` an all-black heatmap of the same shape (the neutral's heatmap:
            no deformation), for training a heatmap teacher. Needs ``heatmaps``.
        user_keypoints: image path -> (3, 2) face keypoints of the given reference images
            (``reference.user_images``; :func:`pain3d.data.open.reference_keypoints`): each
            is cut with :func:`face_crop`, the crop geometry of every other image. Required
            when the reference config has user images.
        pixels: ``float32`` (default): ``image``, ``neutral`` and ``heatmap`` are float32 in
            [0, 1]; ``uint8``: the same pixels as uint8 0..255, a quarter of the bytes to
            pass between processes and to the device, which scales them there
            (:func:`pain3d.data.loader.make_loader` asks for it; ``GpuAugment`` and
            ``ViTPain.normalize`` accept both). ``x.float().div_(255)`` of a uint8 sample
            is bit-identical to the float32 sample.
    """

    def __init__(
        self,
        table: FrameTable,
        source: ImageSource,
        rows: np.ndarray | None = None,
        size: int | None = 224,
        reference: ReferenceConfig | None = None,
        skip_bad: bool = False,
        report: SkipReport | None = None,
        face_crop: bool = True,
        heatmaps: HeatmapSource | None = None,
        input: str = "rgb",
        user_keypoints: dict[str, np.ndarray] | None = None,
        pixels: str = "float32",
    ):
        if input not in ("rgb", "heatmap"):
            raise ValueError(f"input must be rgb or heatmap, got {input!r}")
        if input == "heatmap" and heatmaps is None:
            raise ValueError("input='heatmap' needs a HeatmapSource (synthetic data)")
        if heatmaps is not None and len(heatmaps) != len(table):
            raise ValueError(f"heatmap source has {len(heatmaps)} rows, the table {len(table)}")
        if pixels not in ("float32", "uint8"):
            raise ValueError(f"pixels must be float32 or uint8, got {pixels!r}")
        self.heatmaps = heatmaps
        self.input = input
        self.pixels = pixels
        self.table = table
        self.source = source
        self.rows = np.arange(len(table)) if rows is None else np.asarray(rows, dtype=np.int64)
        self.size = size
        self.reference = reference or ReferenceConfig()
        self.skip_bad = skip_bad
        self.report = report or SkipReport()
        self.skipped = SkipReport()
        self.face_crop = face_crop
        self.keypoints = table_keypoints(table) if face_crop else None
        self.refs = ReferenceSampler(table, self.reference)
        self.user_keypoints = dict(user_keypoints or {})
        unaligned = sorted(set(self.reference.user_images.values()) - set(self.user_keypoints))
        if unaligned and self.reference.policy == "label-free":
            raise ValueError(f"given reference image(s) {unaligned[:3]} have no face keypoints: "
                             "pass user_keypoints (pain3d.data.open.reference_keypoints) so "
                             "they are aligned like every other image")
        missing = self.refs.missing_subjects(self.rows)
        if missing:
            msg = (f"{len(missing)} subject(s) have no reference under policy "
                   f"{self.reference.policy!r}: {missing[:5]}")
            if not skip_bad:
                raise DataError(msg + "; choose another policy or pass skip_bad to drop them")
            for s in missing:
                self.report.add(f"subject {s}", f"no reference: policy {self.reference.policy}")
            self.rows = self.rows[~np.isin(table.subject[self.rows], missing)]
        self._calls = 0

    def __len__(self) -> int:
        return len(self.rows)

    # ---------------------------------------------------------------------------------------
    def _where(self, row: int) -> str:
        fn = getattr(self.source, "where", None)
        return fn(row) if fn else str(self.table.key[row])

    def _framed(self, data: bytes | np.ndarray, kp: np.ndarray | None, where: str
                ) -> np.ndarray:
        """(S, S, 3) uint8: the face crop when ``kp`` is finite, else the whole image."""
        if kp is None or not np.isfinite(kp).all():
            return decode_image(data, self.size, where)
        if self.size is None:  # the stored size: known only once decoded
            data = decode_image(data, None, where)
            return decode_face_crop(data, kp, max(data.shape[:2]), where)
        return decode_face_crop(data, kp, self.size, where)

    def load(self, row: int) -> np.ndarray:
        """(S, S, 3) uint8 RGB image of table row ``row`` (its face crop when it has keypoints,
        see ``face_crop``)."""
        kp = None if self.keypoints is None else self.keypoints[row]
        return self._framed(self.source.read(row), kp, self._where(row))

    def load_heatmap(self, row: int) -> np.ndarray | None:
        """(S, S, 3) uint8 heatmap of row ``row`` framed like its configuration's view-0 image
        (see :mod:`pain3d.data.heatmaps`), or None for neutral rows (black)."""
        hm = self.heatmaps
        if hm is None:
            raise ValueError("this dataset reads no heatmaps (heatmaps=None)")
        if not hm.has_heatmap(row):
            return None
        fr = int(hm.frame_row[row])
        kp = None if self.keypoints is None or fr < 0 else self.keypoints[fr]
        return self._framed(hm.read(row, str(self.table.key[row])), kp, hm.where(row))

    def _heatmap_tensor(self, row: int, like: Any) -> Any:
        import torch

        arr = self.load_heatmap(row)
        if arr is None:
            return torch.zeros_like(like)
        heat = self._tensor(arr)
        if heat.shape != like.shape:
            raise DataError(f"{self.heatmaps.where(row)}: heatmap is {tuple(heat.shape[1:])} "
                            f"after framing but its image {self.table.key[row]} is "
                            f"{tuple(like.shape[1:])}; heatmaps must be rendered by the "
                            "configuration's view-0 camera at the image size")
        return heat

    def _tensor(self, arr: np.ndarray) -> Any:
        import torch

        x = torch.from_numpy(arr).permute(2, 0, 1)
        return x if self.pixels == "uint8" else x.float().div_(255.0)

    def _rng(self, row: int) -> np.random.Generator:
        if self.reference.deterministic:
            return self.refs.rng_for(row)
        import torch

        self._calls += 1
        return np.random.default_rng([self.reference.seed, torch.initial_seed() % (2**63),
                                      int(row), self._calls])

    def neutral_rows(self, index: int) -> np.ndarray | str:
        """The reference rows (or user image path) sample ``index`` would get now."""
        row = int(self.rows[index])
        return self.refs.select(row, self._rng(row))

    def _sample(self, index: int) -> dict[str, Any]:
        import torch

        t = self.table
        row = int(self.rows[index])
        if self.input == "heatmap" and self.heatmaps.has_heatmap(row) and self.size:
            heat = self._tensor(self.load_heatmap(row))  # the RGB image is not needed
            image = heat
        else:
            image = self._tensor(self.load(row))
            heat = self._heatmap_tensor(row, image) if self.heatmaps is not None else None
            if self.input == "heatmap":
                image = heat
        meta: dict[str, Any] = {
            "path": str(t.key[row]), "row": row, "sequence": str(t.sequence[row]),
            "frame": int(t.frame[row]), "view": int(t.view[row]), "split": str(t.split[row]),
            "reference_policy": self.reference.policy,
        }
        for k, col in t.extra.items():
            v = col[row]
            meta[k] = v.item() if isinstance(v, np.generic) else v
        sample: dict[str, Any] = {
            "image": image,
            "au": torch.from_numpy(t.au[row].copy()),
            "pspi": torch.tensor(float(t.pspi[row]), dtype=torch.float32),
            "subject": str(t.subject[row]),
            "meta": meta,
        }
        refs = self.refs.select(row, self._rng(row))
        if self.input == "heatmap" and not isinstance(refs, str) and len(refs):
            # The neutral's heatmap (no deformation) is black: no reference image is read.
            meta["reference"] = ["black heatmap"] * self.reference.n
            meta["reference_subject"] = str(t.subject[refs[0]])
            neutrals = [torch.zeros_like(image)] * self.reference.n
        elif isinstance(refs, str):  # a given image: aligned like every other image
            arr = decode_image(Path(refs).read_bytes(), None, refs)
            arr = face_crop(arr, self.user_keypoints[refs], self.size or max(arr.shape[:2]))
            neutrals = [self._tensor(arr)] * self.reference.n
            meta["reference"] = [refs] * self.reference.n
            meta["reference_subject"] = str(t.subject[row])
        elif len(refs):
            neutrals = [self._tensor(self.load(int(r))) for r in refs]
            meta["reference"] = [str(t.key[r]) for r in refs]
            meta["reference_subject"] = str(t.subject[refs[0]])
        else:
            neutrals = []
        if neutrals:
            sample["neutral"] = neutrals[0] if self.reference.n == 1 else torch.stack(neutrals)
        if heat is not None:
            meta["heatmap"] = str(self.heatmaps.keys[row])
            if self.input == "rgb":
                sample["heatmap"] = heat
        return sample

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Sample ``index``; with ``skip_bad`` a sample that cannot be read is the marker
        ``{"dropped": "<path>: unreadable: <why>"}`` (never another sample)."""
        if not self.skip_bad:
            return self._sample(index)
        try:
            return self._sample(index)
        except (DataError, OSError) as exc:
            key = str(self.table.key[self.rows[index]])
            self.skipped.add(key, f"unreadable: {exc}")
            return {"dropped": f"{key}: unreadable: {exc}"}

    # ---------------------------------------------------------------------------------------
    def labels(self) -> dict[str, np.ndarray]:
        """Labels of the samples without reading any image: ``au`` (N, 6), ``pspi`` (N,),
        ``subject`` (N,)."""
        return {"au": self.table.au[self.rows], "pspi": self.table.pspi[self.rows],
                "subject": self.table.subject[self.rows]}

    def with_reference(self, reference: ReferenceConfig) -> PainDataset:
        """The same samples with another reference policy (e.g. evaluation)."""
        return PainDataset(self.table, self.source, self.rows, self.size, reference,
                           self.skip_bad, self.report, self.face_crop, self.heatmaps, self.input,
                           self.user_keypoints, self.pixels)

    def with_pixels(self, pixels: str) -> PainDataset:
        """The same samples as ``float32`` in [0, 1] or ``uint8`` (see ``pixels``)."""
        return PainDataset(self.table, self.source, self.rows, self.size, self.reference,
                           self.skip_bad, self.report, self.face_crop, self.heatmaps, self.input,
                           self.user_keypoints, pixels)
