"""The generic CSV / folder reader, opening data of any kind, and the index command."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from data_helpers import decode_colour, encode

from pain3d.data import DataConfig, DataError, data_kind, open_data
from pain3d.data.table import read_csv_table, read_folder_table


def _csv(tmp_path, rows, header="path,subject,AU4,AU6,AU7,AU9,AU10,AU43,PSPI,split,neutral"):
    for r in rows:
        p = tmp_path / r.split(",")[0]
        p.parent.mkdir(parents=True, exist_ok=True)
        ident = int(r.split(",")[1][1:])
        p.write_bytes(encode(ident, 0, 0))
    path = tmp_path / "labels.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_csv_reader_reads_labels_subjects_and_neutral_flags(tmp_path):
    csv = _csv(tmp_path, ["a/1.png,s1,2,3,0,0,1,1,7,train,0", "a/2.png,s1,0,0,0,0,0,0,0,train,1",
                          "b/1.png,s2,1,0,0,0,0,0,1,test,0", "b/2.png,s2,0,0,0,0,0,0,0,test,1"])
    table, src = read_csv_table(csv)
    np.testing.assert_array_equal(table.pspi, [7, 0, 1, 0])
    assert table.neutral.tolist() == [False, True, False, True]
    data = open_data(DataConfig(root=str(csv)))
    assert data.kind == "table"
    rows = {s: data.rows(split=s, include_neutral=True) for s in ("train", "val", "test")}
    assert len(rows["train"]) == 2 and len(rows["test"]) == 2 and len(rows["val"]) == 0
    s = data.dataset(rows["train"], 8, "label-free")[0]
    assert decode_colour(s["image"])[0] == 1 and s["meta"]["reference"] == ["a/2.png"]


def test_csv_with_disagreeing_pspi_is_rejected_naming_the_row(tmp_path):
    csv = _csv(tmp_path, ["a/1.png,s1,2,3,0,0,1,0,9,train,0"])
    with pytest.raises(DataError, match=r"row 2 \(a/1.png\).*PSPI = 9 but the AUs give 6"):
        read_csv_table(csv)


def test_csv_with_pspi_only_leaves_aus_unknown(tmp_path):
    csv = _csv(tmp_path, ["a/1.png,s1,3", "a/2.png,s1,0"], header="path,subject,PSPI")
    table, _ = read_csv_table(csv)
    assert np.isnan(table.au).all() and table.pspi.tolist() == [3, 0]


def test_folder_reader_with_sidecar_json(tmp_path):
    root = tmp_path / "faces"
    for subj, n in (("s1", 3), ("s2", 2)):
        for k in range(n):
            p = root / subj / f"{k}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(encode(int(subj[1]), k, 0))
            aus = {"AU4": k, "AU6": 0, "AU7": 0, "AU9": 0, "AU10": 0, "AU43": 0,
                   "neutral": k == 0}
            p.with_suffix(".json").write_text(json.dumps(aus))
    (root / "s2" / "1.json").write_text("{bad")
    with pytest.raises(DataError, match="1.json: malformed JSON"):
        read_folder_table(root)
    from pain3d.data import SkipReport

    rep = SkipReport()
    table, src = read_folder_table(root, rep)
    assert len(table) == 4 and len(rep) == 1
    assert table.subject.tolist() == ["s1", "s1", "s1", "s2"]
    assert table.pspi.tolist() == [0, 1, 2, 0]


def test_index_command_prints_counts_and_writes_json(folder_ds, tmp_path):
    out = tmp_path / "summary.json"
    r = subprocess.run([sys.executable, "-m", "pain3d", "index", str(folder_ds), "--json",
                        str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "48 images of 6 subjects" in r.stdout
    s = json.loads(out.read_text())
    assert s["splits"] == {"train": 32, "val": 8, "test": 8} and sum(s["pspi_histogram"]) == 48


def test_index_command_fails_readably_on_a_bad_annotation(folder_ds):
    (folder_ds / "annotations" / "flame_sample_0003_pain_1_annotations.json").write_text("[]")
    r = subprocess.run([sys.executable, "-m", "pain3d", "index", str(folder_ds)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "flame_sample_0003_pain_1_annotations.json" in r.stderr and "Traceback" not in r.stderr


def test_a_raw_unbc_folder_is_pointed_to_prepare_unbc(raw_unbc):
    with pytest.raises(DataError, match="pain3d prepare-unbc"):
        open_data(DataConfig(root=str(raw_unbc)))


def test_the_kind_of_data_is_told_by_what_the_root_holds(folder_ds, tmp_path):
    (tmp_path / "faces").mkdir()
    (tmp_path / "faces" / "labels.csv").write_text("path,subject,PSPI\n")
    for root, kind in ((folder_ds, "synthetic"), (tmp_path / "x.h5", "unbc"),
                       (tmp_path / "x.csv", "table"), (tmp_path / "faces", "table")):
        assert data_kind(DataConfig(root=str(root))) == kind, root
    assert data_kind(DataConfig(root=str(folder_ds), kind="table")) == "table"
