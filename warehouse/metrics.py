"""The daily metrics of every package: its state on a snapshot date joined across sources, and its score."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import polars as pl

from warehouse import contracts, identifiers
from warehouse.scoring import SCORE_INPUTS, SCORE_VERSION, grid_percentiles, lookup_version


def scoring_instant(snapshot_date: date) -> datetime:
    """τ: the snapshot date at 00:00 UTC."""
    return datetime.combine(snapshot_date, time(0), tzinfo=UTC)


FORGE_HOSTS = ("gitlab", "bitbucket")
_FORGE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "host": pl.String,
    "path": pl.String,
    "last_activity_at": pl.Datetime("us", "UTC"),
    "stars": pl.Int64,
    "forks": pl.Int64,
    "archived": pl.Boolean,
}


def package_inputs(
    packages: pl.DataFrame,
    repositories: pl.DataFrame,
    pypi: pl.DataFrame,
    snapshot_date: date,
    forges: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per package with the values the score and the metrics table need.

    The weekly array is GitHub's participation when there is one (fetched that day it ends at τ; reused
    from an earlier date, at that date's midnight), otherwise djangopackages' ``commits_over_52``, which
    ends at its ``last_fetched``. A GitLab or Bitbucket package has no weekly array (djangopackages counts
    no commits there, so its array is zeros): it scores from the last activity its host reported
    (``forges``: forge_repository_snapshots rows, none when not given), else djangopackages' last commit.
    """
    repos = repositories.filter(pl.col("status") == "ok").select(
        pl.col("full_name").alias("repo_full_name"),
        pl.col("stars").alias("gh_stars"),
        pl.col("forks").alias("gh_forks"),
        "open_issues",
        "watchers",
        "archived",
        pl.when(pl.col("participation_status").is_in(["ok", "unchanged"]))
        .then(pl.col("participation"))
        .alias("participation"),
        pl.col("participation_fetched_on").alias("weeks_fetched_on"),
    )
    hosted = (pl.DataFrame(schema=_FORGE_SCHEMA) if forges is None else forges).select(
        pl.format("{}:{}", "host", "path").alias("forge_at"),
        pl.col("last_activity_at").alias("forge_activity_at"),
        pl.col("stars").alias("forge_stars"),
        pl.col("forks").alias("forge_forks"),
        pl.col("archived").alias("forge_archived"),
    )
    projects = pypi.filter(pl.col("status") == "ok").select("pypi_name", "version", "supports_python3")
    tau = scoring_instant(snapshot_date)
    has_participation = pl.col("participation").is_not_null()
    on_forge = pl.col("repo_host").is_in(FORGE_HOSTS).fill_null(False)
    weeks = pl.when(on_forge).then(None).otherwise("commits_over_52")
    return (
        packages.with_columns(identifiers.forge_paths(pl.col("repo_url")).alias("forge_at"))
        .join(repos, on="repo_full_name", how="left")
        .join(hosted, on="forge_at", how="left")
        .join(projects, on="pypi_name", how="left")
        .select(
            pl.lit(snapshot_date).alias("snapshot_date"),
            "package_id",
            "category_id",
            pl.coalesce("gh_stars", "forge_stars", "stars").alias("stars"),
            pl.coalesce("gh_forks", "forge_forks", "forks").alias("forks"),
            "open_issues",
            "watchers",
            pl.coalesce("forge_activity_at", "last_updated_at").alias("last_commit_at"),
            pl.coalesce("version", "pypi_version").alias("latest_version"),
            pl.when(has_participation)
            .then(pl.lit("github"))
            .when(weeks.is_not_null())
            .then(pl.lit("djangopackages"))
            .otherwise(pl.lit("none"))
            .alias("weeks_source"),
            pl.when(has_participation).then("participation").otherwise(weeks).alias("weeks"),
            pl.when(has_participation)
            .then(
                pl.coalesce(
                    pl.col("weeks_fetched_on").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
                    pl.lit(tau),
                )
            )
            .when(weeks.is_not_null())
            .then("last_fetched_at")
            .alias("weeks_anchor_at"),
            pl.coalesce("archived", "forge_archived").alias("archived"),
            "supports_python3",
        )
    )


def daily_metrics(
    packages: pl.DataFrame,
    repositories: pl.DataFrame,
    pypi: pl.DataFrame,
    memberships: pl.DataFrame,
    snapshot_date: date,
    score_version: str = SCORE_VERSION,
    forges: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(daily_package_metrics rows, daily_grid_percentiles rows) for one snapshot date, scored with the
    registered version called `score_version`."""
    version = lookup_version(score_version)
    inputs = package_inputs(packages, repositories, pypi, snapshot_date, forges)
    members = memberships.select("package_id", "grid_id")
    scored = version.score(inputs.select(SCORE_INPUTS), snapshot_date)
    model_columns = contracts.DailyPackageMetrics.to_schema().columns
    metric_columns = list(model_columns)
    from_inputs = [c for c in inputs.columns if c in metric_columns]
    from_scores = [c for c in scored.columns if c in metric_columns and c not in from_inputs]
    metrics = inputs.select(from_inputs).join(scored.select("package_id", *from_scores), on="package_id")
    percentiles = grid_percentiles(scored, members, version.constants).with_columns(
        pl.lit(snapshot_date).alias("snapshot_date")
    )
    return (
        # The scorer's counters are UInt32; the warehouse stores BIGINT like every other count.
        metrics.select(metric_columns)
        .cast({c: model_columns[c].dtype.type for c in metric_columns})
        .sort("package_id"),
        percentiles.select(list(contracts.DailyGridPercentile.to_schema().columns)).sort(
            "grid_id", "package_id"
        ),
    )
