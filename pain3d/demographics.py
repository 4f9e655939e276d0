"""Demographic vocabulary shared by the geometry and appearance stages."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

SEXES: tuple[str, ...] = ("female", "male")
AGE_BANDS: tuple[str, ...] = ("20-35", "36-60", "61-85")
ANCESTRIES: tuple[str, ...] = (
    "african",
    "east_asian",
    "south_asian",
    "european",
    "latino",
    "middle_eastern",
)

Sex = Literal["female", "male"]
AgeBand = Literal["20-35", "36-60", "61-85"]


@dataclass(frozen=True)
class Demographics:
    """Who a synthetic identity is meant to look like."""

    sex: str
    age_band: str
    ancestry: str

    def __post_init__(self) -> None:
        for value, allowed, key in (
            (self.sex, SEXES, "sex"),
            (self.age_band, AGE_BANDS, "age_band"),
            (self.ancestry, ANCESTRIES, "ancestry"),
        ):
            if value not in allowed:
                raise ValueError(f"{key} = {value!r} is not one of {allowed}")

    @property
    def prompt(self) -> str:
        """A text prompt for diffusion back-ends, e.g. 'a young Latino man'."""
        age = {"20-35": "young", "36-60": "middle-aged", "61-85": "elderly"}[self.age_band]
        who = {"female": "woman", "male": "man"}[self.sex]
        anc = {
            "african": "Black",
            "east_asian": "East Asian",
            "south_asian": "South Asian",
            "european": "White",
            "latino": "Latino",
            "middle_eastern": "Middle Eastern",
        }[self.ancestry]
        return f"a {age} {anc} {who} with a neutral expression"


def demographic_grid() -> list[Demographics]:
    """All sex x age band x ancestry cells, in a fixed order."""
    return [Demographics(*cell) for cell in itertools.product(SEXES, AGE_BANDS, ANCESTRIES)]


def balanced_demographics(n: int, seed: int = 0) -> list[Demographics]:
    """Demographics for ``n`` identities filling the grid evenly (cell counts differ by <= 1).

    Whole passes over the grid come first; the remainder takes distinct cells chosen by
    ``seed``, so any prefix of a plan is as balanced as possible.
    """
    import numpy as np

    grid = demographic_grid()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xDE40]))
    out: list[Demographics] = []
    while len(out) < n:
        order = rng.permutation(len(grid))
        out.extend(grid[i] for i in order[: n - len(out)])
    return out
