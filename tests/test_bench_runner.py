"""`make bench`'s runner turns each benchmark's --json into rows of one table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

RUN_ALL = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"


def _run_all():
    spec = importlib.util.spec_from_file_location("run_all", RUN_ALL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_metrics_lists_are_taken_as_they_are_and_other_json_by_its_numbers():
    m = _run_all()
    rows = m.rows_of({"metrics": [{"metric": "x frames/s", "value": 12.5, "target": ">= 10",
                                   "pass": True}]})
    assert rows == [{"metric": "x frames/s", "value": 12.5, "target": ">= 10", "pass": True}]
    plain = {"args": {"quick": 1}, "rate": 0.5, "flag": True, "name": "a",
             "throughput": {"images_per_s": 31.0, "cpu_s_per_image": 0.1}}
    rows = m.rows_of(plain)
    assert [r["metric"] for r in rows] == ["rate", "throughput.images_per_s",
                                           "throughput.cpu_s_per_image"]
    picked = m.rows_of(plain, {"throughput.images_per_s": ">= 30", "missing": ""})
    assert picked == [{"metric": "throughput.images_per_s", "value": 31.0, "target": ">= 30",
                       "pass": True}]
    assert m.rows_of(plain, {"throughput.cpu_s_per_image": "<= 0.05"})[0]["pass"] is False


def test_the_table_marks_misses_failures_and_the_time_budget():
    m = _run_all()
    results = [{"name": "video", "ok": True, "seconds": 40.0, "cpu_s": 70.0,
                "rows": [{"metric": "fps", "value": 8.0, "target": ">= 10", "pass": False}]},
               {"name": "index", "ok": False, "seconds": 1.0, "cpu_s": 1.0, "rows": []}]
    lines = m.table(results, total_s=400.0, total_cpu=71.0).splitlines()
    assert lines[0].split() == ["benchmark", "metric", "value", "target", "pass/fail"]
    assert lines[2].split()[0] == "video" and lines[2].split()[-1] == "FAIL"
    assert any(ln.startswith("index") and ln.rstrip().endswith("ERROR") for ln in lines)
    assert lines[-1].startswith("all") and lines[-1].rstrip().endswith("FAIL")
