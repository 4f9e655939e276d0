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


def test_given_reference_images_replace_first_frames_under_label_free(unbc_file, tmp_path):
    from PIL import Image

    from pain3d.train.config import DataConfig
    from pain3d.train.data import open_data

    Image.new("RGB", (32, 32), (255, 0, 0)).save(tmp_path / "ref.png")
    (tmp_path / "refs.csv").write_text("subject,path\n040-xx040,ref.png\n")
    data = open_data(DataConfig(root=str(unbc_file), reference_images=str(tmp_path / "refs.csv")))
    rows = data.rows(np.array(["040-xx040"]))
    ds = data.dataset(rows, 32, "label-free", deterministic=True)
    sample = ds[3]
    assert sample["meta"]["reference"] == [str(tmp_path / "ref.png")]
    assert float(sample["neutral"][0].mean()) == pytest.approx(1.0)  # the red image
    oracle = data.dataset(rows, 32, "oracle", deterministic=True)[3]
    assert oracle["meta"]["reference"] != [str(tmp_path / "ref.png")]
