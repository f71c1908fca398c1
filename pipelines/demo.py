"""The offline demo: a replay server on loopback, DAYS captured dates through Dagster, and a summary."""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipelines.output import emit, say
from pipelines.runner import IngestResult, instance, run_date
from pipelines.settings import Settings
from replay import SAMPLE_BUNDLE
from replay.server import ReplayServer
from warehouse import queries
from warehouse.store import Warehouse


def run_demo(
    settings: Settings,
    *,
    days: int,
    bundle: Path | None,
    console: Console,
    options: Sequence[str] = (),
) -> list[IngestResult]:
    """Capture ``days`` dates and summarise them; the commands suggested next carry ``options`` (the
    demo's own `--warehouse`, say), so they read what the demo wrote."""
    if days < 1:
        raise ValueError("--days must be at least 1")
    started = time.perf_counter()
    results: list[IngestResult] = []
    with ReplayServer(bundle or SAMPLE_BUNDLE, port=0) as server:
        # The bundle's own date serves its records as read; every later date is evolved, so the demo
        # starts the day after and every captured day moves the same way.
        first = server.date + timedelta(days=1)
        settings = settings.with_replay(server.base_url)
        say(
            console,
            f"Replay server on {server.base_url}; capturing {days} days from {first} into {settings.warehouse}",
        )
        with (
            instance() as dagster_instance,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress,
        ):
            task = progress.add_task("capturing", total=days)
            for offset in range(days):
                day = first + timedelta(days=offset)
                server.set_date(day)
                progress.update(task, description=f"capturing {day}")
                results.append(run_date(settings, day, "capture", dagster_instance=dagster_instance))
                progress.advance(task)
        requests = server.request_counts()
    elapsed = time.perf_counter() - started
    _summary(settings, results, requests, elapsed, console, options)
    return results


def _summary(
    settings: Settings,
    results: list[IngestResult],
    requests: dict[str, int],
    elapsed: float,
    console: Console,
    options: Sequence[str],
) -> None:
    last = results[-1].day
    with Warehouse(settings.warehouse, read_only=True) as wh:
        top = wh.query(
            "SELECT p.slug, round(m.activity_score, 1) AS activity, m.status, m.trend, m.commits_52w, m.stars "
            "FROM daily_package_metrics m JOIN packages p USING (package_id) "
            "WHERE m.snapshot_date = $d AND m.activity_score IS NOT NULL "
            "ORDER BY m.activity_score DESC, p.slug LIMIT 10",
            {"d": last},
        )
        movers_query = queries.load("biggest_movers")
        movers = wh.query(
            movers_query.sql,
            movers_query.bind(
                {"date": last.isoformat(), "days": str((last - results[0].day).days), "limit": "10"}
            ),
        )
        totals = wh.query(
            "SELECT count(*) AS runs, sum(records_accepted) AS accepted, sum(records_repaired) AS repaired, "
            "sum(records_rejected) AS rejected, sum(requests_djangopackages + requests_github + requests_pypi) "
            "AS requests, sum(requests_failed) AS failed_requests, bool_and(status = 'ok') AS counts_add_up "
            "FROM ingest_runs WHERE run_id IN (SELECT unnest($ids))",
            {"ids": [r.run_id for r in results]},
        ).row(0, named=True)
        packages = wh.row("SELECT count(*) FROM package_snapshots WHERE snapshot_date = ?", [last])[0]
    emit(top, "table", title=f"Top 10 by activity on {last}", out=console.file)
    emit(movers, "table", title=f"Biggest movers {results[0].day} .. {last}", out=console.file)
    say(
        console,
        f"{len(results)} days captured in {elapsed:.0f} s: {packages} packages on {last}; over all days "
        f"{totals['accepted']} records accepted ({totals['repaired']} repaired), {totals['rejected']} rejected; "
        f"{totals['requests']} requests ({totals['failed_requests']} failed; served: "
        + ", ".join(f"{k} {v}" for k, v in sorted(requests.items()))
        + f"); counts add up: {'yes' if totals['counts_add_up'] else 'NO'}",
    )
    given = "".join(f" {shlex.quote(option)}" for option in options)
    say(console, f"\nThe warehouse is {settings.warehouse.resolve()}. Next:", keep="\n")
    for command in (
        "query --list",
        "query most_active_by_category",
        'sql "select snapshot_date, count(*) from daily_package_metrics group by 1 order by 1"',
    ):
        say(console, f"  .venv/bin/dpw {command}{given}")
