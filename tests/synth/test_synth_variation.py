"""``reference_variation``: every image its own small pose, light and camera change, neutral
sessions as PSPI-0 samples; off, the published composition is untouched."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pandas as pd
import pytest
from synth_helpers import make, tiny_generate_config, tree_digest

from pain3d.facs import AU_NAMES, NUISANCE_AUS
from pain3d.synth.config import GenerateConfig, VariationConfig
from pain3d.synth.manifest import VARIATION_COLUMNS
from pain3d.synth.plan import build_plan
from pain3d.synth.spec import VariationSpec
from pain3d.synth.variation import NO_VARIATION, sample_delta, vary_camera, vary_lighting
from pain3d.synth.verify import verify

VARIED = dict(identities=3, per_identity=3, views=2,
              reference_variation=VariationConfig(neutral_sessions=2))


@pytest.fixture(scope="module")
def varied_dataset(tmp_path_factory):
    cfg = tiny_generate_config(**VARIED)
    return make(tmp_path_factory.mktemp("varied") / "ds", cfg), cfg


def test_without_the_option_no_image_varies_and_there_are_no_sessions():
    plan = build_plan(GenerateConfig(identities=2, per_identity=3, views=2, size=32))
    assert all(s.variation is None and s.session == 0 for s in plan.samples)
    assert {s.expression for s in plan.samples} == {"neutral", "pain_1", "pain_2", "pain_3"}
    assert all(sample_delta(s) is NO_VARIATION for s in plan.samples)


def test_the_option_adds_neutral_sessions_after_the_pain_configurations():
    plan = build_plan(tiny_generate_config(**VARIED))
    unit = plan.unit(0)
    sessions = [s for s in unit.samples if s.session]
    assert [s.expression for s in sessions] == ["pain_4", "pain_4", "pain_5", "pain_5"]
    assert [s.session for s in sessions] == [1, 1, 2, 2]
    assert all(s.aus == (0.0,) * 6 and s.nuisance == () and s.pspi == 0 for s in sessions)
    # every image its own variation: no two images of a view share their camera or light
    for view in (0, 1):
        deltas = [s.variation for s in unit.samples if s.view.index == view]
        assert len(set(deltas)) == len(deltas) == 6
    # the same config draws the same values (resume, --only, other workers)
    assert build_plan(tiny_generate_config(**VARIED)).unit(0) == unit


def test_variations_stay_within_the_configured_magnitudes():
    v = VariationConfig(neutral_sessions=1, head_deg=2.0, roll_deg=1.0, distance_frac=0.02,
                        shift_m=0.004, light_deg=6.0, light_gain=0.05)
    plan = build_plan(tiny_generate_config(identities=8, per_identity=4, reference_variation=v))
    d = np.array([dataclasses.astuple(s.variation) for s in plan.samples])
    top = np.array([2.0, 2.0, 1.0, 0.02, 0.004, 0.004, 6.0, 3.0, 0.05])
    centre = np.array([0, 0, 0, 1, 0, 0, 0, 0, 1.0])
    assert (np.abs(d - centre) <= top + 1e-9).all()
    assert (np.abs(d - centre).max(axis=0) > 0.8 * top).all()  # and use the range


def test_variation_config_rejects_large_or_negative_magnitudes():
    with pytest.raises(ValueError, match="head_deg"):
        VariationConfig(head_deg=40)
    with pytest.raises(ValueError, match="neutral_sessions"):
        VariationConfig(neutral_sessions=-1)


def test_manifest_records_what_each_image_had_applied(varied_dataset):
    root, cfg = varied_dataset
    df = pd.read_parquet(root / "manifest.parquet")
    by_path = {f"meshes_inpainted/{s.name}.jpg": s for s in build_plan(cfg).samples}
    for _, r in df.iterrows():
        s = by_path[r["path"]]
        assert r[list(VARIATION_COLUMNS)].tolist() == list(dataclasses.astuple(s.variation))
        assert r["neutral_session"] == s.session
    sessions = df[df["neutral_session"] > 0]
    assert len(sessions) == 3 * 2 * 2
    assert (sessions[list(AU_NAMES) + list(NUISANCE_AUS) + ["PSPI"]] == 0).all().all()


def test_neutral_sessions_have_black_heatmaps_and_zero_annotations(varied_dataset):
    import json

    import cv2

    root, _ = varied_dataset
    ann = json.loads((root / "annotations" / "flame_sample_0000_pain_4_annotations.json")
                     .read_text())
    assert ann == {**dict.fromkeys(AU_NAMES, 0.0), "PSPI": 0.0}
    assert "flame_sample_0000_pain_5,0" in (root / "splits.csv").read_text().replace(",1", ",0") \
        .replace(",2", ",0")
    assert verify(root).ok, verify(root).text()
    card = (root / "dataset_card.md").read_text()
    assert "Reference variation on" in card and "| of which neutral sessions (PSPI 0) | 6 |" in card
    assert cv2.imread(str(root / "heatmaps" / "flame_sample_0000_pain_4_heatmap.png")).shape


def test_a_varied_dataset_is_byte_identical_across_runs_and_resumes(varied_dataset, tmp_path):
    root, cfg = varied_dataset
    again = make(tmp_path / "again", cfg, workers=2)
    assert tree_digest(again) == tree_digest(root)
    # a killed run: one identity's files and record gone, the manifest not yet written
    (again / "manifest.parquet").unlink()
    for p in list((again / "meshes_inpainted").glob("flame_sample_0001_*")):
        p.unlink()
    (again / ".pain3d" / "units" / "00001.json").unlink()
    shutil.rmtree(again / "textured_meshes" / "flame_sample_0001")
    make(again, cfg)
    assert tree_digest(again) == tree_digest(root)


def test_verify_reports_variation_that_differs_from_the_plan(fresh_dataset):
    root, _ = fresh_dataset(**VARIED)
    df = pd.read_csv(root / "manifest.csv", keep_default_na=False)
    df.loc[3, "var_head_yaw"] = float(df.loc[3, "var_head_yaw"]) + 1.0
    df.loc[5, "neutral_session"] = 1
    df.to_csv(root / "manifest.csv", index=False)
    df.to_parquet(root / "manifest.parquet")
    text = "\n".join(verify(root).problems)
    assert "capture variation" in text and "neutral_session 1 but the plan says 0" in text


def test_the_seam_turns_a_delta_into_camera_and_light_changes():
    from pain3d.render.camera import Camera
    from pain3d.render.lighting import sample_lighting

    cam, light = Camera(yaw=3.0, pitch=10.0), sample_lighting(np.random.default_rng(0))
    assert vary_camera(cam, NO_VARIATION) is cam and vary_lighting(light, NO_VARIATION) is light
    d = VariationSpec(head_yaw=2.0, head_pitch=-1.0, head_roll=0.5, distance_scale=1.02,
                      shift_x=0.003, shift_y=-0.002, light_azimuth=8.0, light_elevation=2.0,
                      light_gain=1.1)
    c = vary_camera(cam, d)
    assert (c.yaw, c.pitch, c.roll) == pytest.approx((5.0, 9.0, 0.5))
    assert c.distance == pytest.approx(0.8 * 1.02) and c.target[0] == pytest.approx(
        cam.target[0] + 0.003)
    v = vary_lighting(light, d)
    assert v.exposure == pytest.approx(light.exposure * 1.1)
    # the rig turns rigidly: every light by the same angle (head yaw + light azimuth about y)
    for name in ("key_dir", "fill_dir", "rim_dir"):
        a, b = np.asarray(getattr(light, name)), np.asarray(getattr(v, name))
        assert np.linalg.norm(b) == pytest.approx(1.0)
        assert 0.5 < np.degrees(np.arccos(np.clip(a @ b, -1, 1))) < 12.0


def test_training_data_reads_sessions_as_pspi0_samples_with_the_reference_of_their_view(
        varied_dataset):
    """Neutral sessions are samples (never references); the same-identity and oracle
    reference of any sample is the identity's neutral reference of the same view."""
    from pain3d.data import DataConfig, open_data
    from pain3d.data.references import ReferenceConfig, ReferenceSampler

    root, _ = varied_dataset
    data = open_data(DataConfig(root=str(root), kind="synthetic"))
    t = data.table
    rows = data.rows()
    is_session = np.array(["_pain_4_" in k or "_pain_5_" in k for k in t.key.astype(str)])
    assert set(np.flatnonzero(is_session)) <= set(rows.tolist())
    assert (t.pspi[is_session] == 0).all() and not t.neutral[is_session].any()
    for policy in ("same-identity", "oracle"):
        sampler = ReferenceSampler(t, ReferenceConfig(policy=policy, deterministic=True))
        for row in rows:
            ref = int(sampler.select(int(row), sampler.rng_for(int(row)))[0])
            assert t.neutral[ref] and t.subject[ref] == t.subject[row]
            assert t.view[ref] == t.view[row] and "_neutral_" in str(t.key[ref])


def test_the_published_folder_reader_takes_sessions_as_pspi0_samples(fresh_dataset):
    from pain3d.data.synthetic import index_synthetic

    root, _ = fresh_dataset(**{**VARIED, "layout": "3dpain"})
    for name in ("manifest.parquet", "manifest.csv"):
        (root / name).unlink()
    idx = index_synthetic(root, layout="3dpain")
    t = idx.table
    sessions = np.array(["_pain_4_" in k or "_pain_5_" in k for k in t.key.astype(str)])
    assert sessions.sum() == 12 and (t.pspi[sessions] == 0).all()
    assert not t.neutral[sessions].any() and t.neutral.sum() == 3 * 2


def test_references_and_sessions_are_separate_captures_not_copies():
    """Real renders: without variation a neutral target would be its reference with other
    camera effects (the same head silhouette, pixel for pixel, and the same keypoints); a
    neutral session is a separate capture: the head sits elsewhere in the frame."""
    from pain3d.synth.builtin import BuiltinRenderer

    cfg = GenerateConfig(identities=1, per_identity=1, views=1, size=96, seed=4,
                         reference_variation=VariationConfig(neutral_sessions=1))
    unit = build_plan(cfg).unit(0)
    ref = next(s for s in unit.samples if s.is_reference and s.view.index == 0)
    session = next(s for s in unit.samples if s.session == 1 and s.view.index == 0)
    copy = dataclasses.replace(session, variation=ref.variation)  # only the noise differs
    renderer = BuiltinRenderer(cfg)
    try:
        state = renderer.prepare(unit.identity)
        r, c, v = (renderer.render(state, s, mask=True, depth=False)
                   for s in (ref, copy, session))
    finally:
        renderer.release()
    assert np.array_equal(r.mask, c.mask) and np.array_equal(r.landmarks, c.landmarks)
    assert (r.mask != v.mask).mean() > 0.01  # over 1 % of the pixels change side
    assert np.abs(r.rgb.astype(float) - v.rgb).mean() > np.abs(r.rgb.astype(float) - c.rgb).mean()
    assert np.abs(r.landmarks - v.landmarks).max() > 0.5  # keypoints moved (pixels)


def test_the_flag_turns_variation_on_and_a_yaml_block_keeps_its_magnitudes(tmp_path):
    import yaml

    from pain3d.cli import main

    common = ["--identities", "2", "--per-identity", "1", "--views", "1", "--size", "32",
              "--renderer", "pain3d.synth.testing:PlainRenderer", "--no-progress",
              "--workers", "1"]
    assert main(["generate", "--out", str(tmp_path / "a"), "--reference-variation",
                 *common]) == 0
    saved = yaml.safe_load((tmp_path / "a" / "config.yaml").read_text())
    assert saved["reference_variation"] == dataclasses.asdict(VariationConfig())
    (tmp_path / "c.yaml").write_text("reference_variation:\n  head_deg: 1.5\n")
    assert main(["generate", "--out", str(tmp_path / "b"), "--config", str(tmp_path / "c.yaml"),
                 "--reference-variation", "--neutral-sessions", "1", *common]) == 0
    saved = yaml.safe_load((tmp_path / "b" / "config.yaml").read_text())
    assert saved["reference_variation"]["head_deg"] == 1.5
    assert saved["reference_variation"]["neutral_sessions"] == 1
    assert main(["generate", "--out", str(tmp_path / "off"), *common]) == 0
    assert yaml.safe_load((tmp_path / "off" / "config.yaml").read_text())[
        "reference_variation"] is None
