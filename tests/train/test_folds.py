"""Subject folds and the inner validation split."""

from __future__ import annotations

import numpy as np
import pytest

from pain3d.train.data import inner_split, kfold, loso, reference_label


def test_kfold_tests_every_subject_exactly_once_and_never_trains_on_it():
    subs = np.array([f"{i:03d}-s" for i in range(23)])
    folds = kfold(subs, 5, seed=0)
    tested = np.concatenate([te for _, te in folds])
    assert sorted(tested) == sorted(subs)
    for tr, te in folds:
        assert not set(tr) & set(te) and len(tr) + len(te) == 23
    assert [list(t) for _, t in kfold(subs, 5, 0)] == [list(t) for _, t in folds]


def test_loso_has_one_fold_per_subject():
    folds = loso(np.array(["b", "a", "c", "a"]))
    assert [list(te) for _, te in folds] == [["a"], ["b"], ["c"]]


def test_inner_split_holds_out_training_subjects_only():
    train = np.array([f"s{i}" for i in range(10)])
    fit, val = inner_split(train, 0.2, seed=1)
    assert len(val) == 2 and not set(fit) & set(val) and set(fit) | set(val) == set(train)
    with pytest.raises(ValueError, match="needs >= 2"):
        inner_split(np.array(["only"]), 0.2, 0)


def test_reference_labels_match_the_predictions_protocol():
    assert reference_label("label-free") == "label_free"
    assert reference_label("same-identity") == "label_free"
    assert reference_label("other-identity") == "other_identity"
