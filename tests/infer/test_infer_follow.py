"""Following a face through a video by its landmarks gives what detecting it in every frame
gives, within a stated tolerance, and runs the detector only when it must."""

from __future__ import annotations

import numpy as np
import pytest

from pain3d.infer.detect import DetectConfig, FaceDetector

# Tolerances of followed frames against detect-every-frame frames (256 px frames, face box
# ~150 px): the followed mesh sees another crop of the same face, so its landmarks move by a
# fraction of a pixel. The box of a followed frame is the detection's box carried by the
# landmarks' extent, which changes with the expression (an opening mouth), and the pose comes
# from the landmarks' depth, the least stable coordinate.
KEYPOINT_FRACTION = 0.03  # of the eye distance (~57 px here): the aligned crop's inputs
BOX_FRACTION = 0.15  # of the face box's width
POSE_DEG = 5.0


@pytest.fixture(scope="module")
def rendered_frames() -> list[np.ndarray]:
    """16 frames at 256 px of a rendered identity turning its head while pain rises."""
    from pain3d.demo.video import VideoPlan, render_video_frames
    from pain3d.synth.config import GenerateConfig

    plan = VideoPlan(fps=8.0, neutral_s=0.5, rise_s=0.5, hold_s=0.25, tail_s=0.25,
                     sway_deg=12.0)
    return render_video_frames(GenerateConfig(identities=1, seed=3), 0, plan, 256)


def _run(frames, cfg: DetectConfig):
    """Per frame: (keypoints, box, pose, flags, aligned 224 px crop); detector calls."""
    from pain3d.data.align import face_keypoints
    from pain3d.infer.align import align_face

    out, calls = [], {"detect": 0}
    with FaceDetector(cfg) as det:
        detect = det.detect

        def counted(image):
            calls["detect"] += 1
            return detect(image)

        det.detect = counted
        for f in frames:
            face, flags = det(f, video=True)
            assert face is not None and face.landmarks is not None, flags
            out.append((face_keypoints(face.landmarks), face.box.copy(),
                        (face.yaw_deg, face.pitch_deg), flags,
                        align_face(f, face.landmarks, 224).astype(np.float64)))
    return out, calls["detect"]


def test_followed_frames_match_detected_frames_within_tolerance(rendered_frames):
    detected, n_detected = _run(rendered_frames, DetectConfig(follow=False))
    followed, n_followed = _run(rendered_frames, DetectConfig(follow=True, redetect_every=0))
    assert n_detected == len(rendered_frames) and n_followed == 1
    for k, ((kd, bd, pd, fd, _), (kf, bf, pf, ff, _)) in enumerate(zip(detected, followed,
                                                                       strict=True)):
        eyes = np.hypot(*(kd[1] - kd[0]))
        assert np.abs(kf - kd).max() <= KEYPOINT_FRACTION * eyes, (k, kf - kd, eyes)
        assert np.abs(bf - bd).max() <= BOX_FRACTION * (bd[2] - bd[0]), (k, bf - bd)
        assert np.abs(np.subtract(pf, pd)).max() <= POSE_DEG, (k, pf, pd)
        assert ff == fd, k
    # The face moves much more than the tolerance, so following does follow it.
    motion = max(np.abs(kd - detected[0][0]).max() for kd, *_ in detected)
    assert motion > 3 * KEYPOINT_FRACTION * np.hypot(*(kd[1] - kd[0])), motion


def test_the_first_frame_and_redetection_frames_are_exactly_the_detected_ones(rendered_frames):
    detected, _ = _run(rendered_frames, DetectConfig(follow=False))
    every5, n = _run(rendered_frames, DetectConfig(follow=True, redetect_every=5))
    assert n == len(range(0, len(rendered_frames), 5))
    for k in range(0, len(rendered_frames), 5):
        np.testing.assert_array_equal(every5[k][0], detected[k][0])
        np.testing.assert_array_equal(every5[k][1], detected[k][1])
        np.testing.assert_array_equal(every5[k][4], detected[k][4])


def test_a_lost_face_is_detected_again(rendered_frames):
    from infer_frames import blank

    frames = rendered_frames[:4] + [blank((256, 256, 3))] + rendered_frames[4:8]
    with FaceDetector(DetectConfig(follow=True, redetect_every=0)) as det:
        results = [det(f, video=True) for f in frames]
    assert results[4] == (None, ["no_face"])
    assert all(face is not None and face.landmarks is not None
               for face, _ in results[:4] + results[5:])


def _on_canvas(face: np.ndarray, x: int) -> np.ndarray:
    """The 256 px frame on a 256 x 640 canvas with its left edge at ``x`` (may be off it)."""
    from infer_frames import blank

    canvas = blank((256, 640, 3))
    lo, hi = max(x, 0), min(x + face.shape[1], canvas.shape[1])
    if hi > lo:
        canvas[:, lo:hi] = face[:, lo - x:hi - x]
    return canvas


@pytest.mark.parametrize("gap", [True, False], ids=["leaves-frame", "jumps"])
def test_a_face_that_leaves_and_comes_back_elsewhere_is_found_where_it_is(rendered_frames,
                                                                          gap):
    """The face slides out of the left edge (or, without the gap, jumps across the frame):
    where it reappears, far from the followed region, the landmarks are the detector's."""
    faces = rendered_frames[:8]
    xs = [0, -40, -120, -200, -300] if gap else [0, -40]
    frames = [_on_canvas(f, x) for f, x in zip(faces, xs, strict=False)]
    back = [_on_canvas(f, 380) for f in faces[len(xs):]]
    with FaceDetector(DetectConfig(follow=False)) as det:
        expected = [det(f)[0] for f in back]
    with FaceDetector(DetectConfig(follow=True, redetect_every=0)) as det:
        results = [det(f, video=True) for f in frames + back]
    if gap:
        assert results[-len(back) - 1] == (None, ["no_face"])
    for (face, _), want in zip(results[-len(back):], expected, strict=True):
        assert face is not None and face.landmarks is not None
        assert face.landmarks[:, 0].min() > 380 - 1
        # The detector's landmarks, up to the tracker's own jitter between two crops of the
        # same face (mean ~0.6-0.9 px, single points up to ~2 px at 256 px); a stale followed
        # region would put them hundreds of pixels away.
        miss = np.linalg.norm(face.landmarks[:, :2] - want.landmarks[:, :2], axis=1)
        assert miss.mean() < 1.5 and miss.max() < 4.0


def test_predicted_video_rows_match_detect_every_frame(rendered_frames, tmp_path, tiny_model):
    from pain3d.infer.predictor import PredictConfig, Predictor
    from pain3d.infer.video import write_video

    video = write_video(tmp_path / "clip.avi", rendered_frames, fps=8.0)
    tables = {}
    for follow in (False, True):
        # The references are the four neutral frames of the opening (0.5 s at 8 frames/s),
        # all of them: choosing 3 of 4 would rank faces at rest by landmark noise, which
        # following changes by a fraction of a pixel.
        cfg = PredictConfig(batch_size=8, reference_seconds=0.4, n_references=4,
                            detect=DetectConfig(follow=follow, redetect_every=0))
        with_pred = Predictor(tiny_model, cfg)
        try:
            tables[follow] = with_pred.predict_video(video).frames
        finally:
            with_pred.close()
    a, b = tables[False], tables[True]
    assert list(a["frame"]) == list(b["frame"]) and list(a["flags"]) == list(b["flags"])
    assert a["is_reference"].tolist() == b["is_reference"].tolist() == [True] * 4 + [False] * (
        len(a) - 4)
    # (a random tiny model: its PSPI barely moves; the crops are compared above)
    np.testing.assert_allclose(b["pspi"], a["pspi"], atol=0.01)
    box = ["x0", "y0", "x1", "y1"]
    width = (a["x1"] - a["x0"]).to_numpy()[:, None]
    assert (np.abs(a[box].to_numpy() - b[box].to_numpy()) <= BOX_FRACTION * width).all()
