"""The run ledger that publishes a date: its guards, its counts, and the one transaction that makes the
staged date the warehouse's. (The scores are computed with the core tables: ``assets.core``.)"""

from collections.abc import Collection
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from assets.checks import contract_check_result, contract_check_spec
from assets.partitions import daily_partitions, partition_date, table_metadata
from assets.raw import raw_djangopackages, raw_forges, raw_github, raw_pypi
from assets.resources import GuardsResource, WarehouseResource
from assets.staging import (
    PublicationRefused,
    raw_source,
    run_key,
    run_mode,
    run_started,
    staged,
    staging_path,
)
from warehouse import compaction, guards, runs, staging, store
from warehouse.store import Warehouse

# What a capture publishes as raw_records and raw_requests.
RAW_ASSET_KEYS = (raw_djangopackages.key, raw_github.key, raw_pypi.key, raw_forges.key)


class PublishConfig(dg.Config):
    # Guards a person has looked at and lets through (`dpw ingest --date D --allow GUARD`).
    allow: list[str] = []


def compact(context: dg.AssetExecutionContext, main: Path) -> None:
    """Compact the months that are due (``warehouse.compaction``), each in its own transaction. The date is
    published already and nothing here may fail its run: an error is logged, and the month stays due for
    the next run."""
    try:
        with Warehouse(main) as wh:
            done = compaction.compact_due(wh)
    except Exception as err:  # noqa: BLE001 - housekeeping after the publication, retried by the next run
        context.log.warning(f"compaction of closed months skipped: {err}")
        return
    for month in done:
        context.log.info(f"compacted {month.month:%Y-%m}: {month.rows:,} rows in {month.seconds:.1f} s")


def previous_facts(main: Path, day: date) -> tuple[guards.DayFacts | None, guards.RawFacts | None]:
    """The guards' view of the latest published date before ``day``, if there is one, and the facts of its
    raw when they were read from the raw (none stored, or of another version), for the publication to keep."""
    if not main.exists():
        return None, None
    # A writer's patience, not a reader's: the run is about to wait as long for its publication anyway.
    with Warehouse.current(main, wait=store.WRITER_WAIT) as wh:
        earlier = wh.row(
            "SELECT max(snapshot_date) FROM raw_records WHERE snapshot_date < ? "
            "AND source = 'djangopackages/packages'",
            [day],
        )[0]
        if earlier is None:
            return None, None
        stored = guards.stored_raw_facts(wh, earlier)
        raw = stored or guards.raw_facts(wh, earlier)
        return guards.day_facts(wh, earlier, raw), None if stored else raw


def unmaterialized(selected: Collection[dg.AssetKey], *, capture: bool) -> list[str]:
    """The assets whose tables a run publishes that it does not materialize (``selected``). A run of part of
    the graph, launched from the UI, stages nothing for them: published, the date's rows there, and a
    capture's raw of the sources it left out, would be replaced with none."""
    published = [*(RAW_ASSET_KEYS if capture else ()), *map(dg.AssetKey, staging.DERIVED_TABLES)]
    return [key.to_user_string() for key in published if key not in selected]


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
    metadata=table_metadata("ingest_runs"),
    check_specs=[contract_check_spec("ingest_runs"), contract_check_spec("guard_results", "ingest_runs")],
)
def ingest_runs(
    context: dg.AssetExecutionContext,
    config: PublishConfig,
    warehouse: WarehouseResource,
    dataset_guards: GuardsResource,
) -> dg.MaterializeResult:
    """One row per run: how it got its data, its counts, which add up, and its guards; writing it publishes
    the run's staged date in one transaction."""
    day, run_id, main = partition_date(context), run_key(context), Path(warehouse.path)
    unknown = sorted(set(config.allow) - set(guards.GUARD_NAMES))
    if unknown:
        raise dg.Failure(
            f"--allow {', '.join(unknown)}: no such guard; guards are {', '.join(guards.GUARD_NAMES)}"
        )
    mode = run_mode(context)
    # The run's own assets: its job's, or the part of them a selection in the UI materializes.
    missing = unmaterialized(context.job_def.asset_layer.selected_asset_keys, capture=mode == "capture")
    if missing:
        raise dg.Failure(
            f"{day} not published: this run does not materialize {', '.join(missing)}, so its publication "
            "would replace the date's rows there with none. Materialize ingest_runs with everything below "
            f"raw (recompute_job, or `dpw ingest --date {day}`)"
        )
    started = run_started(context.instance, context.run.run_id)
    staged_file = staging_path(context, warehouse)
    source = None if mode == "capture" else raw_source(context, main, day, own=staged_file)
    # The guards judge what a capture fetched: they stop it on its way into the warehouse, not a
    # recompute or rescore of a date the warehouse already holds (whose raw was judged, or allowed, then).
    publishes_raw = source != main
    with staged(context, warehouse) as wh:
        if not wh.has_raw(day, "djangopackages/packages"):
            raise dg.Failure(f"no package record is staged for {day}: there is nothing to publish")
        # A date whose raw stays where it is (a recompute through the warehouse) has its raw's facts stored
        # since it was published: read instead of every document again (a second at 50,000 packages).
        stored = None if publishes_raw else guards.stored_raw_facts(wh, day)
        today = stored or guards.raw_facts(wh, day)
        previous, previous_raw = previous_facts(main, day)
        results = guards.evaluate(guards.day_facts(wh, day, today), previous, dataset_guards.thresholds())
        read = {day: today} if stored is None else {}
        if previous is not None and previous_raw is not None:
            read[previous.day] = previous_raw
        blocking = [r for r in results if publishes_raw and r.level == "fail" and r.name not in config.allow]
        message = None
        if blocking:
            message = (
                f"{day} not published: "
                + "; ".join(f"guard {r.name} failed: {r.message}" for r in blocking)
                + f". The capture is kept in {staged_file}; after a look, `dpw ingest --date {day} "
                + " ".join(f"--allow {r.name}" for r in blocking)
                + "` publishes it without a request"
            )
        row = runs.run_summary(
            wh,
            day,
            run_id=run_id,
            mode=mode,
            started_at=started,
            finished_at=datetime.now(UTC),
            status="refused" if blocking else None,
            message=message,
        )
        sources = runs.source_rows(wh, day, run_id, mode)
    for r in results:
        if r.level != "ok":
            context.log.warning(f"guard {r.name} {r.level}: {r.message}")
    logs = {
        "ingest_runs": row,
        "ingest_run_sources": sources,
        "guard_results": runs.guard_rows(run_id, day, results, config.allow),
    }
    checks = [
        contract_check_result("ingest_runs", row),
        contract_check_result("guard_results", logs["guard_results"], "ingest_runs"),
    ]
    if not all(check.passed for check in checks):
        raise dg.Failure(f"the ledger rows of {day} fail their contract; nothing was published: {checks}")
    if blocking:
        runs.record(main, run_id, logs)
        raise PublicationRefused(description=message)
    tables = staging.PUBLISHED_TABLES if publishes_raw else staging.DERIVED_TABLES
    written = staging.publish(main, staged_file, day, run_id, logs, tables=tables, facts=read)
    # Only what this run used: another run's capture of the date (refused, or still fetching) stays.
    staging.discard(staged_file, *([source] if source not in (None, main) else []))
    if mode == "capture":  # a backfill's or rescore's runs leave it to the end of the whole range
        compact(context, main)
    summary = row.row(0, named=True)
    if summary["status"] != "ok":
        context.log.warning(f"counts do not add up for {day}: {summary}")
    return dg.MaterializeResult(
        metadata={
            **table_metadata("ingest_runs", 1),
            **{k: v for k, v in summary.items() if isinstance(v, int | str) and k != "run_id"},
            **{f"published:{table}": n for table, n in written.items()},
        },
        check_results=checks,
    )
