"""The run ledger: what one run of a date did, with counts that must add up, and the guards it evaluated."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from warehouse.store import Warehouse

if TYPE_CHECKING:
    from warehouse.guards import GuardResult

# Every raw record lands in exactly one of these tables or in rejected_records (participation answers
# are folded into their repository's row, so they are not counted separately).
_LANDED = {
    "djangopackages/packages": "package_snapshots",
    "djangopackages/categories": "category_snapshots",
    "djangopackages/grids": "grid_snapshots",
    "github/repository": "repository_snapshots",
    "pypi/project": "pypi_projects",
    "gitlab/project": "forge_repository_snapshots",
    "bitbucket/repository": "forge_repository_snapshots",
}
# Tables that hold the records of several sources, and the column that tells them apart.
_SHARED = {
    "forge_repository_snapshots": ("host", {"gitlab/project": "gitlab", "bitbucket/repository": "bitbucket"})
}
_COUNTS = (
    "requests_djangopackages",
    "requests_github",
    "requests_pypi",
    "requests_failed",
    "records_fetched",
    "records_accepted",
    "records_repaired",
    "records_rejected",
    "packages_scored",
)
LEDGER_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "run_id": pl.String,
    "snapshot_date": pl.Date,
    "mode": pl.String,
    "started_at": pl.Datetime("us", "UTC"),
    "finished_at": pl.Datetime("us", "UTC"),
    "status": pl.String,
    **{k: pl.Int64 for k in _COUNTS},
    "score_version": pl.String,
    "message": pl.String,
}
GUARD_SCHEMA = {
    "run_id": pl.String,
    "snapshot_date": pl.Date,
    "guard": pl.String,
    "level": pl.String,
    "value": pl.Float64,
    "message": pl.String,
}


def started_row(run_id: str, day: date, mode: str, started_at: datetime) -> pl.DataFrame:
    """The row a run writes before it does anything: if the run is killed, it stays ``started``."""
    return pl.DataFrame(
        [
            {
                "run_id": run_id,
                "snapshot_date": day,
                "mode": mode,
                "started_at": started_at,
                "finished_at": None,
                "status": "started",
                **dict.fromkeys(_COUNTS, 0),
                "score_version": "",
                "message": None,
            }
        ],
        schema=LEDGER_SCHEMA,
    )


def run_summary(
    wh: Warehouse,
    day: date,
    *,
    run_id: str,
    mode: str,
    started_at: datetime,
    finished_at: datetime,
    status: str | None = None,
    message: str | None = None,
) -> pl.DataFrame:
    """The ``ingest_runs`` row of a run of ``day`` from what ``wh`` (its staging file) holds; without an
    explicit ``status`` it is ``ok`` only when the counts add up."""
    params = {"d": day}
    requests = dict(
        wh.query(
            "SELECT source, count(*) FROM raw_requests WHERE snapshot_date = $d GROUP BY source", params
        ).iter_rows()
    )
    failed = wh.row("SELECT count(*) FROM raw_requests WHERE snapshot_date = ? AND NOT ok", [day])[0]
    fetched = dict(
        wh.query(
            "SELECT source, count(*) FROM raw_records WHERE snapshot_date = $d GROUP BY source", params
        ).iter_rows()
    )
    rejected = dict(
        wh.query(
            "SELECT source, count(*) FROM rejected_records WHERE snapshot_date = $d GROUP BY source", params
        ).iter_rows()
    )
    accepted = {source: _landed(wh, day, source, table) for source, table in _LANDED.items()}
    repaired = wh.row(
        "SELECT count(*) FROM package_snapshots WHERE snapshot_date = ? AND len(repairs) > 0", [day]
    )[0]
    scored = wh.row(
        "SELECT count(*), any_value(score_version) FROM daily_package_metrics WHERE snapshot_date = ?", [day]
    )
    if mode != "capture":
        # A recompute makes no request; the stored requests belong to the run that captured the date.
        requests, failed = {}, 0
    n_fetched = sum(fetched.get(s, 0) for s in _LANDED)
    n_accepted = sum(accepted.values())
    n_rejected = sum(rejected.values())
    adds_up = n_fetched == n_accepted + n_rejected and scored[0] == accepted["djangopackages/packages"]
    return pl.DataFrame(
        [
            {
                "run_id": run_id,
                "snapshot_date": day,
                "mode": mode,
                "started_at": started_at,
                "finished_at": finished_at,
                "status": status or ("ok" if adds_up else "counts_mismatch"),
                "requests_djangopackages": requests.get("djangopackages", 0),
                "requests_github": requests.get("github", 0),
                "requests_pypi": requests.get("pypi", 0),
                "requests_failed": failed,
                "records_fetched": n_fetched,
                "records_accepted": n_accepted,
                "records_repaired": repaired,
                "records_rejected": n_rejected,
                "packages_scored": scored[0],
                "score_version": scored[1] or "",
                "message": message,
            }
        ],
        schema=LEDGER_SCHEMA,
    )


def _landed(wh: Warehouse, day: date, source: str, table: str) -> int:
    if table in _SHARED:
        column, values = _SHARED[table]
        query = f'SELECT count(*) FROM "{table}" WHERE snapshot_date = ? AND "{column}" = ?'
        return int(wh.row(query, [day, values[source]])[0])
    return int(wh.row(f'SELECT count(*) FROM "{table}" WHERE snapshot_date = ?', [day])[0])


def guard_rows(
    run_id: str, day: date, results: Iterable[GuardResult], allowed: Iterable[str] = ()
) -> pl.DataFrame:
    """``guard_results`` rows; a failure a person let through with ``--allow`` is ``allowed``."""
    let_through = set(allowed)
    return pl.DataFrame(
        [
            {
                "run_id": run_id,
                "snapshot_date": day,
                "guard": r.name,
                "level": "allowed" if r.level == "fail" and r.name in let_through else r.level,
                "value": r.value,
                "message": r.message,
            }
            for r in results
        ],
        schema=GUARD_SCHEMA,
    )


def record(warehouse: Path, run_id: str, logs: dict[str, pl.DataFrame], *, wait: float | None = None) -> None:
    """Write a run's ledger rows (replacing its earlier ones) in one transaction of the warehouse."""
    with Warehouse(warehouse, wait=wait) as wh, wh.transaction():
        for table, frame in logs.items():
            wh.replace_run(table, run_id, frame)


def record_failure(warehouse: Path, run_id: str, row: pl.DataFrame, *, wait: float | None = None) -> None:
    """Mark a run failed, unless it has already ended otherwise: the first failure (the root cause) is the
    one kept, and a run that published its date stays ``ok`` whatever fails after."""
    with Warehouse(warehouse, wait=wait) as wh, wh.transaction():
        earlier = wh.query("SELECT status FROM ingest_runs WHERE run_id = $r", {"r": run_id})
        if not earlier.filter(pl.col("status") != "started").is_empty():
            return
        wh.replace_run("ingest_runs", run_id, row)


# A source a capture did not ask at all leaves one raw row saying why, so the date's raw tells it and the
# run's per-source ledger row says `skipped`.
GITHUB_SKIPPED = "github/skipped"
SOURCE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "run_id": pl.String,
    "snapshot_date": pl.Date,
    "source": pl.String,
    "status": pl.String,
    "requests": pl.Int64,
    "not_modified": pl.Int64,
    "failed": pl.Int64,
    "message": pl.String,
}


def skipped_frame(day: date, raw_source: str, reason: str, **counts: int) -> pl.DataFrame:
    """The raw row of a source skipped on ``day``: key the source, payload the reason and what was not asked."""
    from warehouse.raw import raw_frame

    source = raw_source.removesuffix("/skipped")
    return raw_frame(day, raw_source, [(source, "skipped", {"reason": reason, **counts})])


def source_rows(wh: Warehouse, day: date, run_id: str, mode: str) -> pl.DataFrame:
    """``ingest_run_sources`` rows of a run of ``day`` from its staging file: one per source it asked or
    skipped. A recompute asks nothing, so it has none."""
    if mode != "capture":
        return pl.DataFrame(schema=SOURCE_SCHEMA)
    asked = wh.query(
        "SELECT source, count(*) AS requests, count(*) FILTER (status = 304) AS not_modified, "
        "count(*) FILTER (NOT ok) AS failed FROM raw_requests WHERE snapshot_date = $d GROUP BY source",
        {"d": day},
    )
    from warehouse.raw import RAW_TEXT

    skipped = wh.query(
        f"SELECT record_key AS source, json_extract_string(payload, '$.reason') AS message FROM {RAW_TEXT} r "
        "WHERE snapshot_date = $d AND source LIKE '%/skipped'",
        {"d": day},
    )
    rows = asked.join(skipped, on="source", how="full", coalesce=True).with_columns(
        pl.lit(run_id).alias("run_id"),
        pl.lit(day).alias("snapshot_date"),
        pl.when(pl.col("message").is_null())
        .then(pl.lit("asked"))
        .otherwise(pl.lit("skipped"))
        .alias("status"),
        *(pl.col(c).fill_null(0).cast(pl.Int64) for c in ("requests", "not_modified", "failed")),
    )
    return rows.select(list(SOURCE_SCHEMA)).cast(SOURCE_SCHEMA).sort("source")  # type: ignore[arg-type]
