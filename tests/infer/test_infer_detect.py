"""Face detection, selection, pose and quality flags on real photos built by the tests."""

from __future__ import annotations

import numpy as np
import pytest
from infer_frames import blank, two_faces

from pain3d.face.tracker import Face, FaceTracker, head_pose
from pain3d.infer.detect import (
    FLAG_BLURRY,
    FLAG_EXTREME_POSE,
    FLAG_MULTIPLE_FACES,
    FLAG_NO_FACE,
    DetectConfig,
    FaceDetector,
    select_face,
)


@pytest.fixture(scope="module")
def detector():
    with FaceDetector(DetectConfig()) as d:
        yield d


def test_photo_gives_one_face_with_478_landmarks_inside_its_box(detector, photo):
    face, flags = detector(photo)
    assert face is not None and flags == []
    assert face.landmarks.shape == (478, 3)
    x0, y0, x1, y1 = face.box
    inner = face.landmarks[:468, :2]
    # eyes, nose and mouth lie inside the detector's box (contour points may stick out)
    core = inner[[1, 33, 263, 13, 14]]
    assert np.all((core[:, 0] > x0) & (core[:, 0] < x1) & (core[:, 1] > y0) & (core[:, 1] < y1))
    assert abs(face.yaw_deg) < 15 and abs(face.pitch_deg) < 15


def test_frame_without_face_is_flagged_not_an_error(detector):
    face, flags = detector(blank())
    assert face is None and flags == [FLAG_NO_FACE]


@pytest.mark.parametrize("big_left", [True, False])
def test_largest_of_two_faces_is_selected(detector, big_left):
    frame = two_faces(big_left=big_left)
    faces = detector.detect(frame)
    assert len(faces) == 2
    face, flags = detector(frame, track=False)
    assert FLAG_MULTIPLE_FACES in flags
    centre_x = (face.box[0] + face.box[2]) / 2
    assert (centre_x < frame.shape[1] / 2) == big_left
    assert face.area == max(f.area for f in faces)


def test_the_tracker_gives_every_face_of_a_photo_with_its_own_landmarks(photo):
    with FaceTracker() as tracker:
        faces = tracker.faces(two_faces(big_left=False))
        whole = tracker.frame_landmarks(photo)
        (single,) = tracker.faces(photo)
    assert len(faces) == 2
    for f in faces:
        x0, y0, x1, y1 = f.box
        core = f.landmarks[[1, 33, 263, 13, 14], :2]  # nose, eye corners, lips
        assert f.landmarks.shape == (478, 3) and 0 < f.score <= 1
        assert np.all((core[:, 0] > x0) & (core[:, 0] < x1) & (core[:, 1] > y0) & (core[:, 1] < y1))
        assert abs(f.yaw_deg) < 15
    largest = max(faces, key=lambda f: f.area)
    assert (largest.box[0] + largest.box[2]) / 2 > 256  # the big copy is on the right
    # the mesh on the whole photo and on the face's crop agree to a few pixels
    assert whole.shape == (478, 3)
    assert np.abs(whole[:468, :2] - single.landmarks[:468, :2]).mean() < 3


def test_tracking_follows_the_previous_face_not_the_largest():
    big = Face(box=np.array([0, 0, 100, 100], np.float32), score=0.9)
    small = Face(box=np.array([200, 0, 260, 60], np.float32), score=0.9)
    prev = np.array([205, 2, 262, 61], np.float32)
    assert select_face([big, small], "largest", prev) == 0
    assert select_face([big, small], "track", prev) == 1
    # a lost track (no overlap) restarts on the largest face
    assert select_face([big, small], "track", np.array([500, 500, 560, 560])) == 0
    assert select_face([], "track", prev) is None


def test_head_pose_recovers_a_known_yaw(detector, photo):
    face, _ = detector(photo)
    lm = face.landmarks.astype(np.float64)
    c = lm.mean(axis=0)
    for yaw in (-50.0, 30.0):
        a = np.radians(yaw)
        # rotate about the vertical image axis (x right, z away from camera in mediapipe)
        rot = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
        y, _ = head_pose((lm - c) @ rot.T + c)
        assert abs(abs(y - head_pose(lm)[0]) - abs(yaw)) < 6


def test_blurred_face_is_flagged_blurry(detector, photo):
    import cv2

    face, flags = detector(cv2.GaussianBlur(photo, (0, 0), 6))
    assert face is not None and FLAG_BLURRY in flags
    _, sharp_flags = detector(photo)
    assert FLAG_BLURRY not in sharp_flags and FLAG_EXTREME_POSE not in sharp_flags


def test_grey_or_float_images_are_rejected_with_a_clear_message(detector):
    with pytest.raises(ValueError, match="uint8"):
        detector(np.zeros((64, 64, 3), np.float32))
