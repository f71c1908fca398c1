"""Pandera models: one per warehouse table, the single source of each table's schema.

The DuckDB DDL in ``migrations/`` must agree with these models (a test compares them), ingestion
quarantines the rows a model rejects, and the Dagster asset checks are generated from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

UTC_TS = pl.Datetime("us", "UTC")
SNAPSHOT_DATE = "snapshot_date"

STATUS_VALUES = ["active", "slowing", "stale", "inactive", "abandoned", "unknown"]
TREND_VALUES = ["rising", "declining", "steady", "n/a"]
COVERAGE_VALUES = ["full", "partial", "recency_only", "unknown"]
REPO_HOSTS = ["github", "gitlab", "bitbucket", "codeberg", "other", "none"]


class _Strict:
    strict = True
    coerce = False


class PackageSnapshot(pa.DataFrameModel):
    """One package as djangopackages listed it on a snapshot date."""

    snapshot_date: pl.Date
    package_id: pl.Int64 = pa.Field(ge=1, unique=True)
    slug: pl.String = pa.Field(str_length={"min_value": 1})
    title: pl.String
    category_id: pl.Int64 = pa.Field(nullable=True, ge=1)
    grid_ids: pl.List(pl.Int64) = pa.Field(nullable=True)
    repo_url: pl.String = pa.Field(nullable=True)
    repo_host: pl.String = pa.Field(isin=REPO_HOSTS)
    repo_full_name: pl.String = pa.Field(nullable=True)
    pypi_name: pl.String = pa.Field(nullable=True)
    pypi_version: pl.String = pa.Field(nullable=True)
    documentation_url: pl.String = pa.Field(nullable=True)
    repo_description: pl.String = pa.Field(nullable=True)
    stars: pl.Int64 = pa.Field(ge=0)
    forks: pl.Int64 = pa.Field(ge=0)
    participants: pl.List(pl.String) = pa.Field(nullable=True)
    commits_over_52: pl.List(pl.Int64) = pa.Field(nullable=True)
    last_updated_at: UTC_TS = pa.Field(nullable=True)
    last_fetched_at: UTC_TS
    created_at: UTC_TS = pa.Field(nullable=True)
    modified_at: UTC_TS = pa.Field(nullable=True)
    repairs: pl.List(pl.String)

    class Config(_Strict):
        pass


class CategorySnapshot(pa.DataFrameModel):
    """One category on a snapshot date."""

    snapshot_date: pl.Date
    category_id: pl.Int64 = pa.Field(ge=1, unique=True)
    slug: pl.String
    title: pl.String
    title_plural: pl.String = pa.Field(nullable=True)
    description: pl.String = pa.Field(nullable=True)
    show_pypi: pl.Boolean = pa.Field(nullable=True)
    created_at: UTC_TS = pa.Field(nullable=True)
    modified_at: UTC_TS = pa.Field(nullable=True)

    class Config(_Strict):
        pass


class GridSnapshot(pa.DataFrameModel):
    """One grid (a comparison of packages) on a snapshot date."""

    snapshot_date: pl.Date
    grid_id: pl.Int64 = pa.Field(ge=1, unique=True)
    slug: pl.String
    title: pl.String
    description: pl.String = pa.Field(nullable=True)
    is_locked: pl.Boolean = pa.Field(nullable=True)
    header: pl.Boolean = pa.Field(nullable=True)
    created_at: UTC_TS = pa.Field(nullable=True)
    modified_at: UTC_TS = pa.Field(nullable=True)

    class Config(_Strict):
        pass


class GridPackageSnapshot(pa.DataFrameModel):
    """One (grid, package) membership on a snapshot date."""

    snapshot_date: pl.Date
    grid_id: pl.Int64 = pa.Field(ge=1)
    package_id: pl.Int64 = pa.Field(ge=1)

    class Config(_Strict):
        unique = ["grid_id", "package_id"]


class RepositorySnapshot(pa.DataFrameModel):
    """One GitHub repository's state on a snapshot date."""

    snapshot_date: pl.Date
    full_name: pl.String = pa.Field(unique=True)
    status: pl.String = pa.Field(isin=["ok", "missing", "blocked"])
    github_id: pl.Int64 = pa.Field(nullable=True)
    name_with_owner: pl.String = pa.Field(nullable=True)
    stars: pl.Int64 = pa.Field(nullable=True, ge=0)
    forks: pl.Int64 = pa.Field(nullable=True, ge=0)
    watchers: pl.Int64 = pa.Field(nullable=True, ge=0)
    open_issues: pl.Int64 = pa.Field(nullable=True, ge=0)
    open_pull_requests: pl.Int64 = pa.Field(nullable=True, ge=0)
    pushed_at: UTC_TS = pa.Field(nullable=True)
    created_at: UTC_TS = pa.Field(nullable=True)
    archived: pl.Boolean = pa.Field(nullable=True)
    disabled: pl.Boolean = pa.Field(nullable=True)
    license: pl.String = pa.Field(nullable=True)
    default_branch: pl.String = pa.Field(nullable=True)
    topics: pl.List(pl.String) = pa.Field(nullable=True)
    participation_status: pl.String = pa.Field(nullable=True, isin=["ok", "pending", "missing", "blocked"])
    participation: pl.List(pl.Int64) = pa.Field(nullable=True)

    class Config(_Strict):
        pass


class PypiProject(pa.DataFrameModel):
    """One PyPI project's latest metadata on a snapshot date."""

    snapshot_date: pl.Date
    pypi_name: pl.String = pa.Field(unique=True)
    status: pl.String = pa.Field(isin=["ok", "missing"])
    version: pl.String = pa.Field(nullable=True)
    requires_python: pl.String = pa.Field(nullable=True)
    license: pl.String = pa.Field(nullable=True)
    django_versions: pl.List(pl.String) = pa.Field(nullable=True)
    supports_python3: pl.Boolean = pa.Field(nullable=True)
    release_count: pl.Int64 = pa.Field(nullable=True, ge=0)
    last_release_at: UTC_TS = pa.Field(nullable=True)
    last_serial: pl.Int64 = pa.Field(nullable=True)

    class Config(_Strict):
        pass


class ReleaseSnapshot(pa.DataFrameModel):
    """One released version of a PyPI project, as seen on a snapshot date."""

    snapshot_date: pl.Date
    pypi_name: pl.String
    version: pl.String = pa.Field(str_length={"min_value": 1})
    uploaded_at: UTC_TS = pa.Field(nullable=True)
    yanked: pl.Boolean
    requires_python: pl.String = pa.Field(nullable=True)

    class Config(_Strict):
        unique = ["pypi_name", "version"]


class DailyPackageMetrics(pa.DataFrameModel):
    """One package's metrics and DPAS activity score on a snapshot date."""

    snapshot_date: pl.Date
    package_id: pl.Int64 = pa.Field(ge=1, unique=True)
    stars: pl.Int64 = pa.Field(ge=0)
    forks: pl.Int64 = pa.Field(ge=0)
    open_issues: pl.Int64 = pa.Field(nullable=True, ge=0)
    watchers: pl.Int64 = pa.Field(nullable=True, ge=0)
    commits_52w: pl.Int64 = pa.Field(nullable=True, ge=0)
    last_commit_at: UTC_TS = pa.Field(nullable=True)
    latest_version: pl.String = pa.Field(nullable=True)
    weeks_source: pl.String = pa.Field(isin=["github", "djangopackages", "none"])
    weeks: pl.List(pl.Int64) = pa.Field(nullable=True)
    weeks_anchor_at: UTC_TS = pa.Field(nullable=True)
    archived: pl.Boolean = pa.Field(nullable=True)
    score_version: pl.String
    activity_score: pl.Float64 = pa.Field(nullable=True, ge=0, le=100)
    recency: pl.Float64 = pa.Field(nullable=True, ge=0, le=1)
    consistency: pl.Float64 = pa.Field(nullable=True, ge=0, le=1)
    volume: pl.Float64 = pa.Field(nullable=True, ge=0, le=1)
    staleness_decay: pl.Float64 = pa.Field(nullable=True, ge=0, le=1)
    gap_weeks: pl.Float64 = pa.Field(nullable=True, ge=0)
    stale_weeks: pl.Float64 = pa.Field(nullable=True, ge=0)
    momentum: pl.Float64 = pa.Field(nullable=True, ge=-1, le=1)
    burstiness: pl.Float64 = pa.Field(nullable=True, ge=-1, le=1)
    status: pl.String = pa.Field(isin=STATUS_VALUES)
    trend: pl.String = pa.Field(isin=TREND_VALUES)
    coverage: pl.String = pa.Field(isin=COVERAGE_VALUES)
    censored: pl.Boolean
    dump_weeks: pl.Int64 = pa.Field(nullable=True, ge=0)
    n_invalid: pl.Int64 = pa.Field(nullable=True, ge=0)
    inconsistent: pl.Boolean = pa.Field(nullable=True)
    last_nonzero_week_ago: pl.Int64 = pa.Field(nullable=True, ge=0)
    percentile_category: pl.Float64 = pa.Field(nullable=True, ge=0, le=100)
    popularity_pct: pl.Float64 = pa.Field(nullable=True, ge=0, le=100)
    at_risk_popular: pl.Boolean = pa.Field(nullable=True)
    baseline_djangopackages: pl.Int64 = pa.Field(nullable=True, ge=-500)
    baseline_sum_26w: pl.Int64 = pa.Field(nullable=True, ge=0)
    baseline_sum_52w: pl.Int64 = pa.Field(nullable=True, ge=0)
    baseline_recency: pl.Float64 = pa.Field(nullable=True, ge=0, le=100)

    class Config(_Strict):
        pass


class DailyGridPercentile(pa.DataFrameModel):
    """One package's activity percentile within one of its grids on a snapshot date."""

    snapshot_date: pl.Date
    grid_id: pl.Int64 = pa.Field(ge=1)
    package_id: pl.Int64 = pa.Field(ge=1)
    percentile_grid: pl.Float64 = pa.Field(nullable=True, ge=0, le=100)

    class Config(_Strict):
        unique = ["grid_id", "package_id"]


class RejectedRecord(pa.DataFrameModel):
    """One record that could not be used, with why and the payload as received."""

    snapshot_date: pl.Date
    source: pl.String
    record_key: pl.String
    fields: pl.List(pl.String)
    reasons: pl.String = pa.Field(str_length={"min_value": 1})
    payload: pl.String = pa.Field(nullable=True)

    class Config(_Strict):
        pass


TABLE_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "package_snapshots": PackageSnapshot,
    "category_snapshots": CategorySnapshot,
    "grid_snapshots": GridSnapshot,
    "grid_package_snapshots": GridPackageSnapshot,
    "repository_snapshots": RepositorySnapshot,
    "pypi_projects": PypiProject,
    "release_snapshots": ReleaseSnapshot,
    "daily_package_metrics": DailyPackageMetrics,
    "daily_grid_percentiles": DailyGridPercentile,
    "rejected_records": RejectedRecord,
}


@dataclass(frozen=True)
class Validation:
    """The rows of a frame that a model accepts, and a reason per rejected row (by row position)."""

    valid: pl.DataFrame
    failures: pl.DataFrame  # row (UInt32), field (String), reason (String); one row per failed check


def validate(model: type[pa.DataFrameModel], frame: pl.DataFrame) -> Validation:
    """Validate lazily (every failure, not the first) and split the frame into good rows and reasons.

    Frame-level failures (a missing column, a wrong dtype) are programming errors, not bad records, so
    they raise instead of quarantining every row.
    """
    empty = pl.DataFrame(schema={"row": pl.UInt32, "field": pl.String, "reason": pl.String})
    try:
        model.validate(frame, lazy=True)
        return Validation(frame, empty)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    row_level = cases.filter(pl.col("index").is_not_null())
    if row_level.height < cases.height:
        raise ValueError(f"{model.__name__}: frame does not match the table schema:\n{cases}")
    failures = row_level.select(
        pl.col("index").cast(pl.UInt32).alias("row"),
        pl.col("column").alias("field"),
        pl.format("{}: fails {} (value {})", "column", "check", "failure_case").alias("reason"),
    ).unique(maintain_order=True)
    bad = failures.get_column("row").unique()
    valid = frame.with_row_index("_row").filter(~pl.col("_row").is_in(bad.implode())).drop("_row")
    return Validation(valid, failures)
