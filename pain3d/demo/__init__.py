"""``pain3d demo``: generate, train, evaluate, film and predict, then report (see run.py)."""

from pain3d.demo.config import DemoConfig, DemoResult
from pain3d.demo.run import STAGES, missing_parts, run_demo

__all__ = ["STAGES", "DemoConfig", "DemoResult", "missing_parts", "run_demo"]
