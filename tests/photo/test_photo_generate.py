"""``pain3d generate --identities-from``: photo identities in datasets, end to end.

The photos are procedural faces the tests render themselves (photo_helpers), plus files that
cannot become identities: grayscale, corrupt, without a face, with a face too small.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from photo_helpers import procedural_photo

from pain3d.synth.config import GenerateConfig
from pain3d.synth.generate import RunOptions, generate, sample_files
from pain3d.synth.manifest import read_manifest
from pain3d.synth.photo_input import PhotoConfig
from pain3d.synth.photo_source import PhotoSourceError, list_photos
from pain3d.synth.verify import verify

BAD = {"grey.png": "grayscale", "broken.jpg": "unreadable", "blank.png": "no_face",
       "tiny.png": "small_face"}


def _write(path: Path, rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory) -> Path:
    """Two usable photos (a.jpg, b.png) and one of each bad kind."""
    d = tmp_path_factory.mktemp("photos")
    a, b = procedural_photo(seed=0), procedural_photo(seed=1)
    _write(d / "a.jpg", a)
    _write(d / "b.png", b)
    cv2.imwrite(str(d / "grey.png"), a.mean(-1).astype(np.uint8))
    (d / "broken.jpg").write_bytes((d / "a.jpg").read_bytes()[:400])
    _write(d / "blank.png", np.full((200, 200, 3), (40, 90, 160), np.uint8))
    _write(d / "tiny.png", cv2.resize(a, (128, 128), interpolation=cv2.INTER_AREA))
    (d / "notes.txt").write_text("not a photo: ignored")
    return d


def photo_config(source, **kw) -> GenerateConfig:
    base = dict(identities_from=str(source), per_identity=2, views=2, size=128, seed=3, min_pspi=8,
                layout="both", photo=PhotoConfig(texture_size=256))
    base.update(kw)
    return GenerateConfig(**base)


def _make(out: Path, cfg: GenerateConfig, workers: int = 1, **kw):
    return generate(cfg, RunOptions(out=out, workers=workers, progress=False, **kw))


def digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "run_log.jsonl"}


@pytest.fixture(scope="session")
def photo_dataset(tmp_path_factory, photo_dir):
    """A finished photo dataset in both layouts (do not modify): (root, summary, cfg)."""
    root = tmp_path_factory.mktemp("photo_ds") / "ds"
    cfg = photo_config(photo_dir)
    return root, _make(root, cfg), cfg


def test_every_usable_photo_becomes_an_identity_and_every_other_is_reported(photo_dataset):
    root, summary, _ = photo_dataset
    rows = read_manifest(root)
    assert sorted(rows["source_photo"].unique()) == ["a.jpg", "b.png"]
    assert set(rows["appearance"]) == {"photo"}
    assert summary.units_rendered == 2
    skipped = {s["name"]: s["reason"] for s in summary.photos["skipped"]}
    assert skipped == BAD
    log = json.loads((root / "run_log.jsonl").read_text().splitlines()[-1])
    assert {s["name"]: s["reason"] for s in log["photos"]["skipped"]} == BAD
    card = (root / "dataset_card.md").read_text()
    for name, reason in BAD.items():
        assert f"| {name} | {reason} |" in card
    assert "Synthetic faces: not photographs" not in card


def test_photo_dataset_verifies_and_keeps_each_raw_photo(photo_dataset, photo_dir):
    root, _, _ = photo_dataset
    assert verify(root).ok, verify(root).text()
    rows = read_manifest(root).drop_duplicates("identity")
    for r in rows.itertuples():
        raw = (photo_dir / r.source_photo).read_bytes()
        assert (root / r.source_photo_path).read_bytes() == raw
        assert r.source_photo_sha256 == hashlib.sha256(raw).hexdigest()


def test_verify_catches_a_swapped_source_photo(tmp_path, photo_dataset):
    root, _, _ = photo_dataset
    copy = tmp_path / "ds"
    shutil.copytree(root, copy)
    a, b = sorted((copy / "source_photos").iterdir())
    a.write_bytes(b.read_bytes())
    problems = "\n".join(verify(copy).problems)
    assert f"source_photos/{a.name}: is not the source photo" in problems


def test_pain_changes_only_the_face_of_the_own_view(photo_dataset):
    root, _, _ = photo_dataset
    rows = read_manifest(root)
    own = rows[(rows["view"] == 0) & (rows["identity"] == 0)].sort_values("PSPI")
    imgs = [cv2.imread(str(root / p)).astype(np.int16) for p in own["path"]]
    neutral, pain = imgs[0], imgs[-1]
    diff = np.abs(pain - neutral).max(-1)
    h = diff.shape[0]
    # The border (background, hair, shoulders) is the photo's in both; the face moved.
    border = np.r_[diff[: h // 10].ravel(), diff[-h // 10:].ravel()]
    assert np.percentile(border, 99) <= 6  # JPEG noise only
    assert (diff[h // 4: 3 * h // 4, h // 4: 3 * h // 4] > 25).mean() > 0.02


def test_views_after_the_first_turn_the_head(photo_dataset):
    root, _, _ = photo_dataset
    rows = read_manifest(root)
    r = rows[(rows["identity"] == 0) & (rows["expression"] == "neutral")].sort_values("view")
    own, turned = (cv2.imread(str(root / p)) for p in r["path"])
    assert abs(r["yaw"].iloc[1] - (-35.0)) <= 3.0  # the plan's absolute yaw (+- jitter)
    assert np.abs(own.astype(np.int16) - turned.astype(np.int16)).mean() > 5


def test_own_view_angles_are_the_fitted_camera_within_a_few_degrees(photo_dataset, photo_dir):
    from pain3d.synth.photo import load_photo, photo_identity

    root, _, cfg = photo_dataset
    rows = read_manifest(root)
    r = rows[(rows["identity"] == 1) & (rows["view"] == 0)].iloc[0]
    ident = photo_identity(load_photo(photo_dir / r["source_photo"]), cfg=cfg.photo,
                           size=cfg.size)
    cam = ident.camera
    assert abs(r["yaw"] - cam.yaw) < 6 and abs(r["pitch"] - cam.pitch) < 6
    assert abs(r["roll"] - cam.roll) < 3


@pytest.mark.parametrize("layout", ["hub", "3dpain"])
def test_other_layouts_hold_the_same_images(tmp_path, photo_dataset, layout):
    root, _, cfg = photo_dataset
    out = tmp_path / layout
    _make(out, photo_config(cfg.identities_from, layout=layout, views=1, per_identity=1))
    assert verify(out).ok, verify(out).text()
    rows = read_manifest(out)
    name = "source_photos/flame_sample_0001.png"
    assert (out / name).read_bytes() == (root / name).read_bytes()  # loose in every layout
    assert len(rows) == 4


def test_worker_count_does_not_change_a_byte(tmp_path, photo_dataset):
    root, _, cfg = photo_dataset
    _make(tmp_path / "two", cfg, workers=2)
    assert digest(tmp_path / "two") == digest(root)


def test_resume_redoes_only_what_a_kill_left_undone(tmp_path, photo_dataset):
    root, _, cfg = photo_dataset
    copy = tmp_path / "ds"
    shutil.copytree(root, copy)
    (copy / ".pain3d" / "units" / "00001.json").unlink()  # files written, record not
    (copy / "source_photos" / "flame_sample_0001.png").unlink()
    (copy / "manifest.parquet").unlink()
    (copy / "heatmaps" / ".flame_sample_0000_pain_1_heatmap.png.ab12.tmp").write_bytes(b"x")
    s = _make(copy, cfg)
    assert s.units_rendered == 1
    assert digest(copy) == digest(root)


def test_resume_refuses_photos_that_changed(tmp_path, photo_dir):
    src = tmp_path / "photos"
    src.mkdir()
    for name in ("a.jpg", "b.png"):
        shutil.copy(photo_dir / name, src / name)
    cfg = photo_config(src, per_identity=1, views=1)
    _make(tmp_path / "ds", cfg)
    shutil.copy(photo_dir / "a.jpg", src / "b.png")  # same name, other person
    with pytest.raises(PhotoSourceError, match="b.png"):
        _make(tmp_path / "ds", cfg)


def test_one_photo_identity_regenerates_alone_byte_for_byte(photo_dataset):
    root, _, cfg = photo_dataset
    files = sample_files(cfg, "flame_sample_0001")
    assert "source_photos/flame_sample_0001.png" in files
    for rel, data in files.items():
        assert (root / rel).read_bytes() == data, rel


def test_workers_fit_photo_identities_without_ever_running_a_face_tracker(
        tmp_path, photo_dataset, monkeypatch):
    from pain3d.face import tracker as tracker_module
    from pain3d.synth import photo_source

    root, _, cfg = photo_dataset
    screen = photo_source.screen_photos

    def forbidden(*args, **kwargs):
        raise AssertionError("a worker ran a FaceTracker for a photo identity")

    def screen_then_forbid(c):  # the driver's screening is the one tracker run
        out = screen(c)
        for method in ("__init__", "detect", "landmarks", "faces", "frame_landmarks",
                       "person"):
            monkeypatch.setattr(tracker_module.FaceTracker, method, forbidden)
        return out

    monkeypatch.setattr(photo_source, "screen_photos", screen_then_forbid)
    _make(tmp_path / "ds", cfg)  # one worker: renders in this process
    assert digest(tmp_path / "ds") == digest(root)


def test_a_photo_spec_without_landmarks_detects_them_again_to_the_same_bytes(photo_dataset):
    import dataclasses

    from pain3d.synth.plan import build_plan
    from pain3d.synth.worker import render_samples

    root, _, cfg = photo_dataset
    unit = build_plan(cfg).units[1]
    assert len(unit.identity.photo_landmarks) == 478 * 3
    bare = dataclasses.replace(unit.identity, photo_landmarks=())
    files = render_samples(cfg, [dataclasses.replace(s, identity=bare) for s in unit.samples])
    assert files and all((root / rel).read_bytes() == data for rel, data in files.items())


def test_a_photo_spec_without_its_person_mask_finds_it_again_to_the_same_bytes(photo_dataset):
    import base64
    import dataclasses

    from pain3d.synth.plan import build_plan
    from pain3d.synth.worker import render_samples

    root, _, cfg = photo_dataset
    unit = build_plan(cfg).units[1]
    assert base64.b64decode(unit.identity.photo_person).startswith(b"\x89PNG")
    bare = dataclasses.replace(unit.identity, photo_person="")
    files = render_samples(cfg, [dataclasses.replace(s, identity=bare) for s in unit.samples])
    assert files and all((root / rel).read_bytes() == data for rel, data in files.items())


def test_the_plan_segments_only_the_photos_the_dataset_uses(photo_dir):
    from pain3d.synth.photo_source import screen_photos

    screen = screen_photos(photo_config(photo_dir, identities=1))
    assert len(screen.accepted) >= 2
    assert screen.accepted[0].person and not any(p.person for p in screen.accepted[1:])


def test_strict_stops_before_writing_anything(tmp_path, photo_dir):
    out = tmp_path / "ds"
    with pytest.raises(PhotoSourceError, match="--strict") as exc:
        _make(out, photo_config(photo_dir), strict=True)
    for name, reason in BAD.items():
        assert f"{name}: {reason}" in str(exc.value)
    assert not out.exists()


def test_no_usable_photo_is_an_error_naming_the_reasons(tmp_path, photo_dir):
    src = tmp_path / "bad"
    src.mkdir()
    shutil.copy(photo_dir / "blank.png", src / "blank.png")
    with pytest.raises(PhotoSourceError, match="no_face 1"):
        _make(tmp_path / "ds", photo_config(src))


def test_csv_gives_paths_and_demographics(tmp_path, photo_dir):
    table = tmp_path / "people.csv"
    table.write_text(f"path,sex,age_band,ancestry\n{photo_dir / 'b.png'},female,36-60,\n"
                     "missing.jpg,,,\n")
    entries = list_photos(table)
    assert [e.name for e in entries] == [str(photo_dir / "b.png"), "missing.jpg"]
    assert (entries[0].sex, entries[0].age_band, entries[0].ancestry) == (
        "female", "36-60", "unknown")
    s = _make(tmp_path / "ds", photo_config(table, per_identity=1, views=1))
    row = read_manifest(tmp_path / "ds").iloc[0]
    assert (row["sex"], row["age_band"], row["ancestry"]) == ("female", "36-60", "unknown")
    assert [x["reason"] for x in s.photos["skipped"]] == ["unreadable"]


def test_csv_with_a_bad_value_names_the_line_and_the_choices(tmp_path):
    table = tmp_path / "people.csv"
    table.write_text("path,sex\na.jpg,robot\n")
    with pytest.raises(PhotoSourceError, match="line 2: sex = 'robot' is not one of female"):
        list_photos(table)
    (tmp_path / "nopath.csv").write_text("file\na.jpg\n")
    with pytest.raises(PhotoSourceError, match="no 'path' column"):
        list_photos(tmp_path / "nopath.csv")


def test_cli_flags_make_a_photo_dataset_and_inspect_shows_the_photo(tmp_path, photo_dir,
                                                                  capsys):
    from pain3d.cli import main

    src = tmp_path / "photos"
    src.mkdir()
    shutil.copy(photo_dir / "b.png", src / "b.png")
    shutil.copy(photo_dir / "blank.png", src / "blank.png")
    (tmp_path / "p.yaml").write_text("photo:\n  texture_size: 256\n")
    out = tmp_path / "ds"
    args = ["generate", "--out", str(out), "--identities-from", str(src), "--config",
            str(tmp_path / "p.yaml"), "--per-identity", "1", "--views", "1", "--size", "128",
            "--workers", "1", "--no-progress"]
    assert main(args) == 0
    assert "skipped blank.png: no_face" in capsys.readouterr().out
    assert main([*args, "--strict"]) == 2  # the same folder, but --strict refuses
    assert "--strict" in capsys.readouterr().err
    assert main(["inspect", str(out), "--sheet", str(tmp_path / "sheet.png")]) == 0
    sheet = cv2.imread(str(tmp_path / "sheet.png"))
    assert sheet.shape[1] == 3 * 128  # raw photo, neutral, one pain configuration


def test_config_refuses_photo_settings_without_photos_and_other_face_models():
    with pytest.raises(ValueError, match="identities_from"):
        GenerateConfig(photo=PhotoConfig())
    with pytest.raises(ValueError, match="builtin"):
        GenerateConfig(identities_from="x", appearance="diffusion")


@pytest.mark.slow
def test_resume_after_sigkill_of_a_photo_run_gives_the_same_files(tmp_path, photo_dir):
    import os
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "photos"
    src.mkdir()
    for k, seed in enumerate((0, 1, 3, 4, 5, 6)):
        _write(src / f"p{k}.png", procedural_photo(seed=seed))
    (tmp_path / "p.yaml").write_text("photo:\n  texture_size: 256\n")
    args = ["--identities-from", str(src), "--config", str(tmp_path / "p.yaml"),
            "--per-identity", "3", "--views", "2", "--size", "128", "--layout", "both",
            "--workers", "2", "--no-progress"]
    root = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "pain3d", "generate", "--out", str(root),
                             *args], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    units = root / ".pain3d" / "units"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(units.glob("*.json")) if units.exists() else []) < 1:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(units.glob("*.json")))
    assert 1 <= done < 6, "the run must be killed in the middle"
    assert not (root / "manifest.parquet").exists()
    for out in (root, tmp_path / "clean"):
        subprocess.run([sys.executable, "-m", "pain3d", "generate", "--out", str(out), *args],
                       check=True, capture_output=True)
    assert digest(root) == digest(tmp_path / "clean")


def test_reference_variation_turns_photo_heads_and_light_and_records_what_it_applied(
        tmp_path, photo_dir):
    from pain3d.synth.config import VariationConfig

    src = tmp_path / "one"
    src.mkdir()
    shutil.copy(photo_dir / "a.jpg", src / "a.jpg")
    plain = _make(tmp_path / "plain", photo_config(src, views=1, layout="3dpain"))
    varied = _make(tmp_path / "varied", photo_config(
        src, views=1, layout="3dpain", reference_variation=VariationConfig(neutral_sessions=1)))
    assert plain.images + 1 == varied.images  # one neutral session
    df = read_manifest(tmp_path / "varied")
    # The photo keeps its framing: only head pose and light vary, and the manifest says so.
    assert (df.var_distance_scale == 1.0).all() and (df.var_shift_x == 0.0).all()
    assert (df.var_head_yaw != 0).all() and (df.var_light_gain != 1).all()
    ref = df.path[df.expression == "neutral"].iloc[0]
    a = cv2.imread(str(tmp_path / "plain" / ref)).astype(int)
    b = cv2.imread(str(tmp_path / "varied" / ref)).astype(int)
    assert np.abs(a - b).mean() > 1.0  # the neutral reference is its own capture now


def test_a_worker_of_photo_identities_makes_no_procedural_gl_context(photo_dir, monkeypatch):
    """Photo identities draw with the photo renderer only; the procedural renderer's context
    (~20 MB of a worker's peak memory) is made on first use, i.e. never."""
    from pain3d.render.renderer import Renderer
    from pain3d.synth.builtin import BuiltinRenderer
    from pain3d.synth.plan import build_plan

    made = []
    init = Renderer.__init__

    def counted(self, *args, **kwargs):
        made.append(type(self).__name__)  # every GL context: Renderer or a subclass
        init(self, *args, **kwargs)

    monkeypatch.setattr(Renderer, "__init__", counted)
    plan = build_plan(photo_config(photo_dir))
    worker = BuiltinRenderer(plan.config)
    try:
        unit = plan.units[0]
        state = worker.prepare(unit.identity)
        image = worker.render(state, unit.samples[-1], mask=False, depth=False)
        assert image.rgb.shape == (128, 128, 3) and image.rgb.std() > 5
        assert made == ["PhotoRenderer"]
    finally:
        worker.release()
