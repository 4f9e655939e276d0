"""The default sample renderer: pain3d's face geometry, appearance and moderngl renderer.

Per identity (``prepare``): the person built from its spec alone (:func:`build_identity`),
its neutral mesh and painted appearance. Per image: the AU rig deforms the neutral mesh
(cached per expression), the camera of the spec's view, a light rig and background seeded by
the view (with ``reference_variation``, the image's own pose, camera and light change,
:mod:`pain3d.synth.variation`), camera effects seeded by the sample. The heatmap comes out of
the same draw as the view-0 image of each pain configuration and shows the pain AUs only.
Every random draw is seeded from the spec alone.
With ``appearance: diffusion`` the identity's texture and (optionally) the backgrounds come
from :mod:`pain3d.synth.diffusion`. Photo identities (``source="photo"``, from
``identities_from``) are built and rendered by :mod:`pain3d.synth.photo_stage`: ``prepare``
returns its :class:`~pain3d.synth.photo_stage.PhotoUnit`, which the other methods hand on.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from pain3d.synth import layout
from pain3d.synth.config import GenerateConfig
from pain3d.synth.photo_stage import PhotoStage, PhotoUnit
from pain3d.synth.photo_stage import warm_up as photo_warm_up
from pain3d.synth.renderer import RenderedImage
from pain3d.synth.spec import IdentitySpec, SampleSpec

_TEXTURE_SIZE = 512


@lru_cache(maxsize=1)
def _flame(flame_dir: str):
    from pain3d.face.flame import load_flame

    return load_flame(flame_dir)


def build_identity(spec: IdentitySpec, flame=None, photos=None):
    """The identity an identity spec describes, from the spec alone: a
    :class:`pain3d.face.Identity` (``sampled``) or a
    :class:`pain3d.synth.photo.PhotoIdentity` (``photo``).

    Args:
        spec: the identity's spec (its ``source`` says how the face is made).
        flame: the loaded FLAME model for ``face_model == "flame"``.
        photos: for ``photo``: the :class:`pain3d.synth.photo_stage.PhotoStage` (settings,
            face tracker) that fits and bakes the photo.
    """
    from pain3d.face import make_identity

    if spec.source == "sampled":
        return make_identity(spec.index, spec.shape_seed, spec.demographics, spec.face_model,
                             flame)
    if spec.source == "photo" and photos is not None:
        return photos.identity(spec)
    raise ValueError(f"identity {spec.name}: no builder for source {spec.source!r}")


class BuiltinRenderer:
    """Real renders (see the module docstring); one instance per worker process."""

    def __init__(self, cfg: GenerateConfig) -> None:
        self.cfg = cfg
        self._renderer = None
        self.diffusion = None
        self.photos = PhotoStage(cfg) if cfg.identities_from is not None else None
        if cfg.appearance == "diffusion":
            from pain3d.synth.diffusion import DiffusionStage

            self.diffusion = DiffusionStage(cfg)

    @staticmethod
    def warm_up(cfg: GenerateConfig) -> None:
        """Import what rendering ``cfg`` needs (and build the photo identities' per-process
        tables) in a fresh worker before its first identity arrives."""
        if cfg.identities_from is not None:
            photo_warm_up(cfg)
            return
        import pain3d.appearance  # noqa: F401
        import pain3d.face  # noqa: F401
        import pain3d.render.renderer  # noqa: F401

    @property
    def renderer(self):
        """The procedural faces' :class:`pain3d.render.renderer.Renderer`, made on first use:
        a worker of photo identities never draws with it, and its OpenGL context would
        hold ~20 MB of the worker's peak memory."""
        if self._renderer is None:
            from pain3d.render.renderer import Renderer

            self._renderer = Renderer(size=self.cfg.size, supersample=self.cfg.antialias)
        return self._renderer

    def release(self) -> None:
        """Free the OpenGL contexts."""
        if self._renderer is not None:
            self._renderer.release()
            self._renderer = None
        if self.photos is not None:
            self.photos.release()

    # ------------------------------------------------------------------ per identity
    def prepare(self, identity: IdentitySpec) -> dict[str, Any]:
        from pain3d.appearance import sample_appearance
        from pain3d.face import identity_mesh

        flame = _flame(self.cfg.flame_dir) if identity.face_model == "flame" else None
        ident = build_identity(identity, flame, self.photos)
        if identity.source == "photo":  # a photo identity renders itself
            return self.photos.unit(identity, ident)
        mesh = identity_mesh(ident, flame=flame)
        app = sample_appearance(ident, identity.appearance_seed, mesh=mesh,
                                texture_size=_TEXTURE_SIZE)
        if self.diffusion is not None:
            app = self.diffusion.appearance(self.renderer, mesh, app, identity)
        return {"spec": identity, "identity": ident, "neutral": mesh, "appearance": app,
                "expressed": (None, None), "keypoints": (None, None), "heat": (None, None),
                "backgrounds": {}, "lights": {}}

    def _expressed(self, state: dict, sample: SampleSpec):
        """The mesh of ``sample``'s expression (pain and nuisance AUs), cached per expression."""
        key, mesh = state["expressed"]
        if key != sample.expression:
            from pain3d.face import express

            if sample.expression == "neutral":
                mesh = state["neutral"]
            else:
                nuisance = dict(sample.nuisance) or None
                mesh = express(state["neutral"], np.asarray(sample.aus), nuisance=nuisance)
            state["expressed"] = (sample.expression, mesh)
        return mesh

    def _pain_heat(self, state: dict, sample: SampleSpec, mesh) -> np.ndarray:
        """(V,) heatmap values of the pain AUs alone (nuisance AUs move the rendered mesh but
        are no part of the label, so they never colour the heatmap)."""
        from pain3d.face import HEATMAP_SCALE_M, displacement
        from pain3d.render.colormap import normalise_heat

        if any(v for _, v in sample.nuisance):
            from pain3d.face import express

            mesh = express(state["neutral"], np.asarray(sample.aus))
        return normalise_heat(displacement(state["neutral"], mesh), HEATMAP_SCALE_M)

    def _camera(self, sample: SampleSpec):
        from pain3d.render.camera import Camera
        from pain3d.synth.variation import sample_delta, vary_camera

        v = sample.view
        camera = Camera(yaw=v.yaw, pitch=v.pitch, roll=v.roll, distance=v.distance,
                        fov=self.cfg.fov)
        return vary_camera(camera, sample_delta(sample))

    # ------------------------------------------------------------------ per image
    def render(self, state: dict, sample: SampleSpec, *, mask: bool, depth: bool
               ) -> RenderedImage:
        from pain3d.appearance import sample_effects
        from pain3d.render.compose import compose
        from pain3d.synth.variation import sample_delta, vary_lighting

        if isinstance(state, PhotoUnit):
            return state.render(sample, mask=mask, depth=depth)
        mesh = self._expressed(state, sample)
        heat = None
        if sample.expression != "neutral" and sample.view.index == 0:
            heat = self._pain_heat(state, sample, mesh)
        lighting = vary_lighting(self._lighting(state, sample), sample_delta(sample))
        camera = self._camera(sample)
        result = self.renderer.render(mesh, state["appearance"], camera,
                                      lighting, aus=np.asarray(sample.aus), heat=heat,
                                      depth=depth, labels=False)  # only mask = parts > 0 is used
        if heat is not None:
            state["heat"] = (sample.name, result.heatmap)
        background = self._background(state, sample)
        rng = np.random.default_rng(sample.seed)
        if self.diffusion is not None and self.diffusion.inpaints:
            from pain3d.appearance.effects import camera_effects

            effects = sample_effects(rng)
            scene = self.diffusion.background(compose(result, background), result.mask,
                                              seed=sample.view.background_seed)
            rgb = camera_effects(scene, effects, rng)
        else:
            rgb = compose(result, background, sample_effects(rng), rng)
        return RenderedImage(rgb=rgb, mask=result.mask if mask else None,
                             depth=result.depth if depth else None,
                             landmarks=self._landmarks(state, sample, mesh, camera))

    def _background(self, state: dict, sample: SampleSpec) -> np.ndarray:
        """(H, W, 3) uint8 RGB background of the sample's view: a pure function of the view's
        seed, so it is drawn once per view and shared by the identity's expressions (read
        only: compositing makes new arrays)."""
        from pain3d.appearance import photo_background, procedural_background

        key = (sample.view.background_seed, sample.size)
        cache = state["backgrounds"]
        if key not in cache:
            rng = np.random.default_rng(sample.view.background_seed)
            if self.cfg.backgrounds:
                cache[key] = photo_background(self.cfg.backgrounds, rng, sample.size)
            else:
                cache[key] = procedural_background(rng, sample.size)
            cache[key].flags.writeable = False
        return cache[key]

    def _lighting(self, state: dict, sample: SampleSpec):
        """The light rig of the sample's view: a pure function of the view's seed, drawn once
        per view (:class:`~pain3d.render.lighting.Lighting` is immutable)."""
        from pain3d.render.lighting import sample_lighting

        seed = sample.view.light_seed
        if seed not in state["lights"]:
            state["lights"][seed] = sample_lighting(np.random.default_rng(seed))
        return state["lights"][seed]

    def _landmarks(self, state: dict, sample: SampleSpec, mesh, camera) -> np.ndarray | None:
        """Eye and mouth centres of the rendered mesh (found once per expression, like the
        mesh itself), projected by the render's camera."""
        from pain3d.synth.keypoints import flame_keypoints_3d, keypoints_3d, project_keypoints

        key, pts = state["keypoints"]
        if key != sample.expression:
            if state["spec"].face_model == "flame":
                pts = flame_keypoints_3d(state["neutral"], mesh, _flame(self.cfg.flame_dir))
            else:
                pts = keypoints_3d(mesh)
            state["keypoints"] = (sample.expression, pts)
        return None if pts is None else project_keypoints(pts, camera, sample.size)

    def heatmap(self, state: dict, sample: SampleSpec) -> np.ndarray:
        if isinstance(state, PhotoUnit):
            return state.heatmap(sample)
        name, heat = state["heat"]
        if name == sample.name and heat is not None:
            return heat
        self.render(state, sample, mask=False, depth=False)  # a heatmap without its image
        return state["heat"][1]

    def mesh_files(self, state: dict) -> dict[str, bytes]:
        from pain3d.face import export_obj

        if isinstance(state, PhotoUnit):
            return state.mesh_files()
        name = state["spec"].name
        # Stored top row first like any image; the appearance keeps OpenGL row order.
        texture = np.ascontiguousarray(state["appearance"].albedo[::-1])
        with tempfile.TemporaryDirectory() as tmp:
            obj = Path(tmp) / f"{name}.obj"
            export_obj(state["neutral"], obj, texture=texture,
                       png_level=self.cfg.texture_png_level)
            files = {p.name: p.read_bytes() for p in Path(tmp).iterdir()}
        out = {}
        for suffix in layout.MESH_SUFFIXES:
            if f"{name}{suffix}" not in files:
                raise RuntimeError(f"export_obj wrote {sorted(files)}; expected {name}{suffix}")
            out[suffix] = files[f"{name}{suffix}"]
        return out
