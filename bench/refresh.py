"""Requests and wall time of a cold and a warm day at 5,300 synthetic packages, with and without latency.

    .venv/bin/python -m bench.refresh [--packages 5300] [--latency-ms 0 50] [--naive-sample 300]

Prints figures; it is not a test. For each latency, a cold day (an empty warehouse) and the next, warm day
are captured through Dagster from the replay server. Per source it prints the requests made beside the
minimum (what the day needed at least: list pages, GraphQL batches of 100, one participation request per
repository asked, one PyPI request per project needed) and beside a naive crawler, which the bench runs
against the same replay after the warm day: the three lists at the API's default page size following their
`next` links, then one REST call per repository and one JSON request per project the day links to, one at a
time (without latency in full; with it, every list page and the first ``--naive-sample`` repositories and
projects, the rest extrapolated at the time each of those took, as the output says); and the wall time beside the
latency bound: per service, requests x latency / that service's allowed concurrency (GitHub 1, PyPI
DPW_PYPI_CONCURRENCY, GitLab 1, Bitbucket 1, djangopackages 1), the largest of GitHub, PyPI, GitLab and
Bitbucket (asked at the same time) plus the djangopackages pages.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import requests

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
    # Each list at the API's default page size of 20, as the naive crawler reads it.
    listed_pages = wh.row(
        "SELECT coalesce(sum(ceil(n / 20)), 0)::INTEGER FROM (SELECT count(*) AS n FROM raw_records "
        "WHERE snapshot_date = ? AND source LIKE 'djangopackages/%' AND source <> 'djangopackages/pages' "
        "GROUP BY source)",
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
    naive = {"djangopackages": listed_pages, "github": repos, "pypi": projects}
    figures = {s: {"made": made.get(s, 0), "minimum": minimum[s], "naive": naive[s]} for s in _SOURCES}
    # GitLab and Bitbucket are not in the totals, but a capture waits for them too.
    forges = {s: {"made": made.get(s, 0)} for s in _FORGES}
    return figures, forges


@dataclass(frozen=True)
class Crawl:
    """What the naive crawler did: requests per source, and seconds (measured, or extrapolated from
    ``sampled`` requests where it stopped short)."""

    requests: dict[str, int]
    seconds: float
    sampled: int | None


def _pages(session: requests.Session, url: str | None) -> Iterator[requests.Response]:
    while url:
        page = session.get(url, timeout=60)
        yield page
        url = page.json().get("next") if page.ok else None


def naive_crawl(
    base_url: str, token: str, repos: list[str], projects: list[str], sample: int | None
) -> Crawl:
    """The crawler this project is measured against: serial, one request per page, repository and project."""
    session = requests.Session()
    made: dict[str, int] = {}
    seconds = 0.0
    start = time.perf_counter()
    made["djangopackages"] = sum(
        1
        for kind in ("packages", "categories", "grids")
        for _ in _pages(session, f"{base_url}/api/v4/{kind}/")
    )
    seconds += time.perf_counter() - start
    github = {"Authorization": f"Bearer {token}"}
    for source, names, url in (
        ("github", repos, lambda name: (f"{base_url}/repos/{name}", github)),
        ("pypi", projects, lambda name: (f"{base_url}/pypi/{name}/json", {})),
    ):
        asked = names if sample is None else names[:sample]
        start = time.perf_counter()
        for name in asked:
            address, headers = url(name)
            session.get(address, headers=headers, timeout=60)
        took = time.perf_counter() - start
        made[source] = len(names)
        seconds += took * len(names) / max(len(asked), 1)
    return Crawl(
        made, seconds, sample if sample is not None and sample < max(len(repos), len(projects)) else None
    )


def linked_names(wh: Warehouse, day) -> tuple[list[str], list[str]]:
    """The repositories and projects the day's packages link to, as the capture recorded them."""
    found = {
        source: wh.query(
            "SELECT record_key FROM raw_records WHERE snapshot_date = $d AND source = $s ORDER BY record_key",
            {"d": day, "s": source},
        )
        .get_column("record_key")
        .to_list()
        for source in ("github/repository", "pypi/project")
    }
    return found["github/repository"], found["pypi/project"]


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
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=300,
        help="with latency, the naive crawler asks this many repositories and projects and extrapolates",
    )
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
                        f"{target:.1f} s"
                    )
            # Last, on the warm day: its REST calls spend the core quota the captures' participation uses.
            with Warehouse(settings.warehouse, read_only=True) as wh:
                repos, projects = linked_names(wh, day)
            crawl = naive_crawl(
                server.base_url,
                settings.github_token or "",
                repos,
                projects,
                None if latency_ms == 0 else args.naive_sample,
            )
            how = (
                "measured"
                if crawl.sampled is None
                else f"list pages and the first {crawl.sampled:,} repositories and projects measured, the rest "
                "extrapolated"
            )
            print(
                f"\nnaive crawler, {latency_ms:g} ms latency: {sum(crawl.requests.values()):,} requests ("
                + ", ".join(f"{s} {n:,}" for s, n in crawl.requests.items())
                + f") in {crawl.seconds:.1f} s ({how})"
            )


if __name__ == "__main__":
    main()
