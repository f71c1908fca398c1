"""Running a date through Dagster: decide whether it can be captured or only recomputed, then run it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import dagster as dg
import polars as pl

from assets.sources.djangopackages import DjangoPackagesClient
from assets.sources.http import HttpClient, RequestLog, SourceError
from assets.staging import MODE_TAG, RAW_FROM_TAG, SOURCES_DATE_TAG
from pipelines.definitions import build_defs
from pipelines.settings import Settings, SettingsError
from warehouse import guards, runs, staging
from warehouse.store import Warehouse, WarehouseError

Mode = Literal["capture", "recompute", "rescore"]
_JOBS = {"capture": "daily_job", "recompute": "recompute_job", "rescore": "rescore_job"}


class IngestRefused(Exception):
    """A date that can be neither captured nor recomputed, or a run that failed; the message says why."""


@dataclass(frozen=True)
class IngestResult:
    day: date
    mode: Mode
    run_id: str
    summary: dict[str, object]  # the run's ingest_runs row
    failed_checks: tuple[str, ...] = ()  # contract checks that failed
    guards: tuple[dict[str, object], ...] = ()  # the run's guard_results rows that warned or were allowed


def sources_date(settings: Settings) -> date | None:
    """The sources' current date (the Date the djangopackages API answers with), or None when nothing
    answered at all; an answer that carries no date is refused with what it was."""
    http = HttpClient(
        settings.djangopackages_url, source="djangopackages", log=RequestLog(), timeout=10, max_attempts=2
    )
    try:
        return DjangoPackagesClient(http).current_date()
    except SourceError as err:
        if err.answered:
            raise IngestRefused(f"the sources' current date is unknown: {err}") from None
        return None


def stored_raw(settings: Settings, day: date) -> bool:
    return staging.has_raw(settings.warehouse, day)


def kept_capture(settings: Settings, day: date, *, refused: bool = False) -> str | None:
    """A capture of ``day`` that was fetched but never published, if one is kept: the one a guard
    refused last when ``refused`` (what a person looked at before allowing it), else the newest whole
    one (it got to its scores), else the newest at all (cut short, still better than nothing)."""
    captures = [p for p in reversed(staging.kept(settings.warehouse, day)) if staging.has_raw(p, day)]
    if refused:
        refusals = [p for p in captures if _ledger(settings, _run_of(p, day)).get("status") == "refused"]
        if refusals:
            return str(refusals[0])
    whole = [p for p in captures if staging.scored(p, day)]
    return str((whole or captures or [None])[0]) if captures else None


def _run_of(path: Path, day: date) -> str:
    return path.name.removeprefix(f"{day.isoformat()}.").removesuffix(".duckdb")


def unpublished_capture(settings: Settings, day: date) -> str | None:
    """A whole kept capture of ``day`` that nobody refused (the warehouse was busy too long, the process
    died while publishing) while the warehouse has nothing of the date: it is published before anything
    is fetched again, since a later capture of the day may be worse. One cut short before its scores
    (a source down mid-capture) is not whole: while the day lasts, it is captured again."""
    kept = kept_capture(settings, day)
    if kept is None or stored_raw(settings, day) or not staging.scored(Path(kept), day):
        return None
    return None if _ledger(settings, _run_of(Path(kept), day)).get("status") == "refused" else kept


@dataclass(frozen=True)
class Decision:
    mode: Mode
    sources_date: date | None = None  # the sources' current date, when it was asked to decide


def plan(settings: Settings, day: date, *, allow: Sequence[str] = ()) -> Mode:
    """The mode ``decide`` chooses; a caller that then captures passes ``decide``'s date to ``run_date``."""
    return decide(settings, day, allow=allow).mode


def decide(settings: Settings, day: date, *, allow: Sequence[str] = ()) -> Decision:
    """Capture when ``day`` is the sources' current date; recompute when its raw is stored or kept; else
    refuse. With ``allow`` (a person has looked at a refused day) never capture: publish what was kept,
    and never capture over a kept capture that could not be published either.

    The sources' clock decides, not this machine's: a replay server's today can be any date. So the source
    is asked first, once, and an unreachable source still lets a stored date recompute.
    """
    if day < settings.first_date:  # before asking a source: no answer could make the date possible
        raise IngestRefused(_outside_partitions(settings, day))
    stored = stored_raw(settings, day) or kept_capture(settings, day) is not None
    if allow:
        if not stored:
            raise IngestRefused(f"--allow publishes a kept capture, and nothing is kept or stored for {day}")
        return Decision("recompute")
    if unpublished_capture(settings, day):
        return Decision("recompute")
    try:
        current = sources_date(settings)
    except IngestRefused:
        if stored:
            return Decision("recompute")
        raise
    if current == day:
        return Decision("capture", current)
    if stored:
        return Decision("recompute", current)
    if current is None:
        raise IngestRefused(
            f"no raw data is stored for {day} and the sources at {settings.djangopackages_url} cannot be "
            "reached to capture it"
        )
    raise IngestRefused(
        f"no raw data is stored for {day}, and it cannot be captured: the sources' current date is {current}. "
        "Sources only tell 'now', so a date's raw data can only be captured on that date."
    )


def raw_from(settings: Settings, day: date, allow: Sequence[str]) -> str:
    """Where a recompute takes its raw: a kept capture when a person allows it or when the warehouse has
    none for the date (a capture that could not be published), else the warehouse."""
    kept = kept_capture(settings, day, refused=bool(allow))
    if kept and (allow or not stored_raw(settings, day)):
        return kept
    return "warehouse"


def instance() -> dg.DagsterInstance:
    """Where runs are recorded: with DAGSTER_HOME, that instance (so `dg dev` shows them), else a throwaway
    one. Use it as a context manager: disposing it closes its storage, which a later run may otherwise
    find half-alive."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return dg.DagsterInstance.ephemeral()
    # Dagster's own refusal is a paragraph; a setting's error is one line naming it.
    path = Path(home).expanduser()
    if not path.is_absolute() or not path.is_dir():
        raise SettingsError(f"DAGSTER_HOME: {home!r} is not an absolute path to an existing directory")
    return dg.DagsterInstance.get()


def run_date(
    settings: Settings,
    day: date,
    mode: Mode,
    *,
    score_version: str | None = None,
    allow: Sequence[str] = (),
    dagster_instance: dg.DagsterInstance | None = None,
    sources_date: date | None = None,
) -> IngestResult:
    """Materialize one partition in-process: the whole graph to capture, everything below raw to recompute
    or rescore; the last step publishes the date if its guards pass (or are in ``allow``). A capture given
    the ``sources_date`` its caller just asked does not ask it again."""
    unknown = sorted(set(allow) - set(guards.GUARD_NAMES))
    if unknown:
        raise IngestRefused(
            f"--allow {', '.join(unknown)}: no such guard; guards are {', '.join(guards.GUARD_NAMES)}"
        )
    defs = build_defs(settings)
    job = defs.resolve_job_def(_JOBS[mode])
    if not job.partitions_def.has_partition_key(day.isoformat()):  # type: ignore[union-attr]
        raise IngestRefused(_outside_partitions(settings, day))
    # The console logger's DEBUG events would bury the CLI's own output; the run records them all anyway.
    ops: dict[str, object] = {"ingest_runs": {"config": {"allow": list(allow)}}}
    if score_version:
        ops["core_tables_and_scores"] = {"config": {"score_version": score_version}}
    run_config = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}, "ops": ops}
    tags = {MODE_TAG: mode}
    if mode != "capture":
        tags[RAW_FROM_TAG] = raw_from(settings, day, allow)
    elif sources_date is not None:
        tags[SOURCES_DATE_TAG] = sources_date.isoformat()
    with ExitStack() as stack:
        result = job.execute_in_process(
            partition_key=day.isoformat(),
            instance=dagster_instance or stack.enter_context(instance()),
            tags=tags,
            run_config=run_config,
            raise_on_error=False,
        )
    if not result.success and _interrupted(result):
        _record_interrupted(settings, result.run_id)
        raise KeyboardInterrupt
    if not result.success:
        ledger = _ledger(settings, result.run_id)
        if ledger.get("status") == "refused":
            raise IngestRefused(str(ledger["message"]))
        message = ledger.get("message") or "; ".join(_step_failures(result)) or "see the Dagster logs"
        raise IngestRefused(f"the run for {day} failed: {message}")
    failed_checks = tuple(
        f"{e.asset_key.to_user_string()}: {e.check_name}"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    )
    ledger, fired = _ledger_and_guards(settings, result.run_id)
    return IngestResult(day, mode, result.run_id, ledger, failed_checks, fired)


def _outside_partitions(settings: Settings, day: date) -> str:
    if day < settings.first_date:
        return (
            f"{day} is before DPW_FIRST_DATE ({settings.first_date}), the first daily partition; "
            "set DPW_FIRST_DATE to an earlier date to ingest it"
        )
    return f"{day} is outside the daily partitions, which run from DPW_FIRST_DATE ({settings.first_date}) to today (UTC)"


def _ledger(settings: Settings, run_id: str) -> dict[str, object]:
    """The run's ingest_runs row, or nothing when it could not be written or read (the warehouse busy)."""
    try:
        return _ledger_and_guards(settings, run_id)[0]
    except WarehouseError:
        return {}


def _ledger_and_guards(settings: Settings, run_id: str) -> tuple[dict[str, object], tuple[dict, ...]]:
    """The run's ingest_runs row (nothing when it was never written) and its guard_results rows that warned
    or were allowed, in one open."""
    if not settings.warehouse.exists():
        return {}, ()
    with Warehouse.current(settings.warehouse) as wh:
        row = wh.query("SELECT * FROM ingest_runs WHERE run_id = $r", {"r": run_id})
        fired = wh.query(
            "SELECT guard, level, message FROM guard_results WHERE run_id = $r AND level <> 'ok' ORDER BY guard",
            {"r": run_id},
        )
    return (row.row(0, named=True) if row.height else {}), tuple(fired.to_dicts())


def _interrupted(result: dg.ExecuteInProcessResult) -> bool:
    # Dagster turns Ctrl-C into a failed step, not an exception the caller sees.
    return any(
        event.event_specific_data.error.cls_name == "DagsterExecutionInterruptedError"  # type: ignore[union-attr]
        for event in result.all_events
        if event.is_step_failure and event.event_specific_data and event.event_specific_data.error
    )


def _record_interrupted(settings: Settings, run_id: str) -> None:
    """The run's ledger row says it was interrupted; the date itself is as before or fully published."""
    ledger = _ledger(settings, run_id)
    if not ledger or ledger["status"] != "started":
        return
    row = pl.DataFrame(
        [{**ledger, "status": "interrupted", "finished_at": datetime.now(UTC)}], schema=runs.LEDGER_SCHEMA
    )
    runs.record(settings.warehouse, run_id, {"ingest_runs": row})


def _step_failures(result: dg.ExecuteInProcessResult) -> list[str]:
    """Each failed step's own error when the ledger could not say it: the innermost error that is not
    Dagster's wrapper around the step."""
    causes = []
    for event in result.all_events:
        if event.is_step_failure and event.event_specific_data and event.event_specific_data.error:
            error = event.event_specific_data.error  # type: ignore[union-attr]
            while error.cls_name.startswith("DagsterExecution") and (error.cause or error.context):
                error = error.cause or error.context
            # The message starts with the error's dotted class name, which says nothing to a user.
            message = re.sub(r"^[\w.]+: ", "", " ".join(error.message.split()))
            causes.append(f"{event.step_key}: {message}")
    return causes


def rescore(settings: Settings, first: date, last: date, score_version: str | None) -> list[date]:
    """Recompute the scores of every stored date in [first, last] from stored inputs; no source is asked."""
    if last < first:
        raise IngestRefused(f"--to {last} is before --from {first}")
    if not settings.warehouse.exists():
        raise IngestRefused(f"no warehouse at {settings.warehouse}")
    with Warehouse.current(settings.warehouse) as wh:
        days = [d for d in wh.snapshot_dates("package_snapshots") if first <= d <= last]
    if not days:
        raise IngestRefused(f"no stored snapshot between {first} and {last}")
    for day in days:
        run_date(settings, day, "rescore", score_version=score_version)
    return days


def backfill(settings: Settings, first: date, last: date) -> Iterator[tuple[date, date, IngestResult | None]]:
    """Recompute every date in [first, last] whose raw is stored, in date order, each through the
    recompute job (one publication per date, which also refreshes the history tables); no source is asked.

    Yields ``(day, day, result)`` for each date published and ``(from, to, None)`` for each span of dates
    with no stored raw, skipped. A date that is refused or fails stops it with run_date's IngestRefused
    (whose message names the date); the dates yielded before it stay published."""
    if last < first:
        raise IngestRefused(f"--to {last} is before --from {first}")
    if not settings.warehouse.exists():
        raise IngestRefused(f"no warehouse at {settings.warehouse}")
    with Warehouse.current(settings.warehouse) as wh:
        stored = [d for d in wh.snapshot_dates("raw_records") if first <= d <= last]
    start = first
    for day in stored:
        if start < day:
            yield start, day - timedelta(days=1), None
        yield day, day, run_date(settings, day, "recompute")
        start = day + timedelta(days=1)
    if start <= last:
        yield start, last, None
