"""The one landmark module: its tables agree with the canonical face, and it is cheap."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from pain3d.face import landmarks as lm


def test_the_nose_tip_is_the_most_forward_point_of_the_canonical_face():
    v = lm.canonical_vertices()
    assert int(np.argmax(v[:, 2])) == lm.PRONASALE


def test_right_and_left_tables_mirror_each_other():
    mirror = lm.mirror_map()
    for right, left in ((lm.EYE_KEYPOINT_R, lm.EYE_KEYPOINT_L), (lm.EYE_R_UPPER, lm.EYE_L_UPPER),
                        (lm.EYE_R_LOWER, lm.EYE_L_LOWER), (lm.BROW_R, lm.BROW_L)):
        assert sorted(mirror[list(right)]) == sorted(left)
    v = lm.canonical_vertices()
    assert (v[list(lm.EYE_KEYPOINT_R), 0] < 0).all() and (v[list(lm.EYE_KEYPOINT_L), 0] > 0).all()
    assert sorted(mirror[list(lm.MOUTH_KEYPOINT)]) == sorted(lm.MOUTH_KEYPOINT)


def test_keypoint_columns_name_each_keypoint_in_order():
    assert lm.KEYPOINT_COLUMNS == ("lm_reye_x", "lm_reye_y", "lm_leye_x", "lm_leye_y",
                                   "lm_mouth_x", "lm_mouth_y")


def test_reading_the_tables_builds_no_head_and_imports_no_scipy():
    code = ("import sys, pain3d.face.landmarks, pain3d.face.tracker, pain3d.synth.config; "
            "heavy = [m for m in ('scipy', 'torch', 'mediapipe', 'pain3d.face.head') "
            "if m in sys.modules]; print(heavy); sys.exit(bool(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
