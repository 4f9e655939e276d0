"""Synthetic readers: published folder layout, hub shards, pain3d manifest, caching, errors."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
from data_helpers import (
    aus_for,
    decode_colour,
    image_name,
    split_dataset,
    write_3dpain,
    write_hub,
    write_tar_gz,
)

from pain3d.data import DataError, index_synthetic
from pain3d.data import synthetic as syn
from pain3d.data.naming import parse_names
from pain3d.facs import pspi


def _expected(identity: int, config: int) -> tuple[list[float], float]:
    if config == 0:
        return [0.0] * 6, 0.0
    a = aus_for(identity, config)
    return a, pspi(a)


def _check_labels(table) -> None:
    for i in range(len(table)):
        ident = int(table.extra["identity"][i])
        a, p = _expected(ident, int(table.frame[i]))
        np.testing.assert_allclose(table.au[i], a, err_msg=table.key[i])
        assert table.pspi[i] == pytest.approx(p), table.key[i]
        assert table.subject[i] == f"flame_sample_{ident:04d}"
        assert table.neutral[i] == (table.frame[i] == 0)


def test_names_parse_with_every_published_marker():
    names = [image_name(7, 3, 1, s) for s in range(3)] + [
        "flame_sample_0012_neutral_textured.png", "flame_sample_0001_pain_10_deform_x.jpg",
        "meshes_inpainted/flame_sample_0002_pain_1_inpainted.jpg", "sample_0001_pain_view_001.jpg",
        "README.txt"]
    p = parse_names(names)
    assert p["ok"].tolist() == [True] * 6 + [False, False]
    assert p["identity"][:6].tolist() == [7, 7, 7, 12, 1, 2]
    assert p["config"][:6].tolist() == [3, 3, 3, 0, 10, 1]
    assert p["view"][:3].tolist() == [1, 1, 1]
    assert p["base"][4] == "flame_sample_0001_pain_10"


def test_folder_layout_reads_the_right_labels_and_splits(folder_ds):
    idx = index_synthetic(folder_ds)
    assert idx.layout == "3dpain"
    t = idx.table
    assert len(t) == 6 * 4 * 2
    _check_labels(t)
    split_of = dict(zip(t.extra["identity"].tolist(), t.split.tolist(), strict=True))
    assert split_of == {0: "train", 1: "train", 2: "train", 3: "train", 4: "val", 5: "test"}


def test_samples_carry_their_own_pixels_and_a_same_identity_neutral(folder_ds):
    ds = split_dataset(folder_ds, "train", 16, "same-identity", view="same")
    for i in range(len(ds)):
        s = ds[i]
        ident, cfg, view = decode_colour(s["image"])
        assert (ident, cfg, view) == (s["meta"]["identity"], s["meta"]["frame"], s["meta"]["view"])
        assert s["image"].shape == (3, 16, 16) and s["image"].dtype.is_floating_point
        assert float(s["image"].max()) <= 1.0
        assert s["pspi"].item() == pytest.approx(_expected(ident, cfg)[1])
        assert decode_colour(s["neutral"]) == (ident, 0, view)


def test_hub_shards_give_the_same_index_as_the_folder_layout(folder_ds, hub_ds, tmp_path):
    a = index_synthetic(folder_ds).table
    hub = index_synthetic(hub_ds, cache_dir=tmp_path / "cache")
    assert hub.layout == "hub"
    b = hub.table
    order_a = np.argsort([os.path.basename(k) for k in a.key])
    order_b = np.argsort([os.path.basename(k) for k in b.key])
    for col in ("subject", "au", "pspi", "view", "frame", "split", "neutral"):
        np.testing.assert_array_equal(getattr(a, col)[order_a], getattr(b, col)[order_b])
    ds = split_dataset(hub_ds, "all", 8, cache_dir=tmp_path / "cache")
    for i in range(0, len(ds), 5):
        s = ds[i]
        assert decode_colour(s["image"])[:2] == (s["meta"]["identity"], s["meta"]["frame"])
    # no loose files were extracted: only inflated tars and the index in the cache
    assert {p.suffix for p in (tmp_path / "cache").rglob("*") if p.is_file()} <= {".tar", ".npz"}


def test_index_is_cached_and_not_rebuilt(folder_ds, monkeypatch):
    index_synthetic(folder_ds)

    def boom(*a, **k):
        raise AssertionError("re-parsed annotations although the cache is valid")

    monkeypatch.setattr(syn, "parse_annotation", boom)
    again = index_synthetic(folder_ds)
    assert len(again.table) == 48


def test_editing_an_annotation_invalidates_the_cache(folder_ds):
    index_synthetic(folder_ds)
    p = folder_ds / "annotations" / "flame_sample_0000_pain_2_annotations.json"
    p.write_text(json.dumps({"AU4": 5, "AU6": 0, "AU7": 0, "AU9": 0, "AU10": 0, "AU43": 1}))
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    t = index_synthetic(folder_ds).table
    row = np.flatnonzero((t.subject == "flame_sample_0000") & (t.frame == 2))[0]
    assert t.pspi[row] == 6.0


@pytest.mark.parametrize("content, problem", [
    ("{not json", "malformed JSON"),
    (json.dumps({"AU4": 7, "AU6": 0, "AU7": 0, "AU9": 0, "AU10": 0, "AU43": 0}), "AU4 = 7"),
    (json.dumps({"AU4": 1, "AU6": 0, "AU7": 0, "AU9": 0, "AU10": 0, "AU43": 0.5}), "AU43"),
    (json.dumps({"AU4": 1, "AU6": 0, "AU7": 0, "AU9": 0, "AU10": 0}), "missing key 'AU43'"),
    (json.dumps({"AU4": 1, "AU6": 0, "AU7": 0, "AU9": 0, "AU10": 0, "AU43": 0, "PSPI": 40}),
     "PSPI"),
])
def test_bad_annotation_names_the_file_and_problem(folder_ds, content, problem):
    bad = folder_ds / "annotations" / "flame_sample_0001_pain_1_annotations.json"
    bad.write_text(content)
    with pytest.raises(DataError) as err:
        index_synthetic(folder_ds, rebuild=True)
    assert bad.name in str(err.value) and problem in str(err.value)
    idx = index_synthetic(folder_ds, skip_bad=True, rebuild=True)
    assert len(idx.report) == 1 and bad.name in idx.report.items[0][1]
    t = idx.table
    assert not ((t.subject == "flame_sample_0001") & (t.frame == 1)).any()
    assert len(t) == 48 - 2


def test_missing_annotation_is_an_error_not_a_zero_label(folder_ds):
    (folder_ds / "annotations" / "flame_sample_0002_pain_3_annotations.json").unlink()
    with pytest.raises(DataError, match="missing annotation.*flame_sample_0002_pain_3"):
        index_synthetic(folder_ds)
    idx = index_synthetic(folder_ds, skip_bad=True)
    assert len(idx.table) == 46 and idx.report.reasons() == {"missing annotation": 1}


def test_truncated_shard_is_reported_and_its_damage_skipped(hub_ds, tmp_path):
    shard = hub_ds / "images" / "images_00001.tar.gz"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="images_00001.tar.gz.*truncated"):
        index_synthetic(hub_ds, cache_dir=tmp_path / "c1")
    idx = index_synthetic(hub_ds, cache_dir=tmp_path / "c2", skip_bad=True)
    assert any("images_00001" in w for w, _ in idx.report.items)
    assert 24 <= len(idx.table) < 48  # shard 0 complete, shard 1 partly
    ds = split_dataset(hub_ds, "all", 8, cache_dir=tmp_path / "c2", skip_bad=True)
    for i in range(len(ds)):
        s = ds[i]
        assert decode_colour(s["image"])[:2] == (s["meta"]["identity"], s["meta"]["frame"])


def test_corrupt_image_names_the_file_or_is_skipped(folder_ds):
    name = image_name(0, 1, 0, style=1)
    (folder_ds / "meshes_inpainted" / name).write_bytes(b"\x89PNG garbage")
    ds = split_dataset(folder_ds, "train", 8, "none")
    i = int(np.flatnonzero([k.endswith(name) for k in ds.table.key[ds.rows]])[0])
    with pytest.raises(DataError, match=name):
        ds[i]
    ds = split_dataset(folder_ds, "train", 8, "none", skip_bad=True)
    assert ds[i]["dropped"].startswith(str(ds.table.key[ds.rows[i]]))
    assert len(ds.skipped) == 1


@pytest.mark.parametrize("batch_size", [1, 4, 64])
def test_skip_bad_drops_an_unreadable_frame_and_counts_it_never_scoring_another_twice(
        folder_ds, batch_size):
    """Every readable frame comes out of the evaluation loader exactly once and the bad one
    is listed as dropped, whatever batch it falls in (alone, or with others)."""
    from pain3d.data import make_loader

    name = image_name(0, 1, 0, style=1)
    (folder_ds / "meshes_inpainted" / name).write_bytes(b"\x89PNG garbage")
    ds = split_dataset(folder_ds, "train", 8, "same-identity", skip_bad=True)
    paths, dropped = [], []
    for batch in make_loader(ds, batch_size, train=False):
        dropped += batch.get("dropped", [])
        if "image" in batch:
            paths += [m["path"] for m in batch["meta"]]
            assert len(batch["meta"]) == batch["image"].shape[0] == batch["neutral"].shape[0]
            for img, m in zip(batch["image"], batch["meta"], strict=True):
                assert decode_colour(img)[:2] == (m["identity"], m["frame"])
    keys = ds.table.key[ds.rows]
    assert len(paths) == len(set(paths)) == len(keys) - 1
    assert set(paths) == {k for k in keys if not k.endswith(name)}
    assert len(dropped) == 1 and name in dropped[0]


def test_split_csv_conflict_is_rejected(folder_ds):
    with open(folder_ds / "splits.csv", "a") as fh:
        fh.write("flame_sample_0000_pain_9,2\n")
    with pytest.raises(DataError, match="identity 0 is in both"):
        index_synthetic(folder_ds)


def test_generated_dataset_round_trips_in_both_layouts(tmp_path):
    from pain3d.synth.config import GenerateConfig
    from pain3d.synth.generate import RunOptions, generate

    cfg = GenerateConfig(identities=3, per_identity=2, views=2, size=32, seed=3,
                         renderer="pain3d.synth.testing:PlainRenderer", shard_identities=2,
                         layout="both")
    root = tmp_path / "gen"
    generate(cfg, RunOptions(out=root, workers=1, progress=False))
    man = index_synthetic(root)
    assert man.layout == "manifest" and len(man.table) == 3 * 3 * 2
    folder = index_synthetic(root, layout="3dpain")
    hub = index_synthetic(root / "hub", layout="hub", split_csv=root / "splits.csv",
                          cache_dir=tmp_path / "hc")
    for other in (folder.table, hub.table):
        key = {os.path.basename(k): i for i, k in enumerate(other.key)}
        rows = [key[os.path.basename(k)] for k in man.table.key]
        np.testing.assert_allclose(other.au[rows], man.table.au)
        np.testing.assert_allclose(other.pspi[rows], man.table.pspi)
        np.testing.assert_array_equal(other.subject[rows], man.table.subject)
        np.testing.assert_array_equal(other.split[rows], man.table.split)
        np.testing.assert_array_equal(other.view[rows], man.table.view)
    s = split_dataset(root, "all", 32)[0]
    assert s["image"].shape == (3, 32, 32) and "neutral" in s


def test_index_of_82500_names_parses_fast():
    names = [image_name(i, c, v, style=i) for i in range(2500) for c in range(11)
             for v in range(3)]
    t0 = time.perf_counter()
    p = parse_names(names)
    dt = time.perf_counter() - t0
    assert p["ok"].all() and len(names) == 82500
    assert dt < 5.0


def test_write_hub_helper_makes_shards(tmp_path):
    root = write_hub(tmp_path / "h", shards=3)
    assert len(list((root / "images").glob("*.tar.gz"))) == 3
    assert write_3dpain(tmp_path / "f").is_dir()


def _write_tar_gz(path, members: dict[str, bytes], mtime_ns: int) -> None:
    write_tar_gz(path, members)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_a_rewritten_shard_replaces_its_stale_inflated_copy(tmp_path):
    from pain3d.data.shards import inflate

    cache = tmp_path / "cache"
    shard = tmp_path / "a" / "images_00000.tar.gz"
    twin = tmp_path / "b" / "images_00000.tar.gz"  # same name, another dataset, same cache
    _write_tar_gz(shard, {"x.jpg": b"old"}, 1_000_000_000)
    _write_tar_gz(twin, {"x.jpg": b"twin"}, 1_000_000_000)
    old, _ = inflate(shard, cache, None)
    kept, _ = inflate(twin, cache, None)
    _write_tar_gz(shard, {"x.jpg": b"new!", "y.jpg": b"more"}, 2_000_000_000)
    new, complete = inflate(shard, cache, None)
    assert complete and new != old
    assert sorted(p.name for p in cache.iterdir()) == sorted([new.name, kept.name])
    assert b"new!" in new.read_bytes() and b"twin" in kept.read_bytes()
