"""Running a date through Dagster: decide whether it can be captured or only recomputed, then run it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

import dagster as dg
import polars as pl

from assets.marts import MODE_TAG
from assets.sources.djangopackages import DjangoPackagesClient
from assets.sources.http import HttpClient, RequestLog, SourceError
from pipelines.definitions import build_defs
from pipelines.settings import Settings
from warehouse.runs import run_summary
from warehouse.store import Warehouse

Mode = Literal["capture", "recompute", "rescore"]
_JOBS = {"capture": "daily_job", "recompute": "recompute_job", "rescore": "rescore_job"}


class IngestRefused(Exception):
    """A date that can be neither captured nor recomputed; the message says why."""


@dataclass(frozen=True)
class IngestResult:
    day: date
    mode: Mode
    run_id: str
    summary: dict[str, object]  # the run's ingest_runs row
    failed_checks: tuple[str, ...] = ()  # contract checks that failed on stored rows


def sources_date(settings: Settings) -> date | None:
    """The sources' current date (the Date the djangopackages API answers with), or None when unreachable."""
    http = HttpClient(
        settings.djangopackages_url, source="djangopackages", log=RequestLog(), timeout=10, max_attempts=2
    )
    try:
        return DjangoPackagesClient(http).current_date()
    except SourceError:
        return None


def stored_raw(settings: Settings, day: date) -> bool:
    if not settings.warehouse.exists():
        return False
    with Warehouse(settings.warehouse, read_only=True) as wh:
        return wh.has_raw(day, "djangopackages/")


def plan(settings: Settings, day: date) -> Mode:
    """Capture when ``day`` is the sources' current date; recompute when its raw is stored; else refuse.

    The sources' clock decides, not this machine's: a replay server's today can be any date. So the source
    is asked first, once, and an unreachable source still lets a stored date recompute.
    """
    stored = stored_raw(settings, day)
    current = sources_date(settings)
    if current == day:
        return "capture"
    if stored:
        return "recompute"
    if current is None:
        raise IngestRefused(
            f"no raw data is stored for {day} and the sources at {settings.djangopackages_url} cannot be "
            "reached to capture it"
        )
    raise IngestRefused(
        f"no raw data is stored for {day}, and it cannot be captured: the sources' current date is {current}. "
        "Sources only tell 'now', so a date's raw data can only be captured on that date."
    )


def instance() -> dg.DagsterInstance:
    # With DAGSTER_HOME the runs are recorded where `dg dev` shows them; without it, in a throwaway instance.
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def run_date(
    settings: Settings,
    day: date,
    mode: Mode,
    *,
    score_version: str | None = None,
    dagster_instance: dg.DagsterInstance | None = None,
) -> IngestResult:
    """Materialize one partition in-process: the whole graph to capture, everything below raw to recompute,
    or only the scores to rescore."""
    defs = build_defs(settings)
    job = defs.resolve_job_def(_JOBS[mode])
    if not job.partitions_def.has_partition_key(day.isoformat()):  # type: ignore[union-attr]
        raise IngestRefused(f"{day} is outside the daily partitions (2016-01-01 up to today, UTC)")
    # The console logger's DEBUG events would bury the CLI's own output; the run records them all anyway.
    run_config: dict[str, object] = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    if score_version:
        run_config["ops"] = {"package_scores": {"config": {"score_version": score_version}}}
    started = datetime.now(UTC)
    result = job.execute_in_process(
        partition_key=day.isoformat(),
        instance=dagster_instance or instance(),
        tags={MODE_TAG: mode},
        run_config=run_config,
        raise_on_error=False,
    )
    if not result.success:
        failures = [
            event.event_specific_data.error.message.strip()  # type: ignore[union-attr]
            for event in result.all_events
            if event.is_step_failure and event.event_specific_data and event.event_specific_data.error
        ]
        if mode != "rescore" and settings.warehouse.exists():
            # The ledger keeps failed runs too, with the counts of what the date holds now.
            with Warehouse(settings.warehouse) as wh:
                row = run_summary(
                    wh,
                    day,
                    run_id=result.run_id,
                    mode=mode,
                    started_at=started,
                    finished_at=datetime.now(UTC),
                )
                wh.append("ingest_runs", row.with_columns(pl.lit("failed").alias("status")))
        raise IngestRefused(f"the run for {day} failed: " + ("; ".join(failures) or "see the Dagster logs"))
    failed_checks = tuple(
        f"{e.asset_key.to_user_string()}: {e.check_name}"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    )
    with Warehouse(settings.warehouse, read_only=True) as wh:
        row = wh.query("SELECT * FROM ingest_runs WHERE run_id = $r", {"r": result.run_id})
    return IngestResult(day, mode, result.run_id, row.row(0, named=True) if row.height else {}, failed_checks)


def rescore(settings: Settings, first: date, last: date, score_version: str | None) -> list[date]:
    """Recompute the scores of every stored date in [first, last] from stored inputs; no source is asked."""
    if last < first:
        raise IngestRefused(f"--to {last} is before --from {first}")
    if not settings.warehouse.exists():
        raise IngestRefused(f"no warehouse at {settings.warehouse}")
    with Warehouse(settings.warehouse, read_only=True) as wh:
        days = [d for d in wh.snapshot_dates("package_snapshots") if first <= d <= last]
    if not days:
        raise IngestRefused(f"no stored snapshot between {first} and {last}")
    for day in days:
        run_date(settings, day, "rescore", score_version=score_version)
    return days
