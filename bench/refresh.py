"""Requests and wall time of a cold and a warm day at 5,300 synthetic packages, with and without latency.

    .venv/bin/python -m bench.refresh [--packages 5300] [--latency-ms 0 50]

Prints figures; it is not a test. For each latency, a cold day (an empty warehouse) and the next, warm day
are captured through Dagster from the replay server. Per source it prints the requests made beside the
minimum (what the day needed at least: list pages, GraphQL batches of 100, one participation request per
repository asked, one PyPI request per project needed) and beside a naive crawler (one REST call per
repository and per project, serial, and the lists at their default page size); and the wall time beside the
latency bound: per service, requests x latency / that service's allowed concurrency (GitHub 1, PyPI
DPW_PYPI_CONCURRENCY, GitLab 1, Bitbucket 1, djangopackages 1), the largest of GitHub, PyPI, GitLab and
Bitbucket (asked at the same time) plus the djangopackages pages.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from pipelines.runner import run_date
from pipelines.settings import Settings
from replay.server import ReplayServer
from warehouse.store import Warehouse

_SOURCES = ("djangopackages", "github", "pypi")
_FORGES = ("gitlab", "bitbucket")


def day_figures(wh: Warehouse, day) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Made and minimum requests per source for ``day``, and the naive crawler's; the forges' made."""
    made = dict(
        wh.query(
            "SELECT source, requests FROM ingest_run_sources WHERE snapshot_date = $d "
            "QUALIFY row_number() OVER (PARTITION BY source ORDER BY run_id) = 1",
            {"d": day},
        ).iter_rows()
    )
    pages = wh.row(
        "SELECT count(*) FROM raw_records WHERE snapshot_date = ? AND source = 'djangopackages/pages'", [day]
    )[0]
    listed = wh.row(
        "SELECT count(*) FROM raw_records WHERE snapshot_date = ? AND source LIKE 'djangopackages/%' "
        "AND source <> 'djangopackages/pages'",
        [day],
    )[0]
    repos = wh.row(
        "SELECT count(*) FROM raw_records WHERE snapshot_date = ? AND source = 'github/repository'", [day]
    )[0]
    asked = wh.row(
        "SELECT count(*) FROM raw_records WHERE snapshot_date = ? AND source = 'github/participation'", [day]
    )[0]
    projects, fetched = wh.row(
        "SELECT count(*), count(*) FILTER (status <> 'unchanged') FROM raw_records "
        "WHERE snapshot_date = ? AND source = 'pypi/project'",
        [day],
    )
    warm = fetched < projects
    minimum = {
        "djangopackages": pages,
        "github": math.ceil(repos / 100) + asked,
        "pypi": fetched + (1 if warm else 0),  # the simple index tells which serials moved
    }
    naive = {"djangopackages": math.ceil(listed / 20), "github": repos, "pypi": projects}
    figures = {s: {"made": made.get(s, 0), "minimum": minimum[s], "naive": naive[s]} for s in _SOURCES}
    # GitLab and Bitbucket are not in the totals, but a capture waits for them too.
    forges = {s: {"made": made.get(s, 0)} for s in _FORGES}
    return figures, forges


def bound(
    figures: dict[str, dict[str, int]],
    forges: dict[str, dict[str, int]],
    latency: float,
    pypi_concurrency: int,
) -> float:
    """Each service's requests x latency / its allowed concurrency; the services at the same time, after the
    djangopackages pages."""
    lanes = [
        figures["github"]["made"] * latency,
        figures["pypi"]["made"] * latency / pypi_concurrency,
        *(f["made"] * latency for f in forges.values()),
    ]
    return max(lanes) + figures["djangopackages"]["made"] * latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=5300)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 50.0])
    args = parser.parse_args()
    settings_base = Settings()
    print(
        f"{args.packages:,} synthetic packages; PyPI concurrency {settings_base.pypi_concurrency}, GitHub 1"
    )
    base_times: dict[str, float] = {}
    for latency_ms in args.latency_ms:
        with (
            ReplayServer(synthetic=args.packages, latency_ms=latency_ms) as server,
            tempfile.TemporaryDirectory() as d,
        ):
            settings = settings_base.with_replay(server.base_url).with_warehouse(Path(d) / "w.duckdb")
            for label, day in (("cold", server.date), ("warm", server.date + timedelta(days=1))):
                server.set_date(day)
                server.reset_counts()
                start = time.perf_counter()
                run_date(settings, day, "capture")
                seconds = time.perf_counter() - start
                with Warehouse(settings.warehouse, read_only=True) as wh:
                    figures, forges = day_figures(wh, day)
                made = sum(f["made"] for f in figures.values())
                minimum = sum(f["minimum"] for f in figures.values())
                naive = sum(f["naive"] for f in figures.values())
                print(f"\n{label} day, {latency_ms:g} ms latency: {seconds:.1f} s")
                for source, f in figures.items():
                    print(
                        f"  {source:15} {f['made']:6,} requests  minimum {f['minimum']:6,}  naive {f['naive']:6,}"
                    )
                print(
                    f"  {'total':15} {made:6,} requests  minimum {minimum:6,}  naive {naive:6,}"
                    f"  ({made / max(minimum, 1):.2f}x the minimum)"
                )
                print("  " + ", ".join(f"{s} {f['made']:,}" for s, f in forges.items()) + " requests besides")
                if latency_ms == 0:
                    base_times[label] = seconds
                else:
                    latency_bound = bound(figures, forges, latency_ms / 1000, settings.pypi_concurrency)
                    target = base_times.get(label, 0.0) + 1.25 * latency_bound
                    print(
                        f"  latency bound {latency_bound:.1f} s; target (no-latency time + 1.25x bound) "
                        f"{target:.1f} s; naive crawler at this latency at least {naive * latency_ms / 1000:.0f} s"
                    )


if __name__ == "__main__":
    main()
