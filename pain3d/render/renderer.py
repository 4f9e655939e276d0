"""The moderngl renderer: one EGL context per process, one draw per image, every pass at once.

A single draw call writes two colour targets and depth: shaded RGB, and labels (part id,
heat value, coverage). Buffers, textures and framebuffers are created once and re-used; per
expression only vertex positions, normals, heat and ambient occlusion are uploaded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from pain3d.appearance.wrinkles import wrinkle_weights
from pain3d.face.mesh import PARTS, REGION_PART_IDS, Mesh, region_id
from pain3d.render.camera import Camera
from pain3d.render.colormap import colourise
from pain3d.render.lighting import Lighting
from pain3d.render.shaders import (
    FEATURE_REGIONS,
    FRAGMENT,
    FRAGMENT_FEATURES,
    FRAGMENT_MARK,
    FRAGMENT_SKIN,
    VERTEX,
    with_switches,
)
from pain3d.render.topology import (
    Topology,
    lid_margin_mm,
    topology_for,
    topology_key,
)

log = logging.getLogger(__name__)

HAIR_PART = PARTS.index("hair")
PART_OF = [int(p) for p in REGION_PART_IDS] + [HAIR_PART]
"""Part id (:data:`pain3d.face.mesh.PARTS`) of each region id; region 16 = hair shell."""


class RenderError(RuntimeError):
    """The OpenGL context could not be created or a draw failed."""


@dataclass(frozen=True, eq=False)
class RenderResult:
    """All passes of one render, top row first.

    Attributes:
        rgb: (H, W, 3) uint8 shaded colour, black where nothing was drawn.
        mask: (H, W) uint8 head coverage, 255 inside, 0 outside.
        parts: (H, W) uint8 ids into :data:`pain3d.face.mesh.PARTS` (0 = background).
        depth: (H, W) float32 distance along the viewing axis in metres, 0 = background;
            None when rendered with ``depth=False``.
        heatmap: (H, W, 3) uint8 heat colour map over black, or None if no heat was given.
        heat: (H, W) uint8 normalised heat code 0..255, or None.
        camera: the camera used.
    """

    rgb: np.ndarray
    mask: np.ndarray
    parts: np.ndarray
    depth: np.ndarray | None
    heatmap: np.ndarray | None
    heat: np.ndarray | None
    camera: Camera


def create_context(backend: str | None = "egl"):
    """A standalone OpenGL 3.3 context (EGL by default: headless llvmpipe or the GPU)."""
    import moderngl

    try:
        if backend:
            return moderngl.create_standalone_context(require=330, backend=backend)
        return moderngl.create_standalone_context(require=330)
    except Exception as exc:  # noqa: BLE001 - moderngl raises bare Exceptions
        raise RenderError(
            f"cannot create a headless OpenGL context (backend={backend!r}): {exc}. "
            "Install Mesa's EGL/llvmpipe (libegl1, libgl1-mesa-dri) or run on a GPU machine."
        ) from exc


class Renderer:
    """Renders meshes with appearances into RGB, mask, parts, depth and heatmap passes.

    One instance owns one OpenGL context; create one per process and re-use it.

    Args:
        size: output side in pixels, or (width, height).
        backend: moderngl standalone backend ("egl" for headless), or None for the default.
        texture_filter: "bilinear" (default; textures are about as dense as the pixels at the
            default framing) or "trilinear" (mip-mapped, smoother when zoomed out, ~2x
            slower on llvmpipe).
        auto_exposure: expose for the face like a portrait camera: darker skin tones get up
            to 1.6x more exposure (see :func:`face_exposure`).
        supersample: render at this factor and average down (full-scene anti-aliasing; costs
            factor^2 in fragment work, cheap on a GPU). 1 = off: silhouettes are then
            smoothed only by :func:`pain3d.render.compose`'s feathered alpha.
        split_shading: draw the skin (with the hair shell) and the eyeballs and mouth
            interior with their own shaders (:data:`pain3d.render.shaders.FRAGMENT_SKIN`;
            the passes are described there), which gives the same bytes as one draw with
            :data:`FRAGMENT` at about a third less GL time on llvmpipe; for a subclass, when
            it sets :attr:`SPLIT_SHADERS`. Either way the triangles that split shading redraws
            (:meth:`redraw_faces`) are drawn before the others.
    """

    def __init__(self, size: int | tuple[int, int] = 512, backend: str | None = "egl",
                 texture_filter: str = "bilinear", auto_exposure: bool = True,
                 supersample: int = 1, split_shading: bool = True) -> None:
        import moderngl

        w, h = (size, size) if isinstance(size, int) else size
        if not (8 <= w <= 8192 and 8 <= h <= 8192):
            raise ValueError(f"render size {size} must be within 8..8192 pixels")
        if texture_filter not in ("trilinear", "bilinear"):
            raise ValueError(f"texture_filter {texture_filter!r} is not trilinear/bilinear")
        if supersample not in (1, 2, 3, 4):
            raise ValueError(f"supersample = {supersample} must be 1, 2, 3 or 4")
        self.size = (int(w), int(h))
        self.supersample = int(supersample)
        fb_size = (int(w) * self.supersample, int(h) * self.supersample)
        self._mgl = moderngl
        self.ctx = create_context(backend)
        self._mipmaps = texture_filter == "trilinear"
        self.auto_exposure = auto_exposure
        split = self.SPLIT_SHADERS if split_shading else None
        first = split[0] if split else self.FRAGMENT_SHADER
        compiled: dict[str, object] = {}
        # (painted part labels, expression wrinkles) -> the first (or only) program, one per
        # combination of the switches the shader uses (pain3d.render.shaders.SWITCHES).
        self._programs = {
            (labels, wrinkles, lids): self._program(
                with_switches(first, LABELS=labels, WRINKLES=wrinkles, LIDS=lids), compiled)
            for labels in (True, False) for wrinkles in (True, False) for lids in (True, False)}
        self._prog_features = self._program(split[1], compiled) if split else None
        self._prog_mark = self._program(FRAGMENT_MARK, compiled) if split else None
        # Shut lids: pass 2 redraws the lid triangles too (shut_faces), with the lid code.
        shut = self.SHUT_SHADER if split else None
        self._prog_shut = {
            (labels, wrinkles): self._program(
                with_switches(shut, LABELS=labels, WRINKLES=wrinkles, LIDS=True), compiled)
            for labels in (True, False) for wrinkles in (True, False)} if shut else {}
        # Uniform name -> member, per program, looked up once (`name in program` walks every
        # member).
        self._uniform_sets = {p: {name: p[name] for name in p} for p in compiled.values()}
        self.fbo = self.ctx.framebuffer(
            color_attachments=[self.ctx.renderbuffer(fb_size, 4),
                               self.ctx.renderbuffer(fb_size, 4)],
            depth_attachment=self.ctx.depth_renderbuffer(fb_size),
        )
        self._topo: Topology | None = None
        self._topo_key: tuple | None = None
        self._faces_obj = None
        self._last_upload: tuple = (None, None, None)
        self._topo_token: int | None = None
        self._orders: dict[bool, _Order] = {}  # shut lids? -> the bound triangle order
        self._dyn = None
        self._textures: list = []
        self._tex_token: int | None = None
        self._rgba = self._lab = None  # read-back buffers (H, W, 4) uint8
        self._lid_look: tuple | None = None  # (appearance token, lid_look(...) or None)
        self._lid_dist: tuple | None = None  # (appearance token, lid_margin_mm(...) or None)

    def _program(self, fragment_shader: str, compiled: dict):
        """The program of ``fragment_shader``, compiled once per source text."""
        if fragment_shader in compiled:
            return compiled[fragment_shader]
        prog = compiled[fragment_shader] = self.ctx.program(vertex_shader=VERTEX,
                                                            fragment_shader=fragment_shader)
        if "part_of" in prog:
            prog["part_of"].value = PART_OF
        for unit, name in enumerate(self.TEXTURES):
            if name in prog:  # a sampler the shader does not use is compiled away
                prog[name].value = unit
        return prog

    def _vertex_array(self, prog, index_buffer):
        """A vertex array of ``prog`` over the bound buffers (attributes the shader does not
        use are skipped)."""
        content = []
        for buf, attrs in ((self._dyn, (("3f", "in_pos"), ("3f", "in_nrm"), ("1f", "in_heat"),
                                        ("1f", "in_ao"))),
                           (self._static, (("2f", "in_uv"), ("1f", "in_region"),
                                           ("1f", "in_spec"), ("1f", "in_hair")))):
            used = [name for _, name in attrs if name in prog]
            layout = " ".join(f if name in used else f"{4 * int(f[0])}x" for f, name in attrs)
            if used:
                content.append((buf, layout, *used))
        return self.ctx.vertex_array(prog, content, index_buffer=index_buffer,
                                     index_element_size=4)

    # ------------------------------------------------------------------ resources
    def release(self) -> None:
        """Free the GL objects and the context."""
        self.ctx.release()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _bind_geometry(self, mesh: Mesh, appearance) -> Topology:
        shell = getattr(appearance, "hair_shell", None)
        if mesh.faces is self._faces_obj and appearance.token == self._topo_token:
            return self._topo
        key = topology_key(mesh, appearance.token)
        self._faces_obj, self._topo_token = mesh.faces, appearance.token
        if key == self._topo_key and self._topo is not None:
            return self._topo
        channels = self.vertex_channels(appearance)
        for name, arr in zip(("first", "second"), channels, strict=True):
            if np.ndim(arr) and len(arr) != mesh.n_vertices:
                raise ValueError(f"the appearance's {name} vertex channel has {len(arr)} values "
                                 f"for a mesh of {mesh.n_vertices} vertices: paint it on this "
                                 "identity's mesh")
        # Build from the neutral mesh the appearance was painted on (when it has this
        # topology), so the result is the same whichever expression is drawn first.
        rest = getattr(appearance, "rest_mesh", None)
        if rest is not None and rest.faces.shape == mesh.faces.shape \
                and rest.n_vertices == mesh.n_vertices:
            mesh = rest
        topo = topology_for(mesh, shell, *channels, key)
        for obj in (*(o for order in self._orders.values() for o in order.objects()),
                    self._dyn, getattr(self, "_static", None)):
            if obj is not None:
                obj.release()
        ctx = self.ctx
        self._dyn = ctx.buffer(reserve=topo.n_total * 8 * 4, dynamic=True)
        self._static = ctx.buffer(topo.static.tobytes())
        redraw = self.redraw_faces(topo)
        self._orders = {False: self._order(topo, redraw, [self._prog_features])}
        if self.SHUT_SHADER is not None:
            self._orders[True] = self._order(topo, redraw | self.shut_faces(topo),
                                             list(self._prog_shut.values()))
        self._topo, self._topo_key = topo, key
        return topo

    def _order(self, topo: Topology, redraw: np.ndarray, second: list) -> _Order:
        """The index buffers and vertex arrays of one triangle order: the ``redraw``
        triangles first, then the others (each in Topology's order), split shading or not:
        so both draw the same bytes, depth ties included. ``second``: pass 2's programs."""
        ctx = self.ctx
        first, rest = topo.faces[redraw], topo.faces[~redraw]
        split = self._prog_features is not None and len(first) > 0
        body = rest if split else np.concatenate([first, rest])
        ibo = ctx.buffer(np.ascontiguousarray(body).tobytes()) if len(body) else None
        out = _Order(ibo, {p: self._vertex_array(p, ibo) for p in set(self._programs.values())
                           if ibo is not None})  # none: every triangle is redrawn
        if split:
            out.ibo_first = ctx.buffer(np.ascontiguousarray(first).tobytes())
            out.mark = self._vertex_array(self._prog_mark, out.ibo_first)
            out.second = {p: self._vertex_array(p, out.ibo_first) for p in set(second)}
        return out

    def redraw_faces(self, topo: Topology) -> np.ndarray:
        """(F,) bool: the triangles of ``topo`` that split shading draws in passes 0 and 2
        (drawn first in either case). Here the eyeball and mouth-interior triangles
        (FEATURE_REGIONS; a triangle's region is that of its last, provoking,
        vertex: the shaders read it as a flat varying)."""
        return np.isin(np.rint(topo.static[topo.faces[:, 2], 2]).astype(np.int64),
                       FEATURE_REGIONS)

    def shut_faces(self, topo: Topology) -> np.ndarray:
        """(F,) bool: the triangles a draw with shut lids also redraws in pass 2, with the
        lid code (:data:`SHUT_SHADER`): lid and cheek triangles with a corner within
        :data:`LID_CODE_MM` of a lid margin (the hair channel, :meth:`vertex_channels`).
        Elsewhere that code changes nothing, so split and single draws give the same bytes."""
        corners = topo.static[topo.faces, 4]
        return (np.isin(np.rint(topo.static[topo.faces[:, 2], 2]).astype(np.int64),
                        (region_id("upper_eyelid"), region_id("lower_eyelid"),
                         region_id("cheek")))
                & (corners.min(axis=1) < LID_CODE_MM))

    def _bind_textures(self, appearance, topo: Topology) -> None:
        if appearance.token == self._tex_token:
            return
        arrays = self.texture_arrays(appearance, topo)
        if len(arrays) != len(self.TEXTURES):
            raise ValueError(f"texture_arrays gave {len(arrays)} arrays for the samplers "
                             f"{self.TEXTURES}")
        ctx, mgl = self.ctx, self._mgl
        textures = []
        for unit, arr in enumerate(arrays):
            h, w, c = arr.shape
            dtype = "f4" if arr.dtype == np.float32 else "f1"
            old = self._textures[unit] if unit < len(self._textures) else None
            if old is not None and (old.size, old.components, old.dtype) == ((w, h), c, dtype):
                tex = old
            else:  # a texture of another shape: make one (the old one is released below)
                tex = ctx.texture((w, h), c, dtype=dtype)
                tex.alignment = 1  # 2-channel rows need no 4-byte padding
            tex.write(np.ascontiguousarray(arr))  # buffer protocol: no bytes copy
            if self._mipmaps:
                tex.build_mipmaps()
                tex.filter = (mgl.LINEAR_MIPMAP_LINEAR, mgl.LINEAR)
            else:
                tex.filter = (mgl.LINEAR, mgl.LINEAR)
            tex.repeat_x = tex.repeat_y = False
            tex.use(unit)
            textures.append(tex)
        for t in self._textures:
            if all(t is not u for u in textures):
                t.release()
        self._textures = textures
        self._tex_token = appearance.token

    # ------------------------------------------------------------------ shader seam
    # A subclass drawing another kind of appearance (pain3d.render.photo) sets FRAGMENT_SHADER
    # and TEXTURES and overrides the three methods below; buffers, caches, the draw and the
    # read-back stay here. The vertex shader and its attributes are shared.
    FRAGMENT_SHADER: str = FRAGMENT
    """Fragment shader source; it writes colour to output 0 and labels to output 1."""
    SPLIT_SHADERS: tuple[str, str] | None = (FRAGMENT_SKIN, FRAGMENT_FEATURES)
    """Split shading's pass-1 and pass-2 shaders, cut from FRAGMENT_SHADER (pass 1 draws the
    triangles :meth:`redraw_faces` leaves out; pass 2 draws those it selects,
    onto the pixels they won in pass 0), or None to draw once. A subclass that sets
    FRAGMENT_SHADER and not this draws once."""
    SHUT_SHADER: str | None = FRAGMENT
    """Split shading's pass-2 shader when the lids are shut (``lid_shut`` > 0), for the
    triangles of :meth:`redraw_faces` and :meth:`shut_faces`; its ``LIDS`` code is left out
    of pass 1's shader, which every skin fragment runs. None: no such pass (a subclass that
    sets FRAGMENT_SHADER and not this)."""
    TEXTURES: tuple[str, ...] = ("albedo_tex", "wrinkle_tex", "label_tex")
    """Sampler names, bound to texture units 0, 1, ... in this order."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "FRAGMENT_SHADER" in cls.__dict__ and "SPLIT_SHADERS" not in cls.__dict__:
            cls.SPLIT_SHADERS = None  # the inherited pair was cut from another shader
        if "FRAGMENT_SHADER" in cls.__dict__ and "SHUT_SHADER" not in cls.__dict__:
            cls.SHUT_SHADER = None

    def vertex_channels(self, appearance) -> tuple[np.ndarray | float, np.ndarray | float]:
        """The two per-vertex channels of the shader (``in_spec``, ``in_hair``): (V,) arrays
        on the appearance's neutral mesh, or constants. Here: specular strength and scalp-hair
        coverage."""
        spec = getattr(appearance, "vertex_spec", None)
        hair = getattr(appearance, "vertex_hair", None)
        spec, hair = 0.3 if spec is None else spec, 0.0 if hair is None else hair
        mm = self._lid_mm(appearance)
        if mm is None:
            return spec, hair
        # The hair channel is read on scalp and hair-shell triangles only: every other
        # vertex carries its distance from the lid margin instead (at most LID_NEAR_MM),
        # which the shut-lid code reads on lid and cheek triangles.
        rest = appearance.rest_mesh
        scalp = rest.faces[rest.regions[rest.faces[:, 2]] == region_id("scalp")]
        keep = np.zeros(len(mm), bool)
        keep[scalp.ravel()] = True
        shell = getattr(appearance, "hair_shell", None)
        if shell is not None:
            keep[shell.vertex_index] = True
        return spec, np.where(keep, np.broadcast_to(hair, mm.shape), mm).astype(np.float32)

    def _lid_mm(self, appearance) -> np.ndarray | None:
        """(V,) mm from the nearest lid margin (:func:`lid_margin_mm`) on the appearance's
        neutral mesh, or None (no neutral mesh, or no eye loops); found once per appearance
        (the vertex channels and the shut-lid colours both need it)."""
        if self._lid_dist is None or self._lid_dist[0] != appearance.token:
            rest = getattr(appearance, "rest_mesh", None)
            self._lid_dist = (appearance.token,
                              None if rest is None else lid_margin_mm(rest))
        return self._lid_dist[1]

    def texture_arrays(self, appearance, topo: Topology) -> tuple[np.ndarray, ...]:
        """(H, W, C) uint8 or float32 arrays, OpenGL row order, one per :attr:`TEXTURES`;
        called when an appearance is first drawn (``topo``: the bound geometry)."""
        labels = getattr(appearance, "labels", None)
        if labels is None:
            labels = np.zeros((*appearance.albedo.shape[:2], 2), np.uint8)
        return (np.dstack([appearance.albedo, appearance.height]), appearance.wrinkles, labels)

    def uniforms(self, topo: Topology, appearance, camera: Camera, lighting: Lighting,
                 aus: np.ndarray | None) -> dict:
        """Uniform name -> value of one draw (besides ``mvp``); a numpy array is a matrix.
        Names the shader does not use are skipped."""
        el, er = topo.eye_centres_now
        tr = appearance.traits
        out = {"cam_pos": tuple(camera.position)}
        for name in ("key_dir", "key_rgb", "fill_dir", "fill_rgb", "rim_dir", "rim_rgb",
                     "sky_rgb", "ground_rgb"):
            out[name] = getattr(lighting, name)
        out["exposure"] = lighting.exposure * (
            face_exposure(tr.skin_rgb) if self.auto_exposure else 1.0)
        out.update(au_w=tuple(wrinkle_weights(aus)), eye_l=tuple(el), eye_r=tuple(er),
                   mouth_c=tuple(float(c) for c in topo.mouth_centre_now),
                   iris_rgb=tr.iris_rgb, hair_rgb=tr.hair_rgb,
                   # the eyeballs' v_hair is their lid-margin distance (vertex_channels)
                   eye_rims=float(self._lid_mm(appearance) is not None))
        out.update(self._lid_uniforms(appearance, aus))
        return out

    def _lid_uniforms(self, appearance, aus: np.ndarray | None) -> dict:
        """``lid_shut`` (0 unless the upper lids are past half closure: AU43 alone shuts
        them; 0 too for an appearance without a neutral mesh with eye loops), and when it is
        not 0 the lid colours and the opening's half width the shader's ``LIDS`` code reads,
        measured once per appearance (:func:`lid_look`)."""
        from pain3d.face.rig import closure_fractions

        close = 0.0 if aus is None else closure_fractions(np.asarray(aus, np.float64))[0]
        shut = float(np.clip((close - 0.5) / 0.45, 0.0, 1.0))
        shut = shut * shut * (3.0 - 2.0 * shut)  # smoothstep(0.5, 0.95, closure)
        if shut == 0.0:
            return {"lid_shut": 0.0}
        if self._lid_look is None or self._lid_look[0] != appearance.token:
            mm = self._lid_mm(appearance)
            look = None if mm is None else lid_look(appearance, mm)
            self._lid_look = (appearance.token, look)
        look = self._lid_look[1]
        return {"lid_shut": 0.0} if look is None else {"lid_shut": shut, **look}

    # ------------------------------------------------------------------ drawing
    def render(self, mesh: Mesh, appearance, camera: Camera, lighting: Lighting | None = None,
               aus: np.ndarray | None = None, heat: np.ndarray | None = None,
               depth: bool = True, labels: bool = True) -> RenderResult:
        """Render one image with every pass.

        Args:
            mesh: the (expressed) mesh; same topology, uv and regions as the neutral mesh the
                appearance was painted on. Its arrays are treated as immutable: the vertex
                upload is skipped when the same array object is drawn again.
            appearance: a :class:`pain3d.appearance.Appearance`.
            camera: where to look from.
            lighting: light rig (default: :class:`Lighting` defaults).
            aus: (6,) AU intensities [AU4, AU6, AU7, AU9, AU10, AU43], FACS 0..5; drive the
                expression wrinkles. None = no expression wrinkles.
            heat: (V,) per-vertex heat already normalised to [0, 1] (see
                :func:`pain3d.render.colormap.normalise_heat`), or None to skip the heatmap.
            depth: read back the depth pass (about 3 ms at 512 px on a CPU); False leaves
                ``RenderResult.depth`` None.
            labels: refine the skin, brow and lip part ids from the appearance's painted
                masks (``appearance.labels``, when it has them). False takes every part id
                from the mesh regions and draws with a program without that texture fetch
                (one texture fetch less per fragment); colour, mask, heat and depth are the
                same either way (every region is a part > 0).

        Returns:
            A :class:`RenderResult` (arrays are fresh and owned by the caller).
        """
        if mesh.uv is None or mesh.regions is None:
            raise ValueError("Renderer.render needs a mesh with uv and regions")
        lighting = lighting or Lighting()
        # Several renderers (GL contexts) may live in one process: draw in our own context,
        # whichever was made current last.
        with self.ctx:
            return self._draw(mesh, appearance, camera, lighting, aus, heat, depth, labels)

    def _draw(self, mesh: Mesh, appearance, camera: Camera, lighting: Lighting,
              aus: np.ndarray | None, heat: np.ndarray | None, depth: bool,
              labels: bool = True) -> RenderResult:
        topo = self._bind_geometry(mesh, appearance)
        self._bind_textures(appearance, topo)
        # The same mesh is usually drawn from several views in a row: upload it once. Holding
        # the arrays (not their ids) makes the identity check safe.
        if not (self._last_upload[0] is mesh.vertices and self._last_upload[1] is heat
                and self._last_upload[2] is topo):
            self._dyn.write(topo.dynamic(mesh.vertices, heat))
            self._last_upload = (mesh.vertices, heat, topo)
        values = self.uniforms(topo, appearance, camera, lighting, aus)
        labels = labels and getattr(appearance, "labels", None) is not None
        wrinkles = any(values.get("au_w", (1.0,)))  # all zero: the same bytes without them
        lids = values.get("lid_shut", 0.0) > 0.0 and True in self._orders  # likewise
        prog = self._programs[labels, wrinkles, lids]
        order = self._orders[lids]
        second = self._prog_shut[labels, wrinkles] if lids and self._prog_shut \
            else self._prog_features
        self._set_uniforms(values, camera, (prog, second, self._prog_mark))
        ctx = self.ctx
        self.fbo.use()
        # Back faces are culled (about a third less shading on llvmpipe); the winding is
        # mirrored by the upside-down projection, hence front_face = "cw".
        ctx.enable_only(self._mgl.DEPTH_TEST | self._mgl.CULL_FACE)
        ctx.front_face = "cw"
        self.fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        if order.mark is not None:
            order.mark.render()
        if prog in order.body:
            order.body[prog].render()
        if order.mark is not None:
            self._redraw_features(order.second[second])
        return self._read(camera, want_heat=heat is not None, want_depth=depth)

    def _redraw_features(self, vao) -> None:
        """Pass 2 of split shading (see :mod:`pain3d.render.shaders`): the eyeball, mouth and
        hair triangles again, onto the pixels they won in pass 0 (alpha 1), each once."""
        ctx, mgl = self.ctx, self._mgl
        ctx.depth_func = "=="
        self.fbo.depth_mask = False
        ctx.enable(mgl.BLEND)
        ctx.blend_func = (mgl.DST_ALPHA, mgl.ONE_MINUS_DST_ALPHA, mgl.ZERO, mgl.ZERO)
        vao.render()
        ctx.disable(mgl.BLEND)
        self.fbo.depth_mask = True
        ctx.depth_func = "<"

    def _set_uniforms(self, values: dict, camera: Camera, programs: tuple) -> None:
        """Write ``values`` (:meth:`uniforms`) and the camera's ``mvp`` to ``programs``."""
        w, h = self.size
        proj = camera.projection_matrix(w / h)
        proj[1] *= -1.0  # render upside down so rows read back top-first (no flip copy)
        mvp = (proj @ camera.view_matrix()).astype(np.float32)
        values = {name: np.asarray(value, np.float32).T.copy().tobytes()
                  if isinstance(value, np.ndarray) else value for name, value in values.items()}
        values["mvp"] = mvp.T.copy().tobytes()
        for prog in programs:
            if prog is None:
                continue
            members = self._uniform_sets[prog]
            for name, value in values.items():
                member = members.get(name)
                if member is None:  # not used by the shader (compiled away)
                    continue
                if isinstance(value, bytes):
                    member.write(value)
                else:
                    member.value = value

    def _read(self, camera: Camera, want_heat: bool, want_depth: bool = True) -> RenderResult:
        import cv2

        k = self.supersample
        w, h = self.size[0] * k, self.size[1] * k
        # Whole RGBA pixels into buffers kept between draws: Mesa copies them as they are (3
        # or 2 components cost a conversion ~10x slower), OpenCV drops the channels.
        if self._rgba is None:
            self._rgba = np.empty((h, w, 4), np.uint8)
            self._lab = np.empty((h, w, 4), np.uint8)
        self.fbo.read_into(self._rgba, components=4, attachment=0)
        self.fbo.read_into(self._lab, components=4, attachment=1)
        rgb = cv2.cvtColor(self._rgba, cv2.COLOR_RGBA2RGB)
        parts = cv2.extractChannel(self._lab, 0)
        heat = cv2.extractChannel(self._lab, 1) if want_heat else None
        zbuf = None
        if want_depth:
            raw = self.fbo.read(components=1, attachment=-1, dtype="f4")
            zbuf = np.frombuffer(raw, np.float32).reshape(h, w)
        if k > 1:
            # Colour and heat are averaged over each k x k block; ids and depth are sampled
            # at one sub-pixel (averaging would invent part ids and depths).
            rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
            parts = parts[k // 2::k, k // 2::k].copy()
            if want_heat:
                heat = cv2.resize(heat, self.size, interpolation=cv2.INTER_AREA)
            if zbuf is not None:
                zbuf = zbuf[k // 2::k, k // 2::k].copy()
        mask = (parts > 0).view(np.uint8) * np.uint8(255)
        depth = linear_depth(zbuf, camera) if zbuf is not None else None
        heatmap = colourise(heat) if want_heat else None
        return RenderResult(rgb=rgb, mask=mask, parts=parts, depth=depth,
                            heatmap=heatmap, heat=heat, camera=camera)


LID_SKIN_PERCENTILE = 50
"""Hand-set: percentile (per channel) of the upper lid's skin colour that a shut lid's
faded fringe is lifted to (the skin darker than it is lifted too, losing its grain there).
At 25 the lifted lashes stayed as flat patches darker than the skin around them."""


@dataclass
class _Order:
    """GL objects of one triangle order (:meth:`Renderer._order`): ``body`` draws pass 1
    (or the single draw) with each first program; ``mark`` and ``second`` (pass 2, per
    program) draw the redrawn triangles, None and empty without split shading."""

    ibo: object | None
    body: dict
    ibo_first: object | None = None
    mark: object | None = None
    second: dict = field(default_factory=dict)

    def objects(self) -> list:
        return [o for o in (*self.body.values(), self.mark, *self.second.values(), self.ibo,
                            self.ibo_first) if o is not None]


LID_CODE_MM = 5.5
"""Triangles with a corner this close to a lid margin (mm) are drawn with the shut-lid code
(:meth:`Renderer.shut_faces`). Set from the shader: that code changes nothing past 5 mm (its
fade ends there, its hanging lashes at most 3.4 mm from the margin)."""


def lid_look(appearance, mm: np.ndarray) -> dict:
    """Uniforms of a shut lid, measured on the appearance's albedo at the vertices of its
    neutral mesh (``mm``: :func:`lid_margin_mm` there): ``lid_skin`` the upper lid's skin
    3-6 mm from its margin (between the lashes and the crease, :data:`LID_SKIN_PERCENTILE`),
    ``lash_rgb`` the mean of the darkest tenth of the texels around the upper margin (its
    painted lash line), ``eye_half`` half the distance between each lid opening's corners
    (metres, both eyes' mean)."""
    from pain3d.face.head import head_template

    rest = appearance.rest_mesh
    loops = head_template().fine_eye_loops
    alb = appearance.albedo[..., :3].astype(np.float64) / 255.0
    size = alb.shape[0]
    texel = np.clip((rest.uv * size).astype(np.int64), 0, size - 1)
    skin = (rest.regions == region_id("upper_eyelid")) & (mm > 3.0) & (mm < 6.0)
    margin = texel[np.concatenate([loops[k][0] for k in ("r", "l")])]
    win = np.arange(-2, 3)
    rows = np.clip(margin[:, 1, None, None] + win[:, None], 0, size - 1)
    cols = np.clip(margin[:, 0, None, None] + win[None, :], 0, size - 1)
    around = alb[rows, cols].reshape(-1, 3)
    dark = around[np.argsort(around.sum(1))[:max(len(around) // 10, 1)]]
    corners = [rest.vertices[loops[k][0][[0, -1]]] for k in ("r", "l")]
    half = float(np.mean([np.linalg.norm(a - b) for a, b in corners])) / 2.0
    return {"lid_skin": tuple(float(c) for c in np.percentile(
                alb[texel[skin, 1], texel[skin, 0]], LID_SKIN_PERCENTILE, axis=0)),
            "lash_rgb": tuple(float(c) for c in dark.mean(0)), "eye_half": half}


def face_exposure(skin_rgb: tuple[float, float, float]) -> float:
    """Exposure multiplier a camera metering on the face would choose for a skin colour.

    Mid-tone skin (sRGB mean ~0.55) gets 1; darker skin up to 1.6 (never darker than 0.9),
    which keeps facial features readable across the Monk scale.
    """
    lum = max(float(np.mean(skin_rgb)), 1e-3)
    return float(np.clip((0.55 / lum) ** 0.45, 0.9, 1.6))


def linear_depth(zbuf: np.ndarray, camera: Camera) -> np.ndarray:
    """OpenGL depth-buffer values (H, W) in [0, 1] -> metres along the view axis, 0 where
    nothing was drawn (z = 1)."""
    n, f = camera.near, camera.far
    ndc = zbuf * np.float32(2.0) - np.float32(1.0)
    with np.errstate(divide="ignore"):
        d = np.float32(2.0 * f * n) / (np.float32(f + n) - ndc * np.float32(f - n))
    d[zbuf >= 1.0] = 0.0
    return d
