"""The per-identity worker: specs in, file bytes out (no disk access, no shared state).

:func:`render_unit` is what every engine runs; :func:`render_samples` regenerates any subset
of a dataset from its specs alone. Both return ``{relative path: bytes}`` in the loose layout
of :mod:`pain3d.synth.layout`; the same specs always give the same bytes.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from pain3d.facs import AU_NAMES, pspi
from pain3d.synth import layout
from pain3d.synth.config import GenerateConfig
from pain3d.synth.keypoints import keypoint_values
from pain3d.synth.photo_stage import source_files
from pain3d.synth.renderer import get_renderer, renderer_class
from pain3d.synth.spec import SampleSpec, UnitSpec


@dataclass
class UnitResult:
    """Files of one identity plus how it went in the worker."""

    identity: int
    files: dict[str, bytes] = field(repr=False)
    n_images: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    landmarks: dict[str, list[float] | None] = field(default_factory=dict, repr=False)
    """Image path -> its face keypoints as :data:`pain3d.face.landmarks.KEYPOINT_COLUMNS` values."""


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """(H, W, 3) uint8 RGB -> baseline JPEG bytes (OpenCV/libjpeg, fixed quality)."""
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV failed to encode a JPEG")
    return buf.tobytes()


def encode_png(image: np.ndarray) -> bytes:
    """(H, W) gray, (H, W, 3) uint8 RGB or (H, W) uint16 -> PNG bytes."""
    arr = np.ascontiguousarray(image)
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", arr)
    if not ok:
        raise RuntimeError("OpenCV failed to encode a PNG")
    return buf.tobytes()


def annotation_json(sample: SampleSpec) -> bytes:
    """The published annotation: top-level AU4..AU43 and PSPI, numbers only; then, when the
    configuration has nuisance AUs, each of them (``AU1`` ...) as the rig applied it
    (:attr:`SampleSpec.applied_nuisance`, never part of PSPI)."""
    aus = {name: round(float(v), 6) for name, v in zip(AU_NAMES, sample.aus, strict=True)}
    aus["PSPI"] = round(float(pspi(np.asarray(sample.aus), validate=False)), 6)
    if sample.nuisance:
        applied = sample.applied_nuisance
        aus.update({name: applied[name] for name, _ in sample.nuisance})
    return (json.dumps(aus, indent=2) + "\n").encode()


def depth_png(depth: np.ndarray) -> bytes:
    """Depth in metres -> uint16 millimetres PNG (0 = background)."""
    return encode_png(np.clip(np.round(depth * 1000.0), 0, 65535).astype(np.uint16))


def _check_image(arr: np.ndarray, sample: SampleSpec, what: str, channels: int | None) -> None:
    shape = (sample.size, sample.size) + ((channels,) if channels else ())
    if arr.shape != shape:
        raise ValueError(f"renderer returned {what} of shape {arr.shape} for {sample.name}, "
                         f"expected {shape}")


def render_samples(cfg: GenerateConfig, samples: Iterable[SampleSpec], *,
                   heatmaps: bool = True, mesh: bool = True,
                   landmarks: dict[str, list[float] | None] | None = None
                   ) -> dict[str, bytes]:
    """Render and encode the files of some samples of ONE identity.

    Args:
        cfg: the dataset config (renderer, extras, JPEG quality).
        samples: specs of one identity, e.g. ``select(plan, "flame_sample_0003_pain_2")``.
        heatmaps: also write the heatmap and annotation of each pain sample seen at view 0.
        mesh: also write the identity's textured mesh.
        landmarks: if given, filled with image path -> the image's face keypoints
            (:func:`pain3d.synth.keypoints.keypoint_values`; NaN when the renderer has none).

    Returns:
        ``{loose relative path: bytes}``.
    """
    samples = list(samples)
    if not samples:
        return {}
    if len({s.identity.index for s in samples}) != 1:
        raise ValueError("render_samples takes the samples of one identity at a time")
    renderer = get_renderer(cfg)
    state = renderer.prepare(samples[0].identity)
    want_mask, want_depth = "masks" in cfg.extras, "depth" in cfg.extras
    files: dict[str, bytes] = {}
    for s in samples:
        out = renderer.render(state, s, mask=want_mask, depth=want_depth)
        _check_image(out.rgb, s, "rgb", 3)
        files[layout.image_path(s)] = encode_jpeg(out.rgb, cfg.jpeg_quality)
        if landmarks is not None:
            landmarks[layout.image_path(s)] = keypoint_values(out.landmarks, s.size)
        if want_mask:
            _check_image(out.mask, s, "mask", None)
            files[layout.mask_path(s)] = encode_png(out.mask.astype(np.uint8))
        if want_depth:
            _check_image(out.depth, s, "depth", None)
            files[layout.depth_path(s)] = depth_png(out.depth)
        if heatmaps and s.expression != "neutral" and s.view.index == 0:
            heat = renderer.heatmap(state, s)
            _check_image(heat, s, "heatmap", 3)
            files[layout.heatmap_path(s)] = encode_png(heat)
            files[layout.annotation_path(s)] = annotation_json(s)
    if mesh:
        parts = renderer.mesh_files(state)
        for path, suffix in zip(layout.mesh_paths(samples[0].identity.index), layout.MESH_SUFFIXES,
                                strict=True):
            if suffix not in parts:
                raise ValueError(f"renderer mesh_files lacks {suffix!r}; it gave {sorted(parts)}")
            files[path] = parts[suffix]
        files.update(source_files(state))  # photo identities keep their raw photo
    return files


def peak_rss_mb() -> float:
    """This process's own peak resident memory in MB.

    Linux's ``VmHWM`` starts afresh when a process execs. ``ru_maxrss`` does not: a spawned
    worker's would include its parent's peak before the exec, so a driver that had screened
    photos (or a benchmark's process) would make every worker look as big as itself.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def warm_up(cfg: GenerateConfig) -> tuple[int, float]:
    """A pool worker's first task, while the driver still plans: the renderer's own
    ``warm_up(cfg)`` when it has one (imports, per-process tables). Nothing it builds
    depends on the plan, so every output stays the same.

    Returns:
        (process id, CPU seconds this process has used since it started: its imports and
        this warm-up, which no unit's ``cpu_seconds`` counts).
    """
    hook = getattr(renderer_class(cfg.renderer), "warm_up", None)
    if hook is not None:
        hook(cfg)
    return os.getpid(), time.process_time()


def render_unit(cfg: GenerateConfig, unit: UnitSpec) -> UnitResult:
    """All files of one identity (what an engine task runs)."""
    t0, c0 = time.perf_counter(), time.process_time()
    keypoints: dict[str, list[float] | None] = {}
    files = render_samples(cfg, unit.samples, landmarks=keypoints)
    expected = set(layout.all_unit_files(cfg, unit))
    if set(files) != expected:
        missing, extra = sorted(expected - set(files)), sorted(set(files) - expected)
        raise RuntimeError(f"unit {unit.identity.name}: missing {missing[:3]}, extra {extra[:3]}")
    rss = peak_rss_mb()
    return UnitResult(
        identity=unit.identity.index,
        files=files,
        n_images=unit.n_images,
        seconds=time.perf_counter() - t0,
        cpu_seconds=time.process_time() - c0,  # all threads of the worker (llvmpipe too)
        peak_rss_mb=rss,
        landmarks=keypoints,
    )
