"""``Predictor``: pain estimates for photos and videos from a ViTPain checkpoint.

Pipeline per frame: mediapipe detection -> face selection -> 478 landmarks -> aligned crop
(:func:`pain3d.infer.align.align_face`, the training crop geometry) -> normalisation with the
checkpoint's own mean/std -> model with cached reference tokens.

The neutral reference is encoded once (``model.encode_reference``) and cached by the bytes of
its aligned crops, so a folder of images sharing one reference, or a long video, pays the
reference encoder once.

Video (:func:`predict_video`): pass 1 analyses the opening ``reference_seconds`` (extended
until a face is found) and, unless a reference is given, picks the reference frames by the
label-free rule of :mod:`pain3d.infer.reference`; pass 2 streams the whole video in batches
with the cached reference tokens (frames of pass 1 are not analysed twice). Memory stays
bounded by the opening window and one batch.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pain3d.face.tracker import Face
from pain3d.facs import AU_NAMES, N_AUS
from pain3d.infer.detect import BLOCKING_FLAGS, DetectConfig, FaceDetector
from pain3d.infer.reference import choose_reference_frames
from pain3d.infer.video import FRAME_COLUMNS, VideoInfo, iter_video_frames, video_info

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

ImageLike = str | Path | np.ndarray


@dataclass
class PredictConfig:
    """Inference settings.

    Attributes:
        detect: face detection, selection and quality thresholds.
        n_references: video references chosen by the label-free rule (multi-shot average).
        reference_seconds: opening window (s) searched for video references.
        batch_size: frames per model call.
        frame_step: analyse one video frame in this many (others are skipped, not written).
        max_frames: stop a video after this many frames (0 = all).
        device: torch device.
        dtype: ``float32`` or ``bfloat16`` backbone for checkpoints loaded by
            :meth:`Predictor.from_checkpoint` (bf16: about twice as fast on CPUs with
            AVX512-BF16/AMX, PSPI within a few hundredths; see pain3d.model.inference).
        fuse: on CPU, checkpoints loaded by :meth:`Predictor.from_checkpoint` run the fused
            backbone forward (:mod:`pain3d.model.fused`): same fp32 outputs to ~1e-6
            relative, faster (``benchmarks/model.py``); False keeps transformers' eager path.
    """

    detect: DetectConfig = field(default_factory=DetectConfig)
    n_references: int = 3
    reference_seconds: float = 3.0
    batch_size: int = 16
    frame_step: int = 1
    max_frames: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    fuse: bool = True

    def __post_init__(self) -> None:
        if self.dtype not in ("float32", "bfloat16"):
            raise ValueError(f"dtype {self.dtype!r}: use float32 or bfloat16")
        if self.n_references < 1:
            raise ValueError(f"n_references must be >= 1, got {self.n_references}")
        if self.reference_seconds <= 0:
            raise ValueError(f"reference_seconds must be > 0, got {self.reference_seconds}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.frame_step < 1:
            raise ValueError(f"frame_step must be >= 1, got {self.frame_step}")
        if self.max_frames < 0:
            raise ValueError(f"max_frames must be >= 0, got {self.max_frames}")


@dataclass
class AlignedFace:
    """A frame's selected face: aligned crop (S, S, 3) uint8 RGB or None, face, flags."""

    crop: np.ndarray | None
    face: Face | None
    flags: list[str]


@dataclass
class Prediction:
    """One face's estimate. Values are NaN when no face could be analysed (see ``flags``).

    Attributes:
        pspi: PSPI 0..16 (regression head).
        pain_prob: P(PSPI >= 1) from the first binary head, 0..1.
        au: (6,) AU intensities, FACS 0..5, order ``pain3d.facs.AU_NAMES``.
        box: (4,) face box x0, y0, x1, y1 in image pixels.
        yaw_deg, pitch_deg: head pose estimate.
        flags: quality flags (``pain3d.infer.detect.FLAGS``).
    """

    pspi: float = float("nan")
    pain_prob: float = float("nan")
    au: np.ndarray = field(default_factory=lambda: np.full(N_AUS, np.nan, np.float32))
    box: np.ndarray = field(default_factory=lambda: np.full(4, np.nan, np.float32))
    yaw_deg: float = float("nan")
    pitch_deg: float = float("nan")
    flags: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.pspi))

    def as_row(self) -> dict[str, Any]:
        """Flat dict: pspi, pain_prob, AU4..AU43, x0, y0, x1, y1, yaw_deg, pitch_deg, flags."""
        row: dict[str, Any] = {"pspi": self.pspi, "pain_prob": self.pain_prob}
        row.update({n: float(v) for n, v in zip(AU_NAMES, self.au, strict=True)})
        row.update({k: float(v) for k, v in zip(("x0", "y0", "x1", "y1"), self.box, strict=True)})
        row.update(yaw_deg=self.yaw_deg, pitch_deg=self.pitch_deg, flags="|".join(self.flags))
        return row


def load_image(image: ImageLike) -> np.ndarray:
    """(H, W, 3) uint8 RGB from a path or an array (grey and RGBA arrays are converted)."""
    import cv2

    if isinstance(image, (str, Path)):
        p = Path(image)
        if not p.is_file():
            raise FileNotFoundError(f"image {p} does not exist")
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"cannot read image {p}: not an image format OpenCV knows")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.size and arr.max() <= 1.0:
            arr = (arr * 255.0).round()
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {arr.shape}")
    return np.ascontiguousarray(arr[..., :3])


class Predictor:
    """Pain estimates from photos and videos.

    Args:
        model: a ``pain3d.model.ViTPain`` (any module with ``preprocessing``,
            ``encode_reference`` and ``forward(image, reference=...)`` works).
        cfg: inference settings.

    Example:
        >>> p = Predictor.from_checkpoint("runs/pretrain/best")
        >>> pred = p.predict("pain.jpg", reference="neutral.jpg")
        >>> table = p.predict_video("clip.mp4").frames   # pandas DataFrame
    """

    def __init__(self, model: Any, cfg: PredictConfig | None = None) -> None:
        import torch

        self.cfg = cfg or PredictConfig()
        self.device = torch.device(self.cfg.device)
        if self.device.type == "cpu":
            from pain3d.model import keep_freed_memory

            keep_freed_memory()  # activations reused, not page-faulted in on every batch
        self.model = model.to(self.device).eval()
        pre = model.preprocessing
        self.size = int(pre["size"])
        self.mean = torch.tensor(pre["mean"], dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(pre["std"], dtype=torch.float32).view(1, 3, 1, 1)
        self._detector: FaceDetector | None = None
        self._ref_cache: dict[str, Any] = {}
        # Single-image baselines (reference='none') take no reference at all.
        self.uses_reference = bool(getattr(getattr(model, "config", None), "uses_reference", True))

    @classmethod
    def from_checkpoint(cls, path: str | Path, cfg: PredictConfig | None = None) -> Predictor:
        """Load a checkpoint directory written by ``pain3d.model.save_checkpoint``.

        A training run folder (holding ``model/``) is accepted too.
        """
        from pain3d.model import load_model, prepare_for_inference

        p = Path(path)
        if not p.exists():
            raise FileNotFoundError(f"checkpoint {p} does not exist; train one with "
                                    "`pain3d train` or run `pain3d demo`")
        if not (p / "config.json").is_file() and (p / "model" / "config.json").is_file():
            p = p / "model"  # a run folder: its selected model
        # Adapters folded into the backbone: same outputs, less work per frame.
        cfg = cfg or PredictConfig()
        fuse = cfg.fuse and str(cfg.device).split(":")[0] == "cpu"
        return cls(prepare_for_inference(load_model(p, device=cfg.device), cfg.dtype, fuse=fuse),
                   cfg)

    # -- faces ---------------------------------------------------------------------------
    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            self._detector = FaceDetector(self.cfg.detect)
        return self._detector

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None

    def align(self, image: ImageLike, *, track: bool | None = None,
              video: bool = False) -> AlignedFace:
        """Detect, select and align the face of one image (no model call); ``video``: the
        image is the next frame of a video (the face may be followed, see
        :class:`~pain3d.infer.detect.FaceDetector`)."""
        from pain3d.infer.align import align_face

        img = load_image(image)
        face, flags = self.detector(img, track=track, video=video)
        if face is None or face.landmarks is None:
            return AlignedFace(None, face, flags)
        return AlignedFace(align_face(img, face.landmarks, self.size), face, flags)

    # -- model ---------------------------------------------------------------------------
    def to_tensor(self, crops: np.ndarray | Sequence[np.ndarray]):
        """(N, S, S, 3) uint8 RGB crops -> (N, 3, S, S) float32 normalised tensor on device."""
        import torch

        arr = np.stack(list(crops)) if not isinstance(crops, np.ndarray) else crops
        if arr.ndim != 4 or arr.shape[1:] != (self.size, self.size, 3):
            raise ValueError(f"expected (N, {self.size}, {self.size}, 3) crops, got {arr.shape}")
        x = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float() / 255.0
        return ((x - self.mean) / self.std).to(self.device)

    def encode_reference(self, reference: ImageLike | Sequence[ImageLike]) -> Any:
        """Cached reference tokens for one or several neutral images of the person.

        Several images are averaged by the model (multi-shot). Images are detected and
        aligned like the query; an image whose face cannot be found raises ``ValueError``.
        Aligned crops of the model's size (S, S, 3) are used as they are.
        """
        refs = [reference] if isinstance(reference, (str, Path)) or (
            isinstance(reference, np.ndarray) and reference.ndim == 3) else list(reference)
        if not refs:
            raise ValueError("reference: give at least one neutral image")
        crops = []
        for r in refs:
            if isinstance(r, np.ndarray) and r.shape == (self.size, self.size, 3) and \
                    r.dtype == np.uint8:
                crops.append(r)
                continue
            a = self.align(r, track=False)
            if a.crop is None:
                where = r if isinstance(r, (str, Path)) else "the reference image"
                raise ValueError(f"no usable face in {where} ({'|'.join(a.flags)}); give a "
                                 "neutral image where the face is visible")
            crops.append(a.crop)
        return self.encode_crops(crops)

    def encode_crops(self, crops: Sequence[np.ndarray]) -> Any:
        """Reference tokens for aligned (S, S, 3) uint8 crops, cached by content."""
        import torch

        # Shapes and dtypes are part of the key: equal bytes of other crops never collide.
        h = hashlib.sha1(repr([(c.shape, c.dtype.str) for c in crops]).encode())
        for c in crops:
            h.update(np.ascontiguousarray(c).tobytes())
        key = h.hexdigest()
        if key not in self._ref_cache:
            x = self.to_tensor(crops)
            neutral = x.unsqueeze(0) if len(crops) > 1 else x  # (1, N, 3, S, S) multi-shot
            with torch.inference_mode():
                self._ref_cache[key] = self.model.encode_reference(neutral)
            if len(self._ref_cache) > 64:  # a bounded cache: drop the oldest
                self._ref_cache.pop(next(iter(self._ref_cache)))
        return self._ref_cache[key]

    def predict_crops(self, crops: Sequence[np.ndarray],
                      reference_tokens: Any) -> dict[str, np.ndarray]:
        """Raw outputs for aligned crops: pspi (N,), pain_prob (N,), au (N, 6)."""
        import torch

        out = {"pspi": [], "pain_prob": [], "au": []}
        bs = self.cfg.batch_size
        for i in range(0, len(crops), bs):
            x = self.to_tensor(crops[i:i + bs])
            ref = _expand_reference(reference_tokens, x.shape[0])
            with torch.inference_mode():
                o = self.model(x, reference=ref)
            out["pspi"].append(o.pspi.float().cpu().numpy())
            out["pain_prob"].append(torch.sigmoid(o.binary_logits[:, 0]).float().cpu().numpy())
            out["au"].append(o.au.float().cpu().numpy())
        if not crops:
            return {"pspi": np.zeros(0), "pain_prob": np.zeros(0), "au": np.zeros((0, N_AUS))}
        return {k: np.concatenate(v) for k, v in out.items()}

    # -- public API ----------------------------------------------------------------------
    def predict(self, image: ImageLike, reference: Any) -> Prediction:
        """Pain estimate for the (largest) face of one image.

        Args:
            image: path or (H, W, 3) uint8 RGB array.
            reference: neutral image(s) of the same person (path, array, or a list for
                multi-shot), or tokens from :meth:`encode_reference`.

        Returns:
            A :class:`Prediction`; NaN values and a ``no_face`` / ``no_landmarks`` flag when
            no face could be analysed (never an exception for a face-less image).
        """
        return self.predict_many([image], reference)[0]

    def predict_many(self, images: Iterable[ImageLike], reference: Any) -> list[Prediction]:
        """:meth:`predict` over several images sharing one reference (encoded once)."""
        tokens = self._tokens(reference)
        aligned = [self.align(im, track=False) for im in images]
        ok = [i for i, a in enumerate(aligned) if a.crop is not None]
        raw = self.predict_crops([aligned[i].crop for i in ok], tokens)
        preds = [_prediction(a, None, 0) for a in aligned]
        for j, i in enumerate(ok):
            preds[i] = _prediction(aligned[i], raw, j)
        return preds

    def predict_video(self, path: str | Path, reference: Any = None,
                      progress: bool = False) -> VideoPrediction:
        """Per-frame estimates for a video; see :func:`predict_video`."""
        return predict_video(self, path, reference=reference, progress=progress)

    def _tokens(self, reference: Any) -> Any:
        if not self.uses_reference:
            return None
        if reference is None:
            raise ValueError("a neutral reference image of the same person is required "
                             "(ViTPain compares each face with the person's neutral face)")
        if isinstance(reference, (str, Path, np.ndarray)) or (
                isinstance(reference, (list, tuple)) and reference and
                isinstance(reference[0], (str, Path, np.ndarray))):
            return self.encode_reference(reference)
        return reference  # already encoded tokens


def _prediction(a: AlignedFace, raw: dict[str, np.ndarray] | None, j: int) -> Prediction:
    p = Prediction(flags=list(a.flags))
    if a.face is not None:
        p.box = np.asarray(a.face.box, dtype=np.float32)
        p.yaw_deg, p.pitch_deg = a.face.yaw_deg, a.face.pitch_deg
    if raw is not None and not (BLOCKING_FLAGS & set(a.flags)):
        p.pspi = float(raw["pspi"][j])
        p.pain_prob = float(raw["pain_prob"][j])
        p.au = raw["au"][j].astype(np.float32)
    return p


def _expand_reference(ref: Any, batch: int) -> Any:
    """Broadcast reference tokens encoded for one person to a batch of ``batch`` queries."""
    import torch

    if isinstance(ref, torch.Tensor):
        if ref.shape[0] == batch:
            return ref
        if ref.shape[0] != 1:
            raise ValueError(f"reference tokens have batch {ref.shape[0]}; expected 1 or {batch}")
        return ref.expand(batch, *ref.shape[1:])
    if isinstance(ref, dict):
        return {k: _expand_reference(v, batch) for k, v in ref.items()}
    if isinstance(ref, (tuple, list)):
        return type(ref)(_expand_reference(v, batch) for v in ref)
    if ref is None:
        return None
    raise TypeError(f"cannot broadcast reference tokens of type {type(ref).__name__}")


@dataclass
class VideoPrediction:
    """Per-frame estimates of a video.

    Attributes:
        frames: one row per analysed frame, columns ``FRAME_COLUMNS`` (empty prediction
            cells and a flag where no face was analysed).
        info: fps, size and frame count of the video.
        reference_frames: frame indices used as the neutral reference (empty when an
            explicit reference was given or no face was found).
        reference_energy: expression energy of those frames (the rule's score).
        seconds: wall time of the analysis.
    """

    frames: pd.DataFrame
    info: VideoInfo
    reference_frames: list[int] = field(default_factory=list)
    reference_energy: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def fps_processed(self) -> float:
        return len(self.frames) / self.seconds if self.seconds > 0 else float("nan")


def predict_video(predictor: Predictor, path: str | Path, reference: Any = None,
                  progress: bool = False) -> VideoPrediction:
    """Per-frame pain estimates of a video (see the module docstring for the passes).

    Args:
        predictor: a loaded predictor.
        path: MP4/AVI/MOV file.
        reference: neutral image(s) or tokens; None selects reference frames from the video.
        progress: log progress every ~10 % of the frames.
    """
    import time

    import pandas as pd

    info = video_info(path)
    t0 = time.perf_counter()
    predictor.detector.reset_track()
    if reference is None and predictor.uses_reference:
        opening = _opening_window(predictor, path, info)
        tokens, ref_frames, ref_energy = _reference_from_opening(predictor, opening, path)
    else:
        opening, tokens, ref_frames, ref_energy = {}, predictor._tokens(reference), [], []
    rows = _stream(predictor, path, info, opening, tokens, ref_frames, progress)
    frames = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    return VideoPrediction(frames, info, ref_frames, ref_energy, time.perf_counter() - t0)


def _track(predictor: Predictor) -> bool:
    return predictor.cfg.detect.select == "track"


def _opening_window(predictor: Predictor, path: str | Path,
                    info: VideoInfo) -> dict[int, tuple[float, AlignedFace]]:
    """Pass 1: frame index -> (time, aligned face) over the opening window, kept in memory.
    A window without any face is extended until ``n_references`` faces are found."""
    cfg = predictor.cfg
    opening: dict[int, tuple[float, AlignedFace]] = {}
    n_faces = 0
    for i, t, rgb in iter_video_frames(path, cfg.frame_step, cfg.max_frames, info.fps):
        if t > cfg.reference_seconds and n_faces >= 1 and (
                n_faces >= cfg.n_references or opening[max(opening)][0] <= cfg.reference_seconds):
            break
        a = predictor.align(rgb, track=_track(predictor), video=True)
        opening[i] = (t, a)
        n_faces += a.crop is not None
    return opening


def _reference_from_opening(predictor: Predictor, opening: dict[int, tuple[float, AlignedFace]],
                            path: str | Path) -> tuple[Any, list[int], list[float]]:
    """Reference tokens, frames and their expression energy chosen by the label-free rule."""
    keys = sorted(opening)
    lms = [opening[k][1].face.landmarks if opening[k][1].crop is not None else None
           for k in keys]
    idx, energy = choose_reference_frames([opening[k][0] for k in keys], lms,
                                          [opening[k][1].flags for k in keys],
                                          predictor.cfg.n_references,
                                          predictor.cfg.reference_seconds)
    ref_frames = [keys[j] for j in idx]
    ref_energy = [float(e) for e in energy]
    if not ref_frames:
        log.warning("no face found in %s: every row is empty and flagged", path)
        return None, ref_frames, ref_energy
    log.info("reference frames %s (expression energy %s)", ref_frames,
             ", ".join(f"{e:.3f}" for e in ref_energy))
    return predictor.encode_crops([opening[k][1].crop for k in ref_frames]), ref_frames, ref_energy


def _stream(predictor: Predictor, path: str | Path, info: VideoInfo,
            opening: dict[int, tuple[float, AlignedFace]], tokens: Any, ref_frames: list[int],
            progress: bool) -> list[dict[str, Any]]:
    """Pass 2: one row per analysed frame, the model called once per batch."""
    cfg = predictor.cfg
    rows: list[dict[str, Any]] = []
    pending: list[tuple[int, float, AlignedFace]] = []
    last_log = 0
    for i, t, rgb in iter_video_frames(path, cfg.frame_step, cfg.max_frames, info.fps):
        a = opening[i][1] if i in opening else predictor.align(rgb, track=_track(predictor),
                                                               video=True)
        pending.append((i, t, a))
        if len(pending) >= cfg.batch_size:
            rows += _batch_rows(predictor, pending, tokens, ref_frames)
            pending = []
        if progress and info.frames and (i - last_log) >= max(info.frames // 10, 1):
            last_log = i
            log.info("frame %d / %d", i, info.frames)
    return rows + _batch_rows(predictor, pending, tokens, ref_frames)


def _batch_rows(predictor: Predictor, pending: list[tuple[int, float, AlignedFace]],
                tokens: Any, ref_frames: list[int]) -> list[dict[str, Any]]:
    """CSV rows of a batch of frames; the model sees only the frames it can analyse."""
    ok = [j for j, (_, _, a) in enumerate(pending)
          if a.crop is not None and not (BLOCKING_FLAGS & set(a.flags))
          and (tokens is not None or not predictor.uses_reference)]
    raw = predictor.predict_crops([pending[j][2].crop for j in ok], tokens) if ok else None
    where = {j: n for n, j in enumerate(ok)}
    return [{"frame": i, "time_s": t,
             **_prediction(a, raw if j in where else None, where.get(j, 0)).as_row(),
             "is_reference": i in ref_frames}
            for j, (i, t, a) in enumerate(pending)]
