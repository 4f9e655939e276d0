"""Reference policies: identities are never crossed except by the ablation; determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from data_helpers import decode_colour, split_dataset

from pain3d.data import DataError, FrameTable, ReferenceConfig, reference_label
from pain3d.data.references import ReferenceSampler


def _video_table() -> FrameTable:
    """3 subjects x 2 sequences x 6 frames; PSPI 0 on frames 0 and 3 only."""
    subj, seq, frame, pspi = [], [], [], []
    for s in range(3):
        for q in range(2):
            for f in range(6):
                subj.append(f"s{s}")
                seq.append(f"s{s}q{q}")
                frame.append(f + 1)
                pspi.append(0.0 if f in (0, 3) else float(f))
    n = len(subj)
    return FrameTable(key=np.arange(n).astype(str), subject=subj, au=np.zeros((n, 6)),
                      pspi=pspi, sequence=seq, frame=frame)


@pytest.mark.parametrize("policy", ["oracle", "label-free", "same-identity", "other-identity"])
@pytest.mark.parametrize("view", ["same", "any"])
def test_only_the_ablation_crosses_identities(folder_ds, policy, view):
    ds = split_dataset(folder_ds, "all", 4, policy, n=3, view=view, seed=1)
    t = ds.table
    for i in range(len(ds)):
        for _ in range(3):
            refs = ds.neutral_rows(i)
            assert len(refs) == 3 and t.neutral[refs].all()
            same = t.subject[refs] == t.subject[ds.rows[i]]
            if policy == "other-identity":
                assert not same.any()
            else:
                assert same.all()
                if view == "same":
                    assert (t.view[refs] == t.view[ds.rows[i]]).all()


def test_multi_shot_neutral_has_n_images_of_the_same_person(folder_ds):
    ds = split_dataset(folder_ds, "train", 8, "same-identity", n=3, view="any")
    s = ds[5]
    assert s["neutral"].shape == (3, 3, 8, 8)
    for k in range(3):
        assert decode_colour(s["neutral"][k])[:2] == (s["meta"]["identity"], 0)
    assert s["meta"]["reference_subject"] == s["subject"]


def test_none_policy_gives_no_neutral(folder_ds):
    s = split_dataset(folder_ds, "train", 8, "none")[0]
    assert "neutral" not in s and s["meta"]["reference_policy"] == "none"


def test_deterministic_references_repeat_and_depend_on_the_seed():
    t = _video_table()
    a = ReferenceSampler(t, ReferenceConfig(policy="oracle", n=2, seed=3, deterministic=True))
    b = ReferenceSampler(t, ReferenceConfig(policy="oracle", n=2, seed=4, deterministic=True))
    picks_a = [a.select(r, a.rng_for(r)).tolist() for r in range(len(t))]
    assert picks_a == [a.select(r, a.rng_for(r)).tolist() for r in range(len(t))]
    assert picks_a != [b.select(r, b.rng_for(r)).tolist() for r in range(len(t))]


def test_dataset_eval_references_are_stable_across_epochs(folder_ds):
    ds = split_dataset(folder_ds, "val", 4, "same-identity", view="any", deterministic=True,
                       seed=9)
    first = [ds.neutral_rows(i).tolist() for i in range(len(ds))]
    torch.manual_seed(123)
    assert first == [ds.neutral_rows(i).tolist() for i in range(len(ds))]


def test_oracle_uses_pspi_zero_frames_of_the_same_subject():
    t = _video_table()
    s = ReferenceSampler(t, ReferenceConfig(policy="oracle", n=4))
    rng = np.random.default_rng(0)
    for r in range(len(t)):
        refs = s.select(r, rng)
        assert (t.pspi[refs] == 0).all() and (t.subject[refs] == t.subject[r]).all()


def test_label_free_uses_first_frames_of_the_sequence_not_labels():
    t = _video_table()
    t.pspi[:] = 7.0  # labels must not matter
    s = ReferenceSampler(t, ReferenceConfig(policy="label-free", n=2, label_free_frames=2))
    rng = np.random.default_rng(0)
    for r in range(len(t)):
        refs = s.select(r, rng)
        assert (t.sequence[refs] == t.sequence[r]).all()
        assert set(t.frame[refs]) <= {1, 2}


def _face_photo() -> np.ndarray:
    """(600, 512, 3) uint8 RGB: matplotlib's bundled portrait (a real face, no download)."""
    import matplotlib
    from PIL import Image

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return np.asarray(Image.open(path).convert("RGB"))


def test_given_reference_images_are_face_aligned_like_inference_crops(folder_ds, tmp_path):
    """A given neutral photo is cut with the crop geometry of every other image: the
    reference equals pain3d predict's aligned crop of the same photo, not the photo resized."""
    from PIL import Image

    from pain3d.infer.align import align_face
    from pain3d.infer.detect import FaceDetector

    photo = _face_photo()
    Image.fromarray(photo).save(tmp_path / "neutral.png")
    (tmp_path / "refs.csv").write_text("subject,path\nflame_sample_0000,neutral.png\n")
    size = 64
    with FaceDetector() as det:
        want = align_face(photo, det(photo)[0].landmarks, size).astype(np.float64)
    ds = split_dataset(folder_ds, "train", size, "label-free",
                       reference_images=tmp_path / "refs.csv")
    seen = 0
    for i in range(len(ds)):
        s = ds[i]
        if s["subject"] != "flame_sample_0000":
            assert decode_colour(s["neutral"])[0] == s["meta"]["identity"]
            continue
        seen += 1
        got = s["neutral"].permute(1, 2, 0).numpy().astype(np.float64) * 255.0
        assert np.abs(got - want).max() <= 1.0
        assert s["meta"]["reference"] == [str(tmp_path / "neutral.png")]
    assert seen
    whole = np.asarray(Image.fromarray(photo[44:556]).resize((size, size)), np.float64)
    assert np.abs(whole - want).mean() > 10  # the old behaviour (resized whole) differs


def test_a_given_reference_image_without_a_face_is_an_error_naming_it(folder_ds, tmp_path):
    from data_helpers import encode

    (tmp_path / "blank.png").write_bytes(encode(9, 9, 0, side=64))
    (tmp_path / "refs.csv").write_text("subject,path\nflame_sample_0000,blank.png\n")
    with pytest.raises(DataError, match=r"blank\.png: no face found"):
        split_dataset(folder_ds, "train", 32, "label-free", reference_images=tmp_path / "refs.csv")
    # Other policies do not use the given images (nor look for faces in them).
    oracle = split_dataset(folder_ds, "train", 8, "oracle", reference_images=tmp_path / "refs.csv")
    assert all(decode_colour(oracle[i]["neutral"])[:2] != (9, 9) for i in range(len(oracle)))


def test_reference_labels_match_the_predictions_protocol():
    assert reference_label("label-free") == "label_free"
    assert reference_label("same-identity") == "label_free"
    assert reference_label("other-identity") == "other_identity"


def test_same_identity_on_real_data_is_refused():
    with pytest.raises(DataError, match="same-identity"):
        ReferenceSampler(_video_table(), ReferenceConfig(policy="same-identity"))


def test_subject_without_reference_is_an_error_or_dropped(folder_ds):
    from pain3d.data import index_synthetic
    from pain3d.data.dataset import PainDataset

    idx = index_synthetic(folder_ds)
    keep = ~((idx.table.subject == "flame_sample_0001") & idx.table.neutral)
    t = idx.table.take(np.flatnonzero(keep))
    src = type(idx.source)(idx.source.root, t.key)
    with pytest.raises(DataError, match="flame_sample_0001"):
        PainDataset(t, src, reference=ReferenceConfig(policy="oracle"))
    ds = PainDataset(t, src, reference=ReferenceConfig(policy="oracle"), skip_bad=True)
    assert "flame_sample_0001" not in set(ds.labels()["subject"])
