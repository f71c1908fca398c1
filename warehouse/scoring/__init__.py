"""DPAS-1, the Django Packages activity score, the baselines users know, and the versions a date can be
scored with.

The spec is the section "The activity score (DPAS-1)" of docs/ARCHITECTURE.md. One module per job:

- `weeks`: sanitizing `commits_over_52` into a weekly array (`sanitize_weeks`).
- `week_sums`: the per-package sums over that array and the week counts to the scoring date.
- `baselines`: djangopackages' own score, exactly, and the sum and recency baselines.
- `dpas`: the DPAS-1 formula, one named step per part of the spec (`score_packages`).
- `percentiles`: category, grid and global percentiles, shared by every version.
- `versions`: the registry; each version is its `ScoreConstants` plus its scorer (`SCORE_VERSIONS`).
- `vocabulary`: the status, trend and coverage words; `words`: the plain-words reason (`explain`).
"""

from warehouse.scoring.baselines import djangopackages_score
from warehouse.scoring.constants import DPAS1, SCORE_VERSION, ScoreConstants
from warehouse.scoring.dpas import dpas_1, score_packages
from warehouse.scoring.percentiles import grid_percentiles, rank_scores
from warehouse.scoring.schema import (
    GRID_PERCENTILE_SCHEMA,
    RANK_COLUMNS,
    SCORE_INPUTS,
    SCORE_SCHEMA,
    UNRANKED_SCHEMA,
)
from warehouse.scoring.versions import SCORE_VERSIONS, Scorer, ScoreVersion, lookup_version, register
from warehouse.scoring.vocabulary import COVERAGES, STATUSES, TRENDS
from warehouse.scoring.weeks import SANITIZED_WEEKS_DTYPE, sanitize_weeks
from warehouse.scoring.words import explain

__all__ = [
    "COVERAGES",
    "DPAS1",
    "GRID_PERCENTILE_SCHEMA",
    "RANK_COLUMNS",
    "SANITIZED_WEEKS_DTYPE",
    "SCORE_INPUTS",
    "SCORE_SCHEMA",
    "SCORE_VERSION",
    "SCORE_VERSIONS",
    "STATUSES",
    "TRENDS",
    "UNRANKED_SCHEMA",
    "ScoreConstants",
    "ScoreVersion",
    "Scorer",
    "djangopackages_score",
    "dpas_1",
    "explain",
    "grid_percentiles",
    "rank_scores",
    "register",
    "sanitize_weeks",
    "score_packages",
    "lookup_version",
]
