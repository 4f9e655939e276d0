"""Subject folds, the inner validation split and the folds a cross-validation uses."""

from __future__ import annotations

import numpy as np
import pytest

from pain3d.data import DataError
from pain3d.data.folds import check_folds, cv_folds, inner_split, kfold_subjects, loso_subjects


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


def _opened(subjects, splits, identity=None, kind="synthetic"):
    """An OpenedData over a frame table: one frame per (subject, split) entry."""
    from pain3d.data import DataConfig, FrameTable, OpenedData

    n = len(subjects)
    extra = {} if identity is None else {"identity": np.asarray(identity, np.int64)}
    table = FrameTable(key=[f"f{i}.png" for i in range(n)], subject=subjects,
                       au=np.zeros((n, 6)), pspi=np.zeros(n), split=splits, extra=extra)
    return OpenedData(table, source=None, kind=kind, cfg=DataConfig(root="mem"))


def test_a_fold_with_a_subject_on_both_sides_is_an_error_naming_fold_and_subjects():
    good = kfold_subjects(np.array([f"s{i}" for i in range(10)]), 5, 0)
    check_folds(good, "kfold5")  # made by subject: fine
    bad = list(good)
    bad[3] = (np.r_[bad[3][0], bad[3][1][:1]], bad[3][1])
    with pytest.raises(DataError, match=rf"kfold5 fold 3: subject\(s\) {bad[3][1][0]} are in "
                                        "both train and test"):
        check_folds(bad, "kfold5")


def test_synthetic_identities_under_two_names_on_both_sides_are_an_overlap():
    """Identity 3 appears as 'a' in train and as 'b' in test: the same person on both sides."""
    data = _opened(["a", "b", "c", "d", "e"], ["train", "test", "train", "val", "train"],
                   identity=[3, 3, 1, 2, 4])
    with pytest.raises(DataError, match=r"identit\(ies\) 3 are in both train and test.*a / b"):
        data.split_rows(0.2, 0)
    fine = _opened(["a", "b", "c", "d"], ["train", "test", "train", "val"], identity=[0, 1, 2, 3])
    sp = fine.split_rows(0.2, 0)
    assert fine.table.subject[sp.test].tolist() == ["b"] and sp.test_from == "split column"


def test_a_split_column_that_is_not_by_subject_is_refused():
    data = _opened(["a", "a", "b", "c"], ["train", "test", "val", "train"], kind="table")
    with pytest.raises(DataError, match=r"subject\(s\) a are in both train and test"):
        data.split_rows(0.2, 0)


def test_a_run_without_a_test_split_holds_out_test_subjects_apart_from_selection():
    subs = [f"s{i}" for i in range(10) for _ in range(3)]
    data = _opened(subs, [""] * len(subs), kind="table")
    sp = data.split_rows(0.2, seed=1, test_fraction=0.2)
    parts = sp.subjects(data.table)
    assert len(parts["test"]) == 2 and len(parts["val"]) == 2 and len(parts["train"]) == 6
    assert set(parts["test"]).isdisjoint(set(parts["val"]) | set(parts["train"]))
    assert sp.test_from.startswith("held out here")
    none = data.split_rows(0.2, seed=1, test_fraction=0.0)  # no test: never the val rows
    assert len(none.test) == 0 and len(none.val) == 6


def test_stored_unbc_folds_are_checked_when_the_file_is_opened(tmp_path):
    import h5py

    from pain3d.data import DataConfig, open_data

    path = tmp_path / "unbc.h5"
    n = 6
    with h5py.File(path, "w") as h5:
        h5["image"] = np.zeros((n, 8, 8, 3), np.uint8)
        h5["au"] = np.zeros((n, 6), np.float32)
        h5["pspi"] = np.zeros(n, np.float32)
        h5["subject"] = np.array([b"040-a", b"041-b", b"042-c"] * 2)
        h5["subject_id"] = np.array([40, 41, 42] * 2, np.int64)
        h5["sequence"] = np.array([b"q"] * n)
        h5["frame"] = np.arange(n)
        g = h5.create_group("folds/kfold5/fold-0")
        g["train_subjects"] = np.array([40, 41], np.int64)
        g["test_subjects"] = np.array([41, 42], np.int64)
    with pytest.raises(DataError, match=r"unbc\.h5: folds/kfold5 fold 0: subject\(s\) 041-b "
                                        "are in both train and test"):
        open_data(DataConfig(root=str(path)))


def test_derived_trio_folds_are_checked_too(trio):
    import h5py

    from pain3d.data import open_unbc_trio

    frames, ann, folds = trio
    with h5py.File(folds, "a") as h5:
        del h5["fold-1/train_subjects"]
        h5["fold-1/train_subjects"] = np.array([100, 101, 102], np.int64)  # 101 is tested
    with pytest.raises(DataError, match=r"folds\.h5: kfold5 fold 1: subject\(s\) 101-xx101"):
        open_unbc_trio(frames, ann, folds)
