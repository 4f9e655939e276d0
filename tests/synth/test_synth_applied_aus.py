"""Issue 14 item 3, generation side: every AU applied is written (as applied), heatmaps show
the pain AUs only, ``verify`` checks both, and the card names the rig version."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from synth_helpers import make, tiny_generate_config

from pain3d.face.expression import applied_nuisance
from pain3d.facs import AU_NAMES, NUISANCE_AUS
from pain3d.synth.plan import build_plan
from pain3d.synth.verify import verify

NUISANCE = ("AU1", "AU2", "AU12", "AU26")


@pytest.fixture(scope="module")
def nuisance_dataset(tmp_path_factory):
    cfg = tiny_generate_config(identities=4, per_identity=4, views=1, nuisance_aus=NUISANCE,
                               nuisance_max=3.0)
    return make(tmp_path_factory.mktemp("nuisance") / "ds", cfg), cfg


def test_manifest_holds_every_nuisance_au_as_the_rig_applied_it(nuisance_dataset):
    root, cfg = nuisance_dataset
    df = pd.read_parquet(root / "manifest.parquet")
    by_path = {f"meshes_inpainted/{s.name}.jpg": s for s in build_plan(cfg).samples}
    brow_cut = 0
    for _, r in df.iterrows():
        s = by_path[r["path"]]
        requested = dict(s.nuisance)
        vec = np.array([requested.get(n, 0.0) for n in NUISANCE_AUS])
        want = applied_nuisance(np.asarray(s.aus), vec)
        np.testing.assert_allclose(r[list(NUISANCE_AUS)].to_numpy(float), want, atol=1e-6)
        if r["AU4"] >= 1:
            assert r["AU1"] == 0 and r["AU2"] == 0
            brow_cut += requested.get("AU1", 0) > 0
    assert brow_cut > 0  # the plan did ask for brow raisers that the rig switched off
    assert (df.loc[df["expression"] == "pain_1", "AU12"] > 0).all()  # written, not dropped
    assert (df.loc[df["expression"] == "neutral", list(NUISANCE_AUS)] == 0).all().all()


def test_annotations_hold_the_applied_nuisance_aus_beside_the_pain_aus(nuisance_dataset):
    root, _ = nuisance_dataset
    df = pd.read_parquet(root / "manifest.parquet")
    for _, r in df[df["expression"] != "neutral"].iterrows():
        ann = json.loads((root / "annotations" / f"{r['identity_name']}_{r['expression']}"
                          "_annotations.json").read_text())
        assert list(ann)[:7] == [*AU_NAMES, "PSPI"]  # the published keys come first
        assert {k: ann[k] for k in NUISANCE} == {k: float(r[k]) for k in NUISANCE}


def test_annotations_without_nuisance_aus_keep_the_published_keys_only(dataset_both):
    root, _ = dataset_both
    ann = json.loads(next((root / "annotations").glob("*.json")).read_text())
    assert list(ann) == [*AU_NAMES, "PSPI"]


def test_verify_reports_nuisance_aus_that_differ_from_those_applied(fresh_dataset):
    root, _ = fresh_dataset(identities=3, per_identity=6, views=1, nuisance_aus=("AU1", "AU12"),
                            nuisance_max=3.0)
    assert verify(root).ok
    df = pd.read_csv(root / "manifest.csv", keep_default_na=False)
    pain = df.index[(df["AU4"] >= 1)][0]
    df.loc[pain, "AU1"] = 2.0  # as requested rather than as applied
    df.to_csv(root / "manifest.csv", index=False)
    df.to_parquet(root / "manifest.parquet")
    rep = verify(root)
    text = "\n".join(rep.problems)
    assert "brow raisers AU1 = 2" in text and "differ from those applied" in text
    ann = root / "annotations" / f"{df.loc[pain, 'identity_name']}_{df.loc[pain, 'expression']}" \
        "_annotations.json"
    obj = json.loads(ann.read_text())
    obj["AU12"] = obj["AU12"] + 1.0
    ann.write_text(json.dumps(obj))
    assert any("nuisance AU12" in p and "differs from the manifest" in p
               for p in verify(root).problems)


def test_dataset_card_names_the_rig_version_and_the_nuisance_rule(nuisance_dataset):
    from pain3d.face.rig import RIG_VERSION

    card = (nuisance_dataset[0] / "dataset_card.md").read_text()
    assert f"AU rig (version {RIG_VERSION}" in card
    assert "heatmaps show the pain AUs only" in card and "AU1/AU2 off from AU4 = 1" in card


def test_heatmaps_show_the_pain_aus_only(tmp_path):
    """A configuration with no pain AU but strong nuisance AUs moves the face (the image
    changes) and leaves its heatmap black; a pain configuration's heatmap is the same with
    and without nuisance AUs on the vertices (pain-only displacement)."""
    import dataclasses

    from pain3d.face import HEATMAP_SCALE_M, displacement, express
    from pain3d.render.colormap import normalise_heat
    from pain3d.synth.builtin import BuiltinRenderer
    from pain3d.synth.config import GenerateConfig

    cfg = GenerateConfig(identities=1, per_identity=1, views=1, size=64, seed=2)
    renderer = BuiltinRenderer(cfg)
    try:
        base = next(s for s in build_plan(cfg).samples if s.expression == "pain_1")
        state = renderer.prepare(base.identity)
        nuisance = (("AU12", 5.0), ("AU26", 5.0))
        only_nuisance = dataclasses.replace(base, aus=(0.0,) * 6, nuisance=nuisance)
        assert renderer.render(state, only_nuisance, mask=False, depth=False).rgb.std() > 0
        assert renderer.heatmap(state, only_nuisance).max() == 0

        pain = dataclasses.replace(base, expression="pain_2", aus=(3.0, 2.0, 1.0, 4.0, 3.0, 0.0),
                                   nuisance=nuisance)
        mesh = express(state["neutral"], np.asarray(pain.aus), nuisance=dict(nuisance))
        pain_only = normalise_heat(displacement(state["neutral"], express(
            state["neutral"], np.asarray(pain.aus))), HEATMAP_SCALE_M)
        full = normalise_heat(displacement(state["neutral"], mesh), HEATMAP_SCALE_M)
        got = renderer._pain_heat(state, pain, mesh)
        np.testing.assert_array_equal(got, pain_only)
        assert np.abs(full - pain_only).max() > 0.1  # the nuisance AUs would have coloured it
    finally:
        renderer.release()
