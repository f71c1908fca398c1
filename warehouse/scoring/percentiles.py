"""Where a package's score stands among others: within its category, within each grid, or among all.

Percentiles are mid-rank percentile ranks, 100 * (below + ties / 2) / N: ties share one value, a group of
one sits at 50, and no package is pushed to 0 or 100 by the group's size alone. They rank whatever
`activity_score` a version's scorer gave, so every version shares them.
"""

from __future__ import annotations

import polars as pl

from warehouse.scoring.constants import DPAS1, ScoreConstants
from warehouse.scoring.schema import GRID_PERCENTILE_SCHEMA, SCORE_SCHEMA, UNRANKED_SCHEMA


def _global_percentile(value: pl.Expr) -> pl.Expr:
    """Mid-rank percentile of `value` among all rows: 100 * (below + ties / 2) / N; null stays null."""
    return 100.0 * (value.rank("average") - 0.5) / value.is_not_null().sum()


def _percentile(frame: pl.DataFrame, value: pl.Expr, group: pl.Expr, min_group: int) -> pl.Expr:
    """Mid-rank percentile of `value` within `group`, or among all rows when the group is null or small.

    The global ranking is a full sort, so it is only built when some known value of `frame` needs it.
    """
    known = value.is_not_null()
    group_size = known.sum().over(group)
    group_pct = 100.0 * (value.rank("average").over(group) - 0.5) / group_size
    use_group = group.is_not_null() & (group_size >= min_group)
    if frame.select((known & ~use_group).any()).item():
        return pl.when(known & use_group).then(group_pct).when(known).then(_global_percentile(value))
    return pl.when(known).then(group_pct)


def rank_scores(
    unranked: pl.DataFrame, constants: ScoreConstants, grid_members: pl.DataFrame | None = None
) -> pl.DataFrame:
    """A scorer's rows (UNRANKED_SCHEMA) with their ranks, as SCORE_SCHEMA rows.

    `percentile_category` (activity) and `popularity_pct` (stars) rank within the category, or globally for
    a null category or one with fewer than `percentile_min_group` known values. `at_risk_popular`:
    popularity_pct >= 100 * at_risk_popularity and activity below at_risk_activity (null when unknown).
    `grid_members` (`grid_id`, `package_id`), when given, adds a last column `grid_percentiles`,
    List(Struct(grid_id, percentile_grid)): the package's rows of `grid_percentiles`.
    """
    c = constants
    missing = [name for name in UNRANKED_SCHEMA if name not in unranked.columns]
    if missing:
        raise ValueError(f"score version {c.version}: its scorer's rows lack the columns {missing}")
    category = pl.col("category_id")
    popular = pl.col("popularity_pct") >= 100.0 * c.at_risk_popularity
    scored = (
        unranked.lazy()
        .with_columns(
            _percentile(unranked, pl.col("activity_score"), category, c.percentile_min_group).alias(
                "percentile_category"
            ),
            _percentile(unranked, pl.col("stars").cast(pl.Float64), category, c.percentile_min_group).alias(
                "popularity_pct"
            ),
        )
        # Kleene logic: an active enough package is not at risk whatever its popularity; else unknown is null.
        .with_columns((popular & (pl.col("activity_score") < c.at_risk_activity)).alias("at_risk_popular"))
        .select(pl.col(name).cast(dtype) for name, dtype in SCORE_SCHEMA.items())
        .collect()
    )
    if grid_members is None:
        return scored
    nested = (
        grid_percentiles(scored, grid_members, c)
        .group_by("package_id", maintain_order=True)
        .agg(pl.struct("grid_id", "percentile_grid").alias("grid_percentiles"))
    )
    return scored.join(nested, on="package_id", how="left", maintain_order="left")


def grid_percentiles(
    scored: pl.DataFrame, grid_members: pl.DataFrame, constants: ScoreConstants = DPAS1
) -> pl.DataFrame:
    """Percentile of `activity_score` within each grid; one row per (grid, scored package) membership.

    A grid with fewer than `percentile_min_group` scored members gets each member's global percentile, taken
    over all of `scored` (the same value `percentile_category` falls back to). Unscored members (null score)
    get null; grid members absent from `scored` are left out.
    """
    scores = scored.lazy().select(
        pl.col("package_id").cast(pl.Int64),
        pl.col("activity_score"),
        _global_percentile(pl.col("activity_score")).alias("_global"),
    )
    members = (
        grid_members.lazy()
        .select(pl.col("grid_id").cast(pl.Int64), pl.col("package_id").cast(pl.Int64))
        .unique(maintain_order=True)
    )
    score = pl.col("activity_score")
    group_size = score.is_not_null().sum().over("grid_id")
    in_grid = 100.0 * (score.rank("average").over("grid_id") - 0.5) / group_size
    return (
        members.join(scores, on="package_id", how="inner", maintain_order="left")
        .select(
            "package_id",
            "grid_id",
            pl.when(score.is_not_null() & (group_size >= constants.percentile_min_group))
            .then(in_grid)
            .otherwise(pl.col("_global"))
            .alias("percentile_grid"),
        )
        .select([pl.col(name).cast(dtype) for name, dtype in GRID_PERCENTILE_SCHEMA.items()])
        .collect()
    )
