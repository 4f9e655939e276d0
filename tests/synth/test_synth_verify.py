"""verify finds each kind of damage and names the file; inspect summarises a dataset."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile

import cv2
import numpy as np

from pain3d.synth.inspect import inspect_dataset
from pain3d.synth.verify import verify

IMG = "meshes_inpainted/flame_sample_0001_pain_2_textured_view_001_inpainted.jpg"
ANN = "annotations/flame_sample_0002_pain_1_annotations.json"


def test_a_fresh_dataset_verifies_in_every_layout(dataset_both, fresh_dataset):
    root, _ = dataset_both
    rep = verify(root)
    assert rep.ok, rep.text()
    assert rep.checked["files"] > 0 and rep.checked["shard members"] > 0
    hub, _ = fresh_dataset(layout="hub")
    assert verify(hub).ok, verify(hub).text()


def test_verify_catches_a_deleted_image(fresh_dataset):
    root, _ = fresh_dataset()
    (root / IMG).unlink()
    rep = verify(root)
    assert not rep.ok and rep.problems == [f"{IMG}: missing"]


def test_verify_catches_a_corrupted_jpeg(fresh_dataset):
    root, _ = fresh_dataset()
    data = (root / IMG).read_bytes()
    (root / IMG).write_bytes(data[:40])  # truncated: header only
    rep = verify(root)
    assert rep.problems == [f"{IMG}: does not decode as an image (corrupt or truncated)"]


def test_verify_catches_damage_that_still_decodes(fresh_dataset):
    root, _ = fresh_dataset()
    data = bytearray((root / IMG).read_bytes())
    data[len(data) // 2] ^= 0x10  # one bit in the entropy-coded data
    (root / IMG).write_bytes(bytes(data))
    assert cv2.imdecode(np.frombuffer(bytes(data), np.uint8), cv2.IMREAD_COLOR) is not None
    assert verify(root).problems == [
        f"{IMG}: content differs from SHA256SUMS (modified or corrupted)"]
    (root / "dataset_card.md").unlink()
    assert "dataset_card.md: missing (listed in SHA256SUMS)" in verify(root).problems


def test_verify_catches_an_edited_annotation(fresh_dataset):
    root, _ = fresh_dataset()
    ann = json.loads((root / ANN).read_text())
    ann["PSPI"] = ann["PSPI"] + 1
    (root / ANN).write_text(json.dumps(ann))
    rep = verify(root)
    assert len(rep.problems) == 2 and all(p.startswith(ANN) for p in rep.problems)
    assert "!= PSPI of its AUs" in rep.problems[0]
    # An AU edited consistently with its own PSPI still disagrees with the manifest.
    ann = json.loads((root / ANN).read_text())
    ann["AU43"] = 1 - ann["AU43"]
    ann["PSPI"] = ann["PSPI"] - 1 + (1 if ann["AU43"] else -1)
    (root / ANN).write_text(json.dumps(ann))
    assert any("differ from the manifest" in p for p in verify(root).problems)


def test_verify_catches_missing_pairs_and_stray_files(fresh_dataset):
    root, _ = fresh_dataset()
    import pandas as pd

    df = pd.read_parquet(root / "manifest.parquet")
    drop = (df["identity"] == 0) & (df["expression"] == "neutral") & (df["view"] == 2)
    (root / df[drop]["path"].iloc[0]).unlink()
    df[~drop].to_parquet(root / "manifest.parquet")
    df[~drop].to_csv(root / "manifest.csv", index=False)
    (root / "meshes_inpainted" / "holiday.jpg").write_bytes(b"x")
    problems = verify(root).problems
    assert "identity 0 pain_1 view 2 has no neutral image from that view" in problems
    assert any(p.startswith("meshes_inpainted/holiday.jpg: not in the manifest") for p in problems)


def test_verify_reads_hub_shards(fresh_dataset):
    root, _ = fresh_dataset(layout="hub")
    shard = root / "annotations" / "annotations_00001.tar.gz"
    with tarfile.open(shard, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar]
    with tarfile.open(shard, "w:gz") as tar:
        for m, data in members[1:]:  # one annotation dropped
            import io

            tar.addfile(m, io.BytesIO(data))
    problems = verify(root).problems
    assert problems == [
        f"annotations/{members[0][0].name}: missing from every annotations shard",
        "annotations/annotations_00001.tar.gz: content differs from SHA256SUMS (modified or "
        "corrupted)",
    ]


def test_verify_cli_exits_non_zero_with_a_readable_list(fresh_dataset):
    root, _ = fresh_dataset()
    ok = subprocess.run([sys.executable, "-m", "pain3d", "verify", str(root)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "OK" in ok.stdout
    (root / IMG).unlink()
    bad = subprocess.run([sys.executable, "-m", "pain3d", "verify", str(root)],
                         capture_output=True, text=True)
    assert bad.returncode == 1
    assert "1 problem(s)" in bad.stdout and f"  - {IMG}: missing" in bad.stdout
    sheet = root.parent / "sheet.png"
    shown = subprocess.run([sys.executable, "-m", "pain3d", "inspect", str(root), "--sheet",
                            str(sheet)], capture_output=True, text=True)
    assert shown.returncode == 0 and "PSPI of 9 pain configurations" in shown.stdout
    assert cv2.imread(str(sheet)) is not None


def test_inspect_prints_tables_and_writes_a_contact_sheet(dataset_both, tmp_path):
    root, cfg = dataset_both
    sheet = tmp_path / "sheet.png"
    text = inspect_dataset(root, sheet, identities=2)
    assert f"PSPI of {cfg.identities * cfg.per_identity} pain configurations" in text
    for word in ("AU43", "female", "east_asian", "train"):
        assert word in text
    img = cv2.imread(str(sheet))
    # 2 identities x (image row + heatmap row), neutral + 3 pain columns, 128-px tiles.
    assert img.shape == (2 * 2 * 128, 4 * 128, 3)


def test_verify_reports_a_truncated_shard(fresh_dataset):
    root, _ = fresh_dataset(layout="hub")
    shard = root / "images" / "images_00000.tar.gz"
    shard.write_bytes(shard.read_bytes()[:-300])
    problems = verify(root).problems
    assert problems[0].startswith("images/images_00000.tar.gz: unreadable shard")
    assert all("images" in p for p in problems)


def test_verify_checks_loose_extras_of_a_hub_dataset(fresh_dataset):
    root, _ = fresh_dataset(layout="hub", extras=("masks",))
    assert verify(root).ok
    mask = sorted((root / "masks").glob("*.png"))[3]
    mask.unlink()
    assert verify(root).problems == [f"masks/{mask.name}: missing"]


def test_inspect_reads_hub_shards_like_loose_files(fresh_dataset, tmp_path):
    loose, _ = fresh_dataset()
    hub, _ = fresh_dataset(layout="hub")
    inspect_dataset(loose, tmp_path / "loose.png", identities=3)
    inspect_dataset(hub, tmp_path / "hub.png", identities=3)
    a, b = cv2.imread(str(tmp_path / "loose.png")), cv2.imread(str(tmp_path / "hub.png"))
    # Unreadable members would show as placeholder tiles and differ from the loose sheet.
    assert a.shape == b.shape and (a == b).all()
