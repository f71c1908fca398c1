"""The score versions `dpw rescore --score-version V` can pick: each is its constants plus its scorer.

A new version is registered beside the old ones, never an edit of them, so any stored date can be
recomputed with any version. A version that only changes constants reuses DPAS-1's scorer; a new formula
is a new scorer: a function from the scorer inputs (SCORE_INPUTS), the scoring date and the version's
constants to one row per package in UNRANKED_SCHEMA. The ranks (percentiles, at-risk) are computed the
same way for every version, over whatever `activity_score` its scorer gave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

import polars as pl

from warehouse.scoring.constants import DPAS1, SCORE_VERSION, ScoreConstants
from warehouse.scoring.dpas import dpas_1
from warehouse.scoring.percentiles import rank_scores


class Scorer(Protocol):
    def __call__(
        self, frame: pl.DataFrame | pl.LazyFrame, scoring_date: date, constants: ScoreConstants, /
    ) -> pl.DataFrame: ...


@dataclass(frozen=True)
class ScoreVersion:
    constants: ScoreConstants
    scorer: Scorer

    @property
    def name(self) -> str:
        return self.constants.version

    def score(
        self,
        frame: pl.DataFrame | pl.LazyFrame,
        scoring_date: date,
        grid_members: pl.DataFrame | None = None,
    ) -> pl.DataFrame:
        """SCORE_SCHEMA rows for `frame` as of `scoring_date` (see `score_packages` for the columns)."""
        unranked = self.scorer(frame, scoring_date, self.constants)
        return rank_scores(unranked, self.constants, grid_members)


# Every registered version by name; the CLI and the scoring asset look names up here.
SCORE_VERSIONS: dict[str, ScoreVersion] = {}


def register(version: ScoreVersion) -> ScoreVersion:
    """Make `version` selectable by its name; a name, once registered, keeps its meaning."""
    if version.name in SCORE_VERSIONS:
        raise ValueError(
            f"score version {version.name!r} is already registered; a new version needs a new name"
        )
    SCORE_VERSIONS[version.name] = version
    return version


def lookup_version(name: str = SCORE_VERSION) -> ScoreVersion:
    """The registered version called `name` (the current one by default)."""
    try:
        return SCORE_VERSIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown score version {name!r}; known: {', '.join(sorted(SCORE_VERSIONS))}"
        ) from None


register(ScoreVersion(DPAS1, dpas_1))
