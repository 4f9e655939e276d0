"""UNBC raw archive preparation (every quirk), the prepared file, folds and the derived trio."""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
from unbc_helpers import (
    FRAMES,
    LEFT_EYE,
    MOUTH,
    RIGHT_EYE,
    SUBJECTS,
    expected_labels,
    landmarks66,
    sequences,
)

from pain3d.data import (
    DataConfig,
    DataError,
    PrepareConfig,
    open_data,
    open_unbc_trio,
    prepare_unbc,
)
from pain3d.data.align import DEFAULT_GEOMETRY
from pain3d.data.folds import kfold_subjects, loso_subjects, read_folds
from pain3d.data.unbc_archive import read_facs


def _shift_detector(image):
    """A stand-in for MediaPipe: the AAM landmarks (the fixture's faces do not move)."""
    return landmarks66()


@pytest.fixture
def prepared(raw_unbc, tmp_path):
    out = tmp_path / "unbc.h5"
    summary = prepare_unbc(raw_unbc, out, PrepareConfig(size=32),
                           landmark_fn=lambda img: None if img[0, 0, 0] == 110 else
                           _shift_detector(img))
    return out, summary


def test_prepared_labels_match_the_raw_files(prepared):
    out, summary = prepared
    with h5py.File(out, "r") as h5:
        subj = h5["subject"][:].astype(str)
        seq = h5["sequence"][:].astype(str)
        frame = h5["frame"][:]
        au, pspi = h5["au"][:], h5["pspi"][:]
        img = h5["image"][:]
        vas = h5["sequence_labels/VAS"][:]
    assert img.shape[1:] == (32, 32, 3)
    for i in range(len(subj)):
        s = SUBJECTS.index(subj[i])
        q = sequences(subj[i]).index(seq[i])
        vec, p = expected_labels(s, q, int(frame[i]))
        np.testing.assert_allclose(au[i], vec, err_msg=f"{seq[i]} {frame[i]}")
        if (subj[i], int(frame[i]), q) != ("049-bm049", 2, 0):
            assert pspi[i] == pytest.approx(p)
        # the crop holds this frame's pixels: background encodes subject and frame
        r, g = img[i, 2, 2, 0], img[i, 2, 2, 1]
        assert (r, g) == (30 * s + 20, 10 * int(frame[i]) + 20)
    assert np.all(vas == 3.0)
    assert summary["pspi_file_differs_from_facs"] == 1


def test_quirks_empty_facs_au43_presence_and_non_pain_aus(raw_unbc):
    facs = raw_unbc / "Frame_Labels" / "Frame_Labels" / "FACS" / "042-ll042" / "ll042t1aaaff"
    assert (facs / "ll042t1aaaff004_facs.txt").read_text() == ""
    np.testing.assert_array_equal(read_facs(facs / "ll042t1aaaff004_facs.txt"), np.zeros(6))
    v = read_facs(facs / "ll042t1aaaff003_facs.txt")  # AU43 row with intensity 0
    assert v[5] == 1.0
    assert "e+00" in (facs / "ll042t1aaaff001_facs.txt").read_text()


def test_black_frames_and_missing_landmarks_are_skipped_with_reasons(prepared):
    out, summary = prepared
    report = summary["report"]
    black = [w for w, r in report.items if r.startswith("black frame")]
    assert sorted(black) == sorted(
        f"Images/Images/095-tv095/tv095t2aeunaff/tv095t2aeunaff{f:03d}.png" for f in range(1, 8))
    no_lm = [w for w, r in report.items if r.startswith("no landmarks")]
    assert len(no_lm) == 2 and all("aa048" in w and w.endswith("006.png") for w in no_lm)
    with h5py.File(out, "r") as h5:
        lm = h5["landmarks"][:].astype(str)
        frame, subj = h5["frame"][:], h5["subject"][:].astype(str)
        stored = json.loads(h5.attrs["report"])
    fallback = (subj == "043-jh043") & (frame == 5)
    assert fallback.sum() == 2 and (lm[fallback] == "mediapipe").all()
    assert (lm[~fallback] == "aam").all()
    total = sum(len(sequences(s)) for s in SUBJECTS) * FRAMES
    assert summary["frames"] == total - 7 - 2
    assert stored["skipped"] == 9 and stored["skip_reasons"] == {"black frame": 7,
                                                                  "no landmarks": 2}


def test_without_a_detector_missing_landmarks_are_skipped(raw_unbc, tmp_path):
    s = prepare_unbc(raw_unbc, tmp_path / "u.h5", PrepareConfig(size=32, use_mediapipe=False))
    assert s["skip_reasons"]["no landmarks"] == 4
    assert any("fallback disabled" in r for _, r in s["report"].items)


def test_crop_puts_eyes_and_mouth_at_the_canonical_positions(prepared):
    out, _ = prepared
    with h5py.File(out, "r") as h5:
        img = h5["image"][0].astype(int)
    canon = DEFAULT_GEOMETRY.keypoints(32)
    for (x, y), ch in zip(canon, (0, 1, 2), strict=True):
        patch = img[int(round(y)) - 1:int(round(y)) + 2, int(round(x)) - 1:int(round(x)) + 2]
        others = [c for c in (0, 1, 2) if c != ch]
        assert (patch[..., ch] - patch[..., others].max(axis=-1)).max() > 60, (x, y, ch)
    assert RIGHT_EYE[0] < LEFT_EYE[0] and MOUTH[1] > RIGHT_EYE[1]


def test_bad_label_stops_with_the_file_name_unless_skip_bad(raw_unbc, tmp_path):
    bad = (raw_unbc / "Frame_Labels" / "Frame_Labels" / "FACS" / "047-jl047" / "jl047t1aaaff" /
           "jl047t1aaaff002_facs.txt")
    bad.write_text("   4.0e+00   7.0e+00   0   0\n")
    with pytest.raises(DataError, match="jl047t1aaaff002_facs.txt.*AU4 intensity 7"):
        prepare_unbc(raw_unbc, tmp_path / "a.h5", PrepareConfig(size=32, use_mediapipe=False))
    assert not (tmp_path / "a.h5").exists()
    s = prepare_unbc(raw_unbc, tmp_path / "b.h5",
                     PrepareConfig(size=32, use_mediapipe=False, skip_bad=True))
    assert s["skip_reasons"]["bad label"] == 1


def test_folds_are_deterministic_disjoint_and_cover_every_subject(prepared):
    with h5py.File(prepared[0], "r") as h5:
        stored = {name: read_folds(h5["folds"][name]) for name in h5["folds"]}
        ids = np.unique(h5["subject_id"][:])
    k5 = stored["kfold5"]
    assert len(k5) == 5
    tests = np.concatenate([te for _, te in k5])
    assert sorted(tests.tolist()) == ids.tolist()  # each subject tested exactly once
    for tr, te in k5:
        assert not set(tr) & set(te) and set(tr) | set(te) == set(ids)
    assert [t.tolist() for _, t in kfold_subjects(ids, 5, 0)] == [t.tolist() for _, t in k5]
    assert [te.tolist() for _, te in stored["loso"]] == [[i] for i in ids]
    assert [t.tolist() for _, t in loso_subjects(ids)] == [[i] for i in ids]
    data = open_data(DataConfig(root=str(prepared[0])))
    tr, te = data.folds["kfold5"][2]  # by subject name in memory
    assert [int(s[:3]) for s in te] == k5[2][1].tolist()
    train, test = (data.dataset(data.rows(s), 16, "oracle") for s in (tr, te))
    assert not set(train.labels()["subject"]) & set(test.labels()["subject"])


def test_prepared_dataset_samples_and_label_free_references(prepared):
    data = open_data(DataConfig(root=str(prepared[0]), label_free_frames=2))
    ds = data.dataset(data.rows(), 16, "label-free", deterministic=True)
    for i in range(0, len(ds), 7):
        s = ds[i]
        row = s["meta"]["row"]
        refs = ds.neutral_rows(i)
        t = data.table
        assert (t.sequence[refs] == t.sequence[row]).all()
        first = np.sort(t.frame[t.sequence == t.sequence[row]])[:2]
        assert np.isin(t.frame[refs], first).all()
        assert s["neutral"].shape == (3, 16, 16)
    oracle = data.dataset(data.rows(), 16, "oracle")
    for i in range(0, len(oracle), 5):
        refs = oracle.neutral_rows(i)
        assert (data.table.pspi[refs] == 0).all()


def test_cli_prepare_unbc_writes_the_file_report_and_config(raw_unbc, tmp_path):
    out = tmp_path / "cli.h5"
    r = subprocess.run([sys.executable, "-m", "pain3d", "prepare-unbc", str(raw_unbc), "--out",
                        str(out), "--size", "32", "--no-mediapipe", "--limit", "20"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout
    rep = json.loads((tmp_path / "cli.h5.report.json").read_text())
    assert rep["frames"] == 20
    assert (tmp_path / "cli.h5.config.yaml").is_file()
    r = subprocess.run([sys.executable, "-m", "pain3d", "index", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "20 images" in r.stdout, r.stderr


def test_derived_trio_is_joined_by_index_with_nan_pspi_as_zero(trio):
    frames, ann, folds = trio
    data = open_data(DataConfig(root=str(frames), annotations=str(ann), folds_file=str(folds)))
    with h5py.File(ann, "r") as h5:
        index = h5["index"][:]
        raw_pspi = h5["label_pspi"][:]
    t = data.table
    assert len(t) == 20
    np.testing.assert_array_equal(t.pspi, np.nan_to_num(raw_pspi))
    ds = data.dataset(data.rows(), None, "oracle", deterministic=True)
    for i in range(len(ds)):
        s = ds[i]
        img = (s["image"] * 255).round().numpy().astype(int)
        assert img[0, 0, 0] == index[s["meta"]["row"]] % 256  # joined by index, not position
        ref = ds.neutral_rows(i)
        assert (t.subject[ref] == s["subject"]).all() and (t.pspi[ref] == 0).all()
    tr, te = data.folds["kfold5"][1]
    assert te.tolist() == ["101-xx101"] and "101-xx101" not in tr


def test_trio_with_out_of_range_label_names_the_row(trio):
    frames, ann, folds = trio
    with h5py.File(ann, "a") as h5:
        h5["label_AU_4"][3] = 9
    with pytest.raises(DataError, match="row 3"):
        open_unbc_trio(frames, ann, folds)
