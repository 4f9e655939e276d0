"""What decides the bytes of a dataset: :class:`GenerateConfig` (how a run goes is in
:class:`pain3d.synth.generate.RunOptions`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pain3d.appearance.diffusion import DiffusionConfig
from pain3d.facs import PlanConfig
from pain3d.synth.photo_input import PhotoConfig

Layout = Literal["3dpain", "hub", "both"]
AppearanceKind = Literal["procedural", "diffusion"]
EXTRAS: tuple[str, ...] = ("masks", "depth")
MAX_IDENTITIES = 10_000  # names carry 4 digits: flame_sample_0000 .. flame_sample_9999


@dataclass(frozen=True)
class VariationConfig:
    """Capture-to-capture variation (``reference_variation`` of :class:`GenerateConfig`).

    A real neutral reference is never the same photograph as the pain frame minus the
    expression: the head sits a little differently, the light has moved, the camera is not in
    the same spot. With this option every image (the neutral reference, each pain image and
    each neutral session) gets its own small draw of each quantity below, uniform in
    ``[-x, x]``, seeded from its own spec (:mod:`pain3d.synth.variation`). Camera effects and
    noise are drawn per image in any case. Defaults: a few degrees of head pose, a small light
    change; the face crop (eye and mouth keypoints) follows the face as at inference.

    Attributes:
        neutral_sessions: neutral targets per identity: separate neutral captures, each with
            its own variation, named as the configurations after the pain ones
            (``pain_{K+1}`` .. ``pain_{K+S}``, all AUs 0, PSPI 0) so that every reader
            (pain3d's and the published 3DPain loader) takes them as PSPI-0 samples, never as
            references; the manifest's ``neutral_session`` column says which they are.
        head_deg: head yaw and pitch offset, degrees (default 3).
        roll_deg: head roll offset, degrees (default 2).
        distance_frac: relative change of the camera distance (default 0.03: +-3 %).
        shift_m: look-at point shift in x and y, metres (default 0.005: +-5 mm, about 2 % of
            the frame at the default camera).
        light_deg: rotation of the whole light rig about the vertical axis, degrees (default
            10); about the horizontal axis by half of it.
        light_gain: relative change of the exposure (default 0.1: x0.9..x1.1).
    """

    neutral_sessions: int = 2
    head_deg: float = 3.0
    roll_deg: float = 2.0
    distance_frac: float = 0.03
    shift_m: float = 0.005
    light_deg: float = 10.0
    light_gain: float = 0.1

    def __post_init__(self) -> None:
        if not 0 <= self.neutral_sessions <= 20:
            raise ValueError(f"reference_variation.neutral_sessions must be in 0..20, got "
                             f"{self.neutral_sessions}")
        limits = {"head_deg": 15.0, "roll_deg": 15.0, "distance_frac": 0.2, "shift_m": 0.03,
                  "light_deg": 45.0, "light_gain": 0.5}
        for key, top in limits.items():
            value = getattr(self, key)
            if not 0 <= value <= top:
                raise ValueError(f"reference_variation.{key} = {value} must be in 0..{top} "
                                 "(small capture-to-capture changes)")


@dataclass(frozen=True)
class GenerateConfig:
    """Everything that decides the bytes of a dataset (how it is run is in RunOptions).

    Attributes:
        identities: number of synthetic identities (published: 2,500).
        per_identity: pain configurations per identity (published: 10).
        views: camera views per expression (published: 3).
        size: square image side in pixels.
        seed: master seed; every other seed is derived from it and a spec.
        layout: ``3dpain`` (loose files the published code reads), ``hub`` (tar.gz shards),
            or ``both`` (3dpain at the root plus the hub layout under ``hub/``).
        extras: any of ``masks``, ``depth`` (per-image PNGs).
        face_model: ``builtin`` or ``flame`` (needs ``flame_dir``).
        flame_dir: folder holding the user's FLAME model.
        backgrounds: folder of background photos (random crops); None = procedural.
        renderer: ``builtin`` or ``module:Class`` of a :class:`SampleRenderer` (a test seam).
        min_pspi: lowest PSPI level of the pain configurations (levels uniform to 16).
        continuous: float AU intensities instead of integers.
        nuisance_aus: non-pain AUs added as variation (never in PSPI), e.g. ``AU12``.
        nuisance_max: highest nuisance intensity, FACS 0..5.
        yaw, pitch, roll: per-view base camera angles in degrees (the first ``views`` used).
        distance: camera distance in metres.
        fov: vertical field of view of the cameras, degrees.
        jitter_deg: per-identity uniform jitter added to every base angle, degrees.
        jpeg_quality: OpenCV JPEG quality of the images, 1..100.
        antialias: the renderer's supersampling factor, 1..4. 1 = silhouette feathering only
            (fastest); 2-4 also smooth interior edges (eyelids, lips, hairline) at roughly
            k² times the shading work (``benchmarks/render.py --supersample 1 2``).
        texture_png_level: zlib level 0..9 of the textured meshes' PNG textures (lossless
            whatever the level: it only trades time for size). 1 (default since pain3d
            0.2.x, issue 16) encodes a 512 px texture in ~17 ms instead of ~90 ms at
            Pillow's default 6, for ~7 % larger files; 6 gives the bytes of earlier datasets.
        shard_identities: identities per hub shard.
        split_fractions: train/val/test fractions of identities.
        appearance: ``procedural`` (built-in painted textures) or ``diffusion`` (a Stable
            Diffusion portrait per identity baked onto its texture, and optionally inpainted
            backgrounds; needs diffusers, the weights and a GPU; see ``diffusion``).
        diffusion: the :class:`~pain3d.appearance.diffusion.DiffusionConfig` of
            ``appearance: diffusion`` (defaults when not given); must stay unset (null) for
            ``procedural``.
        reference_variation: None (the published composition: every image of a view shares
            its camera and light, references are pixel-aligned with their pain images) or a
            :class:`VariationConfig`: each image its own small head pose, light and camera
            change, plus neutral sessions as PSPI-0 samples (``reference_variation: {}`` in
            YAML or ``--reference-variation`` for the defaults).
        identities_from: a folder of photos, or a CSV with a ``path`` column (optional
            ``sex``, ``age_band``, ``ancestry``): each photo with one usable neutral face
            becomes an identity (docs/photo_identities.md); ``identities`` is then the most
            photos used, and the dataset's saved config records how many were.
        photo: the :class:`~pain3d.synth.photo_input.PhotoConfig` of photo identities
            (defaults when not given); must stay unset without ``identities_from``.
    """

    identities: int = 2500
    per_identity: int = 10
    views: int = 3
    size: int = 512
    seed: int = 0
    layout: Layout = "3dpain"
    extras: tuple[str, ...] = ()
    face_model: Literal["builtin", "flame"] = "builtin"
    flame_dir: str | None = None
    backgrounds: str | None = None
    renderer: str = "builtin"
    min_pspi: int = 1
    continuous: bool = False
    nuisance_aus: tuple[str, ...] = ()
    nuisance_max: float = 2.0
    # The published three views (pain3d.render.camera.default_views), then two more.
    yaw: tuple[float, ...] = (3.0, -35.0, 18.0, 35.0, -18.0)
    pitch: tuple[float, ...] = (10.0, 2.0, -6.0, 2.0, -6.0)
    roll: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)
    distance: float = 0.8
    fov: float = 20.0
    jitter_deg: float = 3.0
    jpeg_quality: int = 95
    antialias: int = 1
    texture_png_level: int = 1
    shard_identities: int = 100
    split_fractions: tuple[float, ...] = (0.7, 0.2, 0.1)
    appearance: AppearanceKind = "procedural"
    diffusion: DiffusionConfig | None = None
    reference_variation: VariationConfig | None = None
    identities_from: str | None = None
    photo: PhotoConfig | None = None

    def __post_init__(self) -> None:
        for key in ("extras", "nuisance_aus", "yaw", "pitch", "roll", "split_fractions"):
            object.__setattr__(self, key, tuple(getattr(self, key)))
        if not 1 <= self.identities <= MAX_IDENTITIES:
            raise ValueError(f"identities must be in 1..{MAX_IDENTITIES}, got {self.identities}")
        if self.per_identity < 0:
            raise ValueError(f"per_identity must be >= 0, got {self.per_identity}")
        if self.views < 1:
            raise ValueError(f"views must be >= 1, got {self.views}")
        for key in ("yaw", "pitch", "roll"):
            if len(getattr(self, key)) < self.views:
                raise ValueError(
                    f"{key} gives {len(getattr(self, key))} angles for {self.views} views: "
                    f"set {key} to a list of at least {self.views} angles in the config file"
                )
        if not 16 <= self.size <= 4096:
            raise ValueError(f"size must be in 16..4096 pixels, got {self.size}")
        if self.layout not in ("3dpain", "hub", "both"):
            raise ValueError(f"layout {self.layout!r} is not one of 3dpain, hub, both")
        bad = [e for e in self.extras if e not in EXTRAS]
        if bad:
            raise ValueError(f"unknown extras {bad}: choose from {EXTRAS}")
        if self.face_model == "flame" and not self.flame_dir:
            raise ValueError("face_model 'flame' needs flame_dir (--flame-dir DIR)")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in 1..100, got {self.jpeg_quality}")
        if self.antialias not in (1, 2, 3, 4):
            raise ValueError(f"antialias = {self.antialias}: use a supersampling factor of "
                             "1, 2, 3 or 4")
        if not 0 <= self.texture_png_level <= 9:
            raise ValueError(f"texture_png_level must be a zlib level in 0..9, got "
                             f"{self.texture_png_level}")
        if self.shard_identities < 1:
            raise ValueError(f"shard_identities must be >= 1, got {self.shard_identities}")
        fr = self.split_fractions
        if len(fr) != 3 or min(fr) < 0 or abs(sum(fr) - 1.0) > 1e-6:
            raise ValueError(
                f"split_fractions must be 3 non-negative numbers summing to 1, got {fr}"
            )
        if not 0.1 <= self.distance <= 10:
            raise ValueError(f"distance must be in 0.1..10 metres, got {self.distance}")
        if not 1 <= self.fov <= 120:
            raise ValueError(f"fov must be in 1..120 degrees, got {self.fov}")
        if self.jitter_deg < 0:
            raise ValueError(f"jitter_deg must be >= 0, got {self.jitter_deg}")
        if self.appearance not in ("procedural", "diffusion"):
            raise ValueError(f"appearance {self.appearance!r} is not one of procedural, "
                             "diffusion")
        if self.appearance == "diffusion":
            if self.diffusion is None:
                object.__setattr__(self, "diffusion", DiffusionConfig())
            if self.renderer != "builtin":
                raise ValueError(f"appearance 'diffusion' is a feature of the builtin renderer; "
                                 f"renderer is {self.renderer!r}")
        elif self.diffusion is not None:
            raise ValueError("diffusion settings are given but appearance is 'procedural': set "
                             "appearance: diffusion (--appearance diffusion) to use them, or "
                             "remove the diffusion block")
        self._check_photo_identities()
        # Validates min_pspi, nuisance AU names and nuisance_max with the FACS module's messages.
        self.plan_config()

    def _check_photo_identities(self) -> None:
        if self.identities_from is None:
            if self.photo is not None:
                raise ValueError("photo settings are given but identities_from is not: set "
                                 "identities_from (--identities-from PATH) to use them, or "
                                 "remove the photo block")
            return
        if self.photo is None:
            object.__setattr__(self, "photo", PhotoConfig())
        if self.face_model != "builtin" or self.appearance != "procedural":
            raise ValueError("identities_from fits the builtin head to each photo and uses the "
                             "photo as its appearance: face_model must be 'builtin' and "
                             f"appearance 'procedural' (got {self.face_model!r}, "
                             f"{self.appearance!r})")
        if self.renderer != "builtin":
            raise ValueError(f"photo identities (identities_from) are a feature of the builtin "
                             f"renderer; renderer is {self.renderer!r}")
        if self.size < 64:
            raise ValueError(f"photo identities need size >= 64 pixels, got {self.size}")

    def plan_config(self) -> PlanConfig:
        """The AU-configuration plan settings of this dataset."""
        return PlanConfig(
            identities=self.identities,
            per_identity=self.per_identity,
            seed=self.seed,
            min_pspi=self.min_pspi,
            continuous=self.continuous,
            nuisance_aus=self.nuisance_aus,
            nuisance_max=self.nuisance_max,
        )
