"""Synthetic Django packages for the benchmark and the backtest, generated column-wise in polars.

The mix follows the shipped sample (about 80% of real arrays are all zero): most packages are dormant, a
quarter are alive. An alive package's weeks follow a two-state Markov chain (active, quiet) with a small
weekly hazard of dying for good, so activity persists: a package busy in the first half of its window is
likely busy in the second, which is what makes the backtest's label predictable. Active weeks draw
1 + a geometric count around a package-level rate; rare history dumps, short arrays, invalid weeks,
missing arrays, stale fetches and missing last-commit dates are mixed in at realistic rates.

Randomness comes from hashing (package_id, stream) with polars' seeded hash, so a seed fixes the output
and no per-row Python runs.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import polars as pl

from warehouse.scoring import SCORE_INPUTS

WINDOW = 52
_DAY_US = 86_400 * 1_000_000
_WEEK_US = 7 * _DAY_US


def _uniform(seed: int, stream: int) -> pl.Expr:
    """A uniform draw in (0, 1) per package for one numbered stream."""
    bits = pl.col("package_id").hash(seed=seed * 1_000_003 + stream) // 2048  # the top 53 bits
    return (bits.cast(pl.Float64) + 0.5) / float(2**53)


def _normal(seed: int, stream: int) -> pl.Expr:
    """Box-Muller from two uniform streams (stream and stream + 1)."""
    radius = (-2.0 * _uniform(seed, stream).log()).sqrt()
    return radius * (2.0 * math.pi * _uniform(seed, stream + 1)).cos()


def synthetic_packages(n: int, seed: int = 0, scoring_date: date = date(2026, 3, 1)) -> pl.DataFrame:
    """`n` packages in score_packages' input layout, anchored around `scoring_date`.

    Columns: package_id, weeks, weeks_anchor_at, last_commit_at, stars, category_id, archived,
    supports_python3, plus `alive` (the generator's latent class, for inspection only).
    """
    tau = datetime(scoring_date.year, scoring_date.month, scoring_date.day, tzinfo=UTC)

    def u(stream: int) -> pl.Expr:
        return _uniform(seed, stream)

    frame = pl.LazyFrame({"package_id": pl.int_range(1, n + 1, eager=True).cast(pl.Int64)})

    # Package-level draws (streams 0-99).
    frame = frame.with_columns(
        (u(0) < 0.26).alias("alive"),
        (0.55 + 0.4 * u(1)).alias("_p_stay"),
        (0.01 + 0.25 * u(2) ** 2).alias("_p_wake"),
        (0.03 * u(3) ** 2).alias("_hazard"),
        (0.7 + 0.9 * _normal(seed, 4)).exp().alias("_rate"),
        (u(6) < 0.5).alias("_start_active"),
    )
    # Week by week (streams 100+): each week's state is its own column, so the chain never nests.
    steps: list[pl.Expr] = []
    for j in range(WINDOW):
        previous_active = pl.col("_start_active") if j == 0 else pl.col(f"_a{j - 1}")
        previous_alive = pl.col("alive") if j == 0 else pl.col(f"_l{j - 1}")
        steps.append(previous_alive & (u(100 + 3 * j) >= pl.col("_hazard")))
        frame = frame.with_columns(steps[-1].alias(f"_l{j}"))
        stay = pl.when(previous_active).then(pl.col("_p_stay")).otherwise(pl.col("_p_wake"))
        frame = frame.with_columns((pl.col(f"_l{j}") & (u(101 + 3 * j) < stay)).alias(f"_a{j}"))
    success = 1.0 / (1.0 + pl.col("_rate"))
    counts = []
    for j in range(WINDOW):
        geometric = (u(102 + 3 * j).log() / (1.0 - success).log()).floor().cast(pl.Int64)
        counts.append(pl.when(pl.col(f"_a{j}")).then(1 + geometric).otherwise(0).alias(f"_c{j}"))
    frame = frame.with_columns(counts)

    # A history dump: one week of hundreds to thousands of commits.
    dump_week = (u(10) * WINDOW).floor().cast(pl.Int64)
    dump_size = (100 + 3000 * u(11)).floor().cast(pl.Int64)
    has_dump = pl.col("alive") & (u(12) < 0.02)
    frame = frame.with_columns(
        pl.when(has_dump & (dump_week == j)).then(dump_size).otherwise(pl.col(f"_c{j}")).alias(f"_c{j}")
        for j in range(WINDOW)
    )
    # Short arrays (a new repository) and invalid weeks become nulls, as sanitize_weeks leaves them.
    short_len = (1 + u(13) * (WINDOW - 1)).floor().cast(pl.Int64)
    is_short = u(14) < 0.01
    invalid_week = (u(15) * WINDOW).floor().cast(pl.Int64)
    has_invalid = u(16) < 0.005
    frame = frame.with_columns(
        pl.when((is_short & (j < WINDOW - short_len)) | (has_invalid & (invalid_week == j)))
        .then(None)
        .otherwise(pl.col(f"_c{j}"))
        .alias(f"_c{j}")
        for j in range(WINDOW)
    )
    last_nonzero = pl.coalesce(
        [
            pl.when(pl.col(f"_c{j}") > 0).then(pl.lit(WINDOW - 1 - j, pl.Int64))
            for j in range(WINDOW - 1, -1, -1)
        ]
    )
    no_array = u(17) < 0.03

    # The fetch: mostly within two days of tau; some weeks stale; a few months stale.
    stale_draw = u(18)
    stale_weeks = (
        pl.when(stale_draw < 0.85)
        .then(u(19) * 2.0 / 7.0)
        .when(stale_draw < 0.97)
        .then(1.0 + 7.0 * u(19))
        .otherwise(8.0 + 52.0 * u(19))
    )
    anchor = pl.lit(tau) - pl.duration(microseconds=(stale_weeks * _WEEK_US).cast(pl.Int64))
    # The last commit: inside its week when the array shows one, else before the window (years for many).
    weeks_before_anchor = (
        pl.when(last_nonzero.is_not_null())
        .then(last_nonzero.cast(pl.Float64) + u(20))
        .otherwise(WINDOW + 150.0 * -u(21).log())
    )
    last_commit = pl.col("weeks_anchor_at") - pl.duration(
        microseconds=(weeks_before_anchor * _WEEK_US).cast(pl.Int64)
    )
    frame = frame.with_columns(
        pl.when(no_array)
        .then(None)
        .otherwise(pl.concat_list([f"_c{j}" for j in range(WINDOW)]))
        .alias("weeks"),
        anchor.cast(pl.Datetime("us", "UTC")).alias("weeks_anchor_at"),
    ).with_columns(
        pl.when(u(22) < 0.05).then(None).otherwise(last_commit).alias("last_commit_at"),
        (2.2 + 0.8 * pl.col("alive").cast(pl.Float64) + 1.8 * _normal(seed, 23))
        .exp()
        .floor()
        .cast(pl.Int64)
        .alias("stars"),
        (1 + (80 * u(25) ** 2).floor()).cast(pl.Int64).alias("category_id"),
        (u(26) < pl.when(pl.col("alive")).then(0.01).otherwise(0.08)).alias("archived"),
        pl.when(u(27) < 0.8)
        .then(True)
        .when(u(27) < 0.88)
        .then(False)
        .otherwise(None)
        .alias("supports_python3"),
    )
    return frame.select(*SCORE_INPUTS, "alive").collect()


def describe(frame: pl.DataFrame) -> dict[str, float]:
    """Shares that show the mix is realistic (printed by the benchmark)."""
    weeks = pl.col("weeks")
    return frame.select(
        weeks.is_null().mean().alias("no_array"),
        (weeks.list.sum() == 0).filter(weeks.is_not_null()).mean().alias("all_zero_among_arrays"),
        weeks.list.agg(pl.element().null_count())
        .gt(0)
        .filter(weeks.is_not_null())
        .mean()
        .alias("partial_among_arrays"),
        pl.col("last_commit_at").is_null().mean().alias("no_last_commit"),
        weeks.list.max().gt(25).mean().alias("with_dump_week"),
    ).row(0, named=True)
