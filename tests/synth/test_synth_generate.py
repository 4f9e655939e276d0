"""Generation end to end with the plain test renderer: layouts, determinism, resume, safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from synth_helpers import make, parse_published_name, tiny_generate_config, tree_digest

from pain3d.facs import AU_NAMES, pspi
from pain3d.synth.generate import RunOptions, generate, regenerate, sample_files
from pain3d.synth.manifest import COLUMNS
from pain3d.synth.plan import build_plan, select
from pain3d.synth.spec import sample_from_json
from pain3d.synth.worker import render_samples

IMG_0002 = "meshes_inpainted/flame_sample_0002_pain_2_textured_view_001_inpainted.jpg"


def _shard_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def test_3dpain_layout_read_with_the_published_rules_matches_the_manifest(dataset_both):
    root, cfg = dataset_both
    df = pd.read_parquet(root / "manifest.parquet")
    assert list(df.columns[: 25]) == list(COLUMNS[:25])
    assert len(df) == cfg.identities * (cfg.per_identity + 1) * cfg.views
    images = sorted((root / "meshes_inpainted").glob("*.jpg"))
    assert [p.relative_to(root).as_posix() for p in images] == sorted(df["path"])
    splits = dict(line.split(",") for line in (root / "splits.csv").read_text().split()[1:])
    by_path = df.set_index("path")
    for p in images:
        row = by_path.loc[p.relative_to(root).as_posix()]
        parsed = parse_published_name(p.name)
        assert parsed["identity"] == row["identity_name"]
        img = cv2.imread(str(p))
        assert img.shape == (cfg.size, cfg.size, 3)
        if parsed["neutral"]:
            # Published rule: neutral images have no JSON and all labels are 0.
            assert not (root / "annotations" / f"{parsed['base']}_annotations.json").exists()
            assert row["PSPI"] == 0 and all(row[n] == 0 for n in AU_NAMES)
            continue
        assert f"pain_{parsed['config']}" == row["expression"]
        ann = json.loads((root / "annotations" / f"{parsed['base']}_annotations.json").read_text())
        assert set(ann) == {*AU_NAMES, "PSPI"}
        assert [ann[n] for n in AU_NAMES] == [row[n] for n in AU_NAMES]
        assert ann["PSPI"] == row["PSPI"] == pspi([ann[n] for n in AU_NAMES])
        assert splits[parsed["base"]] == str(["train", "val", "test"].index(row["split"]))
        assert (root / row["heatmap_path"]).is_file() and (root / row["mesh_path"]).is_file()
        assert (root / row["mask_path"]).is_file() and (root / row["depth_path"]).is_file()
    csv = pd.read_csv(root / "manifest.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(csv, df, check_dtype=False)


def test_hub_shards_hold_exactly_the_loose_files(dataset_both):
    root, cfg = dataset_both
    df = pd.read_parquet(root / "manifest.parquet")
    for folder, loose in (("images", "meshes_inpainted"), ("annotations", "annotations"),
                          ("heatmaps", "heatmaps"), ("textured_meshes", "textured_meshes")):
        shards = sorted((root / "hub" / folder).glob(f"{folder}_*.tar.gz"))
        assert [s.name for s in shards] == [f"{folder}_00000.tar.gz", f"{folder}_00001.tar.gz"]
        assert (root / "hub" / folder / "README.txt").is_file()
        members: dict[str, bytes] = {}
        for s in shards:
            members.update(_shard_members(s))
            assert s.read_bytes()[4:8] == b"\0\0\0\0"  # gzip header mtime 0
        files = {p.relative_to(root / loose).as_posix(): p.read_bytes()
                 for p in (root / loose).rglob("*") if p.is_file()}
        assert members == files
    for path, shard in zip(df["path"], df["shard"], strict=True):
        assert Path(path).name in _shard_members(root / shard)


def test_hub_only_layout_writes_the_same_shards_and_no_loose_images(tmp_path, dataset_both):
    both, _ = dataset_both
    hub = make(tmp_path / "hub", tiny_generate_config(layout="hub", extras=("masks", "depth")))
    assert not (hub / "meshes_inpainted").exists() and not (hub / ".pain3d" / "staging").exists()
    for shard in sorted((both / "hub").rglob("*.tar.gz")):
        rel = shard.relative_to(both / "hub")
        assert (hub / rel).read_bytes() == shard.read_bytes()
    hub_df = pd.read_parquet(hub / "manifest.parquet")
    assert hub_df["shard"].str.startswith("images/images_").all()


def test_worker_count_does_not_change_a_byte(tmp_path):
    cfg = tiny_generate_config(layout="both", identities=4)
    one = tree_digest(make(tmp_path / "w1", cfg, workers=1))
    two = tree_digest(make(tmp_path / "w2", cfg, workers=2))
    assert one == two
    assert any(k.endswith(".jpg") for k in one) and "manifest.parquet" in one


def test_a_second_run_on_a_finished_folder_renders_nothing(tmp_path):
    cfg = tiny_generate_config()
    root = make(tmp_path / "ds", cfg)
    before = tree_digest(root)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    again = generate(cfg, RunOptions(out=root, workers=1, progress=False))
    assert again.units_rendered == 0 and again.units_skipped == cfg.identities
    assert tree_digest(root) == before
    assert again.disk_bytes == size  # every file, state records included (before its log line)
    assert len((root / "run_log.jsonl").read_text().splitlines()) == 2


def test_refuses_to_mix_two_configs_in_one_folder(tmp_path):
    root = make(tmp_path / "ds", tiny_generate_config())
    with pytest.raises(FileExistsError, match="size: 48 in the folder, 64 now"):
        generate(tiny_generate_config(size=64), RunOptions(out=root, workers=1, progress=False))
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        generate(tiny_generate_config(), RunOptions(out=other, workers=1, progress=False))


def test_resume_repairs_what_a_kill_leaves_behind(tmp_path):
    """Units without a record are redone, stale temporaries and lost files are cleaned up."""
    cfg = tiny_generate_config(layout="both")
    ref = tree_digest(make(tmp_path / "ref", cfg))
    root = make(tmp_path / "ds", cfg)
    # Simulate a run killed at several moments at once.
    (root / ".pain3d" / "units" / "00001.json").unlink()  # files written, record not
    (root / "meshes_inpainted" / "flame_sample_0001_pain_1_textured_view_000_inpainted.jpg"
     ).unlink()
    (root / "heatmaps" / ".flame_sample_0000_pain_1_heatmap.png.x1y2.tmp").write_bytes(b"half")
    (root / ".pain3d" / "shards" / "images_00000.json").unlink()
    (root / "hub" / "images" / "images_00000.tar.gz").write_bytes(b"truncated")
    (root / "manifest.parquet").unlink()
    s = generate(cfg, RunOptions(out=root, workers=1, progress=False))
    assert s.units_rendered == 1
    assert tree_digest(root) == ref


def _children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and int((p / "stat").read_text().split(") ")[1].split()[1]) == pid:
                out.append(int(p.name))
        except (OSError, IndexError, ValueError):
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().split(") ")[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.parametrize("layout", ["both", pytest.param("hub", marks=pytest.mark.slow)])
def test_resume_after_sigkill_of_a_real_run_gives_the_same_files(tmp_path, layout):
    cfg_args = ["--identities", "8", "--per-identity", "2", "--views", "2", "--size", "32",
                "--seed", "3", "--layout", layout, "--renderer",
                "pain3d.synth.testing:SlowPlainRenderer", "--workers", "2", "--no-progress"]
    env = {**os.environ, "PAIN3D_TEST_DELAY": "1.0"}
    root = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "pain3d", "generate", "--out", str(root),
                             *cfg_args], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    units = root / ".pain3d" / "units"
    deadline = time.time() + 30
    while time.time() < deadline and len(list(units.glob("*.json")) if units.exists() else []) < 2:
        time.sleep(0.05)
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)  # the driver only: its pool workers must not live on
    proc.wait()
    deadline = time.time() + 15  # generous: the machine running the tests may be loaded
    while time.time() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    orphans = [pid for pid in workers if _alive(pid)]
    os.killpg(proc.pid, signal.SIGKILL)  # clean up whatever is left before asserting
    assert workers and not orphans, "pool workers outlived their killed driver"
    done = len(list(units.glob("*.json")))
    assert 2 <= done < 8, "the run must be killed in the middle"
    assert not (root / "manifest.parquet").exists()
    env["PAIN3D_TEST_DELAY"] = "0"
    for out in (root, tmp_path / "clean"):
        subprocess.run([sys.executable, "-m", "pain3d", "generate", "--out", str(out),
                        *cfg_args], env=env, check=True, capture_output=True)
    assert tree_digest(root) == tree_digest(tmp_path / "clean")
    log = [json.loads(line) for line in (root / "run_log.jsonl").read_text().splitlines()]
    assert log[-1]["units_rendered"] == 8 - done


def test_one_sample_regenerates_alone_byte_for_byte(tmp_path, dataset_both):
    root, cfg = dataset_both
    files = sample_files(cfg, "flame_sample_0002_pain_2")
    assert sorted(files) == sorted([
        *[f"meshes_inpainted/flame_sample_0002_pain_2_textured_view_{v:03d}_inpainted.jpg"
          for v in range(3)],
        *[f"masks/flame_sample_0002_pain_2_textured_view_{v:03d}_inpainted_mask.png"
          for v in range(3)],
        *[f"depth/flame_sample_0002_pain_2_textured_view_{v:03d}_inpainted_depth.png"
          for v in range(3)],
        "heatmaps/flame_sample_0002_pain_2_heatmap.png",
        "annotations/flame_sample_0002_pain_2_annotations.json",
    ])
    for rel, data in files.items():
        assert (root / rel).read_bytes() == data, rel
    # A spec alone, e.g. stored as JSON, regenerates its image.
    spec = select(build_plan(cfg), "flame_sample_0002_pain_2_textured_view_001_inpainted")[0]
    again = sample_from_json(json.loads(json.dumps(spec.to_json())))
    one = render_samples(cfg, [again], heatmaps=False, mesh=False)
    assert one[IMG_0002] == (root / IMG_0002).read_bytes()
    out = tmp_path / "one"
    written = regenerate(cfg, out, "flame_sample_0001")
    assert "textured_meshes/flame_sample_0001/flame_sample_0001.obj" in written
    for rel in written:
        assert (out / rel).read_bytes() == (root / rel).read_bytes(), rel


def test_cli_only_writes_one_configuration(tmp_path):
    out = tmp_path / "only"
    args = [sys.executable, "-m", "pain3d", "generate", "--out", str(out), "--identities", "3",
            "--size", "32", "--renderer", "pain3d.synth.testing:PlainRenderer",
            "--only", "flame_sample_0002_pain_4"]
    res = subprocess.run(args, capture_output=True, text=True, check=True)
    assert "wrote 5 files" in res.stdout
    assert len(list((out / "meshes_inpainted").glob("*.jpg"))) == 3


def test_ray_engine_writes_the_same_files(tmp_path):
    pytest.importorskip("ray")
    cfg = tiny_generate_config(layout="both")
    ref = tree_digest(make(tmp_path / "local", cfg, workers=1))
    assert tree_digest(make(tmp_path / "ray", cfg, workers=2, engine="ray")) == ref


def test_ray_engine_without_ray_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(RuntimeError, match=r"pip install 'pain3d\[ray\]'"):
        make(tmp_path / "ds", tiny_generate_config(), engine="ray")


def test_masks_and_depth_match_the_images(dataset_both):
    root, cfg = dataset_both
    df = pd.read_parquet(root / "manifest.parquet")
    row = df.iloc[5]
    mask = cv2.imread(str(root / row["mask_path"]), cv2.IMREAD_UNCHANGED)
    depth = cv2.imread(str(root / row["depth_path"]), cv2.IMREAD_UNCHANGED)
    assert mask.dtype == np.uint8 and depth.dtype == np.uint16
    assert ((mask > 0) == (depth > 0)).all() and mask.any()
    assert np.allclose(depth[depth > 0], row["distance"] * 1000, atol=1)


def test_the_data_readers_index_what_generate_writes(dataset_both, tmp_path):
    from pain3d.data import synthetic
    root, cfg = dataset_both
    df = pd.read_parquet(root / "manifest.parquet")
    for lay in ("manifest", "3dpain"):
        t = synthetic.index_synthetic(root, layout=lay, cache_dir=tmp_path / lay).table
        assert sorted(t.key) == sorted(df["path"]), lay
        assert int(t.neutral.sum()) == (df["expression"] == "neutral").sum()
        assert np.isclose(t.pspi.sum(), df["PSPI"].sum())
    hub = synthetic.index_synthetic(root / "hub", layout="hub", cache_dir=tmp_path / "hub").table
    assert len(hub.key) == len(df) and np.isclose(hub.pspi.sum(), df["PSPI"].sum())


def test_hub_only_resume_rebuilds_a_lost_shard(tmp_path):
    cfg = tiny_generate_config(layout="hub")
    ref = tree_digest(make(tmp_path / "ref", cfg))
    root = make(tmp_path / "ds", cfg)
    (root / "heatmaps" / "heatmaps_00001.tar.gz").unlink()
    (root / ".pain3d" / "shards" / "heatmaps_00001.json").unlink()
    s = generate(cfg, RunOptions(out=root, workers=1, progress=False))
    assert s.units_rendered == 1  # identity 2, the only one of shard 1 (2 identities a shard)
    assert tree_digest(root) == ref and not (root / ".pain3d" / "staging").exists()


def test_a_spawned_workers_peak_memory_is_its_own_not_its_parents():
    import multiprocessing as mp
    import resource

    from pain3d.synth.worker import peak_rss_mb

    big = np.ones(400 * 2**20 // 8)  # the parent grows by 400 MB before it spawns
    with mp.get_context("spawn").Pool(1) as pool:
        child = pool.apply(peak_rss_mb)
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    assert big[-1] == 1.0
    assert peak_rss_mb() >= 400
    assert child < parent - 300, (child, parent)  # ru_maxrss in the child would be >= parent


def test_worker_pool_warms_its_processes_before_any_unit():
    """The pool's processes start (imports, renderer warm-up) as soon as it exists, while
    the driver plans, and their start-up CPU is counted in the run's CPU seconds."""
    from pain3d.synth.engine import worker_pool

    cfg = tiny_generate_config(identities=2)
    with worker_pool(cfg, "local", 2) as pool:
        started = [f.result(timeout=300) for f in pool.warming]
        assert all(pid != os.getpid() for pid, _ in started)
        assert pool.start_cpu_seconds() > 0.2  # at least the imports of a fresh process
    with worker_pool(cfg, "local", 1) as pool:
        assert pool is None  # one worker runs in this process
