"""Marts: the daily metrics and activity score of every package, and the run ledger."""

from datetime import UTC, datetime

import dagster as dg
import polars as pl

from assets.checks import contract_check_result, contract_check_spec
from assets.partitions import daily_partitions, partition_date, table_spec
from assets.resources import WarehouseResource
from warehouse.metrics import daily_metrics
from warehouse.runs import run_summary
from warehouse.scoring import SCORE_VERSION, SCORE_VERSIONS

MODE_TAG = "dpw/mode"


class ScoringConfig(dg.Config):
    score_version: str = SCORE_VERSION


@dg.multi_asset(
    specs=[
        table_spec(
            "daily_package_metrics",
            "One row per package per date: stars, forks, commits and the DPAS activity score with its parts.",
            ["package_snapshots", "grid_package_snapshots", "repository_snapshots", "pypi_projects"],
            "marts",
        ),
        table_spec(
            "daily_grid_percentiles",
            "One row per (grid, package) per date: the package's activity percentile within the grid.",
            ["package_snapshots", "grid_package_snapshots"],
            "marts",
        ),
    ],
    check_specs=[contract_check_spec("daily_package_metrics"), contract_check_spec("daily_grid_percentiles")],
)
def package_scores(context: dg.AssetExecutionContext, config: ScoringConfig, warehouse: WarehouseResource):
    day = partition_date(context)
    if config.score_version not in SCORE_VERSIONS:
        raise dg.Failure(f"unknown score version {config.score_version!r}; known: {sorted(SCORE_VERSIONS)}")
    with warehouse.open() as wh:
        metrics, percentiles = daily_metrics(
            wh.partition("package_snapshots", day),
            wh.partition("repository_snapshots", day),
            wh.partition("pypi_projects", day),
            wh.partition("grid_package_snapshots", day),
            day,
            SCORE_VERSIONS[config.score_version],
        )
        frames = {"daily_package_metrics": metrics, "daily_grid_percentiles": percentiles}
        wh.replace_partitions(day, frames)
        checks = [contract_check_result(table, wh.partition(table, day)) for table in frames]
    scored = metrics.filter(pl.col("activity_score").is_not_null())
    yield dg.MaterializeResult(
        asset_key="daily_package_metrics",
        metadata={
            "rows": metrics.height,
            "scored": scored.height,
            "score_version": config.score_version,
            "median_score": float(scored.get_column("activity_score").median() or 0.0),
        },
    )
    yield dg.MaterializeResult(asset_key="daily_grid_percentiles", metadata={"rows": percentiles.height})
    yield from checks


@dg.asset(
    partitions_def=daily_partitions,
    group_name="marts",
    kinds={"duckdb"},
    deps=[
        "daily_package_metrics",
        "daily_grid_percentiles",
        "release_snapshots",
        "rejected_records",
        "category_snapshots",
        "grid_snapshots",
    ],
)
def ingest_runs(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per run: when it ran, how it got its data, and requests and records per source, which add up."""
    day = partition_date(context)
    stats = context.instance.get_run_stats(context.run.run_id)
    started = datetime.fromtimestamp(stats.start_time or datetime.now(UTC).timestamp(), UTC)
    with warehouse.open() as wh:
        row = run_summary(
            wh,
            day,
            run_id=context.run.run_id,
            mode=context.run.tags.get(MODE_TAG, "capture"),
            started_at=started,
            finished_at=datetime.now(UTC),
        )
        wh.append("ingest_runs", row)
    summary = row.row(0, named=True)
    if summary["status"] != "ok":
        context.log.warning(f"counts do not add up for {day}: {summary}")
    return dg.MaterializeResult(
        metadata={k: v for k, v in summary.items() if isinstance(v, int | str) and k != "run_id"}
    )
