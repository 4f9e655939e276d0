"""The six pain Action Units, PSPI, validation and AU-configuration sampling.

The single source of truth for AU names, order and scales. AU vectors are float arrays in the
order ``[AU4, AU6, AU7, AU9, AU10, AU43]`` on the FACS scale 0..5 (A-E mapped to 1-5,
0 = absent); AU43 (eyes closed) has no intensity and is 0 or 1.

PSPI = AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43, an integer 0..16 for integer AUs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

AU_NAMES: tuple[str, ...] = ("AU4", "AU6", "AU7", "AU9", "AU10", "AU43")
"""Canonical order of the pain AUs, used by every vector in pain3d."""

AU_DESCRIPTIONS: dict[str, str] = {
    "AU4": "brow lowerer",
    "AU6": "cheek raiser",
    "AU7": "lid tightener",
    "AU9": "nose wrinkler",
    "AU10": "upper lip raiser",
    "AU43": "eyes closed",
}

NUISANCE_AUS: tuple[str, ...] = ("AU1", "AU2", "AU12", "AU25", "AU26")
"""Non-pain AUs the geometry stage may add as variation; they never enter PSPI."""

AU_MAX = 5.0
AU43_INDEX = 5
PSPI_MAX = 16
N_AUS = len(AU_NAMES)

_ALIASES = {name: name for name in AU_NAMES}
_ALIASES.update({f"AU0{n[2:]}": n for n in AU_NAMES if len(n) == 3})  # AU04 -> AU4


class AUValueError(ValueError):
    """An AU vector or mapping that is not a valid pain-AU configuration."""


def canonical_au_name(name: str) -> str:
    """Return the canonical spelling of a pain AU name (``"au04"`` -> ``"AU4"``).

    Raises:
        AUValueError: if the name is not one of the six pain AUs.
    """
    key = str(name).strip().upper()
    if key in _ALIASES:
        return _ALIASES[key]
    raise AUValueError(
        f"unknown AU name {name!r}: the pain AUs are {', '.join(AU_NAMES)}"
    )


def _check_values(values: np.ndarray, where: str = "") -> None:
    """Raise if any AU in ``values`` (..., 6) is non-finite, out of 0..5, or AU43 not in {0,1}."""
    for i, name in enumerate(AU_NAMES):
        col = values[..., i]
        bad = ~np.isfinite(col)
        if bad.any():
            v = float(col[bad].flat[0])
            raise AUValueError(f"{where}{name} = {v} is not a finite number")
        bad = (col < 0) | (col > AU_MAX)
        if bad.any():
            v = col[bad].flat[0]
            raise AUValueError(f"{where}{name} = {v:g} is outside the FACS range 0..5")
        if i == AU43_INDEX:
            bad = (col != 0) & (col != 1)
            if bad.any():
                v = col[bad].flat[0]
                raise AUValueError(
                    f"{where}AU43 = {v:g}: AU43 (eyes closed) has no intensity, use 0 or 1"
                )


def au_vector(aus: Mapping[str, Any] | Sequence[Any] | np.ndarray, *, fill_missing: bool = False
              ) -> np.ndarray:
    """Validate AUs and return them as a float64 array in canonical order.

    Args:
        aus: a mapping ``{"AU4": 2, ...}`` (names are case-insensitive, ``AU04`` accepted),
            or a sequence / array whose last axis has length 6 in canonical order.
        fill_missing: for mappings, treat absent AUs as 0 instead of raising.

    Returns:
        ``(..., 6)`` float64 AU intensities on the FACS scale.

    Raises:
        AUValueError: naming the offending AU and value.
    """
    if isinstance(aus, Mapping):
        out = np.zeros(N_AUS, dtype=np.float64)
        seen = set()
        for key, value in aus.items():
            name = canonical_au_name(key)
            seen.add(name)
            out[AU_NAMES.index(name)] = _to_float(value, name)
        missing = [n for n in AU_NAMES if n not in seen]
        if missing and not fill_missing:
            raise AUValueError(f"missing AU(s) {', '.join(missing)}: give all of {AU_NAMES}")
        _check_values(out)
        return out
    try:
        arr = np.asarray(aus, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AUValueError(f"AU values must be numbers, got {aus!r}") from exc
    if arr.ndim == 0 or arr.shape[-1] != N_AUS:
        raise AUValueError(
            f"an AU vector has {N_AUS} values {list(AU_NAMES)}, got shape {arr.shape}"
        )
    _check_values(arr)
    return arr


def _to_float(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise AUValueError(f"{name} = {value!r} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise AUValueError(f"{name} = {value!r} is not a number") from exc


def pspi(aus: Any, *, validate: bool = True) -> Any:
    """Prkachin-Solomon Pain Intensity from AU intensities.

    Args:
        aus: one AU vector ``(6,)``, a mapping ``{"AU4": ...}``, a batch ``(..., 6)`` numpy
            array, or a torch tensor ``(..., 6)`` (gradients flow; not validated).
        validate: check ranges for numpy input (tensors are never checked, so training
            code can pass raw predictions).

    Returns:
        A float for a single vector or mapping, an array ``(...)`` for a batch, a tensor for a
        tensor.
    """
    if type(aus).__module__.startswith("torch"):
        a = aus
        return (a[..., 0] + a[..., 1:3].amax(dim=-1) + a[..., 3:5].amax(dim=-1) + a[..., 5])
    if isinstance(aus, Mapping):
        a = au_vector(aus)
    elif validate:
        a = au_vector(aus)
    else:
        a = np.asarray(aus, dtype=np.float64)
    out = (a[..., 0] + np.maximum(a[..., 1], a[..., 2]) + np.maximum(a[..., 3], a[..., 4])
           + a[..., 5])
    return float(out) if out.ndim == 0 else out


def aus_to_dict(vector: Sequence[float] | np.ndarray) -> dict[str, float]:
    """``[AU4, ..., AU43]`` -> ``{"AU4": ..., ...}`` (validated)."""
    v = au_vector(vector)
    return {name: float(x) for name, x in zip(AU_NAMES, v, strict=True)}


# --------------------------------------------------------------------------------------------
# AU-configuration sampling


@lru_cache(maxsize=1)
def integer_configurations() -> tuple[np.ndarray, np.ndarray]:
    """Every integer AU configuration and its PSPI.

    Returns:
        ``(6**5 * 2, 6)`` int64 configurations and ``(N,)`` int64 PSPI values.
    """
    grids = np.meshgrid(*([np.arange(6)] * 5), np.arange(2), indexing="ij")
    configs = np.stack([g.ravel() for g in grids], axis=-1).astype(np.int64)
    return configs, pspi(configs, validate=False).astype(np.int64)


@dataclass(frozen=True)
class PlanConfig:
    """How to draw the pain AU configurations of a dataset.

    Attributes:
        identities: number of identities N.
        per_identity: pain configurations per identity K (distinct PSPI levels if K <= 16).
        seed: random seed; the same seed gives the same plan.
        min_pspi: lowest PSPI level drawn (levels are uniform over min_pspi..16).
        continuous: draw float intensities; PSPI is computed exactly from the floats.
        nuisance_aus: names of non-pain AUs the geometry stage may add, e.g. ["AU12"].
        nuisance_max: highest intensity drawn for a nuisance AU (FACS 0..5).
    """

    identities: int = 2500
    per_identity: int = 10
    seed: int = 0
    min_pspi: int = 1
    continuous: bool = False
    nuisance_aus: tuple[str, ...] = field(default_factory=tuple)
    nuisance_max: float = 2.0

    def __post_init__(self) -> None:
        if self.identities < 1:
            raise ValueError(f"identities must be >= 1, got {self.identities}")
        if self.per_identity < 0:
            raise ValueError(f"per_identity must be >= 0, got {self.per_identity}")
        if not 0 <= self.min_pspi <= PSPI_MAX:
            raise ValueError(f"min_pspi must be in 0..16, got {self.min_pspi}")
        object.__setattr__(self, "nuisance_aus", tuple(self.nuisance_aus))
        for name in self.nuisance_aus:
            if name.upper() not in NUISANCE_AUS:
                raise ValueError(
                    f"nuisance AU {name!r} is not available: choose from {NUISANCE_AUS}"
                )
        if not 0 <= self.nuisance_max <= AU_MAX:
            raise ValueError(f"nuisance_max must be in 0..5, got {self.nuisance_max}")


@dataclass(frozen=True)
class PlanRow:
    """One pain configuration of one identity."""

    identity: int
    config: int  # 1..K, the Y of flame_sample_XXXX_pain_Y
    aus: tuple[float, ...]  # canonical order, FACS 0..5
    pspi: float
    target_level: int
    nuisance: tuple[tuple[str, float], ...] = ()


def _levels_for_plan(cfg: PlanConfig, rng: np.random.Generator) -> np.ndarray:
    """(N, K) int PSPI levels: uniform across the dataset, distinct within an identity.

    Identity i takes the K consecutive levels starting at a rotating offset of a shuffled
    cycle, so over N identities every level appears N*K/L times up to rounding, and within
    one identity the K levels are distinct whenever K <= L.
    """
    levels = np.arange(cfg.min_pspi, PSPI_MAX + 1)
    n_levels = len(levels)
    n, k = cfg.identities, cfg.per_identity
    out = np.empty((n, k), dtype=np.int64)
    offsets = rng.permutation(np.arange(n) * k % n_levels) if k else np.zeros(n, np.int64)
    for i in range(n):
        perm = rng.permutation(n_levels) if k > n_levels else None
        for j in range(k):
            if perm is None:
                out[i, j] = levels[(offsets[i] + j) % n_levels]
            else:
                out[i, j] = levels[perm[j % n_levels]]
    # Shuffle the order within each identity so config index carries no level information.
    for i in range(n):
        rng.shuffle(out[i])
    return out


def _continuous_config(level: int, rng: np.random.Generator) -> np.ndarray:
    """A float AU vector with PSPI exactly ``level`` (up to float rounding) near an integer one."""
    configs, levels = integer_configurations()
    base = configs[rng.choice(np.flatnonzero(levels == level))].astype(np.float64)
    if level == 0:
        return base
    # Move PSPI mass between the three continuous terms while keeping the sum.
    terms = np.array([base[0], max(base[1], base[2]), max(base[3], base[4])])
    budget = level - base[5]
    for _ in range(8):
        w = rng.dirichlet(np.ones(3)) * budget
        if (w <= AU_MAX).all():
            terms = w
            break
    vec = base.copy()
    vec[0] = terms[0]
    for pair, t in (((1, 2), terms[1]), ((3, 4), terms[2])):
        hi = pair[rng.integers(2)]
        lo = pair[0] if hi == pair[1] else pair[1]
        vec[hi] = t
        vec[lo] = rng.uniform(0.0, t)
    return vec


def sample_plan(cfg: PlanConfig) -> list[PlanRow]:
    """Draw the pain AU configurations of a dataset.

    PSPI levels are uniform over ``min_pspi..16`` across the dataset and distinct within an
    identity (when K <= number of levels); for each level the AU vector is drawn uniformly
    among all integer configurations with that PSPI, so both members of each max-pair vary.

    Returns:
        ``N * K`` rows ordered by identity, then config index 1..K.
    """
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0x9A1]))
    levels = _levels_for_plan(cfg, rng)
    configs, config_pspi = integer_configurations()
    by_level = {lv: np.flatnonzero(config_pspi == lv) for lv in range(PSPI_MAX + 1)}
    rows: list[PlanRow] = []
    for i in range(cfg.identities):
        used: set[tuple[float, ...]] = set()
        for j in range(cfg.per_identity):
            level = int(levels[i, j])
            for _ in range(100):
                if cfg.continuous:
                    vec = _continuous_config(level, rng)
                else:
                    vec = configs[rng.choice(by_level[level])].astype(np.float64)
                key = tuple(np.round(vec, 6))
                if key not in used:
                    break
            used.add(key)
            nuisance = tuple(
                (name.upper(), round(float(rng.uniform(0, cfg.nuisance_max)), 3))
                for name in cfg.nuisance_aus
            )
            rows.append(
                PlanRow(
                    identity=i,
                    config=j + 1,
                    aus=tuple(float(x) for x in vec),
                    pspi=float(pspi(vec, validate=False)),
                    target_level=level,
                    nuisance=nuisance,
                )
            )
    return rows


def plan_summary(rows: Sequence[PlanRow]) -> dict[str, Any]:
    """Counts per PSPI level, AU means and AU nonzero rates of a plan."""
    if not rows:
        return {"rows": 0}
    aus = np.array([r.aus for r in rows])
    levels = np.array([r.pspi for r in rows])
    hist = {int(lv): int((np.round(levels) == lv).sum()) for lv in range(PSPI_MAX + 1)}
    return {
        "rows": len(rows),
        "identities": len({r.identity for r in rows}),
        "pspi_mean": float(levels.mean()),
        "pspi_hist": hist,
        "au_mean": {n: float(aus[:, i].mean()) for i, n in enumerate(AU_NAMES)},
        "au_nonzero": {n: float((aus[:, i] > 0).mean()) for i, n in enumerate(AU_NAMES)},
        "chi2_uniform_p": _chi2_uniform_p(levels),
    }


def _chi2_uniform_p(levels: np.ndarray) -> float:
    from scipy.stats import chisquare

    lv = np.round(levels).astype(int)
    present = np.arange(max(1, int(lv.min())), PSPI_MAX + 1)
    counts = np.array([(lv == v).sum() for v in present])
    if len(counts) < 2 or counts.sum() == 0:
        return math.nan
    return float(chisquare(counts).pvalue)
