"""DPAS-1, the Django Packages activity score: its formula, step by step as the spec states it.

The spec is the section "The activity score (DPAS-1)" of docs/ARCHITECTURE.md; this module is its single
implementation. Pure polars: no Dagster, no I/O, no Python loop per package. Every constant comes from a
`ScoreConstants`, so the same formula serves any version that only changes constants; a version with a
new formula brings its own scorer (see `warehouse.scoring.versions`). Week counts (s, weeks ago, the capped
sums) are as `warehouse.scoring.week_sums` defines them.

Choices the spec leaves open, and why:

- Censoring: an array with no commit and no `last_updated` says "no commit in the last n + s weeks"; the
  gap is set to max(n + s, 104) with n the observed span (from the oldest observed week to the newest).
  Using the span rather than the count of non-null weeks guarantees that any commit inside the span gives
  a smaller gap than the censored one, so one more commit never lowers the score.
- Coverage `partial`: an array with at least one unknown week (shorter than the window, or invalid entries).
  An array with no valid week at all, or without an anchor, cannot be placed in time and counts as absent.
- Archived repositories are flagged only; the formula is unchanged. An archived repository cannot receive
  commits, so its score already decays as time passes, and a separate penalty would make the score depend
  on something other than the activity it claims to measure.
"""

from __future__ import annotations

import math
from datetime import date

import polars as pl

from warehouse.scoring._exprs import divide, utc_literal
from warehouse.scoring.baselines import djangopackages_score, simple_baselines
from warehouse.scoring.constants import DPAS1, ScoreConstants
from warehouse.scoring.percentiles import rank_scores
from warehouse.scoring.schema import UNRANKED_SCHEMA, prepare_inputs
from warehouse.scoring.week_sums import week_aggregates

HAS_ARRAY = pl.col("_has_array")
HAS_COMMIT_DATE = pl.col("last_commit_at").is_not_null()
N_OBSERVED = pl.col("_n_obs")
CAPPED_SUM = pl.col("_capped_sum")
LAST_NONZERO = pl.col("_last_nonzero")
GAP = pl.col("gap_weeks")


def _observed() -> list[pl.Expr]:
    """What the array shows: whether there is one to place in time, its observed weeks, its capped commits,
    and s, its age at tau."""
    n_obs = pl.col("_prior_obs") + pl.col("_recent_obs")
    has_array = (n_obs > 0) & pl.col("weeks_anchor_at").is_not_null()
    return [
        has_array.alias("_has_array"),
        n_obs.alias("_n_obs"),
        (pl.col("_prior_sum") + pl.col("_r13")).alias("_capped_sum"),
        pl.when(has_array).then(pl.col("_s")).alias("stale_weeks"),
    ]


def _gap(c: ScoreConstants) -> list[pl.Expr]:
    """g = min(s + weeks since the last non-zero week, weeks since `last_updated`); an all-zero array without
    `last_updated` is censored at max(n + s, 104); no array and no `last_updated`: unknown."""
    s = pl.col("_s")
    censored = HAS_ARRAY & LAST_NONZERO.is_null() & ~HAS_COMMIT_DATE
    gap = (
        pl.when(censored)
        .then(pl.max_horizontal(pl.col("_span") + s, pl.lit(c.censor_floor_weeks)))
        .when(HAS_ARRAY)
        .then(pl.min_horizontal(s + LAST_NONZERO, pl.col("_since_commit")))
        .otherwise(pl.col("_since_commit"))
    )
    return [gap.alias("gap_weeks"), censored.alias("censored")]


def _components(c: ScoreConstants) -> list[pl.Expr]:
    """Recency R = 1 / (1 + (g / 26)^1.5); consistency C = share of blocks with a commit among observed
    blocks; volume V = min(1, ln(1 + capped commits) / ln(1 + 260)); staleness decay delta = 2^(-s / 26)."""
    recency = 1.0 / (1.0 + divide(GAP, c.recency_scale_weeks) ** c.recency_exponent)
    consistency = pl.col("_active_blocks") / pl.col("_observed_blocks")
    volume = divide((1.0 + CAPPED_SUM).log(), math.log(1.0 + c.volume_reference)).clip(upper_bound=1.0)
    return [
        recency.alias("recency"),
        pl.when(HAS_ARRAY).then(consistency).alias("consistency"),
        pl.when(HAS_ARRAY).then(volume).alias("volume"),
        (2.0 ** (-pl.col("stale_weeks") / c.staleness_half_life_weeks)).alias("staleness_decay"),
    ]


def _activity(c: ScoreConstants) -> pl.Expr:
    """100 * (0.40 R + delta (0.30 C + 0.30 V)); without an array, 100 * 0.40 R; null when g is unknown."""
    weighted = c.weight_recency * pl.col("recency") + pl.col("staleness_decay").fill_null(0.0) * (
        c.weight_consistency * pl.col("consistency").fill_null(0.0)
        + c.weight_volume * pl.col("volume").fill_null(0.0)
    )
    return pl.when(GAP.is_not_null()).then(100.0 * weighted).alias("activity_score")


def _momentum(c: ScoreConstants) -> pl.Expr:
    """M = tanh(1/2 ln((r13 + 1) / (p13 + 1))), p13 the prior weeks' mean scaled to 13 weeks; null (trend
    n/a) under 3 capped commits or under 13 observed prior weeks."""
    prior_scaled = pl.col("_prior_sum") / pl.col("_prior_obs") * c.momentum_weeks
    known = HAS_ARRAY & (CAPPED_SUM >= c.trend_min_commits) & (pl.col("_prior_obs") >= c.momentum_weeks)
    ratio = (pl.col("_r13") + 1.0) / (prior_scaled + 1.0)
    return pl.when(known).then((0.5 * ratio.log()).tanh()).alias("momentum")


def _burstiness() -> pl.Expr:
    """B = (sigma - mu) / (sigma + mu) of the capped weeks; null without commits."""
    # Both scaled by n: sqrt(n * sum(x^2) - sum(x)^2) is exact integer arithmetic under the root, so no
    # cancellation error however uniform the weeks are.
    spread = (N_OBSERVED * pl.col("_sum_sq") - CAPPED_SUM * CAPPED_SUM).cast(pl.Float64).sqrt()
    burstiness = (spread - CAPPED_SUM) / (spread + CAPPED_SUM)
    return pl.when(HAS_ARRAY & (CAPPED_SUM > 0)).then(burstiness).alias("burstiness")


def _status(c: ScoreConstants) -> pl.Expr:
    """From g: active <= 13 < slowing <= 26 < stale <= 52 < inactive <= 104 < abandoned, or unknown."""
    return (
        pl.when(GAP.is_null())
        .then(pl.lit("unknown"))
        .when(GAP <= c.status_active_weeks)
        .then(pl.lit("active"))
        .when(GAP <= c.status_slowing_weeks)
        .then(pl.lit("slowing"))
        .when(GAP <= c.status_stale_weeks)
        .then(pl.lit("stale"))
        .when(GAP <= c.status_inactive_weeks)
        .then(pl.lit("inactive"))
        .otherwise(pl.lit("abandoned"))
        .alias("status")
    )


def _trend(c: ScoreConstants) -> pl.Expr:
    """From M: rising >= 0.3, declining <= -0.3, else steady; n/a without a momentum."""
    m = pl.col("momentum")
    return (
        pl.when(m.is_null())
        .then(pl.lit("n/a"))
        .when(m >= c.trend_threshold)
        .then(pl.lit("rising"))
        .when(m <= -c.trend_threshold)
        .then(pl.lit("declining"))
        .otherwise(pl.lit("steady"))
        .alias("trend")
    )


def _coverage(c: ScoreConstants) -> pl.Expr:
    """full (every week observed), partial (an array with unknown weeks), recency_only (a last commit date
    alone), unknown (nothing)."""
    return (
        pl.when(HAS_ARRAY & (N_OBSERVED == c.window))
        .then(pl.lit("full"))
        .when(HAS_ARRAY)
        .then(pl.lit("partial"))
        .when(HAS_COMMIT_DATE)
        .then(pl.lit("recency_only"))
        .otherwise(pl.lit("unknown"))
        .alias("coverage")
    )


def _inconsistent(c: ScoreConstants) -> pl.Expr:
    """The array and `last_commit_at` disagree by more than the tolerance, either way."""
    tolerance = c.inconsistency_tolerance_weeks
    before_anchor = pl.col("_commit_before_anchor")
    date_too_old = LAST_NONZERO.is_not_null() & (before_anchor > LAST_NONZERO + 1 + tolerance)
    array_missed_it = (
        (before_anchor > tolerance)
        & (before_anchor < pl.col("_span") - tolerance)
        & (LAST_NONZERO.is_null() | (before_anchor < LAST_NONZERO - tolerance))
    )
    return (HAS_ARRAY & HAS_COMMIT_DATE & (date_too_old | array_missed_it)).alias("inconsistent")


def _counts() -> list[pl.Expr]:
    """The array's own figures, null without one: weeks above the cap, commits (uncapped), the newest week
    with commits, and the entries sanitizing dropped (when not given: the unknown weeks inside the span)."""
    return [
        pl.when(HAS_ARRAY).then(pl.col("_dumps")).alias("dump_weeks"),
        pl.coalesce(pl.col("n_invalid"), pl.when(HAS_ARRAY).then(pl.col("_span") - N_OBSERVED))
        .cast(pl.UInt32)
        .alias("n_invalid"),
        pl.when(HAS_ARRAY).then(pl.col("_sum_old") + pl.col("_sum_26")).alias("commits_52w"),
        pl.when(HAS_ARRAY).then(LAST_NONZERO).cast(pl.UInt32).alias("last_nonzero_week_ago"),
    ]


def dpas_1(
    frame: pl.DataFrame | pl.LazyFrame, scoring_date: date, constants: ScoreConstants = DPAS1
) -> pl.DataFrame:
    """DPAS-1's unranked rows (UNRANKED_SCHEMA) for `frame` as of `scoring_date`: a version's scorer."""
    c = constants
    tau = utc_literal(scoring_date)
    return (
        week_aggregates(prepare_inputs(frame).collect(), tau, c)
        .lazy()
        .with_columns(_observed())
        .with_columns(_gap(c))
        .with_columns(_components(c))
        .with_columns(
            _activity(c),
            _momentum(c),
            _burstiness(),
            _status(c),
            _coverage(c),
            _inconsistent(c),
            *_counts(),
            *simple_baselines(
                HAS_ARRAY, pl.col("_sum_26"), pl.col("_sum_old") + pl.col("_sum_26"), pl.col("recency")
            ),
            djangopackages_score("stars", "last_commit_at", "supports_python3", tau).alias(
                "baseline_djangopackages"
            ),
        )
        .with_columns(_trend(c), pl.lit(c.version).alias("score_version"))
        .select(pl.col(name).cast(dtype) for name, dtype in UNRANKED_SCHEMA.items())
        .collect()
    )


def score_packages(
    frame: pl.DataFrame | pl.LazyFrame,
    scoring_date: date,
    constants: ScoreConstants = DPAS1,
    grid_members: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Score every package of `frame` with DPAS-1 as of `scoring_date` (00:00 UTC); one row per input row.

    Input: `package_id` Int64, `weeks` List(Int64) (from `sanitize_weeks`; null = no array),
    `weeks_anchor_at` Datetime(UTC) (when the newest week ends), and optionally `last_commit_at`, `stars`,
    `category_id`, `archived`, `supports_python3`, `n_invalid` (absent columns count as null).

    Output columns, in order (SCORE_SCHEMA):
    - `activity_score` 0..100, null exactly when `coverage` is `unknown`; its components `recency` R,
      `consistency` C, `volume` V, `staleness_decay` delta; `gap_weeks` g; `stale_weeks` s.
    - `momentum` (null when the trend is n/a), `burstiness` (null without commits), `status`, `trend`,
      `coverage`.
    - `censored`: the gap is the censored value max(n + s, 104), because the array shows no commit and
      there is no last commit date. `dump_weeks`: observed weeks above the cap (typically a history dump
      pushed in one go), capped before scoring. `n_invalid`: entries sanitizing dropped (passed through when
      given; else the unknown weeks inside the observed span, a lower bound).
    - `inconsistent`: the array and `last_commit_at` disagree by more than the tolerance (a week), either
      way: the last commit date is older than the start of the newest week with commits, or it falls inside
      the observed span at least a week after the newest week with commits (or in an all-zero array).
      Weeks of merge commits only, which participation leaves out, also trip it. It flags; it never changes
      the score. `archived`: passed through, flag only.
    - `commits_52w`: uncapped sum of the observed weeks (null without an array); `last_nonzero_week_ago`.
    - `percentile_category`, `popularity_pct`, `at_risk_popular`: see `rank_scores`.
    - Baselines: `baseline_djangopackages` (djangopackages_score at tau), `baseline_sum_26w` and
      `baseline_sum_52w` (uncapped), `baseline_recency` = 100 * R (the gap alone).

    `grid_members` (`grid_id`, `package_id`), when given, adds a last column `grid_percentiles`,
    List(Struct(grid_id, percentile_grid)): the package's rows of `grid_percentiles`.
    """
    return rank_scores(dpas_1(frame, scoring_date, constants), constants, grid_members)
