"""Pandera models: one per warehouse table, the single source of each table's schema.

The DuckDB DDL in ``migrations/`` must agree with these models (a test compares them), ingestion
quarantines the rows a model rejects, and the Dagster asset checks are generated from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeAlias

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from warehouse.scoring.vocabulary import COVERAGES, STATUSES, TRENDS

# pandera reads a parametrised polars dtype from Annotated metadata; an instance such as
# pl.Datetime("us", "UTC") works as an annotation at runtime but is not a type to a type checker.
UTC_TS: TypeAlias = Annotated[pl.Datetime, "us", "UTC"]
INT_LIST: TypeAlias = Annotated[pl.List, pl.Int64]
STRING_LIST: TypeAlias = Annotated[pl.List, pl.String]
SNAPSHOT_DATE = "snapshot_date"

REPO_HOSTS = ["github", "gitlab", "bitbucket", "codeberg", "other", "none"]


class _Strict:
    strict = True
    coerce = False


class _StrictModel(pa.DataFrameModel):
    """A base that makes a model strict (no column beyond its fields) without coercion. pandera reads a
    model's options from the ``Config`` classes of its DataFrameModel bases, each by its own attributes
    (``vars``), so ``class Config(_Strict)`` alone sets neither option; a model inheriting this one has both.
    The history and mart models below use it."""

    class Config:
        strict = True
        coerce = False


class PackageSnapshot(pa.DataFrameModel):
    """One package as djangopackages listed it on a snapshot date."""

    snapshot_date: pl.Date
    package_id: pl.Int64 = pa.Field(ge=1, unique=True)
    slug: pl.String = pa.Field(str_length={"min_value": 1})
    title: pl.String
    category_id: pl.Int64 = pa.Field(nullable=True, ge=1)
    grid_ids: INT_LIST = pa.Field(nullable=True)
    repo_url: pl.String = pa.Field(nullable=True)
    repo_host: pl.String = pa.Field(isin=REPO_HOSTS)
    repo_full_name: pl.String = pa.Field(nullable=True)
    pypi_name: pl.String = pa.Field(nullable=True)
    pypi_version: pl.String = pa.Field(nullable=True)
    documentation_url: pl.String = pa.Field(nullable=True)
    repo_description: pl.String = pa.Field(nullable=True)
    stars: pl.Int64 = pa.Field(ge=0)
    forks: pl.Int64 = pa.Field(ge=0)
    participants: STRING_LIST = pa.Field(nullable=True)
    commits_over_52: INT_LIST = pa.Field(nullable=True)
    last_updated_at: UTC_TS = pa.Field(nullable=True)
    last_fetched_at: UTC_TS
    created_at: UTC_TS = pa.Field(nullable=True)
    modified_at: UTC_TS = pa.Field(nullable=True)
    repairs: STRING_LIST

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
    status: pl.String = pa.Field(isin=["ok", "missing", "blocked", "failed"])
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
    topics: STRING_LIST = pa.Field(nullable=True)
    # unchanged: the array fetched earlier (answered 304 today, or not asked: nothing was pushed since).
    participation_status: pl.String = pa.Field(
        nullable=True, isin=["ok", "unchanged", "pending", "missing", "blocked", "failed"]
    )
    participation: INT_LIST = pa.Field(nullable=True)
    participation_etag: pl.String = pa.Field(nullable=True)  # GitHub's, sent back as If-None-Match
    participation_fetched_on: pl.Date = pa.Field(nullable=True)  # the date the weekly array ends on

    class Config(_Strict):
        pass


class ForgeRepositorySnapshot(pa.DataFrameModel):
    """One GitLab project or Bitbucket repository linked from a package, on a snapshot date."""

    snapshot_date: pl.Date
    host: pl.String = pa.Field(isin=["gitlab", "bitbucket"])
    path: pl.String
    status: pl.String = pa.Field(isin=["ok", "gone", "deferred", "failed"])
    asked_on: pl.Date = pa.Field(nullable=True)
    last_activity_at: UTC_TS = pa.Field(nullable=True)
    stars: pl.Int64 = pa.Field(nullable=True, ge=0)
    forks: pl.Int64 = pa.Field(nullable=True, ge=0)
    archived: pl.Boolean = pa.Field(nullable=True)

    class Config(_Strict):
        unique = ["host", "path"]


class PypiProject(pa.DataFrameModel):
    """One PyPI project's latest metadata on a snapshot date."""

    snapshot_date: pl.Date
    pypi_name: pl.String = pa.Field(unique=True)
    status: pl.String = pa.Field(isin=["ok", "missing", "failed"])
    version: pl.String = pa.Field(nullable=True)
    requires_python: pl.String = pa.Field(nullable=True)
    license: pl.String = pa.Field(nullable=True)
    django_versions: STRING_LIST = pa.Field(nullable=True)
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
    weeks: INT_LIST = pa.Field(nullable=True)
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
    status: pl.String = pa.Field(isin=STATUSES)
    trend: pl.String = pa.Field(isin=TRENDS)
    coverage: pl.String = pa.Field(isin=COVERAGES)
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
    fields: STRING_LIST
    reasons: pl.String = pa.Field(str_length={"min_value": 1})
    payload: pl.String = pa.Field(nullable=True)

    class Config(_Strict):
        pass


class RawRecord(_StrictModel):
    """One record or document exactly as a source returned it on a snapshot date."""

    snapshot_date: pl.Date = pa.Field(description="the UTC date the record was fetched (its partition)")
    source: pl.String = pa.Field(
        description="what was asked: djangopackages/packages|categories|grids|pages, github/repository, "
        "github/participation, pypi/project, gitlab/project, bitbucket/repository"
    )
    record_key: pl.String = pa.Field(description="the id, owner/name or project name as requested")
    status: pl.String = pa.Field(
        isin=["ok", "invalid", "missing", "pending", "blocked", "failed", "unchanged", "skipped", "deferred"],
        description="ok; invalid (a list page that was not JSON); missing (404); pending (GitHub still "
        "computing); blocked (451 or FORBIDDEN); failed (no usable answer after retries: the payload says "
        "why); unchanged (PyPI serial had not moved: the document stored earlier); skipped (a source not "
        "asked at all, source <name>/skipped: the payload says why); deferred (not asked: the request budget was "
        "spent, the payload carries the state last fetched)",
    )
    document_id: pl.Int64 = pa.Field(
        nullable=True,
        description="the raw_documents row holding the JSON as received; null when there was none",
    )


class RawDocument(_StrictModel):
    """A document a source returned, stored once however many dates and records received it."""

    document_id: pl.Int64 = pa.Field(unique=True, ge=1, description="numbered in the order first stored")
    digest: pl.String = pa.Field(
        unique=True,
        str_length={"min_value": 32, "max_value": 32},
        description="the first 16 bytes of the SHA-256 of the document's UTF-8 text (a patch's too: of the "
        "full text it stands for), in hex",
    )
    base_id: pl.Int64 = pa.Field(
        nullable=True,
        ge=1,
        description="null: payload is the text; else payload is a patch of this full document "
        "(warehouse/raw.py reconstructs the text)",
    )
    payload: pl.String = pa.Field(
        description="compact JSON text exactly as received (a lone surrogate kept as its JSON escape), or a "
        "patch of the base: the values that changed, spliced in by position"
    )

    @pa.dataframe_check(error="a patch's base is another, full document of the table")
    @classmethod
    def based_on_full(cls, data: PolarsData) -> pl.LazyFrame:
        frame = data.lazyframe
        full = frame.filter(pl.col("base_id").is_null()).select("document_id")
        return frame.select(
            pl.col("base_id").is_null()
            | (
                pl.col("base_id").is_in(full.collect().get_column("document_id").implode())
                & (pl.col("base_id") != pl.col("document_id"))
            )
        )


class RawRequest(pa.DataFrameModel):
    """One request made to a source, failed or not."""

    snapshot_date: pl.Date = pa.Field(description="the date the request was made for")
    asset: pl.String = pa.Field(description="the raw asset that made it")
    source: pl.String = pa.Field(
        isin=["djangopackages", "github", "pypi", "gitlab", "bitbucket"], description="the service asked"
    )
    method: pl.String = pa.Field(isin=["GET", "POST"], description="HTTP method")
    path: pl.String = pa.Field(description="path and query relative to the base URL; never a token")
    status: pl.Int32 = pa.Field(nullable=True, description="HTTP status of the last attempt; null: no answer")
    attempts: pl.Int32 = pa.Field(ge=1, description="attempts made, retries included")
    ok: pl.Boolean = pa.Field(description="false when the request gave no usable answer")
    error: pl.String = pa.Field(nullable=True, description="why it failed, naming status and reason")
    elapsed_ms: pl.Float64 = pa.Field(ge=0, description="wall time of all attempts and waits")
    started_at: UTC_TS = pa.Field(description="when the first attempt started")

    class Config(_Strict):
        pass


RUN_STATUSES = ["started", "ok", "counts_mismatch", "refused", "failed", "interrupted"]


class IngestRun(pa.DataFrameModel):
    """One run of a date: how it got its data, what it counted, and how it ended."""

    run_id: pl.String = pa.Field(description="the Dagster run id")
    snapshot_date: pl.Date = pa.Field(description="the date the run built")
    mode: pl.String = pa.Field(
        isin=["capture", "recompute", "rescore"],
        description="capture (fetched from the sources), recompute or rescore (from stored raw)",
    )
    started_at: UTC_TS = pa.Field(description="when the run started")
    finished_at: UTC_TS = pa.Field(
        nullable=True, description="when it ended; null while running or if killed"
    )
    status: pl.String = pa.Field(
        isin=RUN_STATUSES,
        description="started (running, or killed), ok, counts_mismatch, refused (a guard failed: nothing "
        "published, the capture kept), failed, interrupted",
    )
    requests_djangopackages: pl.Int64 = pa.Field(ge=0, description="requests to djangopackages")
    requests_github: pl.Int64 = pa.Field(ge=0, description="requests to GitHub")
    requests_pypi: pl.Int64 = pa.Field(ge=0, description="requests to PyPI")
    requests_failed: pl.Int64 = pa.Field(ge=0, description="requests without a usable answer")
    records_fetched: pl.Int64 = pa.Field(ge=0, description="records received: accepted plus rejected")
    records_accepted: pl.Int64 = pa.Field(ge=0, description="records in a typed table")
    records_repaired: pl.Int64 = pa.Field(ge=0, description="accepted package records with a repair")
    records_rejected: pl.Int64 = pa.Field(ge=0, description="records in rejected_records")
    packages_scored: pl.Int64 = pa.Field(ge=0, description="rows in daily_package_metrics")
    score_version: pl.String = pa.Field(description="the score version of the date's metrics")
    message: pl.String = pa.Field(nullable=True, description="the one-line cause of a failure or refusal")

    class Config(_Strict):
        pass


class IngestRunSource(pa.DataFrameModel):
    """One source a capture asked or skipped: its requests, the 304s among them and the failures."""

    run_id: pl.String = pa.Field(description="the Dagster run id")
    snapshot_date: pl.Date = pa.Field(description="the date the run captured")
    source: pl.String = pa.Field(description="djangopackages, github, pypi, ...")
    status: pl.String = pa.Field(isin=["asked", "skipped"], description="asked, or skipped (message: why)")
    requests: pl.Int64 = pa.Field(ge=0, description="requests made, retries of one request counted once")
    not_modified: pl.Int64 = pa.Field(ge=0, description="requests answered 304: unchanged, no quota spent")
    failed: pl.Int64 = pa.Field(ge=0, description="requests without a usable answer")
    message: pl.String = pa.Field(nullable=True, description="why the source was skipped")

    class Config(_Strict):
        pass


class CompactedMonth(pa.DataFrameModel):
    """One month whose dated tables were rewritten in key order (``warehouse.compaction``)."""

    month: pl.Date = pa.Field(unique=True, description="the month's first day")
    compacted_at: UTC_TS = pa.Field(description="when it was rewritten")
    row_count: pl.Int64 = pa.Field(ge=0, description="rows rewritten, over every clustered table")

    class Config(_Strict):
        pass


class RawFactsRow(pa.DataFrameModel):
    """The dataset guards' facts of one published date's raw (``warehouse.guards.RawFacts``), so that later
    runs read them instead of every document of the date."""

    snapshot_date: pl.Date = pa.Field(unique=True, description="the date")
    version: pl.Int32 = pa.Field(ge=1, description="the version of the facts' definition that read them")
    fingerprint: pl.String = pa.Field(description="the date's raw rows when read: their count and hash sum")
    facts: pl.String = pa.Field(description="the facts, as JSON")
    computed_at: UTC_TS = pa.Field(description="when they were read")

    class Config(_Strict):
        pass


class GuardResultRow(pa.DataFrameModel):
    """One dataset guard a run evaluated before publishing its date."""

    run_id: pl.String = pa.Field(description="the run that evaluated it")
    snapshot_date: pl.Date = pa.Field(description="the date it guarded")
    guard: pl.String = pa.Field(description="the guard's name, as `dpw ingest --allow` takes it")
    level: pl.String = pa.Field(
        isin=["ok", "warn", "fail", "allowed"], description="ok, warn, fail, or allowed (let through)"
    )
    value: pl.Float64 = pa.Field(nullable=True, description="what was measured, when it is a number")
    message: pl.String = pa.Field(description="what was measured against what, naming field, URL or source")

    class Config(_Strict):
        unique = ["run_id", "guard"]


class WeeklyCommit(_StrictModel):
    """One package's commits in one week, from the latest snapshot whose 52-week array counts that week
    (warehouse/stitching.py)."""

    package_id: pl.Int64 = pa.Field(ge=1, description="the package")
    week_start: pl.Date = pa.Field(description="the week's Monday (UTC)")
    commits: pl.Int64 = pa.Field(ge=0, description="commits that week, as that snapshot counts them")
    source: pl.String = pa.Field(isin=["github", "djangopackages"], description="its weeks_source")
    observed_on: pl.Date = pa.Field(description="the date of the latest snapshot counting the week")

    # A snapshot's anchor is never after the end of its day (parsing rejects later times), so a week it
    # counts starts on or before its date; stitching.refresh looks for earlier observations on that ground.
    @pa.dataframe_check(error="week_start is a Monday on or before observed_on")
    @classmethod
    def placed(cls, data: PolarsData) -> pl.LazyFrame:
        week = pl.col("week_start")
        return data.lazyframe.select((week.dt.weekday() == 1) & (week <= pl.col("observed_on")))

    class Config(_Strict):
        unique = ["package_id", "week_start"]


ATTRIBUTES = [
    "title",
    "slug",
    "repo_url",
    "repo_host",
    "category_id",
    "description",
    "pypi_name",
    "grid",
    "archived",
    "license",
]


class AttributeInterval(_StrictModel):
    """One value a package's attribute held from one snapshot date until (exclusive) another."""

    package_id: pl.Int64 = pa.Field(ge=1)
    attribute: pl.String = pa.Field(isin=ATTRIBUTES)
    value: pl.String = pa.Field(nullable=True)
    valid_from: pl.Date
    valid_to: pl.Date = pa.Field(nullable=True)

    @pa.dataframe_check(error="valid_from before valid_to")
    @classmethod
    def ordered(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("valid_to").is_null() | (pl.col("valid_from") < pl.col("valid_to"))
        )

    class Config(_Strict):
        pass


# The marts (warehouse/marts.py). "Dormant" means inactive or abandoned, as everywhere.
DELTA_DAYS = (7, 30, 90)
# How much older than the date minus N days a delta's reference snapshot may be (days without a snapshot).
DELTA_SLACK_DAYS = 7
DORMANT: tuple[str, ...] = ("inactive", "abandoned")
TRANSITION_KINDS = ["newly_dormant", "revived", "changed"]


def _delta(what: str, days: int, bound: float | None = None) -> Any:
    return pa.Field(
        nullable=True,
        in_range=None if bound is None else {"min_value": -bound, "max_value": bound},
        description=f"{what} minus its value in the package's latest snapshot on or before the date minus {days} "
        f"days, no older than minus {days + DELTA_SLACK_DAYS}; null without such a snapshot or a value",
    )


class PackageDelta(_StrictModel):
    """One scored package on a snapshot date: stars, activity score and 52-week commits, and their change
    over 7, 30 and 90 days."""

    snapshot_date: pl.Date = pa.Field(description="the snapshot date")
    package_id: pl.Int64 = pa.Field(ge=1, description="the package")
    stars: pl.Int64 = pa.Field(ge=0, description="stars that date (daily_package_metrics)")
    activity_score: pl.Float64 = pa.Field(nullable=True, ge=0, le=100, description="DPAS score that date")
    commits_52w: pl.Int64 = pa.Field(nullable=True, ge=0, description="commits in the 52 weeks that date")
    stars_7d: pl.Int64 = _delta("stars", 7)
    stars_30d: pl.Int64 = _delta("stars", 30)
    stars_90d: pl.Int64 = _delta("stars", 90)
    score_7d: pl.Float64 = _delta("activity_score", 7, 100)
    score_30d: pl.Float64 = _delta("activity_score", 30, 100)
    score_90d: pl.Float64 = _delta("activity_score", 90, 100)
    commits_7d: pl.Int64 = _delta("commits_52w", 7)
    commits_30d: pl.Int64 = _delta("commits_52w", 30)
    commits_90d: pl.Int64 = _delta("commits_52w", 90)

    class Config(_Strict):
        unique = [SNAPSHOT_DATE, "package_id"]


# pandera puts a model's columns base classes first, so a health model inherits the date, then its key,
# then the shared counts: the two health tables state their common columns once.
class _Dated(_StrictModel):
    snapshot_date: pl.Date = pa.Field(description="the snapshot date")


class _CategoryKey(_Dated):
    category_id: pl.Int64 = pa.Field(ge=1, description="the category (packages without one are in no row)")


class _GridKey(_Dated):
    grid_id: pl.Int64 = pa.Field(ge=1, description="the grid, from the date's grid memberships")


def _count(status: str) -> Any:
    return pa.Field(ge=0, description=f"packages whose status is {status}")


class _Health(pa.DataFrameModel):
    packages: pl.Int64 = pa.Field(ge=1, description="scored packages in the group that date")
    active: pl.Int64 = _count("active")
    slowing: pl.Int64 = _count("slowing")
    stale: pl.Int64 = _count("stale")
    inactive: pl.Int64 = _count("inactive")
    abandoned: pl.Int64 = _count("abandoned")
    unknown: pl.Int64 = _count("unknown")
    median_score: pl.Float64 = pa.Field(
        nullable=True, ge=0, le=100, description="median of the packages' scores, where known (interpolated)"
    )
    p75_score: pl.Float64 = pa.Field(
        nullable=True, ge=0, le=100, description="75th percentile of the same scores (interpolated)"
    )
    share_active: pl.Float64 = pa.Field(ge=0, le=1, description="active / packages (unknown ones counted)")


class CategoryHealth(_Health, _CategoryKey):
    """One category on a snapshot date: its packages by status, median and p75 score, share active."""

    class Config(_Strict):
        unique = [SNAPSHOT_DATE, "category_id"]


class GridHealth(_Health, _GridKey):
    """One grid on a snapshot date: its packages by status, median and p75 score, share active."""

    class Config(_Strict):
        unique = [SNAPSHOT_DATE, "grid_id"]


class StatusTransition(_StrictModel):
    """A package whose status on a snapshot date differs from its status on the previous snapshot date (the
    latest earlier date with scores; a package absent that date has no transition)."""

    snapshot_date: pl.Date = pa.Field(description="the snapshot date")
    package_id: pl.Int64 = pa.Field(ge=1, description="the package")
    previous_date: pl.Date = pa.Field(description="the previous snapshot date")
    status_before: pl.String = pa.Field(isin=STATUSES, description="its status on previous_date")
    status_now: pl.String = pa.Field(isin=STATUSES, description="its status on snapshot_date")
    kind: pl.String = pa.Field(
        isin=TRANSITION_KINDS,
        description="newly_dormant: not dormant before, dormant now (dormant = inactive or abandoned); "
        "revived: dormant before, active or slowing now; changed: any other change",
    )

    class Config(_Strict):
        unique = [SNAPSHOT_DATE, "package_id"]


class ReleaseCadence(_StrictModel):
    """One package's PyPI project (found that date) on a snapshot date: how often it releases. Only
    non-yanked releases with an upload time count."""

    snapshot_date: pl.Date = pa.Field(description="the snapshot date")
    pypi_name: pl.String = pa.Field(description="the package's PyPI name that date")
    package_id: pl.Int64 = pa.Field(ge=1, description="the package")
    releases: pl.Int64 = pa.Field(ge=0, description="releases counted")
    latest_version: pl.String = pa.Field(
        nullable=True, description="the version of the newest upload counted (not PyPI's own ranking)"
    )
    latest_release_at: UTC_TS = pa.Field(nullable=True, description="its upload time")
    latest_age_days: pl.Int64 = pa.Field(
        nullable=True, ge=0, description="days from its upload date (UTC) to the snapshot date"
    )
    median_days_between: pl.Float64 = pa.Field(
        nullable=True, ge=0, description="median time between consecutive uploads, in days; null under two"
    )
    releases_365d: pl.Int64 = pa.Field(
        ge=0, description="releases uploaded in the 365 days up to the snapshot date (UTC dates)"
    )

    class Config(_Strict):
        unique = [SNAPSHOT_DATE, "package_id"]


class DjangoSupport(_StrictModel):
    """One Django version on a snapshot date: the packages whose PyPI project declares it with a
    `Framework :: Django :: X.Y` (or `:: X`) classifier."""

    snapshot_date: pl.Date = pa.Field(description="the snapshot date")
    django_version: pl.String = pa.Field(description="the version as the classifier gives it: X.Y or X")
    packages: pl.Int64 = pa.Field(ge=1, description="packages declaring it")
    share: pl.Float64 = pa.Field(
        gt=0, le=1, description="packages declaring it / packages with a PyPI project found that date"
    )

    class Config(_Strict):
        unique = [SNAPSHOT_DATE, "django_version"]


class PackageContributors(_StrictModel):
    """One listed package on a snapshot date: a contributor-concentration proxy from djangopackages'
    participants."""

    snapshot_date: pl.Date = pa.Field(description="the snapshot date")
    package_id: pl.Int64 = pa.Field(ge=1, description="the package")
    participants: pl.Int64 = pa.Field(
        nullable=True, ge=0, description="length of package_snapshots.participants; null when unknown"
    )
    single_maintainer: pl.Boolean = pa.Field(
        nullable=True, description="participants <= 1; null when participants is unknown"
    )

    class Config(_Strict):
        unique = [SNAPSHOT_DATE, "package_id"]


TABLE_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "package_snapshots": PackageSnapshot,
    "category_snapshots": CategorySnapshot,
    "grid_snapshots": GridSnapshot,
    "grid_package_snapshots": GridPackageSnapshot,
    "repository_snapshots": RepositorySnapshot,
    "forge_repository_snapshots": ForgeRepositorySnapshot,
    "pypi_projects": PypiProject,
    "release_snapshots": ReleaseSnapshot,
    "daily_package_metrics": DailyPackageMetrics,
    "daily_grid_percentiles": DailyGridPercentile,
    "rejected_records": RejectedRecord,
    "raw_records": RawRecord,
    "raw_documents": RawDocument,
    "raw_requests": RawRequest,
    "ingest_runs": IngestRun,
    "ingest_run_sources": IngestRunSource,
    "guard_results": GuardResultRow,
    "compacted_months": CompactedMonth,
    "raw_facts": RawFactsRow,
    "package_deltas": PackageDelta,
    "category_health": CategoryHealth,
    "grid_health": GridHealth,
    "status_transitions": StatusTransition,
    "release_cadence": ReleaseCadence,
    "django_support": DjangoSupport,
    "package_contributors": PackageContributors,
    "attribute_history": AttributeInterval,
    "weekly_commits": WeeklyCommit,
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
        # A null failure case (a not-null check) would make the whole reason null.
        pl.format(
            "{}: fails {} (value {})",
            "column",
            "check",
            pl.col("failure_case").cast(pl.String).fill_null("null"),
        ).alias("reason"),
    ).unique(maintain_order=True)
    bad = failures.get_column("row").unique()
    valid = frame.with_row_index("_row").filter(~pl.col("_row").is_in(bad.implode())).drop("_row")
    return Validation(valid, failures)
