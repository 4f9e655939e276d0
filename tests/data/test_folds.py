"""Subject folds, the inner validation split and the folds a cross-validation uses."""

from __future__ import annotations

import numpy as np
import pytest

from pain3d.data.folds import cv_folds, inner_split, kfold_subjects, loso_subjects


def test_kfold_tests_every_subject_exactly_once_and_never_trains_on_it():
    subs = np.array([f"{i:03d}-s" for i in range(23)])
    folds = kfold_subjects(subs, 5, seed=0)
    tested = np.concatenate([te for _, te in folds])
    assert sorted(tested) == sorted(subs)
    for tr, te in folds:
        assert not set(tr) & set(te) and len(tr) + len(te) == 23
    assert [list(t) for _, t in kfold_subjects(subs, 5, 0)] == [list(t) for _, t in folds]


def test_loso_has_one_fold_per_subject():
    folds = loso_subjects(np.array(["b", "a", "c", "a"]))
    assert [list(te) for _, te in folds] == [["a"], ["b"], ["c"]]


def test_inner_split_holds_out_training_subjects_only():
    train = np.array([f"s{i}" for i in range(10)])
    fit, val = inner_split(train, 0.2, seed=1)
    assert len(val) == 2 and not set(fit) & set(val) and set(fit) | set(val) == set(train)
    with pytest.raises(ValueError, match="needs >= 2"):
        inner_split(np.array(["only"]), 0.2, 0)


def test_cross_validation_uses_stored_folds_when_they_fit_and_computes_others():
    subs = np.array([f"s{i:02d}" for i in range(12)])
    stored = {"kfold5": kfold_subjects(subs, 5, seed=7)}
    assert cv_folds(stored, subs, "5fold", 5, seed=0) is stored["kfold5"]
    computed = cv_folds(stored, subs, "5fold", 3, seed=0)  # other k: made here
    assert [t.tolist() for _, t in computed] == [t.tolist() for _, t in
                                                 kfold_subjects(subs, 3, 0)]
    assert cv_folds({}, subs, "loso", 5, 0)[0][1].tolist() == ["s00"]
    with pytest.raises(ValueError, match="no stored folds"):
        cv_folds({}, subs, "file", 5, 0)


def test_fold_assignments_are_those_prepared_files_and_runs_already_hold():
    """Pinned: changing the fold maker would silently change every stored UNBC fold file
    and every cross-validation's subjects."""
    assert [t.tolist() for _, t in kfold_subjects(np.arange(40, 50), 5, 0)] == [
        [42, 44], [41, 47], [48, 49], [45, 46], [40, 43]]
    fit, val = inner_split(np.array([f"s{i}" for i in range(10)]), 0.2, 3)
    assert val.tolist() == ["s0", "s5"] and len(fit) == 8
