"""The console script answers fast and its foundation subcommands work as subprocesses."""

from __future__ import annotations

import csv
import subprocess
import sys
import time

from pain3d.facs import AU_NAMES, pspi


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pain3d", *args], capture_output=True, text=True, check=check
    )


def test_help_lists_commands_and_is_fast():
    start = time.perf_counter()
    out = run("--help")
    elapsed = time.perf_counter() - start
    assert "plan" in out.stdout and "demo" in out.stdout
    assert elapsed < 5.0  # includes interpreter start; heavy imports would take far longer


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from pain3d.cli import build_parser; build_parser(); "
        "heavy = [m for m in ('torch', 'transformers', 'moderngl', 'mediapipe', 'cv2', "
        "'lightning', 'pandas', 'matplotlib') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_plan_writes_a_consistent_csv(tmp_path):
    path = tmp_path / "plan.csv"
    out = run("plan", "--identities", "12", "--per-identity", "10", "--seed", "0",
              "--out", str(path))
    assert "wrote 120 configurations" in out.stdout
    assert "identities: 12" in (tmp_path / "plan.config.yaml").read_text()
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 120
    assert list(rows[0]) == ["identity", "config", *AU_NAMES, "PSPI"]
    for r in rows:
        assert float(r["PSPI"]) == pspi([float(r[n]) for n in AU_NAMES])


def test_pspi_command_computes_from_pairs_and_numbers():
    assert "PSPI=9" in run("pspi", "AU4=2", "AU6=3", "AU7=4", "AU10=2", "AU43=1").stdout
    assert "PSPI=16" in run("pspi", "5", "5", "0", "0", "5", "1").stdout


def test_bad_au_value_exits_2_with_a_message_naming_it():
    out = run("pspi", "AU4=9", check=False)
    assert out.returncode == 2
    assert "AU4 = 9" in out.stderr and "Traceback" not in out.stderr
