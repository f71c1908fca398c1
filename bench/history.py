"""A year of history at scale: what a recompute, the named queries, the stitched weeks and the dashboard cost.

    .venv/bin/python -m bench.history [--packages 50000] [--days 365] [--real-days 2] [--runs 5] [--rebuild]
                                      [--table-sizes] [--reuse]

Prints figures; it is not a test. It builds a warehouse of ``--days`` snapshot dates of a synthetic catalogue
of ``--packages`` packages under /tmp/dpw-bench-history/ (kept between runs: ``--rebuild`` builds it again,
otherwise a rerun only measures), then prints:

(a) a Dagster recompute of a date whose raw the real pipeline wrote (`pipelines.runner.run_date`, mode
    recompute, in-process executor, validation, guards and the publication with its history refresh
    included; process start and imports excluded), with each step's duration from the run's events. The
    sources point at a closed loopback port, so a request would fail the run. First recomputes whose rows
    come out as stored (the publication writes nothing), then recomputes after the date's stored
    package_snapshots and daily_package_metrics rows were changed (`bench.recompute --stale`), which the
    publication rewrites and refreshes the history from;
(b) each named query of `warehouse.queries` with its example's parameters, the median and max of N runs;
(c) `SELECT count(*) FROM weekly_commits` and a full read of it into polars;
(d) the four dashboards' reads (`warehouse.dashboards`), in a child process: time and peak RSS (VmHWM);
(e) the file's size after a CHECKPOINT and the part of it in use, per day and per year, per table (each
    table copied alone into a fresh DuckDB file; ``--table-sizes``), and what a month more does to a copy of
    the year (``--reuse``).

How the year is built (also printed): the first ``--real-days`` dates are captured by the real pipeline
from the replay server's synthetic catalogue (`dpw replay --synthetic N`, in-process) through the real
Dagster job; every later date's derived tables are generated in DuckDB SQL from the last real date, with a
deterministic drift (see `SYNTHESIS`), inserted in bulk in date order, `warehouse.history.rebuild` is
run once, and every closed month is compacted (`warehouse.compaction`, as the daily capture does when a
month closes). Raw is written for the real days only: the per-year raw figure is extrapolated from them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path("/tmp/dpw-bench-history")
MB = 1024 * 1024
# A loopback port nothing listens on: a recompute that made a request would fail.
NO_SOURCES = "http://127.0.0.1:9"

# --- building the year ---------------------------------------------------------------------------------

METHOD = """\
method: dates 1..{real} captured by the real pipeline (replay server, synthetic catalogue of {packages:,}
  packages, the Dagster capture job, in-process executor); dates {real_next}..{days} generated in DuckDB SQL
  from date {real} with a deterministic drift (hash of package and date): stars and forks grow, every weekly
  array slides with the date (new weeks drawn for packages active on date {real}), scores drift, 12% of
  packages age one status step and 2% revive at a drawn date, 0.5% leave the catalogue, 1% new packages
  (copies of existing ones under new ids) join, 0.3% change repo_url, 0.2% category, 0.3% title, 0.2% of
  repositories are archived, PyPI projects gain releases (about 1.5 a year each, with version and release
  count following); inserted in bulk in (date, key) order, then `history.rebuild(wh)` once, then
  every closed month compacted (rewritten in key order, as the daily capture does when a month closes).
  Raw is stored for the real dates only."""

# Every statement reads `_base` tables made from the last real date (B) and writes dates B + k, k in
# [$k0, $k1). u(x...) is a uniform draw in [0, 1) from a hash.
_MACROS = """
CREATE OR REPLACE TEMP MACRO u(a, b, c) AS (hash(a, b, c) % 1000000) / 1000000.0;
"""


def _shift(anchor: str, k: str) -> str:
    """How many week boundaries (Mondays, UTC) a weekly array anchored at ``anchor`` crosses in k days."""
    return (
        f"CAST(datediff('week', date_trunc('week', timezone('UTC', {anchor} - INTERVAL 1 MICROSECOND)), "
        f"date_trunc('week', timezone('UTC', {anchor} + to_days(CAST({k} AS INTEGER)) - INTERVAL 1 MICROSECOND))) "
        "AS BIGINT)"
    )


def _slide(weeks: str, anchor: str, k: str) -> str:
    """The array ``weeks`` anchored at ``anchor``, k days on: the weeks that slid out are gone, the new ones
    are drawn per (package, absolute week), so every date that counts a week gives it the same count."""
    shift = _shift(anchor, k)
    week0 = f"CAST(epoch(date_trunc('week', timezone('UTC', {anchor} - INTERVAL 1 MICROSECOND))) // 604800 AS BIGINT)"
    new = (
        f"list_transform(range(greatest({shift} - 51, 1), {shift} + 1), "
        f"lambda j: CASE WHEN _pk.active AND u(_pk.src_id, {week0} + j, 1) < 0.45 "
        f"THEN CAST(1 + (hash(_pk.src_id, {week0} + j, 2) % 6) AS BIGINT) ELSE CAST(0 AS BIGINT) END)"
    )
    return (
        f"CASE WHEN {weeks} IS NULL OR {anchor} IS NULL OR {shift} = 0 THEN {weeks} "
        f"ELSE list_concat(list_slice({weeks}, least({shift}, 52) + 1, 52), {new}) END"
    )


def _k_dates(base: str) -> str:
    return f"(SELECT k, CAST(DATE '{base}' + CAST(k AS INTEGER) AS DATE) AS d FROM range($k0, $k1) t(k))"


def synthesis(base: date) -> dict[str, str]:
    """The INSERT of each table for the dates base + k, k in [$k0, $k1)."""
    dates = _k_dates(base.isoformat())
    present = "t.k >= _pk.first_k AND t.k < _pk.last_k"
    stars = "CAST(floor(t.k * _pk.star_rate) AS BIGINT)"
    status_order = "['active', 'slowing', 'stale', 'inactive', 'abandoned']"
    status = (
        f"CASE WHEN m.status = 'unknown' THEN m.status "
        f"WHEN _pk.revive_k <= t.k THEN 'active' "
        f"WHEN _pk.age_k <= t.k THEN {status_order}[least(5, list_position({status_order}, m.status) + 1)] "
        "ELSE m.status END"
    )
    shifted_weeks = _slide("m.weeks", "m.weeks_anchor_at", "t.k")
    return {
        "package_snapshots": f"""
INSERT INTO package_snapshots
SELECT p.* REPLACE (
    t.d AS snapshot_date, _pk.package_id AS package_id,
    CASE WHEN _pk.clone THEN p.slug || '-ng' ELSE p.slug END AS slug,
    CASE WHEN _pk.title_k <= t.k THEN p.title || ' (renamed)' ELSE p.title END AS title,
    CASE WHEN _pk.cat_k <= t.k THEN _pk.new_category ELSE p.category_id END AS category_id,
    CASE WHEN _pk.repo_k <= t.k THEN p.repo_url || '-next' ELSE p.repo_url END AS repo_url,
    p.stars + {stars} AS stars,
    p.forks + CAST(floor(t.k * _pk.star_rate / 5) AS BIGINT) AS forks,
    {_slide("p.commits_over_52", "p.last_fetched_at", "t.k")} AS commits_over_52,
    p.last_fetched_at + to_days(CAST(t.k AS INTEGER)) AS last_fetched_at
)
FROM _base_packages p JOIN _pk ON _pk.src_id = p.package_id CROSS JOIN {dates} t
WHERE {present}
ORDER BY t.d, _pk.package_id
""",
        "daily_package_metrics": f"""
INSERT INTO daily_package_metrics
SELECT m.* REPLACE (
    t.d AS snapshot_date, _pk.package_id AS package_id,
    m.stars + {stars} AS stars,
    m.forks + CAST(floor(t.k * _pk.star_rate / 5) AS BIGINT) AS forks,
    {shifted_weeks} AS weeks,
    m.weeks_anchor_at + to_days(CAST(t.k AS INTEGER)) AS weeks_anchor_at,
    CASE WHEN m.weeks IS NULL THEN m.commits_52w ELSE list_sum({shifted_weeks}) END AS commits_52w,
    CASE WHEN m.activity_score IS NULL THEN NULL
         ELSE least(100.0, greatest(0.0, m.activity_score
              + CASE WHEN _pk.revive_k <= t.k THEN 25.0 WHEN _pk.age_k <= t.k THEN -12.0 ELSE 0.0 END
              + 3.0 * sin(t.k / 29.0 + 6.28 * u(_pk.src_id, 0, 3)))) END AS activity_score,
    {status} AS status,
    CASE WHEN m.trend = 'n/a' THEN m.trend
         ELSE ['rising', 'steady', 'declining'][1 + CAST(hash(_pk.src_id, t.k // 30, 4) % 3 AS INTEGER)] END
        AS trend,
    CASE WHEN _pk.rel_bump <= t.k THEN m.latest_version || '.post1' ELSE m.latest_version END AS latest_version
)
FROM _base_metrics m JOIN _pk ON _pk.src_id = m.package_id CROSS JOIN {dates} t
WHERE {present}
ORDER BY t.d, _pk.package_id
""",
        "daily_grid_percentiles": f"""
INSERT INTO daily_grid_percentiles
SELECT t.d, g.grid_id, _pk.package_id, g.percentile_grid
FROM _base_grid_percentiles g JOIN _pk ON _pk.src_id = g.package_id CROSS JOIN {dates} t
WHERE {present}
ORDER BY t.d, g.grid_id, _pk.package_id
""",
        "grid_package_snapshots": f"""
INSERT INTO grid_package_snapshots
SELECT t.d, g.grid_id, _pk.package_id
FROM _base_grid_packages g JOIN _pk ON _pk.src_id = g.package_id CROSS JOIN {dates} t
WHERE {present}
ORDER BY t.d, g.grid_id, _pk.package_id
""",
        "category_snapshots": f"""
INSERT INTO category_snapshots SELECT c.* REPLACE (t.d AS snapshot_date)
FROM _base_categories c CROSS JOIN {dates} t ORDER BY t.d, c.category_id
""",
        "grid_snapshots": f"""
INSERT INTO grid_snapshots SELECT g.* REPLACE (t.d AS snapshot_date)
FROM _base_grids g CROSS JOIN {dates} t ORDER BY t.d, g.grid_id
""",
        "repository_snapshots": f"""
INSERT INTO repository_snapshots
SELECT r.* REPLACE (
    t.d AS snapshot_date,
    r.stars + CAST(floor(t.k * (hash(r.full_name) % 100) / 1000.0) AS BIGINT) AS stars,
    CASE WHEN r.status = 'ok' AND u(r.full_name, 0, 5) < 0.002 AND t.k >= hash(r.full_name, 6) % 365
         THEN true ELSE r.archived END AS archived,
    CASE WHEN r.pushed_at IS NULL THEN NULL ELSE r.pushed_at + to_days(CAST(t.k AS INTEGER)) END AS pushed_at
)
FROM _base_repositories r CROSS JOIN {dates} t
ORDER BY t.d, r.full_name
""",
        "pypi_projects": f"""
INSERT INTO pypi_projects
SELECT p.* REPLACE (
    t.d AS snapshot_date,
    coalesce(n.version, p.version) AS version,
    p.release_count + coalesce(n.n, 0) AS release_count,
    coalesce(n.uploaded_at, p.last_release_at) AS last_release_at,
    p.last_serial + coalesce(n.n, 0) AS last_serial
)
FROM _base_projects p CROSS JOIN {dates} t
ASOF LEFT JOIN _new_releases n ON n.pypi_name = p.pypi_name AND t.k >= n.rk
ORDER BY t.d, p.pypi_name
""",
        "release_snapshots": f"""
INSERT INTO release_snapshots
SELECT * FROM (
    SELECT r.* REPLACE (t.d AS snapshot_date) FROM _base_releases r CROSS JOIN {dates} t
    UNION ALL
    SELECT t.d, n.pypi_name, n.version, n.uploaded_at, false, NULL
    FROM _new_releases n JOIN {dates} t ON t.k >= n.rk
) ORDER BY snapshot_date, pypi_name, version
""",
    }


def _prepare(conn: duckdb.DuckDBPyConnection, base: date, days: int) -> None:
    """The last real date's rows, and each package's drawn fate (_pk: one row per package id written)."""
    b = {"b": base}
    for name, sql in (
        ("_base_packages", "SELECT * FROM package_snapshots WHERE snapshot_date = $b"),
        ("_base_metrics", "SELECT * FROM daily_package_metrics WHERE snapshot_date = $b"),
        ("_base_grid_percentiles", "SELECT * FROM daily_grid_percentiles WHERE snapshot_date = $b"),
        ("_base_grid_packages", "SELECT * FROM grid_package_snapshots WHERE snapshot_date = $b"),
        ("_base_categories", "SELECT * FROM category_snapshots WHERE snapshot_date = $b"),
        ("_base_grids", "SELECT * FROM grid_snapshots WHERE snapshot_date = $b"),
        ("_base_repositories", "SELECT * FROM repository_snapshots WHERE snapshot_date = $b"),
        ("_base_projects", "SELECT * FROM pypi_projects WHERE snapshot_date = $b"),
        ("_base_releases", "SELECT * FROM release_snapshots WHERE snapshot_date = $b"),
    ):
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}", b)
    conn.execute(_MACROS)
    never = 10**6
    conn.execute(
        f"""
CREATE OR REPLACE TEMP TABLE _pk AS
WITH cats AS (SELECT list(category_id ORDER BY category_id) AS ids FROM _base_categories),
src AS (
    SELECT p.package_id AS src_id, coalesce(m.commits_52w, 0) > 0 AS active,
           coalesce(p.stars, 0) AS stars, p.category_id
    FROM _base_packages p LEFT JOIN _base_metrics m USING (package_id)
),
fates AS (
    SELECT src_id, src_id AS package_id, false AS clone, 1 AS first_k,
           CASE WHEN u(src_id, 0, 10) < 0.005 THEN 1 + hash(src_id, 11) % $span ELSE {never} END AS last_k,
           active, stars, category_id
    FROM src
    UNION ALL
    SELECT src_id, src_id + 1000000000, true, 1 + hash(src_id, 13) % $span, {never}, active, stars, category_id
    FROM src WHERE u(src_id, 0, 12) < 0.01
)
SELECT f.*,
       (f.stars + 1) * (0.0002 + 0.002 * u(f.src_id, 0, 14)) AS star_rate,
       CASE WHEN u(f.src_id, 0, 15) < 0.12 THEN 1 + hash(f.src_id, 16) % $span ELSE {never} END AS age_k,
       CASE WHEN u(f.src_id, 0, 17) < 0.02 THEN 1 + hash(f.src_id, 18) % $span ELSE {never} END AS revive_k,
       CASE WHEN u(f.src_id, 0, 19) < 0.003 THEN 1 + hash(f.src_id, 20) % $span ELSE {never} END AS repo_k,
       CASE WHEN u(f.src_id, 0, 21) < 0.002 AND len(cats.ids) > 1 THEN 1 + hash(f.src_id, 22) % $span
            ELSE {never} END AS cat_k,
       cats.ids[1 + CAST(hash(f.src_id, 23) % len(cats.ids) AS INTEGER)] AS new_category,
       CASE WHEN u(f.src_id, 0, 24) < 0.003 THEN 1 + hash(f.src_id, 25) % $span ELSE {never} END AS title_k,
       {never} AS rel_bump
FROM fates f, cats
""",
        {"span": max(days - 1, 1)},
    )
    # About 1.5 new releases a year per project found, each on a drawn day.
    conn.execute(
        f"""
CREATE OR REPLACE TEMP TABLE _new_releases AS
SELECT pypi_name, rk, coalesce(version, '0') || '.post' || row_number() OVER w AS version,
       CAST(DATE '{base}' + CAST(rk AS INTEGER) AS TIMESTAMPTZ) + INTERVAL 10 HOUR AS uploaded_at,
       row_number() OVER w AS n
FROM _base_projects p, range(1, $days) t(rk)
WHERE p.status = 'ok' AND u(p.pypi_name, rk, 30) < 0.004
WINDOW w AS (PARTITION BY pypi_name ORDER BY rk)
""",
        {"days": days},
    )
    # A package whose project released since the base date shows the new version as its latest.
    conn.execute(
        """
UPDATE _pk SET rel_bump = f.rk FROM (
    SELECT p.package_id, min(n.rk) AS rk FROM _base_packages p JOIN _new_releases n USING (pypi_name)
    GROUP BY p.package_id
) f WHERE _pk.src_id = f.package_id
"""
    )


def synthesize(path: Path, base: date, days: int, chunk: int = 30) -> dict[str, float]:
    """Dates base + 1 .. base + days - 1, every derived table, inserted in chunks of ``chunk`` dates."""
    from warehouse.store import Warehouse

    timings: dict[str, float] = {}
    with Warehouse(path) as wh:
        conn = wh.conn
        _prepare(conn, base, days)
        statements = synthesis(base)
        for k0 in range(1, days, chunk):
            k1 = min(days, k0 + chunk)
            for table, sql in statements.items():
                started = time.perf_counter()
                with wh.transaction():
                    conn.execute(sql, {"k0": k0, "k1": k1})
                timings[table] = timings.get(table, 0.0) + time.perf_counter() - started
        conn.execute("CHECKPOINT")
    return timings


# --- measuring -----------------------------------------------------------------------------------------


def checkpointed_size(path: Path) -> int:
    con = duckdb.connect(str(path))
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return path.stat().st_size


def blocks(path: Path) -> tuple[int, int, int]:
    """(block size, blocks in the file, free blocks among them): DuckDB reuses a free block for new rows."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(
            "SELECT block_size, total_blocks, free_blocks FROM pragma_database_size()"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def table_sizes(
    path: Path, tables: list[str], scratch: Path, where: dict[str, str] | None = None
) -> dict[str, int]:
    """Each table's size alone: created in a fresh DuckDB file with its own DDL (so a column's chosen
    compression is kept), filled in its stored order (``where`` narrows a table's rows), checkpointed, the
    file's size."""
    sizes = {}
    where = where or {}
    con = duckdb.connect(str(path))
    try:
        for table in tables:
            target = scratch / f"{table}.duckdb"
            target.unlink(missing_ok=True)
            ddl = con.execute(
                "SELECT sql FROM duckdb_tables() WHERE database_name = current_database() AND table_name = ?",
                [table],
            ).fetchone()[0]
            con.execute(f"ATTACH '{target}' AS scratch")
            con.execute("USE scratch")
            con.execute(ddl)
            con.execute(f"USE {_db(con, path)}")
            con.execute(
                f'INSERT INTO scratch."{table}" SELECT * FROM "{table}" WHERE {where.get(table, "true")}'
            )
            con.execute("DETACH scratch")
            sizes[table] = checkpointed_size(target)
            target.unlink()
    finally:
        con.close()
    return sizes


def _db(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    return con.execute("SELECT database_name FROM duckdb_databases() WHERE path = ?", [str(path)]).fetchone()[
        0
    ]


def all_tables(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary ORDER BY 1"
            ).fetchall()
        ]
    finally:
        con.close()


def step_durations(instance, run_id: str) -> list[tuple[str, float]]:
    """Each step's duration (start to success or failure), in the order the steps started."""
    starts: dict[str, float] = {}
    done: list[tuple[str, float]] = []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        kind = event.event_type_value
        if kind == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
            done.append((event.step_key, entry.timestamp - starts[event.step_key]))
    return done


def run_day(settings, day: date, mode: str) -> tuple[float, dict, list[tuple[str, float]]]:
    import dagster as dg

    from pipelines.runner import run_date

    with dg.DagsterInstance.ephemeral() as instance:
        started, cpu = time.perf_counter(), _cpu()
        result = run_date(settings, day, mode, dagster_instance=instance)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
        steps = step_durations(instance, result.run_id)
    return elapsed, result.summary | {"cpu_s": _cpu() - cpu}, steps


def _cpu() -> float:
    """This process's CPU time so far, every thread's (DuckDB's and polars' included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def build(folder: Path, packages: int, days: int, real: int, seed: int, recapture: bool) -> dict:
    from warehouse import compaction, history
    from warehouse.store import Warehouse

    path = folder / "warehouse.duckdb"
    scratch = folder / "scratch"
    # The real captures are kept apart (real/), so a rebuild redoes only the synthesis unless told.
    kept = CACHE / f"real-{packages}x{real}-seed{seed}"
    if recapture or not (kept / "real.json").exists():
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True)
    shutil.rmtree(folder, ignore_errors=True)
    scratch.mkdir(parents=True)
    if not (kept / "real.json").exists():
        figures = capture(kept / "warehouse.duckdb", packages, real, seed, scratch)
        (kept / "real.json").write_text(json.dumps(figures, indent=1))
    figures = json.loads((kept / "real.json").read_text()) | {"days": days}
    for stale in folder.glob("warehouse.duckdb*"):
        stale.unlink() if stale.is_file() else shutil.rmtree(stale)
    shutil.copy(kept / "warehouse.duckdb", path)
    first = date.fromisoformat(figures["captures"][0]["day"])
    base = first + timedelta(days=real - 1)
    figures["first_day"], figures["base_day"] = first.isoformat(), base.isoformat()
    started = time.perf_counter()
    figures["synthesis_tables_s"] = synthesize(path, base, days - real + 1)
    figures["synthesis_s"] = time.perf_counter() - started
    print(f"  synthesized {days - real} dates: {figures['synthesis_s']:.1f} s", flush=True)
    with Warehouse(path) as wh:
        started = time.perf_counter()
        history.rebuild(wh)
        figures["rebuild_s"] = time.perf_counter() - started
        wh.conn.execute("CHECKPOINT")
    print(f"  history.rebuild: {figures['rebuild_s']:.1f} s", flush=True)
    figures["file_bytes"] = checkpointed_size(path)
    # What the daily capture does after each month closes, done at once for the whole year.
    with Warehouse(path) as wh:
        started = time.perf_counter()
        figures["compacted"] = [(c.month.isoformat(), c.rows, c.seconds) for c in compaction.compact_due(wh)]
        figures["compaction_s"] = time.perf_counter() - started
    print(
        f"  compaction of {len(figures['compacted'])} closed months: {figures['compaction_s']:.1f} s",
        flush=True,
    )
    (folder / "build.json").write_text(json.dumps(figures, indent=1))
    return figures


def capture(path: Path, packages: int, real: int, seed: int, scratch: Path) -> dict:
    """The first ``real`` dates through the real pipeline, each timed and measured."""
    from pipelines.settings import Settings
    from replay.server import ReplayServer

    figures: dict = {"packages": packages, "real_days": real, "captures": []}
    started = time.perf_counter()
    with ReplayServer(synthetic=packages, seed=seed) as server:
        figures["server_start_s"] = time.perf_counter() - started
        settings = Settings().with_replay(server.base_url).with_warehouse(path)
        first = server.date
        for i in range(real):
            day = first + timedelta(days=i)
            server.set_date(day)
            elapsed, summary, steps = run_day(settings, day, "capture")
            raw = [t for t in all_tables(path) if t.startswith("raw_")]
            figures["captures"].append(
                {
                    "day": day.isoformat(),
                    "seconds": elapsed,
                    "status": summary["status"],
                    "scored": summary["packages_scored"],
                    "file_bytes": checkpointed_size(path),
                    "raw_bytes": table_sizes(path, raw, scratch),
                    "steps": steps,
                }
            )
            print(f"  captured {day}: {elapsed:.1f} s, {summary['status']}", flush=True)
    return figures


def example_params(q, wh) -> tuple[dict[str, str], str]:
    """The query's example parameters; a package or PyPI name the synthetic catalogue lacks is replaced by
    one it has (said in the note)."""
    given = dict(re.findall(r"--param (\w+)=(\S+)", q.example))
    note = ""
    if "package" in given:
        found = wh.row(
            "SELECT count(*) FROM package_snapshots WHERE snapshot_date = (SELECT max(snapshot_date) FROM "
            "package_snapshots) AND slug = ?",
            [given["package"]],
        )[0]
        if not found:
            slug = wh.row(
                "SELECT p.slug FROM daily_package_metrics m JOIN package_snapshots p USING (snapshot_date, package_id) "
                "WHERE m.snapshot_date = (SELECT max(snapshot_date) FROM daily_package_metrics) "
                "AND m.weeks IS NOT NULL ORDER BY m.activity_score DESC NULLS LAST, p.slug LIMIT 1"
            )[0]
            note = f"package={slug} (the example's {given['package']} is not in the synthetic catalogue)"
            given["package"] = slug
    if "names" in given:
        names = [
            r[0]
            for r in wh.conn.execute(
                "SELECT pypi_name FROM package_snapshots WHERE snapshot_date = (SELECT max(snapshot_date) FROM "
                "package_snapshots) AND pypi_name IS NOT NULL ORDER BY hash(pypi_name) LIMIT 8"
            ).fetchall()
        ]
        given["names"] = ",".join([*given["names"].split(","), *names])
        note = f"names = the example's two and {len(names)} of the catalogue's"
    return given, note


def measure_queries(path: Path, runs: int) -> list[tuple[str, float, float, float, int, str]]:
    from warehouse import queries
    from warehouse.store import Warehouse

    rows = []
    with Warehouse(path, read_only=True) as wh:
        for q in queries.available():
            given, note = example_params(q, wh)
            params = q.bind(given)
            wh.query(q.sql, params)  # warm: the first read of a column loads it
            times, cpu = [], []
            for _ in range(runs):
                started, used = time.perf_counter(), _cpu()
                result = wh.query(q.sql, params)
                times.append(time.perf_counter() - started)
                cpu.append(_cpu() - used)
            rows.append(
                (q.name, statistics.median(times), max(times), statistics.median(cpu), result.height, note)
            )
    return rows


def measure_weeks(path: Path, runs: int) -> dict[str, float]:
    from warehouse.store import Warehouse

    out: dict[str, float] = {}
    with Warehouse(path, read_only=True) as wh:
        for label, sql in (
            ("count", "SELECT count(*) FROM weekly_commits"),
            ("read", "SELECT * FROM weekly_commits"),
        ):
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                frame = wh.query(sql)
                times.append(time.perf_counter() - started)
            out[label] = statistics.median(times)
            out[f"{label}_rows"] = frame.item() if label == "count" else frame.height
            if label == "read":
                out["read_mb"] = frame.estimated_size() / MB
    return out


def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _app_reads(path: str) -> dict[str, list]:
    """Each dashboard app's reads on opening, as the app makes them (`warehouse.dashboards`): (name, read)."""
    from warehouse import dashboards

    def biggest_group() -> object:
        top = dashboards.groups(path).sort("packages", descending=True).row(0, named=True)
        return dashboards.group(path, top["kind"], top["slug"])

    def top_package() -> object:
        return dashboards.package(path, dashboards.search(path, "").row(0, named=True)["slug"])

    return {
        "overview": [("overview", lambda: dashboards.overview(path))],
        "category": [("groups + the biggest group's view", biggest_group)],
        "package": [("search + the most starred package's view", top_package)],
        "movers": [("movers", lambda: dashboards.movers(path))],
    }


def dashboard_child(path: str, app: str) -> None:
    """In a fresh process: one dashboard app's reads, timed, with the process's peak RSS before and after."""
    import polars  # noqa: F401  imported before the baseline: the dashboards import it too

    reads = _app_reads(path)[app]
    before = _vm("VmHWM")
    timings = {}
    for name, read in reads:
        started = time.perf_counter()
        read()
        timings[name] = time.perf_counter() - started
    print(json.dumps({"timings": timings, "baseline_hwm": before, "hwm": _vm("VmHWM")}))


def measure_dashboard(path: Path, runs: int) -> dict[str, list[dict]]:
    """Per app, ``runs`` fresh processes' figures."""
    code = "import sys; from bench.history import dashboard_child; dashboard_child(sys.argv[1], sys.argv[2])"
    results: dict[str, list[dict]] = {}
    for app in _app_reads(str(path)):
        for _ in range(runs):
            proc = subprocess.run(
                [sys.executable, "-c", code, str(path), app],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode:
                raise SystemExit(f"the {app} dashboard's reads failed:\n{proc.stderr}")
            results.setdefault(app, []).append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return results


# Functions timed inside a recompute's last step (ingest_runs), patched on their modules for the benchmark
# only; every caller looks them up on the module at call time.
TIMED = (
    ("warehouse.guards", "evaluate"),
    ("warehouse.staging", "publish"),
    ("warehouse.history", "refresh"),
    ("warehouse.stitching", "refresh"),
    ("warehouse.attributes", "refresh"),
    ("warehouse.marts", "refresh"),
    ("warehouse.marts", "_write"),
)


@contextmanager
def timed() -> Iterator[dict[str, float]]:
    import importlib

    spent: dict[str, float] = {}
    saved = []
    for module_name, name in TIMED:
        module = importlib.import_module(module_name)
        original = getattr(module, name)
        label = f"{module_name.rsplit('.', 1)[-1]}.{name}"

        def wrapper(*args, _original=original, _label=label, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_label] = spent.get(_label, 0.0) + time.perf_counter() - started

        setattr(module, name, wrapper)
        saved.append((module, name, original))
    try:
        yield spent
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def recompute(
    path: Path, day: date, times: int, stale: bool = False
) -> list[tuple[float, dict, list[tuple[str, float]], dict]]:
    """``times`` recomputes of ``day``; ``stale``: each after its stored rows were changed
    (`bench.recompute.make_stale`), so the publication rewrites them and refreshes the history."""
    from bench.recompute import make_stale
    from pipelines.settings import Settings

    settings = Settings().with_replay(NO_SOURCES).with_warehouse(path)
    results = []
    for _ in range(times):
        if stale:
            make_stale(path, day)
        with timed() as spent:
            results.append((*run_day(settings, day, "recompute"), dict(spent)))
    return results


# --- printing ------------------------------------------------------------------------------------------


def _mb(n: float) -> str:
    return f"{n / MB:,.1f} MB"


def report(args: argparse.Namespace, folder: Path, figures: dict) -> None:
    path = folder / "warehouse.duckdb"
    days, real, packages = figures["days"], figures["real_days"], figures["packages"]
    print(f"\n== {packages:,} packages x {days} snapshot dates, warehouse {path}")
    print(
        f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} at the start"
    )
    print(METHOD.format(real=real, real_next=real + 1, days=days, packages=packages))
    print("\nbuilding the year (cached in build.json; --rebuild to redo):")
    print(f"  replay server start (synthetic catalogue): {figures['server_start_s']:.1f} s")
    for c in figures["captures"]:
        print(f"  real capture {c['day']}: {c['seconds']:.1f} s ({c['status']}, {c['scored']:,} scored)")
        slow = sorted(c["steps"], key=lambda s: -s[1])[:6]
        print("    slowest steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in slow))
    per_table = ", ".join(
        f"{t} {s:.1f}" for t, s in sorted(figures["synthesis_tables_s"].items(), key=lambda x: -x[1])
    )
    print(f"  synthesis of {days - real} dates: {figures['synthesis_s']:.1f} s ({per_table})")
    print(f"  history.rebuild(wh) once over the year: {figures['rebuild_s']:.1f} s")
    months = figures["compacted"]
    print(
        f"  compaction of the {len(months)} closed months (warehouse.compaction, as the daily capture does when a "
        f"month closes): {figures['compaction_s']:.1f} s, median {statistics.median(m[2] for m in months):.1f} s "
        f"and {statistics.median(m[1] for m in months):,.0f} rows a month"
    )

    base = date.fromisoformat(figures["base_day"])
    print(f"\n(a) recompute of {base} (raw written by the real capture; sources unreachable, so no request):")
    from pipelines.runner import IngestRefused

    try:
        runs = [(False, run) for run in recompute(path, base, args.recomputes)]
        runs += [(True, run) for run in recompute(path, base, args.recomputes, stale=True)]
    except IngestRefused as err:
        print(f"  the recompute failed, so (a) has no figure this time: {err}")
        runs = []
    for i, (stale, (elapsed, summary, steps, spent)) in enumerate(runs):
        what = "stored rows changed first (all rewritten)" if stale else "rows come out as stored"
        print(
            f"  run {i + 1}, {what}: {elapsed:.2f} s wall, {summary['cpu_s']:.2f} s CPU (all threads), "
            f"status {summary['status']} (target < 5 s)"
        )
        print("    Dagster steps (s): " + ", ".join(f"{k} {v:.2f}" for k, v in steps))
        print(
            f"    sum of steps {sum(v for _, v in steps):.2f} s; the rest is Dagster's own work and run_date's reads"
        )
        print("    inside ingest_runs (s): " + ", ".join(f"{k} {v:.2f}" for k, v in spent.items()))

    print(
        f"\n(b) named queries with their example's parameters: wall median (max) of {args.runs} runs after one "
        "warm-up, and the median CPU time of all threads; target < 300 ms each:"
    )
    for name, median, worst, cpu, height, note in measure_queries(path, args.runs):
        flag = "" if median < 0.3 else "  MISSES"
        print(
            f"  {name:28s} {median * 1000:7.1f} ms ({worst * 1000:7.1f}) cpu {cpu * 1000:7.1f} ms "
            f"{height:6d} rows{flag}{'  ' + note if note else ''}"
        )

    weeks = measure_weeks(path, args.runs)
    print(f"\n(c) weekly_commits ({weeks['count_rows']:,} rows), median of {args.runs}, target < 1 s:")
    print(f"  SELECT count(*): {weeks['count'] * 1000:.1f} ms")
    print(
        f"  SELECT * into polars: {weeks['read'] * 1000:.1f} ms ({weeks['read_rows']:,} rows, {weeks['read_mb']:.0f} MB in polars)"
    )

    dash = measure_dashboard(path, max(1, min(args.runs, 3)))
    print(
        "\n(d) each dashboard app's reads on opening (warehouse.dashboards, as the app calls them), each run in a "
        "fresh process; target < 1 s and < 500 MB peak RSS per app:"
    )
    for app, runs in dash.items():
        for name in runs[0]["timings"]:
            times = sorted(r["timings"][name] for r in runs)
            hwm = sorted(r["hwm"] for r in runs)[len(runs) // 2]
            print(
                f"  {app}: {name}: median {times[len(times) // 2] * 1000:.0f} ms; peak RSS {_mb(hwm)} "
                f"(of which {_mb(runs[0]['baseline_hwm'])} after the imports)"
            )

    caps = figures["captures"]
    print(
        "\n(e) disk: the file's size after CHECKPOINT (os.stat st_size); a table's size = that table alone copied into a fresh file"
    )
    sizes = [c["file_bytes"] for c in caps]
    print(
        "  "
        + "; ".join(
            f"after real day {i + 1}: {_mb(s) if s else 'not measured'}"
            + (f" (+{_mb(s - sizes[i - 1])})" if i and s and sizes[i - 1] else "")
            for i, s in enumerate(sizes)
        )
    )
    synth = days - real
    per_day = (figures["file_bytes"] - sizes[-1]) / max(synth, 1)
    print(
        f"  after the year, before compaction: {_mb(figures['file_bytes'])}; the {synth} generated dates added "
        f"{_mb(per_day)} a day (derived tables and history, no raw)"
    )
    total = checkpointed_size(path)
    block, in_file, free = blocks(path)
    used = (in_file - free) * block
    print(
        f"  after compacting the closed months: the file {_mb(total)}; its blocks in use {_mb(used)}, its free "
        f"blocks {_mb(free * block)}. Those are what the year's bulk insert left: a warehouse run daily "
        "reuses a compacted month's freed blocks for the next month's rows, so its file holds what is in use "
        "and at most one month's uncompacted rows besides"
    )
    raw_first = sum(caps[0]["raw_bytes"].values())
    if len(caps) > 1:
        raw_warm = sum(caps[-1]["raw_bytes"].values()) - sum(caps[-2]["raw_bytes"].values())
    else:
        raw_warm = raw_first
    print(
        f"  raw tables ({', '.join(caps[0]['raw_bytes'])}): cold day {_mb(raw_first)}, warm day +{_mb(raw_warm)} (measured on the real days)"
    )
    year_raw = raw_first + (days - 1) * raw_warm
    print(f"  raw for a year, extrapolated from them: {_mb(year_raw)} (1 cold + {days - 1} warm days)")
    slack = 31 * per_day
    year = used - sum(caps[-1]["raw_bytes"].values()) + year_raw
    print(
        f"  a year in all, estimated: {_mb(year)} in use (this file's blocks in use less its raw, plus the year's "
        f"raw); with a month of uncompacted rows ({_mb(slack)}) besides, {_mb(year + slack)} (target 10 GB)"
    )
    if args.reuse:
        print(
            "  a month more on a copy of the year (31 dates generated after the last, then the month that closed "
            "compacted), to see DuckDB put new rows in the freed blocks:"
        )
        for label, file, in_use, free in month_more(path, folder / "scratch"):
            print(f"    {label}: the file {_mb(file)}; blocks in use {_mb(in_use)}, free {_mb(free)}")
    if args.table_sizes:
        scratch = folder / "scratch"
        scratch.mkdir(exist_ok=True)
        sizes_now = table_sizes(path, all_tables(path), scratch)
        print(
            "  per table: "
            + ", ".join(f"{t} {_mb(s)}" for t, s in sorted(sizes_now.items(), key=lambda x: -x[1]) if s > MB)
        )


def month_more(path: Path, scratch: Path) -> list[tuple[str, int, int, int]]:
    """(moment, file size, bytes of blocks in use, bytes of free blocks) of a copy of ``path``: as it is,
    after 31 more dates, and after compacting what they closed."""
    from warehouse import compaction
    from warehouse.store import Warehouse

    scratch.mkdir(exist_ok=True)
    copy = scratch / "month-more.duckdb"
    shutil.copy(path, copy)
    figures = []

    def measure(label: str) -> None:
        block, in_file, free = blocks(copy)
        figures.append((label, checkpointed_size(copy), (in_file - free) * block, free * block))

    try:
        measure("as built")
        with Warehouse(copy) as wh:
            last = wh.row("SELECT max(snapshot_date) FROM package_snapshots")[0]
        synthesize(copy, last, 32)
        measure("after 31 more dates")
        with Warehouse(copy) as wh:
            compaction.compact_due(wh)
        measure("after compacting what is due")
    finally:
        for leftover in scratch.glob("month-more.duckdb*"):
            leftover.unlink()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--real-days", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=5, help="runs per query (the median is printed)")
    parser.add_argument("--recomputes", type=int, default=2)
    parser.add_argument("--table-sizes", action="store_true", help="also print each table's size (slow)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="also add a month to a copy of the year and compact it, to show freed blocks reused (slow)",
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="build the year again instead of the cached one"
    )
    parser.add_argument(
        "--recapture", action="store_true", help="with --rebuild: capture the real dates again too"
    )
    args = parser.parse_args()
    if args.days <= args.real_days or args.real_days < 1:
        parser.error("--days must exceed --real-days, which must be at least 1")
    folder = CACHE / f"{args.packages}x{args.days}-real{args.real_days}-seed{args.seed}"
    cached = folder / "build.json"
    if args.rebuild or not cached.exists():
        print(f"building {folder} ...", flush=True)
        figures = build(folder, args.packages, args.days, args.real_days, args.seed, args.recapture)
    else:
        figures = json.loads(cached.read_text())
    report(args, folder, figures)


if __name__ == "__main__":
    main()
