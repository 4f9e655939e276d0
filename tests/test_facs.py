"""FACS / PSPI core: hand-checked PSPI, validation messages, and the AU-configuration sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from pain3d.facs import (
    AU_NAMES,
    AUValueError,
    PlanConfig,
    au_vector,
    aus_to_dict,
    integer_configurations,
    pspi,
    sample_plan,
)


@pytest.mark.parametrize(
    ("aus", "expected"),
    [
        ([0, 0, 0, 0, 0, 0], 0),
        ([1, 0, 0, 0, 0, 0], 1),
        ([0, 3, 3, 0, 0, 0], 3),  # tie in the AU6/AU7 pair counts once
        ([0, 0, 0, 4, 4, 0], 4),  # tie in the AU9/AU10 pair counts once
        ([0, 2, 5, 1, 0, 0], 6),
        ([2, 4, 1, 0, 3, 1], 10),
        ([0, 0, 0, 0, 0, 1], 1),  # AU43 alone
        ([5, 5, 5, 5, 5, 1], 16),
        ([5, 0, 5, 5, 0, 1], 16),
        ([1.5, 0.25, 0.5, 2.0, 2.0, 0], 4.0),
    ],
)
def test_pspi_matches_hand_checked_cases(aus, expected):
    assert pspi(aus) == pytest.approx(expected)
    assert pspi(aus_to_dict(aus)) == pytest.approx(expected)


def test_every_integer_configuration_gives_pspi_in_range_and_all_forms_agree():
    configs, levels = integer_configurations()
    assert configs.shape == (6**5 * 2, 6)
    assert levels.min() == 0 and levels.max() == 16
    assert set(np.unique(levels)) == set(range(17))
    batched = pspi(configs.astype(float))
    tensor = pspi(torch.tensor(configs, dtype=torch.float64)).numpy()
    np.testing.assert_array_equal(batched, levels)
    np.testing.assert_array_equal(tensor, levels)
    rng = np.random.default_rng(0)
    for idx in rng.choice(len(configs), 200, replace=False):
        mapping = dict(zip(AU_NAMES, configs[idx].tolist(), strict=True))
        assert pspi(mapping) == levels[idx]
        assert pspi(configs[idx]) == levels[idx]


def test_tensor_pspi_keeps_gradients():
    x = torch.tensor([[1.0, 2.0, 3.0, 0.5, 0.25, 1.0]], requires_grad=True)
    pspi(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 0, 1, 1, 0, 1]])


def test_mapping_accepts_case_and_zero_padded_names():
    assert pspi({"au04": 1, "AU06": 2, "Au7": 0, "AU9": 0, "au10": 1, "AU43": 0}) == 4


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"AU4": 1, "AU6": 0, "AU7": 0, "AU9": 0, "AU10": 0, "AU43": 0, "AU99": 1}, "AU99"),
        ({"AU4": 1, "AU6": 0}, "missing AU.*AU7"),
        ([1, 2, 3], "6 values"),
        ([0, float("nan"), 0, 0, 0, 0], "AU6 = nan"),
        ([0, 0, float("inf"), 0, 0, 0], "AU7 = inf"),
        ([-1, 0, 0, 0, 0, 0], "AU4 = -1"),
        ([0, 0, 0, 5.5, 0, 0], "AU9 = 5.5"),
        ([0, 0, 0, 0, 0, 0.5], "AU43 = 0.5"),
        ([0, 0, 0, 0, 0, 2], "AU43 = 2"),
        ({"AU4": "a lot", "AU6": 0, "AU7": 0, "AU9": 0, "AU10": 0, "AU43": 0}, "AU4 = 'a lot'"),
        ({"AU4": 0, "AU6": 0, "AU7": 0, "AU9": 0, "AU10": None, "AU43": 0}, "AU10 = None"),
        (["x", 0, 0, 0, 0, 0], "must be numbers"),
    ],
)
def test_invalid_aus_raise_naming_the_au(value, match):
    with pytest.raises(AUValueError, match=match):
        pspi(value)


def test_batched_validation_names_the_bad_au():
    batch = np.zeros((4, 6))
    batch[2, 4] = 7
    with pytest.raises(AUValueError, match="AU10 = 7"):
        au_vector(batch)


def test_plan_levels_are_uniform_over_1_to_16():
    rows = sample_plan(PlanConfig(identities=500, per_identity=10, seed=3))
    levels = np.array([r.pspi for r in rows])
    counts = np.array([(levels == lv).sum() for lv in range(1, 17)])
    assert counts.sum() == 5000 and (levels >= 1).all()
    assert chisquare(counts).pvalue > 0.05
    assert counts.max() - counts.min() <= 1  # balanced by construction


def test_plan_is_deterministic_by_seed():
    a = sample_plan(PlanConfig(identities=20, per_identity=10, seed=1))
    b = sample_plan(PlanConfig(identities=20, per_identity=10, seed=1))
    c = sample_plan(PlanConfig(identities=20, per_identity=10, seed=2))
    assert a == b
    assert [r.aus for r in a] != [r.aus for r in c]


def test_plan_rows_are_consistent_and_distinct_within_identity():
    rows = sample_plan(PlanConfig(identities=50, per_identity=10, seed=0))
    for r in rows:
        assert r.pspi == pspi(r.aus) == r.target_level
    for i in range(50):
        mine = [r for r in rows if r.identity == i]
        assert sorted(r.config for r in mine) == list(range(1, 11))
        assert len({r.aus for r in mine}) == 10
        assert len({r.pspi for r in mine}) == 10  # K <= 16: distinct levels


def test_plan_draws_vary_the_non_maximal_member_of_each_pair():
    rows = sample_plan(PlanConfig(identities=300, per_identity=10, seed=0))
    aus = np.array([r.aus for r in rows])
    for hi, lo in ((1, 2), (3, 4)):
        smaller = np.minimum(aus[:, hi], aus[:, lo])
        assert len(np.unique(smaller)) == 6  # 0..5 all occur as the non-maximal member


def test_continuous_plan_gives_exact_pspi_from_floats():
    rows = sample_plan(PlanConfig(identities=40, per_identity=8, seed=0, continuous=True))
    aus = np.array([r.aus for r in rows])
    assert not np.allclose(aus, np.round(aus))
    for r in rows:
        assert r.pspi == pytest.approx(pspi(r.aus))
        assert r.pspi == pytest.approx(r.target_level)
        au_vector(r.aus)  # valid


def test_min_pspi_and_nuisance_options():
    rows = sample_plan(
        PlanConfig(identities=30, per_identity=5, seed=0, min_pspi=8, nuisance_aus=("AU12",))
    )
    assert min(r.pspi for r in rows) >= 8
    assert all(r.nuisance[0][0] == "AU12" and 0 <= r.nuisance[0][1] <= 2 for r in rows)
    with pytest.raises(ValueError, match="AU99"):
        PlanConfig(nuisance_aus=("AU99",))


def test_more_configs_than_levels_still_cover_levels_evenly():
    rows = sample_plan(PlanConfig(identities=10, per_identity=20, seed=0))
    for i in range(10):
        levels = [r.pspi for r in rows if r.identity == i]
        assert set(levels) == set(range(1, 17))
