"""Planning: a :class:`~pain3d.synth.config.GenerateConfig` becomes a plan of sample specs.

Every random quantity draws from its own seed, derived from the master seed and a stream
tag (:func:`pain3d.seeds.derive_seed`), so adding a new quantity never shifts the values of
the existing ones.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pain3d import __version__
from pain3d.demographics import balanced_demographics
from pain3d.face.identity import shape_seed
from pain3d.facs import AU_NAMES, sample_plan
from pain3d.seeds import derive_seed, derive_seeds
from pain3d.synth.config import GenerateConfig
from pain3d.synth.photo_source import photo_identity_specs, photo_views, resolve_photos
from pain3d.synth.spec import (
    SPLIT_NAMES,
    DatasetPlan,
    IdentitySpec,
    SampleSpec,
    UnitSpec,
    ViewSpec,
)
from pain3d.synth.variation import draw_variation

# Seed-stream tags (the identity's shape stream is pain3d.face.identity.SHAPE_SEED_TAG).
_TAG_APPEARANCE, _TAG_VIEW, _TAG_SAMPLE, _TAG_SPLIT = 0x1D, 0x71E, 0x5A3, 0x5B1
_TAG_SESSION = 0x5E5
TAG_PORTRAIT = 0xD1F
"""The diffusion portrait of an identity: ``derive_seed(identity.appearance_seed, TAG)``."""


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


def plan_identities(cfg: GenerateConfig, photos=None) -> list[IdentitySpec]:
    """Who the dataset's people are: demographics balanced over the sex x age x ancestry grid
    (:func:`pain3d.demographics.balanced_demographics`), splits, and the seeds of their
    shapes and appearances (the same as :func:`pain3d.face.sample_identities` draws); or,
    for ``identities_from``, the photos of ``photos`` (a
    :class:`~pain3d.synth.photo_source.PhotoScreen`) with the same splits and seeds."""
    splits = split_assignment(cfg.identities, cfg.split_fractions, cfg.seed)
    if photos is not None:
        return photo_identity_specs(cfg, photos, splits, [
            derive_seed(cfg.seed, _TAG_APPEARANCE, i) for i in range(cfg.identities)])
    demo = balanced_demographics(cfg.identities, cfg.seed)
    return [IdentitySpec(index=i, sex=d.sex, age_band=d.age_band, ancestry=d.ancestry,
                         split=splits[i], appearance_seed=derive_seed(cfg.seed, _TAG_APPEARANCE, i),
                         source="sampled", face_model=cfg.face_model,
                         shape_seed=shape_seed(cfg.seed, i))
            for i, d in enumerate(demo)]


def _unit(cfg: GenerateConfig, ident: IdentitySpec, pain: list, photos=None) -> UnitSpec:
    """Neutral then each pain configuration (rows of :func:`pain3d.facs.sample_plan`), then
    the neutral sessions of ``reference_variation``, each seen from every view of the
    identity; with ``reference_variation`` every image gets its own variation."""
    zeros = tuple(0.0 for _ in AU_NAMES)
    exprs = [("neutral", zeros, (), 0)]
    exprs += [(f"pain_{r.config}", tuple(r.aus), tuple(r.nuisance), 0) for r in pain]
    var = cfg.reference_variation
    if var is not None:
        exprs += [(f"pain_{cfg.per_identity + s}", zeros, (), s)
                  for s in range(1, var.neutral_sessions + 1)]
    views = _views(cfg, ident.index)
    if ident.source == "photo":
        views = photo_views(views, photos, ident.index)
    # A neutral session has its own seed stream: the other images' seeds do not move.
    seeds = iter(derive_seeds(np.array([
        (cfg.seed, _TAG_SESSION, ident.index, session, view.index) if session
        else (cfg.seed, _TAG_SAMPLE, ident.index, k, view.index)
        for k, (_, _, _, session) in enumerate(exprs) for view in views], dtype=object)))
    samples = []
    for k, (expression, aus, nuisance, session) in enumerate(exprs):
        for view in views:
            samples.append(SampleSpec(identity=ident, expression=expression, aus=aus,
                                      nuisance=nuisance, view=view, size=cfg.size,
                                      seed=int(next(seeds)), session=session,
                                      variation=_variation(cfg, ident, k, view.index)))
    return UnitSpec(identity=ident, samples=tuple(samples))


def _variation(cfg: GenerateConfig, ident: IdentitySpec, config: int, view: int):
    """The image's :class:`VariationSpec` (None without ``reference_variation``). A photo
    identity keeps its photo's framing: only head pose and light vary (distance 1, shift 0),
    so the manifest records what its renderer applies."""
    if cfg.reference_variation is None:
        return None
    v = draw_variation(cfg.reference_variation, cfg.seed, ident.index, config, view)
    if ident.source == "photo":
        v = dataclasses.replace(v, distance_scale=1.0, shift_x=0.0, shift_y=0.0)
    return v


def build_plan(cfg: GenerateConfig, photos=None) -> DatasetPlan:
    """The dataset as a list of per-identity units; cheap (about 1 s for 2,500 identities).

    With ``identities_from`` the photos are screened first (about 0.05 s each; pass the
    :class:`~pain3d.synth.photo_source.PhotoScreen` of an earlier call as ``photos`` to
    reuse it) and the plan's config has ``identities`` = the photos used.

    Raises:
        pain3d.synth.photo_source.PhotoSourceError: when no photo can become an identity.
    """
    if cfg.identities_from is not None:
        cfg, photos = resolve_photos(cfg, photos)
    pain: dict[int, list] = {}
    for r in sample_plan(cfg.plan_config()):
        pain.setdefault(r.identity, []).append(r)
    units = tuple(_unit(cfg, ident, pain.get(ident.index, []), photos)
                  for ident in plan_identities(cfg, photos))
    return DatasetPlan(config=cfg, version=__version__, units=units, photos=photos)


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
