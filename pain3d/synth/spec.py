"""What a dataset is made of: sample specs, per-identity units and the plan that holds them.

A plan is plain data (:func:`pain3d.synth.plan.build_plan` makes it). Every image, heatmap,
annotation and mesh of a dataset is a pure function of one spec (plus the package version),
so a spec regenerates its files alone and the bytes never depend on which worker, process or
machine rendered them. An :class:`IdentitySpec` holds everything that makes its person; the
renderer builds the person from it alone (:func:`pain3d.synth.builtin.build_identity`).

Camera convention of :class:`ViewSpec` (degrees, head frame of :mod:`pain3d.face.mesh`):
``yaw`` > 0 turns the camera toward the subject's left (+x), ``pitch`` > 0 raises the camera
above the eyes looking down, ``roll`` > 0 rotates the camera counter-clockwise about its
viewing axis; ``distance`` is from the camera to the head-frame origin, in metres.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from pain3d.demographics import Demographics
from pain3d.facs import NUISANCE_AUS, pspi
from pain3d.synth.config import GenerateConfig

SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")
IdentitySource = Literal["sampled", "photo"]
"""Where an identity comes from: ``sampled`` from the face model's shape space by a seed, or
``photo``: the built-in head fitted to a real photo (:mod:`pain3d.synth.photo`)."""


@dataclass(frozen=True)
class IdentitySpec:
    """One person, and everything that makes them.

    Attributes:
        index: the dataset's identity id (``flame_sample_XXXX``).
        sex, age_band, ancestry: demographics (:mod:`pain3d.demographics`).
        split: ``train``, ``val`` or ``test``.
        appearance_seed: draws the appearance: traits, textures, hair, the diffusion portrait
            (the manifest's ``identity_seed``).
        source: how the face is made (:data:`IdentitySource`); each source has its own
            fields below and its branch in :func:`pain3d.synth.builtin.build_identity`.
        face_model: ``builtin`` or ``flame``, the shape space of the face.
        shape_seed: ``sampled``: with the demographics, draws the shape parameters
            (:func:`pain3d.face.identity.make_identity`).
        photo: ``photo``: where the photo is read (the ``identities_from`` folder or CSV
            entry, as given); demographics are ``unknown`` unless the CSV gave them.
        photo_sha256: ``photo``: SHA-256 of the photo file's bytes when the dataset was
            planned (the renderer refuses a file that changed).
        photo_name: ``photo``: the photo's name as listed (relative to the folder, or the
            CSV's ``path`` value): the manifest's ``source_photo``.
        photo_warnings: ``photo``: notes on the accepted photo
            (:data:`pain3d.synth.photo_input.WARNINGS`).
        photo_landmarks: ``photo``: the face's (478, 3) landmarks in photo pixels as the
            screening found them, flattened (float32 values); the renderer fits the head from
            them and never runs the face tracker. Empty: the renderer detects them again.
            Not a free parameter: the plan takes them from the photo (the tracker gives the
            same values for the same photo bytes in any process), so a resumed run or
            ``--only`` plans the same spec.
        photo_person: ``photo``: the pixels of the photo's crop (the identity's images) that
            show the person, as the screening found them
            (:func:`pain3d.synth.photo.person_mask`, packed by
            :func:`pain3d.synth.photo.pack_mask`: a 1-bit PNG in base64, a few kB); the same
            for any process, like the landmarks. Empty: the renderer finds them again.
    """

    index: int
    sex: str
    age_band: str
    ancestry: str
    split: str
    appearance_seed: int
    source: IdentitySource = "sampled"
    face_model: str = "builtin"
    shape_seed: int | None = None
    photo: str | None = None
    photo_sha256: str | None = None
    photo_name: str | None = None
    photo_warnings: tuple[str, ...] = ()
    photo_landmarks: tuple[float, ...] = field(default=(), repr=False)
    photo_person: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "photo_warnings", tuple(self.photo_warnings))
        object.__setattr__(self, "photo_landmarks", tuple(map(float, self.photo_landmarks)))
        if len(self.photo_landmarks) % 3:
            raise ValueError(f"identity {self.index}: photo_landmarks holds "
                             f"{len(self.photo_landmarks)} values, not (N, 3) flattened")
        if self.source not in ("sampled", "photo"):
            raise ValueError(f"identity {self.index}: source {self.source!r} is not 'sampled' "
                             "or 'photo'")
        if self.source == "sampled" and self.shape_seed is None:
            raise ValueError(f"identity {self.index}: a 'sampled' identity needs shape_seed")
        if self.source == "photo" and not (self.photo and self.photo_sha256):
            raise ValueError(f"identity {self.index}: a 'photo' identity needs photo and "
                             "photo_sha256")

    @property
    def name(self) -> str:
        """``flame_sample_XXXX``, the published identity name."""
        return identity_name(self.index)

    @property
    def demographics(self) -> Demographics:
        return Demographics(self.sex, self.age_band, self.ancestry)


@dataclass(frozen=True)
class ViewSpec:
    """One camera of one identity; shared by its neutral and pain images (paired references)."""

    index: int
    yaw: float
    pitch: float
    roll: float
    distance: float
    light_seed: int
    background_seed: int


@dataclass(frozen=True)
class VariationSpec:
    """The capture variation of one image, relative to its view (drawn by
    :func:`pain3d.synth.variation.draw_variation`; applied by the renderer through
    :func:`pain3d.synth.variation.sample_delta`).

    Attributes:
        head_yaw, head_pitch, head_roll: head pose offset, degrees, applied as an offset of
            the view's camera angles (same sign conventions as :class:`ViewSpec`).
        distance_scale: camera distance multiplier.
        shift_x, shift_y: look-at point shift in the head frame, metres.
        light_azimuth, light_elevation: rotation of the light rig about the head frame's
            vertical and lateral axes, degrees.
        light_gain: exposure multiplier.
    """

    head_yaw: float = 0.0
    head_pitch: float = 0.0
    head_roll: float = 0.0
    distance_scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    light_azimuth: float = 0.0
    light_elevation: float = 0.0
    light_gain: float = 1.0


@dataclass(frozen=True)
class SampleSpec:
    """One rendered image: an identity, an expression and a view.

    Attributes:
        identity: the person.
        expression: ``neutral`` (the reference) or ``pain_k`` (k = 1..K pain configurations,
            then K+1..K+S neutral sessions).
        aus: (6,) AU intensities in :data:`pain3d.facs.AU_NAMES` order, FACS 0..5.
        nuisance: non-pain AU name -> requested intensity (never part of PSPI; what is
            applied is :attr:`applied_nuisance`).
        view: the camera.
        size: image side in pixels.
        seed: seed of everything random in this one image (noise, camera effects).
        session: 0, or s = 1..S for the s-th neutral session (a PSPI-0 target captured apart
            from the reference; ``reference_variation``).
        variation: this image's own capture variation, or None (the view's camera and light
            exactly: the published composition).
    """

    identity: IdentitySpec
    expression: str
    aus: tuple[float, ...]
    nuisance: tuple[tuple[str, float], ...]
    view: ViewSpec
    size: int
    seed: int
    session: int = 0
    variation: VariationSpec | None = None

    @property
    def base_name(self) -> str:
        """``flame_sample_XXXX_pain_Y`` or ``flame_sample_XXXX_neutral``."""
        return f"{self.identity.name}_{self.expression}"

    @property
    def name(self) -> str:
        """The image stem, e.g. ``flame_sample_0007_pain_3_textured_view_001_inpainted``."""
        return image_stem(self.base_name, self.view.index)

    @property
    def config(self) -> int:
        """Configuration index k of ``pain_k``; 0 for neutral."""
        return 0 if self.expression == "neutral" else int(self.expression.split("_")[1])

    @property
    def is_reference(self) -> bool:
        """The identity's neutral reference of its view (not a sample)."""
        return self.expression == "neutral"

    @property
    def applied_nuisance(self) -> dict[str, float]:
        """Every nuisance AU (:data:`pain3d.facs.NUISANCE_AUS`) -> the intensity the rig
        applies (:func:`pain3d.face.expression.applied_nuisance`: brow raisers switched off
        by AU4), rounded to 6 decimals; 0 for AUs not requested."""
        from pain3d.face.expression import applied_nuisance

        requested = dict(self.nuisance)
        vec = np.array([float(requested.get(n, 0.0)) for n in NUISANCE_AUS])
        applied = applied_nuisance(np.asarray(self.aus, np.float64), vec)
        return {n: round(float(v), 6) for n, v in zip(NUISANCE_AUS, applied, strict=True)}

    @property
    def pspi(self) -> float:
        return float(pspi(np.asarray(self.aus), validate=False))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values; :func:`sample_from_json` inverts it."""
        d = dataclasses.asdict(self)
        d["aus"] = list(self.aus)
        d["nuisance"] = {k: v for k, v in self.nuisance}
        return d


def sample_from_json(d: Mapping[str, Any]) -> SampleSpec:
    """Rebuild a :class:`SampleSpec` from :meth:`SampleSpec.to_json` output."""
    return SampleSpec(
        identity=IdentitySpec(**d["identity"]),
        expression=str(d["expression"]),
        aus=tuple(float(a) for a in d["aus"]),
        nuisance=tuple((str(k), float(v)) for k, v in dict(d["nuisance"]).items()),
        view=ViewSpec(**d["view"]),
        size=int(d["size"]),
        seed=int(d["seed"]),
        session=int(d.get("session", 0)),
        variation=VariationSpec(**d["variation"]) if d.get("variation") else None,
    )


@dataclass(frozen=True)
class UnitSpec:
    """The work of one identity: its images, one heatmap per pain config, its mesh.

    ``samples`` are ordered neutral first, then pain_1..pain_K (then the neutral sessions
    pain_{K+1}..pain_{K+S}), each over views 0..V-1; ``heatmaps`` are the view-0 specs of
    every configuration but the neutral reference (the heatmap camera; a neutral session's
    heatmap is black).
    """

    identity: IdentitySpec
    samples: tuple[SampleSpec, ...]

    @property
    def heatmaps(self) -> tuple[SampleSpec, ...]:
        return tuple(s for s in self.samples if s.expression != "neutral" and s.view.index == 0)

    @property
    def n_images(self) -> int:
        return len(self.samples)


@dataclass(frozen=True)
class DatasetPlan:
    """A dataset as data: its config, the package version and one unit per identity (and,
    for photo identities, the screening of the photos)."""

    config: GenerateConfig
    version: str
    units: tuple[UnitSpec, ...] = field(repr=False)
    photos: Any = field(default=None, repr=False)
    """For ``identities_from``: the :class:`pain3d.synth.photo_source.PhotoScreen` the
    identities come from (which photos were used, which skipped and why)."""

    @property
    def samples(self) -> list[SampleSpec]:
        return [s for u in self.units for s in u.samples]

    @property
    def n_images(self) -> int:
        return sum(u.n_images for u in self.units)

    def unit(self, identity: int) -> UnitSpec:
        return self.units[identity]


# --------------------------------------------------------------------------------------------
# Names (the published 3DPain conventions, FORMATS.md section 2)


def identity_name(index: int) -> str:
    return f"flame_sample_{index:04d}"


def image_stem(base_name: str, view: int) -> str:
    return f"{base_name}_textured_view_{view:03d}_inpainted"
