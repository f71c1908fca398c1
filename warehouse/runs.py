"""The run ledger: what one run of a date did, with counts that must add up."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from warehouse.store import Warehouse

# Every raw record lands in exactly one of these tables or in rejected_records (participation answers
# are folded into their repository's row, so they are not counted separately).
_LANDED = {
    "djangopackages/packages": "package_snapshots",
    "djangopackages/categories": "category_snapshots",
    "djangopackages/grids": "grid_snapshots",
    "github/repository": "repository_snapshots",
    "pypi/project": "pypi_projects",
}


def run_summary(
    wh: Warehouse, day: date, *, run_id: str, mode: str, started_at: datetime, finished_at: datetime
) -> pl.DataFrame:
    """The ``ingest_runs`` row for a finished run of ``day``; status ``ok`` only when the counts add up."""
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
    accepted = {
        source: wh.row(f'SELECT count(*) FROM "{table}" WHERE snapshot_date = ?', [day])[0]
        for source, table in _LANDED.items()
    }
    repaired = wh.row(
        "SELECT count(*) FROM package_snapshots WHERE snapshot_date = ? AND len(repairs) > 0", [day]
    )[0]
    scored = wh.row(
        "SELECT count(*), any_value(score_version) FROM daily_package_metrics WHERE snapshot_date = ?", [day]
    )
    if mode == "recompute":
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
                "status": "ok" if adds_up else "counts_mismatch",
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
            }
        ],
        schema={
            "run_id": pl.String,
            "snapshot_date": pl.Date,
            "mode": pl.String,
            "started_at": pl.Datetime("us", "UTC"),
            "finished_at": pl.Datetime("us", "UTC"),
            "status": pl.String,
            **{
                k: pl.Int64
                for k in (
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
            },
            "score_version": pl.String,
        },
    )
