"""The columns a scorer takes and the rows every score version gives, whatever its formula."""

from __future__ import annotations

import polars as pl

_INPUT_DTYPES: dict[str, pl.DataType] = {
    "package_id": pl.Int64(),
    "weeks": pl.List(pl.Int64),
    "weeks_anchor_at": pl.Datetime("us", "UTC"),
    "last_commit_at": pl.Datetime("us", "UTC"),
    "stars": pl.Int64(),
    "category_id": pl.Int64(),
    "archived": pl.Boolean(),
    "supports_python3": pl.Boolean(),
    "n_invalid": pl.UInt32(),
}
_REQUIRED_INPUTS = ("package_id", "weeks", "weeks_anchor_at")
# The columns callers hand to a scorer (n_invalid is optional, carried from sanitize_weeks).
SCORE_INPUTS: tuple[str, ...] = tuple(name for name in _INPUT_DTYPES if name != "n_invalid")

SCORE_SCHEMA: dict[str, pl.DataType] = {
    "package_id": pl.Int64(),
    "score_version": pl.String(),
    "activity_score": pl.Float64(),
    "recency": pl.Float64(),
    "consistency": pl.Float64(),
    "volume": pl.Float64(),
    "staleness_decay": pl.Float64(),
    "gap_weeks": pl.Float64(),
    "stale_weeks": pl.Float64(),
    "momentum": pl.Float64(),
    "burstiness": pl.Float64(),
    "status": pl.String(),
    "trend": pl.String(),
    "coverage": pl.String(),
    "censored": pl.Boolean(),
    "dump_weeks": pl.UInt32(),
    "n_invalid": pl.UInt32(),
    "inconsistent": pl.Boolean(),
    "archived": pl.Boolean(),
    "commits_52w": pl.Int64(),
    "last_nonzero_week_ago": pl.UInt32(),
    "percentile_category": pl.Float64(),
    "popularity_pct": pl.Float64(),
    "at_risk_popular": pl.Boolean(),
    "baseline_djangopackages": pl.Int64(),
    "baseline_sum_26w": pl.Int64(),
    "baseline_sum_52w": pl.Int64(),
    "baseline_recency": pl.Float64(),
}
# The columns ranked over the whole scored frame, after a version's scorer has given each package its score.
RANK_COLUMNS: tuple[str, ...] = ("percentile_category", "popularity_pct", "at_risk_popular")
# What a scorer returns: every other column of SCORE_SCHEMA, then the inputs the ranks group and order by.
UNRANKED_SCHEMA: dict[str, pl.DataType] = {
    **{name: dtype for name, dtype in SCORE_SCHEMA.items() if name not in RANK_COLUMNS},
    "category_id": pl.Int64(),
    "stars": pl.Int64(),
}

GRID_PERCENTILE_SCHEMA: dict[str, pl.DataType] = {
    "package_id": pl.Int64(),
    "grid_id": pl.Int64(),
    "percentile_grid": pl.Float64(),
}


def prepare_inputs(frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Cast the input to the contract's types; optional columns absent from the frame become nulls."""
    lazy = frame.lazy()
    schema = lazy.collect_schema()
    missing = [name for name in _REQUIRED_INPUTS if name not in schema]
    if missing:
        raise ValueError(f"score_packages: missing input columns {missing}")
    columns: list[pl.Expr] = []
    for name, dtype in _INPUT_DTYPES.items():
        if name not in schema:
            columns.append(pl.lit(None, dtype).alias(name))
            continue
        column = pl.col(name)
        given = schema[name]
        if isinstance(given, pl.Datetime):
            # Naive times are UTC by the warehouse's convention; aware ones are converted.
            column = (
                column.dt.replace_time_zone("UTC")
                if given.time_zone is None
                else column.dt.convert_time_zone("UTC")
            )
        columns.append(column.cast(dtype).alias(name))
    return lazy.select(columns)
