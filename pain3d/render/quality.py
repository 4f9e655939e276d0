"""Quality checks of the renders: does a standard face-landmark detector find the face?

MediaPipe's face mesh (static-image mode, one face, 468 points:
:meth:`pain3d.face.tracker.FaceTracker.frame_landmarks`) is run on composited renders; a
dataset is usable when it finds a face in at least 95% of images for every view and
demographic group.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator

import numpy as np

log = logging.getLogger(__name__)

PAIN_LEVELS: dict[str, tuple[float, ...]] = {
    "neutral": (0, 0, 0, 0, 0, 0),
    "mid": (3, 3, 2, 2, 2, 0),
    "high": (5, 5, 5, 4, 4, 1),
}
"""AU vectors ([AU4, AU6, AU7, AU9, AU10, AU43], FACS 0..5) checked by default."""


def quality_renders(n_identities: int, seed: int = 0, size: int = 256,
                   levels: dict[str, tuple[float, ...]] | None = None
                   ) -> Iterator[tuple[dict, np.ndarray]]:
    """Composited renders of the default views for ``n_identities`` identities.

    Yields:
        (record, image): record has identity, view, expression, sex, age_band, ancestry,
        monk_tone; image is (size, size, 3) uint8 RGB, as the dataset writer would make it.
    """
    from pain3d.appearance import procedural_background, sample_appearance, sample_effects
    from pain3d.face import express, identity_mesh, sample_identities
    from pain3d.render import Renderer, compose, default_views, jitter_camera, sample_lighting

    levels = levels or PAIN_LEVELS
    renderer = Renderer(size)
    try:
        for ident in sample_identities(n_identities, seed):
            neutral = identity_mesh(ident)
            app = sample_appearance(ident, ident.seed, mesh=neutral)
            rng = np.random.default_rng([seed, ident.index])
            d = ident.demographics
            for name, aus in levels.items():
                a = np.asarray(aus, float)
                mesh = neutral if not a.any() else express(neutral, a)
                for v, cam in enumerate(default_views()):
                    res = renderer.render(mesh, app, jitter_camera(cam, rng), sample_lighting(rng),
                                          aus=a, depth=False)
                    img = compose(res, procedural_background(rng, size), sample_effects(rng), rng)
                    yield ({"identity": ident.index, "view": v, "expression": name,
                            "sex": d.sex, "age_band": d.age_band, "ancestry": d.ancestry,
                            "monk_tone": app.traits.monk_tone}, img)
    finally:
        renderer.release()


def detection_records(samples: Iterable[tuple[dict, np.ndarray]]) -> list[dict]:
    """Run the face mesh over (record, image) pairs; returns records with ``detected``."""
    from pain3d.face.tracker import FaceTracker

    with FaceTracker(min_confidence=0.5, refine=False) as tracker:
        return [{**rec, "detected": tracker.frame_landmarks(img) is not None}
                for rec, img in samples]


def detection_rates(records: list[dict], by: tuple[str, ...] = ("view", "sex", "age_band",
                                                                   "ancestry")
                    ) -> dict[str, dict[str, tuple[float, int]]]:
    """Detection rate and count per value of each grouping key, e.g.
    ``{"view": {"0": (0.98, 120), ...}, "ancestry": {...}}``."""
    rates: dict[str, dict[str, tuple[float, int]]] = {}
    for key in by:
        hits: dict[str, list[bool]] = defaultdict(list)
        for r in records:
            hits[str(r[key])].append(bool(r["detected"]))
        rates[key] = {k: (float(np.mean(v)), len(v)) for k, v in sorted(hits.items())}
    return rates
