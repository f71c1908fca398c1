"""Per-package sums over the weekly array, and the week counts from the anchors to the scoring date.

Week arithmetic. A sanitized array holds `window` weekly counts, oldest first; the newest week ends at
`weeks_anchor_at` (djangopackages' `last_fetched`, or the GitHub fetch time). A commit in the newest week is
"0 weeks ago" at the anchor; in the week before, 1 week ago; and so on. The scoring date tau is the snapshot
date at 00:00 UTC, and s (`_s`, the score's `stale_weeks`) is the number of weeks, fractional and never
negative, from the anchor to tau. All week counts are continuous (days / 7), so the score moves smoothly
with time instead of jumping at week or month boundaries.

Weeks above the cap (`_dumps`) are counted and capped at `week_cap` in every sum the score family uses
(volume, consistency, momentum, burstiness): a one-off import of a decade of history must not look like a
year of work. The plain sums (`_sum_old`, `_sum_26`, behind `commits_52w` and the sum baselines) stay
uncapped, as users know them.
"""

from __future__ import annotations

import polars as pl

from warehouse.scoring._exprs import WEEK_US, divide, weeks_before
from warehouse.scoring.constants import ScoreConstants


def _normalized_weeks(prepared: pl.DataFrame, window: int) -> tuple[pl.DataFrame, pl.Series]:
    """`prepared` with `weeks` as sanitize_weeks leaves it, and a mask of the rows with no commit to count.

    Input from sanitize_weeks (exactly `window` entries, none negative) is used as is; anything else is
    brought to that form the way sanitize_weeks would: right-aligned (a short list is missing its oldest
    weeks, a long one keeps its newest `window`), negative counts unknown. The mask marks absent arrays and
    whole arrays of zeros, whose sums are constants.
    """
    weeks = pl.col("weeks")

    def shape(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(
            weeks.list.len().alias("length"),
            weeks.list.min().alias("min"),
            weeks.list.max().alias("max"),
            weeks.list.agg(pl.element().null_count()).alias("nulls"),
        )

    stats = shape(prepared)
    misaligned = stats.get_column("length").drop_nulls().ne(window).any()
    if misaligned or stats.get_column("min").lt(0).any():
        fixed = weeks
        if misaligned:
            padding = pl.lit([None] * window, dtype=pl.List(pl.Int64))
            fixed = pl.when(weeks.is_not_null()).then(pl.concat_list(padding, weeks).list.tail(window))
        fixed = fixed.list.eval(pl.when(pl.element() >= 0).then(pl.element()))
        prepared = prepared.with_columns(fixed.alias("weeks"))
        stats = shape(prepared)
    quiet = stats.select(
        (pl.col("length").is_null() | ((pl.col("max") == 0) & (pl.col("nulls") == 0))).fill_null(False)
    ).to_series()
    return prepared, quiet


def _busy_week_sums(busy: pl.DataFrame, c: ScoreConstants) -> pl.DataFrame:
    """Per-package sums (Int64) over the `weeks` of `busy`, one column per week slot in between.

    Splitting a list into a struct is several times faster than indexing it once per week, and the sums
    then run across columns.
    """
    window = c.window
    names = [f"_w{j}" for j in range(window)]
    raw = [pl.col(name) for name in names]
    capped = [pl.col(f"_x{j}") for j in range(window)]
    # Blocks end at the newest week, so the newest block is always whole.
    ends = range(window, 0, -c.block_weeks)
    blocks = [pl.col(f"_b{end}") for end in ends]
    observed = [w.is_not_null().cast(pl.UInt8) for w in raw]
    recent = window - c.momentum_weeks
    half = window - 26
    return (
        busy.lazy()
        .select(pl.col("weeks").list.to_struct(fields=names).alias("_weeks"))
        .unnest("_weeks")
        .with_columns(
            *(w.clip(upper_bound=c.week_cap).alias(f"_x{j}") for j, w in enumerate(raw)),
            *(pl.max_horizontal(raw[max(0, end - c.block_weeks) : end]).alias(f"_b{end}") for end in ends),
        )
        .select(
            pl.sum_horizontal(observed[:recent]).cast(pl.Int64).alias("_prior_obs"),
            pl.sum_horizontal(observed[recent:]).cast(pl.Int64).alias("_recent_obs"),
            pl.coalesce([pl.when(raw[j].is_not_null()).then(pl.lit(window - j)) for j in range(window)])
            .cast(pl.Int64)
            .alias("_span"),
            pl.coalesce([pl.when(raw[j] > 0).then(pl.lit(window - 1 - j)) for j in range(window - 1, -1, -1)])
            .cast(pl.Int64)
            .alias("_last_nonzero"),
            pl.sum_horizontal(raw[:half]).alias("_sum_old"),
            pl.sum_horizontal(raw[half:]).alias("_sum_26"),
            pl.sum_horizontal(capped[:recent]).alias("_prior_sum"),
            pl.sum_horizontal(capped[recent:]).alias("_r13"),
            pl.sum_horizontal([x * x for x in capped]).alias("_sum_sq"),
            pl.sum_horizontal([(w > c.week_cap).cast(pl.UInt8) for w in raw]).cast(pl.Int64).alias("_dumps"),
            pl.sum_horizontal([(b > 0).cast(pl.UInt8) for b in blocks])
            .cast(pl.Int64)
            .alias("_active_blocks"),
            pl.sum_horizontal([b.is_not_null().cast(pl.UInt8) for b in blocks])
            .cast(pl.Int64)
            .alias("_observed_blocks"),
        )
        .select(pl.all().cast(pl.Int64))
        .collect()
    )


def week_aggregates(prepared: pl.DataFrame, tau: pl.Expr, c: ScoreConstants) -> pl.DataFrame:
    """The prepared input (without `weeks`) plus per-package sums over its weeks and week counts to tau.

    All Int64 unless said: `_prior_obs` / `_recent_obs` observed weeks before / inside the last
    `momentum_weeks`; `_span` weeks from the oldest observed week to the newest (null without an array);
    `_last_nonzero` weeks ago of the newest week with commits (null if none); `_sum_old` / `_sum_26` uncapped
    commits before / inside the last 26 weeks; `_prior_sum` / `_r13` capped commits before / inside the last
    `momentum_weeks`; `_sum_sq` sum of the squared capped weeks; `_dumps` weeks above the cap;
    `_active_blocks` / `_observed_blocks` blocks with a commit / with an observed week. Float64: `_s` weeks
    from the anchor to tau, `_since_commit` from `last_commit_at` to tau, `_commit_before_anchor` from
    `last_commit_at` to the anchor (negative when after it).

    Most packages (about 80% of the real catalogue) have a whole array of zeros, whose sums are constants;
    only the others go through the per-week columns, and their sums are scattered back into place.
    """
    window = c.window
    frame, quiet = _normalized_weeks(prepared, window)
    sums = _busy_week_sums(frame.get_column("weeks").filter(~quiet).to_frame(), c)
    listed = pl.col("weeks").is_not_null()
    quiet_values = {
        "_prior_obs": pl.when(listed).then(window - c.momentum_weeks).otherwise(0),
        "_recent_obs": pl.when(listed).then(c.momentum_weeks).otherwise(0),
        "_span": pl.when(listed).then(window),
        "_observed_blocks": pl.when(listed).then(-(-window // c.block_weeks)).otherwise(0),
        "_last_nonzero": pl.lit(None),
    }
    columns = frame.select(
        quiet_values.get(name, pl.lit(0)).cast(pl.Int64).alias(name) for name in sums.columns
    ).get_columns()
    busy_rows = (~quiet).arg_true()
    for column in columns:
        column.scatter(busy_rows, sums.get_column(column.name))
    return (
        frame.drop("weeks")
        .with_columns(columns)
        .lazy()
        .with_columns(
            weeks_before(pl.col("weeks_anchor_at"), tau).alias("_s"),
            weeks_before(pl.col("last_commit_at"), tau).alias("_since_commit"),
            divide(
                (pl.col("weeks_anchor_at") - pl.col("last_commit_at")).dt.total_microseconds(), WEEK_US
            ).alias("_commit_before_anchor"),
        )
        .collect()
    )
