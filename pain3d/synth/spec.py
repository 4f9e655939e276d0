"""What a dataset is: the generation config, sample specs and the plan built from them.

A plan is plain data. Every image, heatmap, annotation and mesh of a dataset is a pure
function of one spec (plus the package version), so a spec regenerates its files alone and
the bytes never depend on which worker, process or machine rendered them.

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

from pain3d import __version__
from pain3d.demographics import balanced_demographics
from pain3d.facs import AU_NAMES, PlanConfig, pspi, sample_plan

Layout = Literal["3dpain", "hub", "both"]
AppearanceKind = Literal["procedural", "diffusion"]
EXTRAS: tuple[str, ...] = ("masks", "depth")
SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")
MAX_IDENTITIES = 10_000  # names carry 4 digits: flame_sample_0000 .. flame_sample_9999

# Seed-stream tags: each random quantity draws from its own stream keyed by these, so adding
# a new quantity never shifts the values of the existing ones.
_TAG_IDENTITY, _TAG_VIEW, _TAG_SAMPLE, _TAG_SPLIT = 0x1D, 0x71E, 0x5A3, 0x5B1
TAG_PORTRAIT = 0xD1F  # the diffusion portrait of an identity: derive_seed(identity.seed, TAG)


@dataclass(frozen=True)
class DiffusionSettings:
    """The diffusion appearance of ``GenerateConfig(appearance="diffusion")``.

    Per identity a depth-conditioned Stable Diffusion portrait (prompt: the identity's
    ``Demographics.prompt`` + ``portrait_prompt``) is generated from a frontal render of its
    neutral mesh and baked onto its procedural texture, which all its images share; with
    ``background_prompt`` every image's background is inpainted around the head mask.

    Attributes:
        base_model: Stable Diffusion 1.5-family model id (Hugging Face cache) or folder.
        depth_controlnet: depth ControlNet id or folder for that base model.
        inpaint_model: inpainting model id or folder (used only with ``background_prompt``).
        device: torch device: ``cuda``, ``cuda:N`` (``cpu`` works, very slowly, in float32).
        dtype: ``float16`` (GPU) or ``float32``.
        steps: denoising steps per portrait / background.
        guidance: classifier-free guidance scale.
        portrait_size: side in pixels of the portrait (multiple of 8; 512 for SD 1.5),
            independent of the dataset's image size.
        portrait_prompt: appended to the demographic prompt.
        negative_prompt: what the pipelines avoid.
        background_prompt: scene prompt for inpainting the backgrounds, e.g. ``a hospital
            room, soft daylight``; None keeps the procedural (or photo) backgrounds.
    """

    base_model: str = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    depth_controlnet: str = "lllyasviel/control_v11f1p_sd15_depth"
    inpaint_model: str = "stable-diffusion-v1-5/stable-diffusion-inpainting"
    device: str = "cuda"
    dtype: Literal["float16", "float32"] = "float16"
    steps: int = 30
    guidance: float = 7.0
    portrait_size: int = 512
    portrait_prompt: str = ("close-up studio portrait photo, looking straight at the camera, "
                            "even soft light, detailed natural skin")
    negative_prompt: str = ("cartoon, painting, illustration, deformed, blurry, glasses, hat, "
                            "text, watermark")
    background_prompt: str | None = None

    def __post_init__(self) -> None:
        if not (64 <= self.portrait_size <= 2048 and self.portrait_size % 8 == 0):
            raise ValueError(f"diffusion.portrait_size = {self.portrait_size}: use a multiple "
                             "of 8 in 64..2048 (512 for Stable Diffusion 1.5)")
        if self.background_prompt is not None and not self.background_prompt.strip():
            raise ValueError("diffusion.background_prompt is empty: give a scene description "
                             "or null for the procedural backgrounds")
        try:
            self.backend()
        except ValueError as exc:  # DiffusionConfig names its field; say the generate key
            raise ValueError(str(exc).replace("DiffusionConfig.", "diffusion.")) from None

    def backend(self):
        """The :class:`pain3d.appearance.diffusion.DiffusionConfig` of these settings."""
        from pain3d.appearance.diffusion import DiffusionConfig

        return DiffusionConfig(
            base_model=self.base_model, depth_controlnet=self.depth_controlnet,
            inpaint_model=self.inpaint_model, device=self.device, dtype=self.dtype,
            steps=self.steps, guidance=self.guidance, local_files_only=True,
            negative_prompt=self.negative_prompt)


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
        shard_identities: identities per hub shard.
        split_fractions: train/val/test fractions of identities.
        appearance: ``procedural`` (built-in painted textures) or ``diffusion`` (a Stable
            Diffusion portrait per identity baked onto its texture, and optionally inpainted
            backgrounds; needs diffusers, the weights and a GPU; see ``diffusion``).
        diffusion: the :class:`DiffusionSettings` of ``appearance: diffusion`` (defaults when
            not given); must stay unset (null) for ``procedural``.
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
    shard_identities: int = 100
    split_fractions: tuple[float, ...] = (0.7, 0.2, 0.1)
    appearance: AppearanceKind = "procedural"
    diffusion: DiffusionSettings | None = None

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
                object.__setattr__(self, "diffusion", DiffusionSettings())
            if self.renderer != "builtin":
                raise ValueError(f"appearance 'diffusion' is a feature of the builtin renderer; "
                                 f"renderer is {self.renderer!r}")
        elif self.diffusion is not None:
            raise ValueError("diffusion settings are given but appearance is 'procedural': set "
                             "appearance: diffusion (--appearance diffusion) to use them, or "
                             "remove the diffusion block")
        # Validates min_pspi, nuisance AU names and nuisance_max with the FACS module's messages.
        self.plan_config()

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


@dataclass(frozen=True)
class IdentitySpec:
    """One synthetic person: index, the seed of its shape and appearance, demographics."""

    index: int
    seed: int
    sex: str
    age_band: str
    ancestry: str
    split: str = "train"

    @property
    def name(self) -> str:
        """``flame_sample_XXXX``, the published identity name."""
        return identity_name(self.index)


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
class SampleSpec:
    """One rendered image: an identity, an expression and a view.

    Attributes:
        identity: the person.
        expression: ``neutral`` or ``pain_k`` (k = 1..K).
        aus: (6,) AU intensities in :data:`pain3d.facs.AU_NAMES` order, FACS 0..5.
        nuisance: non-pain AU name -> intensity (never part of PSPI).
        view: the camera.
        size: image side in pixels.
        seed: seed of everything random in this one image (noise, camera effects).
    """

    identity: IdentitySpec
    expression: str
    aus: tuple[float, ...]
    nuisance: tuple[tuple[str, float], ...]
    view: ViewSpec
    size: int
    seed: int

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
        """Pain configuration index k of ``pain_k``; 0 for neutral."""
        return 0 if self.expression == "neutral" else int(self.expression.split("_")[1])

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
    )


@dataclass(frozen=True)
class UnitSpec:
    """The work of one identity: its images, one heatmap per pain config, its mesh.

    ``samples`` are ordered neutral first, then pain_1..pain_K, each over views 0..V-1;
    ``heatmaps`` are the view-0 specs of the pain configs (the heatmap camera).
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
    """A dataset as data: its config, the package version and one unit per identity."""

    config: GenerateConfig
    version: str
    units: tuple[UnitSpec, ...] = field(repr=False)

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


# --------------------------------------------------------------------------------------------
# Seeds and the plan


def derive_seed(*keys: int) -> int:
    """A 32-bit seed from integer keys (stable across numpy versions and platforms)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint32)[0])


def split_assignment(n: int, fractions: tuple[float, ...], seed: int) -> list[str]:
    """Split name of each identity: counts by largest remainder, members by a seeded shuffle."""
    raw = np.asarray(fractions, dtype=np.float64) * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    order = np.random.default_rng(derive_seed(seed, _TAG_SPLIT)).permutation(n)
    out = [""] * n
    start = 0
    for name, c in zip(SPLIT_NAMES, counts, strict=True):
        for i in order[start : start + c]:
            out[int(i)] = name
        start += c
    return out


def _views(cfg: GenerateConfig, identity: int) -> tuple[ViewSpec, ...]:
    rng = np.random.default_rng(derive_seed(cfg.seed, _TAG_VIEW, identity))
    views = []
    for v in range(cfg.views):
        jitter = rng.uniform(-cfg.jitter_deg, cfg.jitter_deg, size=3)
        views.append(
            ViewSpec(
                index=v,
                yaw=round(float(cfg.yaw[v] + jitter[0]), 3),
                pitch=round(float(cfg.pitch[v] + jitter[1]), 3),
                roll=round(float(cfg.roll[v] + jitter[2] * 0.5), 3),
                distance=float(cfg.distance),
                light_seed=int(rng.integers(2**31)),
                background_seed=int(rng.integers(2**31)),
            )
        )
    return tuple(views)


def _demographics(cfg: GenerateConfig) -> list:
    """Demographics per identity: the renderer's face model's if it says, else balanced."""
    from pain3d.synth.renderer import renderer_class

    own = getattr(renderer_class(cfg.renderer), "identity_demographics", None)
    demo = own(cfg) if own is not None else balanced_demographics(cfg.identities, cfg.seed)
    if len(demo) != cfg.identities:
        raise RuntimeError(f"renderer {cfg.renderer} gave {len(demo)} identities for "
                           f"{cfg.identities}")
    return demo


def build_plan(cfg: GenerateConfig) -> DatasetPlan:
    """The dataset as a list of per-identity units; cheap (about 1 s for 2,500 identities)."""
    rows = sample_plan(cfg.plan_config())
    demo = _demographics(cfg)
    splits = split_assignment(cfg.identities, cfg.split_fractions, cfg.seed)
    by_identity: dict[int, list] = {}
    for r in rows:
        by_identity.setdefault(r.identity, []).append(r)
    zeros = tuple(0.0 for _ in AU_NAMES)
    units = []
    for i in range(cfg.identities):
        ident = IdentitySpec(
            index=i,
            seed=derive_seed(cfg.seed, _TAG_IDENTITY, i),
            sex=demo[i].sex,
            age_band=demo[i].age_band,
            ancestry=demo[i].ancestry,
            split=splits[i],
        )
        views = _views(cfg, i)
        exprs = [("neutral", zeros, ())]
        exprs += [(f"pain_{r.config}", tuple(r.aus), tuple(r.nuisance))
                  for r in by_identity.get(i, [])]
        samples = []
        for k, (expression, aus, nuisance) in enumerate(exprs):
            for view in views:
                samples.append(
                    SampleSpec(
                        identity=ident,
                        expression=expression,
                        aus=aus,
                        nuisance=nuisance,
                        view=view,
                        size=cfg.size,
                        seed=derive_seed(cfg.seed, _TAG_SAMPLE, i, k, view.index),
                    )
                )
        units.append(UnitSpec(identity=ident, samples=tuple(samples)))
    return DatasetPlan(config=cfg, version=__version__, units=tuple(units))


def select(plan: DatasetPlan, name: str) -> list[SampleSpec]:
    """Specs matching a name: an identity, a base name (``..._pain_2``) or an image stem.

    Raises:
        KeyError: naming the pattern and an example of each accepted form.
    """
    stem = name.rsplit("/", 1)[-1].split(".")[0]
    found = [
        s for s in plan.samples
        if stem in (s.identity.name, s.base_name, s.name)
    ]
    if not found:
        raise KeyError(
            f"no sample of this plan is called {name!r}; give an identity "
            f"(flame_sample_0003), a configuration (flame_sample_0003_pain_2 or "
            f"flame_sample_0003_neutral) or an image stem "
            f"(flame_sample_0003_pain_2_textured_view_001_inpainted)"
        )
    return found
