"""What a recompute of one stored date costs: the write path of `dpw ingest --date D` for a past date.

    .venv/bin/python -m bench.recompute [--packages 50000] [--repeat 3] [--rebuild] [--stale]
                                        [--save DIR] [--compare DIR] [--profile FILE]

Prints figures; it is not a test. It starts the replay server in-process with a synthetic catalogue of
N packages, captures one date through the real pipeline into a warehouse under /tmp (kept between runs:
`--rebuild` captures it again), then recomputes that date K times through `pipelines.runner.run_date`, the
path `dpw ingest --date D` takes for a past date, and asserts that no request reached the replay server.
For each recompute it takes the Dagster step durations from the run's events, and times the parts inside
them (parsing, scoring, pandera validation, staging writes, guards, the publication and its history
refresh) by wrapping those functions for the benchmark only. Process start and imports are not counted.
The sources' parsers run at the same time (``core_tables_and_scores``), so their times overlap and add up
to more than the step's.

`--stale` changes, before each recompute, one value of every stored row of the date in `package_snapshots`
and `daily_package_metrics`, so that the publication rewrites them and refreshes every history table from
them, as a recompute after a change of parser or score does; without it the recomputed rows come out as
stored and the publication writes nothing (only what changed is written).

`--save DIR` writes the recomputed date's tables (and the history tables) as Parquet; `--compare DIR`
checks the recomputed tables against such a copy row for row (as multisets), so an optimization can be
shown to change nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import importlib
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

# (module, function) pairs timed inside the run, in the order printed; nested ones are indented under
# the ones that call them. Each is looked up on its module at call time by its callers (module.attr),
# or imported by name into the modules listed with it, which are patched too.
TIMED: list[tuple[str, str, tuple[str, ...], int]] = [
    ("warehouse.staging", "seed", (), 0),
    ("warehouse.raw", "read_raws", ("assets.core",), 0),
    ("warehouse.parsing", "parse_packages", (), 0),
    ("warehouse.parsing", "parse_categories", (), 0),
    ("warehouse.parsing", "parse_grids", (), 0),
    ("warehouse.parsing", "grid_memberships", (), 0),
    ("warehouse.enrichment", "parse_repositories", (), 0),
    ("warehouse.enrichment", "parse_pypi", (), 0),
    ("warehouse.metrics", "daily_metrics", ("assets.core",), 0),
    ("assets.core", "contract_checks", (), 0),
    ("assets.checks", "contract_check_result", ("assets.core", "assets.marts", "assets.raw"), 1),
    ("assets.core", "stage_checked", (), 0),
    ("warehouse.store", "Warehouse.replace_partitions", (), 1),
    ("warehouse.contracts", "validate", ("assets.checks",), 0),
    ("warehouse.guards", "day_facts", (), 0),
    ("warehouse.guards", "evaluate", (), 0),
    ("warehouse.runs", "run_summary", (), 0),
    ("warehouse.staging", "publish", (), 0),
    ("warehouse.history", "refresh", (), 1),
    ("warehouse.stitching", "refresh", (), 2),
    ("warehouse.attributes", "refresh", (), 2),
    ("warehouse.marts", "refresh", (), 2),
]


class Timers:
    """Wall time and calls per wrapped function; reset before each run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.originals: list[tuple[Any, str, Any]] = []

    def wrap(self, label: str, function: Callable) -> Callable:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1

        return timed

    def install(self) -> None:
        for module_name, attr, importers, _ in TIMED:
            module = importlib.import_module(module_name)
            owner, name = module, attr
            if "." in attr:
                cls_name, name = attr.split(".")
                owner = getattr(module, cls_name)
            original = getattr(owner, name)
            timed = self.wrap(f"{module_name}.{attr}", original)
            self.originals.append((owner, name, original))
            setattr(owner, name, timed)
            for importer in importers:
                other = importlib.import_module(importer)
                if getattr(other, name, None) is original:
                    self.originals.append((other, name, original))
                    setattr(other, name, timed)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()


def step_durations(instance: dg.DagsterInstance, run_id: str) -> tuple[dict[str, float], float]:
    """Each step's wall time (start to success or failure) and the run's, from the run's events."""
    starts: dict[str, float] = {}
    steps: dict[str, float] = {}
    run_start = run_end = None
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type_value
        if kind == "PIPELINE_START" or kind == "RUN_START":
            run_start = entry.timestamp
        elif kind in ("PIPELINE_SUCCESS", "RUN_SUCCESS", "PIPELINE_FAILURE", "RUN_FAILURE"):
            run_end = entry.timestamp
        elif kind == "STEP_START":
            starts[entry.step_key] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and entry.step_key in starts:
            steps[entry.step_key] = entry.timestamp - starts[entry.step_key]
    total = (run_end - run_start) if run_start is not None and run_end is not None else float("nan")
    return steps, total


def capture(folder: Path, packages: int, seed: int, rebuild: bool) -> tuple[Any, Any, date]:
    """The replay server (started) and the settings of a warehouse holding one captured date."""
    from pipelines.runner import run_date
    from pipelines.settings import Settings
    from replay.server import ReplayServer
    from warehouse.store import Warehouse

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "warehouse.duckdb"
    server = ReplayServer(synthetic=packages, seed=seed).start()
    settings = Settings().with_replay(server.base_url).with_warehouse(path)
    day = server.date
    stored = False
    if path.exists() and not rebuild:
        with Warehouse(path) as wh:  # a writer: a file from an older dpw is migrated, as `dpw ingest` does
            stored = wh.has_raw(day, "djangopackages/")
    if not stored:
        for leftover in [path, *folder.glob("warehouse.duckdb*")]:
            if leftover.is_file():
                leftover.unlink()
            elif leftover.is_dir():
                for child in leftover.iterdir():
                    child.unlink()
                leftover.rmdir()
        print(f"capturing {packages:,} synthetic packages for {day} into {path} ...", flush=True)
        started = time.perf_counter()
        result = run_date(settings, day, "capture")
        print(
            f"captured in {time.perf_counter() - started:.1f} s: {result.summary['records_fetched']:,} records, "
            f"{result.summary['packages_scored']:,} scored",
            flush=True,
        )
    # The sources move on a day, so the stored date is a past one, as `dpw ingest --date D` would see it.
    server.set_date(day + timedelta(days=1))
    return server, settings, day


def make_stale(path: Path, day: date) -> None:
    """Every stored row of ``day`` in the two tables the history reads most made different from what its raw
    gives (a title and a star count), so the recompute must rewrite them and refresh the history."""
    from warehouse.store import Warehouse

    with Warehouse(path) as wh, wh.transaction() as conn:
        conn.execute(
            "UPDATE package_snapshots SET title = title || ' (stale)' WHERE snapshot_date = $d", {"d": day}
        )
        conn.execute(
            "UPDATE daily_package_metrics SET stars = stars + 1 WHERE snapshot_date = $d", {"d": day}
        )


def snapshot_tables() -> tuple[list[str], list[str]]:
    from warehouse import history, staging

    return list(staging.DERIVED_TABLES), list(history.tables())


@contextmanager
def reader(path: Path) -> Iterator[Any]:
    """A plain read-only DuckDB connection: the warehouse's own readers may not write files (Parquet)."""
    import duckdb

    conn = duckdb.connect(str(path), read_only=True)
    try:
        yield conn
    finally:
        conn.close()


def save(path: Path, day: date, out: Path) -> None:
    derived, history_tables = snapshot_tables()
    out.mkdir(parents=True, exist_ok=True)
    with reader(path) as wh:
        for table in derived:
            wh.execute(
                f"COPY (SELECT * FROM \"{table}\" WHERE snapshot_date = ?) TO '{out / table}.parquet' (FORMAT parquet)",
                [day],
            )
        for table in history_tables:
            wh.execute(f"COPY \"{table}\" TO '{out / table}.parquet' (FORMAT parquet)")
    print(f"saved the recomputed tables of {day} in {out}")


def compare(path: Path, day: date, saved: Path) -> bool:
    """Row-for-row (multiset) comparison of the date's tables with a saved copy; prints each difference."""
    derived, history_tables = snapshot_tables()
    same = True
    with reader(path) as wh:
        for table in [*derived, *history_tables]:
            file = saved / f"{table}.parquet"
            if not file.exists():
                print(f"  {table}: no saved copy")
                continue
            where = "WHERE snapshot_date = $d" if table in derived else ""
            current = f'(SELECT * FROM "{table}" {where})'
            stored = f"(SELECT * FROM read_parquet('{file}'))"
            params = {"d": day} if where else {}
            only_now = wh.execute(f"SELECT count(*) FROM ({current} EXCEPT ALL {stored})", params).fetchone()[
                0
            ]
            only_saved = wh.execute(
                f"SELECT count(*) FROM ({stored} EXCEPT ALL {current})", params
            ).fetchone()[0]
            rows = wh.execute(f"SELECT count(*) FROM {current}", params).fetchone()[0]
            if only_now or only_saved:
                same = False
                print(f"  {table}: DIFFERENT ({only_now} rows only now, {only_saved} only in the saved copy)")
            else:
                print(f"  {table}: identical ({rows:,} rows)")
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="recomputes to time (the median is printed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None, help="default /tmp/dpw-bench-recompute/N-seedS")
    parser.add_argument("--rebuild", action="store_true", help="capture the date again")
    parser.add_argument("--stale", action="store_true", help="change stored rows first, so all is rewritten")
    parser.add_argument("--save", type=Path, help="write the recomputed tables as Parquet here")
    parser.add_argument("--compare", type=Path, help="compare the recomputed tables with a saved copy")
    parser.add_argument("--profile", type=Path, help="cProfile the last recompute into this file")
    args = parser.parse_args()

    from pipelines.runner import run_date

    folder = args.dir or Path(f"/tmp/dpw-bench-recompute/{args.packages}-seed{args.seed}")
    server, settings, day = capture(folder, args.packages, args.seed, args.rebuild)
    timers = Timers()
    timers.install()
    walls: list[float] = []
    per_step: dict[str, list[float]] = defaultdict(list)
    per_part: dict[str, list[float]] = defaultdict(list)
    calls: dict[str, int] = {}
    runs: list[float] = []
    cpus: list[float] = []
    try:
        for i in range(args.repeat):
            if args.stale:
                make_stale(settings.warehouse, day)
            timers.reset()
            before = dict(server.request_counts())
            profiler = cProfile.Profile() if args.profile and i == args.repeat - 1 else None
            with dg.DagsterInstance.ephemeral() as instance:
                started, cpu_started = time.perf_counter(), time.process_time()
                if profiler:
                    profiler.enable()
                result = run_date(settings, day, "recompute", dagster_instance=instance)
                if profiler:
                    profiler.disable()
                wall = time.perf_counter() - started
                cpus.append(time.process_time() - cpu_started)
                steps, run_total = step_durations(instance, result.run_id)
            after = dict(server.request_counts())
            assert after == before, f"a recompute made requests: {before} -> {after}"
            assert result.summary["status"] == "ok", result.summary
            walls.append(wall)
            runs.append(run_total)
            for step, seconds in steps.items():
                per_step[step].append(seconds)
            for label, seconds in timers.seconds.items():
                per_part[label].append(seconds)
            calls = dict(timers.calls)
            print(
                f"recompute {i + 1}/{args.repeat}: {wall:.2f} s (Dagster run {run_total:.2f} s, "
                f"CPU {cpus[-1]:.2f} s)",
                flush=True,
            )
            if profiler:
                profiler.dump_stats(args.profile)
                print(f"profile written to {args.profile}")
    finally:
        server.stop()

    def med(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")

    print()
    print(
        f"{args.packages:,} synthetic packages, date {day}, {args.repeat} recomputes"
        f"{' of stale rows' if args.stale else ''}, no request "
        f"(replay counts unchanged): median {med(walls):.2f} s "
        f"(min {min(walls):.2f}, max {max(walls):.2f}); Dagster run start to end {med(runs):.2f} s; "
        f"CPU {med(cpus):.2f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print("Dagster steps (median s):")
    for step, values in sorted(per_step.items(), key=lambda kv: -med(kv[1])):
        print(f"  {step:<28} {med(values):6.2f}")
    print("inside the steps (median s over the recomputes, calls in one):")
    for module_name, attr, _, depth in TIMED:
        label = f"{module_name}.{attr}"
        if label in per_part:
            name = label.removeprefix("warehouse.").removeprefix("assets.")
            print(
                f"  {'  ' * depth}{name:<{44 - 2 * depth}} {med(per_part[label]):6.2f}  x{calls.get(label, 0)}"
            )
    if args.save:
        save(settings.warehouse, day, args.save)
    if args.compare:
        print(f"comparing with {args.compare}:")
        if not compare(settings.warehouse, day, args.compare):
            raise SystemExit("the recomputed tables differ from the saved copy")


if __name__ == "__main__":
    main()
