"""Time and arithmetic expressions the score modules share."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

WEEK_US = 7 * 86_400 * 1_000_000
DAY_US = 86_400 * 1_000_000


def divide(numerator: pl.Expr, denominator: float) -> pl.Expr:
    """numerator / denominator, correctly rounded as Python's `/` is.

    polars divides a column by a scalar through the scalar's reciprocal, one rounding more, which can land
    an ulp off: enough for int() to truncate a djangopackages score to the neighbouring integer, or for an
    exact 13 weeks to read as 13.000000000000002. A full-length divisor takes the exact path.
    """
    return numerator / pl.when(numerator.is_not_null()).then(pl.lit(float(denominator)))


def to_expr(value: pl.Expr | str) -> pl.Expr:
    return pl.col(value) if isinstance(value, str) else value


def utc_literal(moment: date | datetime) -> pl.Expr:
    """A date (00:00 UTC) or a datetime (naive means UTC) as a Datetime("us", "UTC") literal."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return pl.lit(moment.astimezone(UTC)).cast(pl.Datetime("us", "UTC"))


def weeks_before(moment: pl.Expr, tau: pl.Expr) -> pl.Expr:
    """Weeks from `moment` to `tau`, fractional and never negative."""
    return divide((tau - moment).dt.total_microseconds(), WEEK_US).clip(lower_bound=0.0)
