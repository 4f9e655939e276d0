"""The builtin renderer's photo identities: from an identity spec to images, heatmaps, the
textured mesh and the kept raw photo.

:class:`PhotoStage` lives in each worker's :class:`pain3d.synth.builtin.BuiltinRenderer`
when the config has ``identities_from``; it owns the
:class:`pain3d.render.photo.PhotoRenderer` (made on first use; a face tracker too, only for
an identity spec without the plan's landmarks and person mask) and turns a ``photo``
:class:`~pain3d.synth.spec.IdentitySpec` into a :class:`PhotoUnit`, the per-identity state
that renders the identity's samples.

Views: view 0 is the photo's own camera, composited into the photo; view ``v > 0`` turns that
camera about the head to the view's absolute angles (yaw, pitch, roll of the plan) and draws
the whole fitted head over the photo with its head filled in. Per image nothing is random:
the photo's own light, no camera effects (a pair's neutral and pain images differ only inside
the face).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from pain3d.demographics import Demographics
from pain3d.synth import layout
from pain3d.synth.config import GenerateConfig
from pain3d.synth.photo import PhotoIdentity
from pain3d.synth.photo_input import PhotoRejected, decode_photo
from pain3d.synth.renderer import RenderedImage
from pain3d.synth.spec import IdentitySpec, SampleSpec

log = logging.getLogger(__name__)


def read_checked(spec: IdentitySpec) -> bytes:
    """The photo file's bytes, checked against the SHA-256 the dataset was planned with.

    Raises:
        RuntimeError: when the file cannot be read or changed since planning.
    """
    try:
        data = Path(spec.photo).read_bytes()
    except OSError as exc:
        raise RuntimeError(f"{spec.name}: its photo {spec.photo} cannot be read any more "
                           f"({exc.strerror}); restore it to finish the dataset") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.photo_sha256:
        raise RuntimeError(f"{spec.name}: its photo {spec.photo} changed since the dataset was "
                           f"planned (SHA-256 {digest[:12]}..., planned "
                           f"{spec.photo_sha256[:12]}...); restore it or use a new --out")
    return data


@lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim``, or None (another C library)."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def trim_heap() -> None:
    """Give the heap's free pages back to the system (glibc; a no-op elsewhere).

    The bake of a photo identity frees ~100 MB of 1024-texel temporaries that glibc keeps
    mapped; the first render's texture upload then adds its own on top of them. Trimming
    after the bake lowered a worker's peak RSS by ~40 MB (about 470 -> 430 MB,
    ``benchmarks/photo_identities.py``); trimming before it too (what the previous
    identity's renders freed) by another ~10 MB, for a few ms of page faults each.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _demographics(spec: IdentitySpec) -> Demographics | None:
    try:
        return spec.demographics
    except ValueError:  # "unknown" values: no demographic prior
        return None


def warm_up(cfg: GenerateConfig) -> None:
    """What a worker's first photo identity would otherwise pay for, done while the driver
    screens the photos: the imports, and the UV raster of the head's layout."""
    import pain3d.face.photo_fit  # noqa: F401
    import pain3d.face.photo_hair  # noqa: F401
    import pain3d.render.photo  # noqa: F401
    import pain3d.synth.photo  # noqa: F401
    from pain3d.appearance.photo import warm_up as raster_layout
    from pain3d.face.builtin import mesh_from_coarse
    from pain3d.face.head import head_template

    raster_layout(mesh_from_coarse(head_template().coarse), cfg.photo.texture_size)


class PhotoStage:
    """Photo identities of one worker (see the module docstring)."""

    def __init__(self, cfg: GenerateConfig) -> None:
        self.cfg = cfg
        self._tracker = None
        self._renderer = None

    @property
    def renderer(self):
        if self._renderer is None:
            from pain3d.render.photo import PhotoRenderer

            self._renderer = PhotoRenderer(self.cfg.size, supersample=self.cfg.antialias)
        return self._renderer

    def release(self) -> None:
        """Free the tracker's graphs and the OpenGL context."""
        if self._tracker is not None:
            self._tracker.close()
        if self._renderer is not None:
            self._renderer.release()
        self._tracker = self._renderer = None

    def identity(self, spec: IdentitySpec) -> PhotoIdentity:
        """The :class:`~pain3d.synth.photo.PhotoIdentity` of a ``photo`` spec, fitted from
        the landmarks and person mask the spec carries (the plan's screening: no tracker
        runs here, so the worker never loads MediaPipe); a spec without them has its photo
        screened again.

        Raises:
            RuntimeError: when the photo changed or no longer passes the screening.
        """
        from pain3d.synth.photo import photo_identity, unpack_mask
        from pain3d.synth.photo_input import screened_face

        data = read_checked(spec)
        trim_heap()  # the bake below is the worker's peak: start it on a trimmed heap
        screened = person = None
        if spec.photo_landmarks:
            screened = screened_face(np.reshape(spec.photo_landmarks, (-1, 3)),
                                     spec.photo_warnings)
        if spec.photo_person:
            person = unpack_mask(spec.photo_person, self.cfg.size)
        try:
            ident = photo_identity(decode_photo(data, spec.photo), _demographics(spec),
                                   self.cfg.photo,
                                   None if screened and person is not None else self.tracker,
                                   self.cfg.size, source_sha256=spec.photo_sha256,
                                   screened=screened, person=person)
        except PhotoRejected as exc:  # it passed when the dataset was planned
            raise RuntimeError(f"{spec.name}: its photo {spec.photo} was accepted when the "
                               f"dataset was planned but not now ({exc.reason}: {exc})") from exc
        trim_heap()
        return ident

    @property
    def tracker(self):
        """The face tracker, made on first use (only for specs without the plan's landmarks
        or person mask)."""
        if self._tracker is None:
            from pain3d.face.tracker import FaceTracker

            self._tracker = FaceTracker()
        return self._tracker

    def unit(self, spec: IdentitySpec, identity: PhotoIdentity) -> PhotoUnit:
        return PhotoUnit(spec=spec, identity=identity, stage=self)


@dataclass(eq=False)
class PhotoUnit:
    """The per-identity state of a photo identity (what ``prepare`` returns)."""

    spec: IdentitySpec
    identity: PhotoIdentity
    stage: PhotoStage
    _expressed: tuple[str | None, Any] = (None, None)
    _heat: tuple[str | None, Any] = field(default=(None, None))

    def _mesh(self, sample: SampleSpec):
        key, mesh = self._expressed
        if key != sample.expression:
            from pain3d.face import express

            mesh = self.identity.mesh
            if sample.expression != "neutral":
                mesh = express(mesh, np.asarray(sample.aus), nuisance=dict(sample.nuisance)
                               or None)
            self._expressed = (sample.expression, mesh)
        return mesh

    def camera(self, sample: SampleSpec):
        """The photo's camera for view 0, else turned about the head to the view's angles."""
        from pain3d.render.photo import orbit_camera

        own = self.identity.camera
        if sample.view.index == 0:
            return own
        v = sample.view
        return orbit_camera(own, v.yaw - own.yaw, v.pitch - own.pitch, v.roll - own.roll)

    def variation(self, sample: SampleSpec) -> tuple[tuple[float, float, float], Any]:
        """(pose offset in degrees, :class:`~pain3d.render.photo.PhotoLighting` or None) of a
        sample, from :func:`pain3d.synth.variation.sample_delta` (``reference_variation``):
        the head turns by the pose offset and the photo's light turns and scales. The
        photo's framing stays (the plan gives photo identities distance 1 and shift 0)."""
        from pain3d.render.photo import PhotoLighting
        from pain3d.synth.variation import NO_VARIATION, sample_delta

        d = sample_delta(sample)
        if d == NO_VARIATION:
            return (0.0, 0.0, 0.0), None
        return ((d.head_yaw, d.head_pitch, d.head_roll),
                PhotoLighting(yaw=d.light_azimuth, pitch=d.light_elevation, gain=d.light_gain))

    def render(self, sample: SampleSpec, *, mask: bool, depth: bool) -> RenderedImage:
        from pain3d.synth.keypoints import keypoints_3d, project_keypoints
        from pain3d.synth.photo import render_photo

        mesh = self._mesh(sample)
        heat = None
        if sample.expression != "neutral" and sample.view.index == 0:
            from pain3d.face import HEATMAP_SCALE_M, displacement
            from pain3d.render.colormap import normalise_heat

            heat = normalise_heat(displacement(self.identity.mesh, mesh), HEATMAP_SCALE_M)
        offset, lighting = self.variation(sample)
        own = sample.view.index == 0
        image = render_photo(self.identity, self.stage.renderer, sample.aus, mesh=mesh,
                             camera=None if own else self.camera(sample), heat=heat,
                             pose_offset=offset, lighting=lighting, depth=depth)
        if heat is not None:
            self._heat = (sample.name, image.result.heatmap)
        return RenderedImage(rgb=image.rgb, mask=image.result.mask if mask else None,
                             depth=image.result.depth if depth else None,
                             landmarks=project_keypoints(keypoints_3d(mesh), image.camera,
                                                         sample.size))

    def heatmap(self, sample: SampleSpec) -> np.ndarray:
        name, heat = self._heat
        if name != sample.name or heat is None:
            self.render(sample, mask=False, depth=False)  # a heatmap without its image
        return self._heat[1]

    def mesh_files(self) -> dict[str, bytes]:
        """The fitted neutral mesh with the baked photo texture: suffix -> bytes."""
        from pain3d.face import export_obj

        name = self.spec.name
        texture = np.ascontiguousarray(self.identity.appearance.albedo[::-1])
        with tempfile.TemporaryDirectory() as tmp:
            export_obj(self.identity.mesh, Path(tmp) / f"{name}.obj", texture=texture,
                       png_level=self.stage.cfg.texture_png_level)
            files = {p.name: p.read_bytes() for p in Path(tmp).iterdir()}
        return {suffix: files[f"{name}{suffix}"] for suffix in layout.MESH_SUFFIXES}

    def source_files(self) -> dict[str, bytes]:
        """The raw photo, kept in the dataset for provenance: {path: bytes}."""
        return {layout.source_photo_path(self.spec): read_checked(self.spec)}


def source_files(state: Any) -> dict[str, bytes]:
    """Files a renderer state adds to its identity's files: the raw photo of a photo identity
    ({} for any other state)."""
    return state.source_files() if isinstance(state, PhotoUnit) else {}
