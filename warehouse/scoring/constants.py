"""The constants of a score version, and DPAS-1's."""

from __future__ import annotations

from dataclasses import dataclass, fields

SCORE_VERSION: str = "dpas-1.0"


@dataclass(frozen=True)
class ScoreConstants:
    """Every constant of one score version; a new version is a new instance, never an edit."""

    version: str
    week_cap: int  # commits counted per week at most
    window: int  # weeks in a sanitized array
    staleness_half_life_weeks: float  # array age that halves consistency and volume
    recency_scale_weeks: float  # gap at which recency is 0.5
    recency_exponent: float  # tail heaviness of recency
    weight_recency: float
    weight_consistency: float
    weight_volume: float
    volume_reference: int  # capped commits in the window that earn full volume
    censor_floor_weeks: float  # smallest gap assumed for an all-zero array without a last commit date
    block_weeks: int  # consistency counts blocks of this many weeks
    momentum_weeks: int  # recent period of the momentum ratio
    trend_threshold: float  # |momentum| at which the trend is rising or declining
    trend_min_commits: int  # fewer commits in the window: trend n/a
    status_active_weeks: float
    status_slowing_weeks: float
    status_stale_weeks: float
    status_inactive_weeks: float
    percentile_min_group: int  # smaller category or grid groups use the global percentile
    at_risk_popularity: float  # popularity share (0-1) from which a package counts as popular
    at_risk_activity: float  # activity score below which a popular package is at risk
    inconsistency_tolerance_weeks: float  # disagreement the array and last_updated may have

    def __post_init__(self) -> None:
        weights = self.weight_recency + self.weight_consistency + self.weight_volume
        if abs(weights - 1.0) > 1e-12:
            # The weights summing to one is what keeps the score within 0..100.
            raise ValueError(f"{self.version}: weights sum to {weights}, not 1")
        if not self.block_weeks <= self.momentum_weeks < self.window <= 255:
            # Per-week flags are summed as bytes, and momentum needs prior weeks inside the window.
            raise ValueError(f"{self.version}: window, momentum and block weeks out of range")

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


DPAS1 = ScoreConstants(
    version=SCORE_VERSION,
    week_cap=25,
    window=52,
    staleness_half_life_weeks=26.0,
    recency_scale_weeks=26.0,
    recency_exponent=1.5,
    weight_recency=0.40,
    weight_consistency=0.30,
    weight_volume=0.30,
    volume_reference=260,
    censor_floor_weeks=104.0,
    block_weeks=4,
    momentum_weeks=13,
    trend_threshold=0.3,
    trend_min_commits=3,
    status_active_weeks=13.0,
    status_slowing_weeks=26.0,
    status_stale_weeks=52.0,
    status_inactive_weeks=104.0,
    percentile_min_group=5,
    at_risk_popularity=0.8,
    at_risk_activity=20.0,
    inconsistency_tolerance_weeks=1.0,
)
