"""The baselines users know, beside the score: djangopackages' own score, commit sums, recency alone."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from warehouse.scoring._exprs import DAY_US, divide, to_expr, utc_literal


def whole_months(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    """12 * years + months of dateutil's relativedelta(later, earlier), vectorized.

    relativedelta takes the calendar-month difference, adds it to `earlier` (clipping the day to the end of
    the target month) and steps one month back towards `earlier` while that overshoots `later`. Within the
    target month only (day, time of day) decide the overshoot, so one comparison replaces the loop.
    """
    calendar = (later.dt.year().cast(pl.Int64) - earlier.dt.year().cast(pl.Int64)) * 12 + (
        later.dt.month().cast(pl.Int64) - earlier.dt.month().cast(pl.Int64)
    )
    later_key = (
        later.dt.day().cast(pl.Int64) * DAY_US + (later - later.dt.truncate("1d")).dt.total_microseconds()
    )
    clipped_day = pl.min_horizontal(earlier.dt.day().cast(pl.Int64), later.dt.days_in_month().cast(pl.Int64))
    earlier_key = clipped_day * DAY_US + (earlier - earlier.dt.truncate("1d")).dt.total_microseconds()
    overshoot_back = (later >= earlier) & (later_key < earlier_key)
    overshoot_forward = (later < earlier) & (later_key > earlier_key)
    return calendar - overshoot_back.cast(pl.Int64) + overshoot_forward.cast(pl.Int64)


def djangopackages_score(
    stars: pl.Expr | str,
    last_commit_at: pl.Expr | str,
    supports_python3: pl.Expr | str,
    now: date | datetime | pl.Expr,
) -> pl.Expr:
    """djangopackages' `Package.score` (package/scores.py), vectorized; Int64, null when stars is null.

    max(-500, int(W - P_age - P_py3)) with W = stars; P_age = trunc(m / 3) * W / 10 for m whole calendar
    months since the last commit (relativedelta), or W / 10 without a date (one quarter, despite upstream's
    "maximum penalty" comment); P_py3 = 0 if supports_python3 is True, else min(W * 30 / 100, 1000) (None
    counts as no Python 3). The float operations run in upstream's order, so int() truncates identically.
    Times are UTC, as upstream computes them since it set USE_TZ.
    """
    watchers = to_expr(stars).cast(pl.Float64)
    last = to_expr(last_commit_at)
    moment = now if isinstance(now, pl.Expr) else utc_literal(now)
    months = whole_months(moment, last)
    quarters = ((months.abs() // 3) * months.sign()).cast(pl.Float64)  # math.modf truncates toward zero
    age_penalty = (
        pl.when(last.is_not_null()).then(divide(quarters * watchers, 10)).otherwise(divide(watchers, 10))
    )
    py3_penalty = (
        pl.when(to_expr(supports_python3).fill_null(False))
        .then(pl.lit(0.0))
        .otherwise(pl.min_horizontal(divide(watchers * 30, 100), pl.lit(1000.0)))
    )
    raw = (watchers - age_penalty - py3_penalty).cast(pl.Int64)  # float -> int truncates toward zero
    return pl.when(watchers.is_not_null()).then(pl.max_horizontal(raw, pl.lit(-500, pl.Int64)))


def simple_baselines(
    has_array: pl.Expr, sum_26w: pl.Expr, sum_52w: pl.Expr, recency: pl.Expr
) -> list[pl.Expr]:
    """The baselines a score is measured against: commits of the last 26 and 52 weeks (uncapped, null
    without an array) and 100 * recency, the gap alone."""
    return [
        pl.when(has_array).then(sum_26w).alias("baseline_sum_26w"),
        pl.when(has_array).then(sum_52w).alias("baseline_sum_52w"),
        (100.0 * recency).alias("baseline_recency"),
    ]
