"""Photo identities end to end: detect, fit, bake, render, composite, reject bad input.

The photos are procedural faces rendered by the tests themselves (see conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from photo_helpers import procedural_photo

from pain3d.face.mesh import PARTS
from pain3d.synth.photo import (
    PhotoConfig,
    PhotoRejected,
    expression_measures,
    load_photo,
    non_neutral_reasons,
    photo_identity,
    render_photo,
)

NEUTRAL = np.zeros(6)


def test_the_neutral_render_is_the_photo(identity, renderer):
    out = render_photo(identity, renderer, NEUTRAL).rgb.astype(np.int16)
    photo = identity.photo.astype(np.int16)
    inside = identity.face_alpha > 0.99
    # Resampling (photo -> texture -> image) blurs a little; nothing else differs.
    assert np.abs(out - photo)[inside].mean() < 4.0
    assert np.array_equal(out[identity.face_alpha == 0], photo[identity.face_alpha == 0])


def test_pain_changes_the_face_and_nothing_outside_it(identity, renderer):
    neutral = render_photo(identity, renderer, NEUTRAL).rgb
    pain = render_photo(identity, renderer, [5, 4, 4, 3, 3, 0]).rgb
    outside = identity.face_alpha == 0
    assert np.array_equal(pain[outside], neutral[outside])
    diff = np.abs(pain.astype(np.int16) - neutral.astype(np.int16)).sum(-1)
    assert (diff[identity.face_alpha > 0.99] > 30).mean() > 0.05


def test_au43_hides_the_eyeballs_behind_lids(identity, renderer):
    eyes = PARTS.index("eyes")
    open_ = render_photo(identity, renderer, NEUTRAL).result.parts
    closed = render_photo(identity, renderer, [0, 0, 0, 0, 0, 1]).result.parts
    assert (open_ == eyes).sum() > 100
    assert (closed == eyes).sum() < 0.02 * (open_ == eyes).sum()


def test_raised_upper_lip_uncovers_teeth(identity, renderer):
    mouth = PARTS.index("mouth")
    res = render_photo(identity, renderer, [0, 0, 0, 0, 5, 0]).result
    inner = res.parts == mouth
    assert inner.sum() > 20
    teeth = res.rgb[inner].astype(float).mean(1) > 0.6 * 255 * np.mean(
        identity.appearance.teeth_rgb)
    assert teeth.sum() > 5


def test_same_photo_gives_the_same_identity_and_pixels(photo, tracker, identity, renderer):
    again = photo_identity(photo, tracker=tracker)
    assert np.array_equal(again.appearance.albedo, identity.appearance.albedo)
    assert np.array_equal(again.mesh.vertices, identity.mesh.vertices)
    a = render_photo(identity, renderer, [3, 2, 2, 1, 1, 0]).rgb
    b = render_photo(again, renderer, [3, 2, 2, 1, 1, 0]).rgb
    assert np.array_equal(a, b)


def test_a_yawed_view_renders_the_whole_head(identity, renderer):
    from pain3d.render.photo import orbit_camera

    cam = orbit_camera(identity.camera, 25.0)
    res = render_photo(identity, renderer, NEUTRAL, camera=cam)
    assert res.rgb.shape == identity.photo.shape
    assert (res.result.mask > 0).mean() > 0.1


def test_heat_rides_through_the_render(identity, renderer):
    from pain3d.face import HEATMAP_SCALE_M, displacement, express
    from pain3d.render.colormap import normalise_heat

    aus = [5, 0, 0, 0, 0, 0]
    heat = normalise_heat(displacement(identity.mesh, express(identity.mesh, aus)),
                          HEATMAP_SCALE_M)
    res = render_photo(identity, renderer, aus, heat=heat).result
    assert res.heatmap is not None and res.heat.max() > 50


def test_grayscale_photo_is_refused(photo, tracker):
    grey = np.repeat(photo.mean(-1, keepdims=True).astype(np.uint8), 3, -1)
    with pytest.raises(PhotoRejected) as exc:
        photo_identity(grey, tracker=tracker)
    assert exc.value.reason == "grayscale"


def test_photo_without_a_face_is_refused(tracker):
    blank = np.full((256, 256, 3), (90, 140, 200), np.uint8)
    with pytest.raises(PhotoRejected) as exc:
        photo_identity(blank, tracker=tracker)
    assert exc.value.reason == "no_face"


def test_small_face_is_refused(photo, tracker):
    import cv2

    small = cv2.resize(photo, (128, 128), interpolation=cv2.INTER_AREA)
    with pytest.raises(PhotoRejected) as exc:
        photo_identity(small, tracker=tracker)
    assert exc.value.reason == "small_face"
    assert "96" in str(exc.value)


def test_open_mouth_is_refused_as_non_neutral_unless_allowed(tracker):
    open_mouth = procedural_photo(nuisance={"AU25": 5, "AU26": 5})
    with pytest.raises(PhotoRejected) as exc:
        photo_identity(open_mouth, tracker=tracker)
    assert exc.value.reason == "non_neutral" and "mouth_open" in str(exc.value)
    ident = photo_identity(open_mouth, tracker=tracker,
                           cfg=PhotoConfig(non_neutral="warn"))
    assert "non_neutral" in ident.warnings


def test_the_largest_of_several_faces_is_used_and_reported(photo, tracker):
    import cv2

    canvas = np.full((512, 768, 3), 200, np.uint8)
    canvas[:, :512] = photo
    small = cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA)
    canvas[128:384, 512:] = small
    ident = photo_identity(canvas, tracker=tracker)
    assert "multiple_faces" in ident.warnings
    assert ident.crop[0, 2] > -512 * ident.crop[0, 0]  # the crop is on the big face (x < 512)
    centre_x = (ident.photo.shape[1] / 2 - ident.crop[0, 2]) / ident.crop[0, 0]
    assert centre_x < 512


def test_unreadable_and_grayscale_files_are_refused(tmp_path):
    from PIL import Image

    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(PhotoRejected) as exc:
        load_photo(bad)
    assert exc.value.reason == "unreadable" and "broken.jpg" in str(exc.value)
    with pytest.raises(PhotoRejected) as exc:
        load_photo(tmp_path / "missing.png")
    assert exc.value.reason == "unreadable"
    grey = tmp_path / "grey.png"
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(grey)
    with pytest.raises(PhotoRejected) as exc:
        load_photo(grey)
    assert exc.value.reason == "grayscale"


def test_neutral_landmarks_pass_the_neutrality_check(identity):
    assert non_neutral_reasons(expression_measures(identity.landmarks)) == []


def test_photo_config_rejects_impossible_values():
    with pytest.raises(ValueError, match="framing"):
        PhotoConfig(framing=1.0)
    with pytest.raises(ValueError, match="non_neutral"):
        PhotoConfig(non_neutral="ignore")


def test_only_texels_the_photo_shows_take_its_colour(identity):
    app = identity.appearance
    pos = app.raster.interpolate(app.raster_faces, identity.mesh.vertices)
    seen = app.confidence > 127
    back = app.raster.covered & (pos[..., 2] < -0.08)  # behind the ears
    front = app.raster.covered & (pos[..., 2] > 0.02) & (np.abs(pos[..., 0]) < 0.01)
    assert back.sum() > 1000 and front.sum() > 100
    assert seen[back].mean() == 0.0
    assert seen[front].mean() > 0.9


def test_reference_variation_seams_change_nothing_at_rest_and_act_when_asked(identity,
                                                                            renderer):
    from pain3d.render.photo import PhotoLighting

    base = render_photo(identity, renderer, NEUTRAL)
    same = render_photo(identity, renderer, NEUTRAL, pose_offset=(0.0, 0.0, 0.0),
                        lighting=PhotoLighting())
    assert np.array_equal(base.rgb, same.rgb)
    brighter = render_photo(identity, renderer, NEUTRAL, lighting=PhotoLighting(gain=1.2)).rgb
    assert brighter.astype(float).mean() > base.rgb.astype(float).mean() + 5
    relit = render_photo(identity, renderer, NEUTRAL, lighting=PhotoLighting(yaw=40.0)).rgb
    inside = identity.face_alpha > 0.99
    assert np.abs(relit.astype(int) - base.rgb.astype(int))[inside].mean() > 1.0
    assert np.array_equal(relit[identity.face_alpha == 0], base.rgb[identity.face_alpha == 0])
    turned = render_photo(identity, renderer, NEUTRAL, pose_offset=(4.0, 0.0, 0.0))
    assert turned.camera.yaw == pytest.approx(identity.camera.yaw + 4.0)
    # The head turned: its silhouette moved sideways in the image.
    cols = np.nonzero(turned.result.mask.any(0))[0]
    cols0 = np.nonzero(base.result.mask.any(0))[0]
    assert abs(int(cols.mean()) - int(cols0.mean())) >= 2


@pytest.mark.parametrize("offset", [(0.0, 8.0, 0.0), (3.0, -3.0, 2.0)])
def test_a_moved_head_brings_in_the_photo_mirrored_not_a_smeared_edge(identity, offset):
    """The backdrop follows a varied head pose; what moves in from beyond the image's edges
    continues the photo (mirrored) instead of repeating the edge pixels, which showed as
    bands of streaks (along the top when the head tilted)."""
    import cv2

    from pain3d.render.photo import orbit_camera
    from pain3d.synth.photo import _follow

    size = identity.photo.shape[0]
    noise = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    cam = identity.camera
    moved = orbit_camera(cam, *offset)
    out = _follow(noise, identity, cam, moved).astype(np.float32)
    ones = np.ones((size, size), np.float32)
    beyond = _follow(ones, identity, cam, moved, cv2.BORDER_CONSTANT) < 1e-3
    assert beyond.sum() > 2 * size  # the offset does bring pixels in
    # A repeated edge pixel is constant across its band (one of its two steps is ~0); a
    # photo continued keeps the noise's texture along both axes.
    dy = np.abs(out[2:, 1:-1] - out[1:-1, 1:-1]).mean(-1)
    dx = np.abs(out[1:-1, 2:] - out[1:-1, 1:-1]).mean(-1)
    texture = np.minimum(dx, dy)
    b = beyond[1:-1, 1:-1] & beyond[2:, 1:-1] & beyond[1:-1, 2:]
    assert texture[b].mean() > 0.5 * texture[~beyond[1:-1, 1:-1]].mean()


def test_split_shading_draws_the_same_bytes_as_one_draw(identity, renderer):
    from pain3d.face import HEATMAP_SCALE_M, displacement, express
    from pain3d.face.mesh import PARTS
    from pain3d.render.photo import PHOTO_SKIN, PhotoRenderer, orbit_camera

    single = PhotoRenderer(identity.photo.shape[0], split_shading=False)
    # Two draws against one: the comparison below would hold trivially otherwise.
    assert renderer._prog_features is not None and single._prog_features is None
    # Pass 1 leaves the lid skin out: the closed lids below come from pass 2 alone.
    assert "skin_tex, v_uv" not in PHOTO_SKIN and "lash" not in PHOTO_SKIN.split("main()")[1]
    try:
        for aus in (NEUTRAL, [4, 3, 3, 2, 5, 1], [0, 0, 0, 0, 5, 0]):  # lids closed, lip up
            mesh = express(identity.mesh, aus)
            heat = displacement(identity.mesh, mesh) / HEATMAP_SCALE_M
            for cam in (identity.camera, orbit_camera(identity.camera, 30.0)):
                a = renderer.render(mesh, identity.appearance, cam, aus=aus, heat=heat)
                b = single.render(mesh, identity.appearance, cam, aus=aus, heat=heat)
                for name in ("rgb", "parts", "heat", "depth"):
                    assert np.array_equal(getattr(a, name), getattr(b, name)), name
        # The second pass drew something: eyeballs and the mouth interior are in the picture.
        for part in ("eyes", "mouth"):
            assert (a.parts == PARTS.index(part)).sum() > 10, part
    finally:
        single.release()
