"""Face keypoints per image: recorded by the workers, kept across resumes, in the manifest."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from synth_helpers import make, tiny_generate_config

from pain3d.face.landmarks import KEYPOINT_COLUMNS
from pain3d.synth import keypoints as kp
from pain3d.synth import layout
from pain3d.synth.plan import build_plan
from pain3d.synth.testing import PlainRenderer
from pain3d.synth.verify import verify


class NoKeypointRenderer(PlainRenderer):
    """A renderer that does not know where the face is (e.g. a third-party one)."""

    def render(self, state, sample, *, mask, depth):
        out = super().render(state, sample, mask=mask, depth=depth)
        return type(out)(rgb=out.rgb, mask=out.mask, depth=out.depth)


def test_manifest_holds_the_keypoints_the_renderer_gave_for_every_image(dataset_both):
    root, cfg = dataset_both
    plan = build_plan(cfg)
    renderer = PlainRenderer(cfg)
    want = {}
    for unit in plan.units:
        for s in unit.samples:
            want[layout.image_path(s)] = np.round(renderer._keypoints(s).reshape(-1), 3)
    for df in (pd.read_parquet(root / "manifest.parquet"),
               pd.read_csv(root / "manifest.csv", keep_default_na=False)):
        first = list(df.columns).index(KEYPOINT_COLUMNS[0])
        assert list(df.columns[first:first + 6]) == list(KEYPOINT_COLUMNS)
        got = df[list(KEYPOINT_COLUMNS)].to_numpy(np.float64)
        expect = np.stack([want[p] for p in df["path"]])
        np.testing.assert_array_equal(got, expect)
        # the plain renderer's keypoints follow the camera only: one set per identity and view
        assert len({tuple(r) for r in got}) == df.groupby(["identity", "view"]).ngroups == 9


def test_keypoints_survive_a_resume_from_the_unit_records(tmp_path):
    cfg = tiny_generate_config(identities=2, per_identity=1)
    root = make(tmp_path / "ds", cfg)
    before = (root / "manifest.parquet").read_bytes()
    rec = json.loads((root / ".pain3d" / "units" / "00001.json").read_text())
    assert len(rec["landmarks"]) == 2 * 3
    for name in ("manifest.parquet", "manifest.csv", "SHA256SUMS"):
        (root / name).unlink()
    make(root, cfg)  # nothing left to render: the manifest comes from the records
    assert (root / "manifest.parquet").read_bytes() == before


def test_a_renderer_without_keypoints_leaves_them_empty_and_the_dataset_valid(tmp_path):
    cfg = tiny_generate_config(identities=2, per_identity=1,
                      renderer="test_synth_keypoints:NoKeypointRenderer")
    root = make(tmp_path / "ds", cfg)
    df = pd.read_parquet(root / "manifest.parquet")
    assert df[list(KEYPOINT_COLUMNS)].isna().all().all()
    assert verify(root).ok


def test_keypoints_from_a_mesh_sit_on_the_eyes_and_mouth():
    from pain3d.face import express, identity_mesh, sample_identities
    from pain3d.render.camera import Camera

    mesh = identity_mesh(sample_identities(1, seed=5)[0])
    pts = kp.keypoints_3d(mesh)
    # head frame: right eye at x < 0, left at x > 0, both near y = 0 (origin between the
    # eye centres), mouth below; all on the front of the head
    assert pts[0, 0] < -0.02 and pts[1, 0] > 0.02 and abs(pts[0, 1] - pts[1, 1]) < 0.005
    assert pts[2, 1] < -0.04 and abs(pts[2, 0]) < 0.005 and (pts[:, 2] > 0).all()
    # closing the eyes moves neither iris centre (the eyeballs do not move)
    closed = kp.keypoints_3d(express(mesh, [0, 0, 0, 0, 0, 1]))
    np.testing.assert_allclose(closed[:2], pts[:2], atol=1e-6)
    px = kp.project_keypoints(pts, Camera(yaw=0.0, pitch=0.0), 200)
    assert px[0, 0] < 100 < px[1, 0] and px[2, 1] > px[0, 1]  # mirror-free image order
    assert kp.keypoints_3d(mesh, canonical_first=False) is None


def test_verify_catches_partial_or_outside_keypoints(fresh_dataset):
    root, cfg = fresh_dataset()
    df = pd.read_parquet(root / "manifest.parquet")
    df.loc[0, "lm_mouth_y"] = np.nan
    df.loc[1, "lm_reye_x"] = cfg.size + 5.0
    df.to_parquet(root / "manifest.parquet")
    problems = verify(root).problems
    assert any(p.startswith(f"manifest row {df['path'][0]}: face keypoints are partly missing")
               for p in problems), problems
    assert any(p.startswith(f"manifest row {df['path'][1]}: face keypoints")
               and "outside the 48 px image" in p for p in problems), problems
    assert f"face keypoints are known for {len(df) - 1} of {len(df)} images" in " ".join(problems)
