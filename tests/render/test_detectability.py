"""A standard face-landmark detector (MediaPipe face mesh) finds faces in the renders."""

from __future__ import annotations

import pytest

pytest.importorskip("mediapipe")


def _records(n: int, levels=None):
    from pain3d.render.quality import detection_records, quality_renders

    return detection_records(quality_renders(n, seed=0, size=256, levels=levels))


def test_faces_are_found_in_every_default_view_neutral_and_in_pain():
    from pain3d.render.quality import PAIN_LEVELS, detection_rates

    recs = _records(3, levels={k: PAIN_LEVELS[k] for k in ("neutral", "high")})
    rates = detection_rates(recs, by=("view", "expression"))
    assert set(rates["view"]) == {"0", "1", "2"}
    assert rates["expression"]["neutral"][0] == 1.0, recs
    assert sum(r["detected"] for r in recs) >= len(recs) - 1, recs


@pytest.mark.slow
def test_faces_are_found_in_95_percent_per_view_and_group():
    from pain3d.render.quality import detection_rates

    rates = detection_rates(_records(36))
    low = {f"{k}={v}": r for k, group in rates.items() for v, (r, _) in group.items() if r < 0.95}
    assert not low, f"detection below 95%: {low}"
