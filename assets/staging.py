"""Each run builds its date in its own staging file; only the last step touches the warehouse.

See ``warehouse.staging`` for why. A run's staging file is named by its root run id, so a re-execution
from failure picks up what the failed run already fetched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import polars as pl

from assets.partitions import partition_date
from assets.resources import WarehouseResource
from warehouse import runs, staging, store
from warehouse.store import Warehouse, WarehouseError

MODE_TAG = "dpw/mode"
# Where a recompute takes the date's raw from: "warehouse", or the path of a kept staging file.
RAW_FROM_TAG = "dpw/raw_from"
# The sources' current date as the runner asked it before deciding to capture (YYYY-MM-DD): the capture
# takes it from here instead of asking again, so a run asks the date once.
SOURCES_DATE_TAG = "dpw/sources_date"
# The started row is a courtesy to whoever reads the ledger; a reader holding the warehouse must not
# delay a capture for long because of it.
STARTED_ROW_WAIT = 15.0

log = logging.getLogger(__name__)


def run_key(context: dg.AssetExecutionContext) -> str:
    return context.run.root_run_id or context.run.run_id


def mode_of(run: dg.DagsterRun, job_steps: list[str] | None = None) -> str:
    """The run's mode as tagged; without a tag (the schedule, a materialization launched in the UI) a
    run is a capture only if it fetches raw: one that starts below raw recomputes from stored raw."""
    tagged = run.tags.get(MODE_TAG)
    if tagged:
        return tagged
    steps = run.step_keys_to_execute if run.step_keys_to_execute is not None else job_steps
    return "capture" if steps is None or "raw_djangopackages" in steps else "recompute"


def fetches_raw(context: dg.AssetExecutionContext) -> bool:
    """Whether the run materializes a raw asset (they are all named raw_*), which lands raw rows in its
    staging file: a recompute materialized from the UI with raw_forges in its selection, say."""
    steps = context.run.step_keys_to_execute
    names = steps if steps is not None else [node.name for node in context.job_def.graph.nodes]
    return any(name.startswith("raw_") for name in names)


def run_mode(context: dg.AssetExecutionContext) -> str:
    return mode_of(context.run, [node.name for node in context.job_def.graph.nodes])


def staging_path(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Path:
    return staging.staging_file(Path(warehouse.path), partition_date(context), run_key(context))


@contextmanager
def staged(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    *,
    create: bool = False,
) -> Iterator[Warehouse]:
    """The run's staging warehouse, held open until the run ends (``WarehouseResource.hold``). The first
    step of a run records it as started. A recompute reads the date's raw from where the run was told to
    take it: through the warehouse, attached read-only (nothing copied: the date's raw stays as it is
    stored, and the warehouse's reader lock is held meanwhile), or copied in from a kept capture by its
    first step, since publishing that capture publishes its raw. In a capture only the first raw step may
    create the file: a later step that finds none must not stage (and so publish) an empty day over the
    stored one."""
    day, main = partition_date(context), Path(warehouse.path)
    path = staging_path(context, warehouse)
    first = not path.exists()
    if first and run_mode(context) == "capture" and not create:
        raise dg.Failure(
            f"the staging file of this capture of {day} is gone ({path}): nothing of this run is published"
        )
    with ThreadPoolExecutor(1) as beside:
        # A first step writes the started row while the staging file is made: two files, a core each.
        started = (
            beside.submit(_record_started, main, run_key(context), day, run_mode(context)) if first else None
        )
        wh = Warehouse(path)
    with wh:
        if started is not None:
            started.result()
        warehouse.hold(path)
        with _raw_of(
            wh, context.run.tags, run_mode(context), main, day, path, attach=not fetches_raw(context)
        ) as source:
            if first and source is not None:
                context.log.info(f"recomputing {day} from {source}")
            yield wh


@contextmanager
def _raw_of(
    wh: Warehouse,
    tags: Mapping[str, str],
    mode: str,
    main: Path,
    day: date,
    own: Path,
    *,
    attach: bool = True,
    wait: float = store.WRITER_WAIT,
) -> Iterator[Path | None]:
    """While open, ``wh`` (a run's staging file) reads the raw of ``day`` a recompute takes: through the
    warehouse when ``attach`` (the run lands no raw of its own in the file), else copied in once, as from
    a kept capture; yields that source, None for a capture."""
    if mode == "capture" or wh.has_raw(day, "djangopackages/"):
        yield None
        return
    source = raw_source_of(tags, main, day, own)
    if source != main or not attach:
        staging.seed(wh, source, day)
        yield source
        return
    # By default a writer's patience: the run waits as long for its publication anyway.
    with Warehouse.current(main, wait=wait), staging.read_raw_of(wh, main):
        yield main


def raw_source(context: dg.AssetExecutionContext, main: Path, day: date, own: Path) -> Path:
    """Where a recompute reads the date's raw: as tagged, else the warehouse, else the newest kept capture."""
    return raw_source_of(context.run.tags, main, day, own)


def raw_source_of(tags: Mapping[str, str], main: Path, day: date, own: Path) -> Path:
    tagged = tags.get(RAW_FROM_TAG)
    if tagged:
        return main if tagged == "warehouse" else Path(tagged)
    if main.exists():
        with Warehouse.current(main) as wh:
            if wh.has_raw(day, "djangopackages/"):
                return main
    for path in reversed(staging.kept(main, day)):
        if path != own and staging.has_raw(path, day):
            return path
    raise dg.Failure(f"no raw data is stored or kept for {day}: it can only be captured on that date")


def _record_started(main: Path, run_id: str, day: date, mode: str) -> None:
    try:
        runs.record(
            main,
            run_id,
            {"ingest_runs": runs.started_row(run_id, day, mode, datetime.now(UTC))},
            wait=STARTED_ROW_WAIT,
        )
    except WarehouseError as err:
        log.warning(f"run {run_id} for {day} goes on without its started row: {err}")


def run_started(instance: dg.DagsterInstance, run_id: str) -> datetime:
    stats = instance.get_run_stats(run_id)
    return datetime.fromtimestamp(stats.start_time, UTC) if stats.start_time else datetime.now(UTC)


def root_cause(error: BaseException | None) -> str:
    """One line: the error that says what went wrong (a Failure's description, a source's method, URL,
    status and reason), not Dagster's step wrapper around it."""
    while (
        isinstance(error, dg.DagsterError)
        and not isinstance(error, dg.Failure)
        and (error.__cause__ or error.__context__) is not None
    ):
        error = error.__cause__ or error.__context__
    if error is None:
        return "the step failed without an error"
    text = error.description if isinstance(error, dg.Failure) and error.description else str(error)
    return " ".join(text.split()) or type(error).__name__


class PublicationRefused(dg.Failure):
    """A guard failed: the date stays unpublished and its capture kept; the step has recorded why."""


@dg.failure_hook(required_resource_keys={"warehouse"})
def record_failure(context: dg.HookContext) -> None:
    """A failed step marks its run failed in the ledger with the root cause; the first failure of a run
    is the one kept, and a refusal (the guards') is already recorded by the step itself."""
    error = context.op_exception
    run = context.instance.get_run_by_id(context.run_id)
    if run is None or isinstance(error, PublicationRefused) or "dagster/partition" not in run.tags:
        return
    day = date.fromisoformat(run.tags["dagster/partition"])
    run_id, mode = run.root_run_id or run.run_id, mode_of(run)
    interrupted = isinstance(error, KeyboardInterrupt | dg.DagsterExecutionInterruptedError)
    status = "interrupted" if interrupted else "failed"
    message = f"{context.step_key}: {'interrupted' if interrupted else root_cause(error)}"
    main = Path(context.resources.warehouse.path)
    path = staging.staging_file(main, day, run_id)
    started = run_started(context.instance, context.run_id)
    try:
        if path.exists():
            with (
                Warehouse(path) as wh,
                _raw_of(wh, run.tags, mode, main, day, path, wait=STARTED_ROW_WAIT),
            ):
                row = runs.run_summary(
                    wh,
                    day,
                    run_id=run_id,
                    mode=mode,
                    started_at=started,
                    finished_at=datetime.now(UTC),
                    status=status,
                    message=message,
                )
        else:
            row = runs.started_row(run_id, day, mode, started).with_columns(
                pl.lit(status).alias("status"),
                pl.lit(message).alias("message"),
                pl.lit(datetime.now(UTC)).cast(pl.Datetime("us", "UTC")).alias("finished_at"),
            )
        # The ledger is not worth a long wait: the staging file keeps what the run fetched either way.
        runs.record_failure(main, run_id, row, wait=STARTED_ROW_WAIT)
    except (WarehouseError, dg.Failure) as err:
        context.log.warning(f"the failure of run {run_id} could not be recorded: {err}")
