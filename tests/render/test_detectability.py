"""A standard face-landmark detector (MediaPipe face mesh) finds faces in the renders."""

from __future__ import annotations

import pytest

pytest.importorskip("mediapipe")


def _records(n: int, levels=None):
    from pain3d.render.quality import detection_records, render_samples

    return detection_records(render_samples(n, seed=0, size=256, levels=levels))


def test_neutral_faces_are_found_in_every_default_view():
    from pain3d.render.quality import detection_rates

    recs = _records(3, levels={"neutral": (0, 0, 0, 0, 0, 0)})
    rates = detection_rates(recs, by=("view",))["view"]
    assert set(rates) == {"0", "1", "2"}
    assert all(rate >= 2 / 3 for rate, _ in rates.values()), rates
    assert sum(r["detected"] for r in recs) >= 8, recs


@pytest.mark.slow
def test_faces_are_found_in_95_percent_per_view_and_group():
    from pain3d.render.quality import detection_rates

    rates = detection_rates(_records(36))
    low = {f"{k}={v}": r for k, group in rates.items() for v, (r, _) in group.items() if r < 0.95}
    assert not low, f"detection below 95%: {low}"
