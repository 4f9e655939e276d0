"""The plan of a dataset: composition, seeds, splits, names and spec round trips."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import numpy as np
import pytest
from synth_helpers import parse_published_name, tiny_generate_config

from pain3d.facs import pspi
from pain3d.synth.config import GenerateConfig
from pain3d.synth.plan import build_plan, select, split_assignment
from pain3d.synth.spec import sample_from_json


def test_plan_has_the_published_composition_per_identity():
    cfg = tiny_generate_config(identities=4, per_identity=10, views=3)
    plan = build_plan(cfg)
    assert plan.n_images == 4 * (10 + 1) * 3
    for unit in plan.units:
        exprs = Counter(s.expression for s in unit.samples)
        assert exprs == {"neutral": 3, **{f"pain_{k}": 3 for k in range(1, 11)}}
        assert len(unit.heatmaps) == 10 and all(h.view.index == 0 for h in unit.heatmaps)
        # Paired references: a neutral and every pain image share each camera exactly.
        cams = {(s.expression, s.view.index): s.view for s in unit.samples}
        for k in range(1, 11):
            for v in range(3):
                assert cams[(f"pain_{k}", v)] == cams[("neutral", v)]
        for s in unit.samples:
            assert s.pspi == pspi(np.asarray(s.aus))
            assert (s.pspi == 0) == (s.expression == "neutral")


def test_same_config_gives_the_same_plan_and_another_seed_another():
    a, b = build_plan(tiny_generate_config()), build_plan(tiny_generate_config())
    c = build_plan(tiny_generate_config(seed=8))
    assert a.samples == b.samples
    assert [s.aus for s in a.samples] != [s.aus for s in c.samples]
    assert len({s.seed for s in a.samples}) == len(a.samples)


def test_a_prefix_of_identities_keeps_its_cameras_and_seeds():
    small = build_plan(tiny_generate_config(identities=2))
    big = build_plan(tiny_generate_config(identities=5))
    for u, v in zip(small.units, big.units[:2], strict=True):
        assert [s.view for s in u.samples] == [s.view for s in v.samples]
        assert [s.seed for s in u.samples] == [s.seed for s in v.samples]
        assert u.identity.shape_seed == v.identity.shape_seed
        assert u.identity.appearance_seed == v.identity.appearance_seed


def test_spec_round_trips_through_json():
    cfg = tiny_generate_config(nuisance_aus=("AU12", "AU25"), continuous=True)
    for s in build_plan(cfg).units[1].samples:
        again = sample_from_json(json.loads(json.dumps(s.to_json())))
        assert again == s


def test_the_identity_spec_alone_rebuilds_the_face_models_identity():
    from pain3d.face import sample_identities
    from pain3d.synth.builtin import build_identity

    plan = build_plan(tiny_generate_config(identities=5))
    for unit, expected in zip(plan.units, sample_identities(5, seed=7), strict=True):
        again = sample_from_json(json.loads(json.dumps(unit.samples[0].to_json()))).identity
        assert build_identity(again) == expected  # the same shape parameters, bit for bit
        assert again.demographics == expected.demographics
    spec = plan.units[0].identity
    with pytest.raises(ValueError, match="source 'scan'"):
        dataclasses.replace(spec, source="scan")
    with pytest.raises(ValueError, match="a 'photo' identity needs photo and photo_sha256"):
        dataclasses.replace(spec, source="photo")
    with pytest.raises(ValueError, match="needs shape_seed"):
        dataclasses.replace(spec, shape_seed=None)


def test_splits_are_70_20_10_by_identity():
    names = split_assignment(2500, (0.7, 0.2, 0.1), seed=0)
    assert Counter(names) == {"train": 1750, "val": 500, "test": 250}
    assert split_assignment(2500, (0.7, 0.2, 0.1), seed=0) == names
    assert split_assignment(2500, (0.7, 0.2, 0.1), seed=1) != names
    plan = build_plan(tiny_generate_config(identities=10))
    for unit in plan.units:
        assert {s.identity.split for s in unit.samples} == {unit.identity.split}


def test_names_follow_the_published_rules():
    plan = build_plan(tiny_generate_config(identities=2, per_identity=2))
    for s in plan.samples:
        parsed = parse_published_name(s.name + ".jpg")
        assert parsed["identity"] == s.identity.name == f"flame_sample_{s.identity.index:04d}"
        assert parsed["neutral"] == (s.expression == "neutral")
        assert parsed["config"] == (None if s.expression == "neutral" else s.config)


def test_select_finds_identities_configurations_and_images():
    plan = build_plan(tiny_generate_config(identities=3, per_identity=2, views=3))
    assert len(select(plan, "flame_sample_0001")) == 3 * 3
    picked = select(plan, "flame_sample_0001_pain_2")
    assert {s.expression for s in picked} == {"pain_2"} and len(picked) == 3
    one = select(plan, "meshes_inpainted/flame_sample_0002_neutral_textured_view_001_inpainted.jpg")
    assert len(one) == 1 and one[0].view.index == 1
    with pytest.raises(KeyError, match="flame_sample_0003_pain_2"):
        select(plan, "flame_sample_0009")


@pytest.mark.parametrize("kw, match", [
    ({"identities": 0}, "identities"),
    ({"views": 6}, "yaw gives 5 angles for 6 views"),
    ({"layout": "zip"}, "layout"),
    ({"extras": ("normals",)}, "extras"),
    ({"face_model": "flame"}, "flame_dir"),
    ({"nuisance_aus": ("AU4",)}, "nuisance AU"),
    ({"split_fractions": (0.5, 0.5, 0.5)}, "split_fractions"),
])
def test_config_rejects_bad_values_with_the_key(kw, match):
    with pytest.raises(ValueError, match=match):
        GenerateConfig(**kw)


def test_shipped_config_file_is_the_default_config():
    from pathlib import Path

    from pain3d.config import load_config

    path = Path(__file__).parents[2] / "configs" / "generate.yaml"
    assert load_config(GenerateConfig, path) == GenerateConfig()


def test_manifest_rows_follow_each_images_own_spec_when_expressions_repeat():
    """The manifest computes the AU, PSPI and nuisance columns once per distinct expression
    and the ``var_*`` columns once per distinct variation: images that share their pain AUs
    but not their nuisance AUs (or variations) must still get their own values."""
    from pain3d.synth.config import VariationConfig
    from pain3d.synth.manifest import manifest_rows, variation_values

    cfg = GenerateConfig(identities=60, per_identity=10, nuisance_aus=("AU1", "AU12"),
                         reference_variation=VariationConfig(neutral_sessions=1))
    plan = build_plan(cfg)
    samples = [s for u in plan.units for s in u.samples]
    rows = manifest_rows(plan)
    by_aus: dict = {}
    for s in samples:
        by_aus.setdefault(s.aus, set()).add(s.nuisance)
    assert any(len(n) > 1 for n in by_aus.values())  # the case the caches must not merge
    for s, row in zip(samples, rows, strict=True):
        assert row["path"].endswith(f"{s.name}.jpg")
        assert [row[k] for k in ("AU4", "AU6", "AU7", "AU9", "AU10", "AU43")] == list(s.aus)
        assert row["PSPI"] == s.pspi
        assert {k: row[k] for k in s.applied_nuisance} == s.applied_nuisance
        assert {k: row[k] for k in variation_values(s)} == variation_values(s)
