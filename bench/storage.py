"""How much a day adds to the warehouse file, per table, and what a year would weigh.

    .venv/bin/python -m bench.storage [--packages 5300] [--warm 3] [--recomputes 5] [--keep DIR]

Starts the replay server in-process on a synthetic catalogue of N packages, captures a cold day and K warm
days through the real pipeline (pipelines.runner, Dagster's in-process executor, as the tests do), and after
each day prints the growth of the warehouse file (after a CHECKPOINT, so the file holds what it keeps) and
the growth of each table, measured by copying the table alone into a fresh DuckDB file (same compression as
the warehouse) and taking that file's size. It then recomputes the last day R times and prints the file size
after each, and the raw documents stored against the raw rows that reference them. A year is extrapolated
from the mean warm-day growth (365 warm days beside the cold day), and scaled linearly by packages for 50,000.
Prints figures; it is not a test. Nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import duckdb

from bench.history import blocks, checkpointed_size
from pipelines.runner import run_date
from pipelines.settings import Settings
from replay.server import ReplayServer

MB = 1024 * 1024


def table_sizes(path: Path, scratch: Path) -> dict[str, int]:
    """Bytes each base table takes alone in a fresh file (less the size of an empty file)."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{path}' AS src (READ_ONLY)")
    try:
        tables = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src' ORDER BY 1"
            ).fetchall()
        ]
        sizes = {}
        for table in tables:
            target = scratch / f"{table}.duckdb"
            target.unlink(missing_ok=True)
            con.execute(f"ATTACH '{target}' AS scratch")
            try:
                con.execute(f'CREATE TABLE scratch."{table}" AS SELECT * FROM src."{table}"')
            finally:
                con.execute("DETACH scratch")
            empty = scratch / "empty.duckdb"
            if not empty.exists():
                duckdb.connect(str(empty)).close()
            sizes[table] = checkpointed_size(target) - empty.stat().st_size
            target.unlink()
    finally:
        con.close()
    return sizes


def raw_counts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        refs = con.execute("SELECT count(*) FROM raw_records").fetchone()
        found = {"raw rows": int(refs[0]) if refs else 0}
        if "raw_documents" in tables:
            docs = con.execute("SELECT count(*) FROM raw_documents").fetchone()
            distinct = con.execute("SELECT count(DISTINCT document_id) FROM raw_records").fetchone()
            found["documents stored"] = int(docs[0]) if docs else 0
            columns = {
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = 'raw_documents'"
                ).fetchall()
            }
            if "base_id" in columns:
                patches = con.execute("SELECT count(base_id) FROM raw_documents").fetchone()
                found["stored as patches"] = int(patches[0]) if patches else 0
            found["documents referenced"] = int(distinct[0]) if distinct else 0
        else:
            distinct = con.execute("SELECT count(DISTINCT payload) FROM raw_records").fetchone()
            found["distinct payloads (stored per row)"] = int(distinct[0]) if distinct else 0
    finally:
        con.close()
    return found


def _row(label: str, figures: dict[str, int], width: int) -> str:
    return f"{label:<{width}}" + "".join(f"{v / MB:>10.2f}" for v in figures.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=5300)
    parser.add_argument("--warm", type=int, default=3, help="warm days after the cold one")
    parser.add_argument("--recomputes", type=int, default=5, help="recomputes of the last day")
    parser.add_argument("--keep", type=Path, help="keep the warehouse in this directory")
    args = parser.parse_args(argv)

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dpw-storage-"))
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / "scratch"
    scratch.mkdir(exist_ok=True)
    warehouse = folder / "warehouse.duckdb"
    for leftover in folder.glob("warehouse.duckdb*"):
        if leftover.is_file():
            leftover.unlink()
        else:
            shutil.rmtree(leftover)

    print(f"synthetic catalogue of {args.packages} packages; warehouse {warehouse}")
    per_day: list[tuple[str, int, dict[str, int]]] = []
    used_growth: list[int] = []
    with ReplayServer(synthetic=args.packages, port=0) as server:
        settings = Settings().with_replay(server.base_url).with_warehouse(warehouse)
        first = server.date
        previous_file, previous_used = 0, 0
        previous_tables: dict[str, int] = {}
        for i in range(args.warm + 1):
            day = first + timedelta(days=i)
            server.set_date(day)
            started = time.monotonic()
            run_date(settings, day, "capture")
            elapsed = time.monotonic() - started
            size = checkpointed_size(warehouse)
            tables = table_sizes(warehouse, scratch)
            growth = {t: tables[t] - previous_tables.get(t, 0) for t in tables}
            label = "cold" if i == 0 else f"warm {i}"
            per_day.append((label, size - previous_file, growth))
            block, total, free = blocks(warehouse)
            used = (total - free) * block
            used_growth.append(used - previous_used)
            print(
                f"{label} {day}: {elapsed:.0f} s; file {size / MB:.2f} MB (+{(size - previous_file) / MB:.2f} MB); "
                f"blocks in use {used / MB:.2f} MB (+{(used - previous_used) / MB:.2f} MB); "
                f"{free} of {total} blocks of {block // 1024} KiB free"
            )
            previous_file, previous_used, previous_tables = size, used, tables
        last = first + timedelta(days=args.warm)
        recompute_sizes = []
        for _ in range(args.recomputes):
            run_date(settings, last, "recompute")
            recompute_sizes.append(checkpointed_size(warehouse))
        counts = raw_counts(warehouse)

    names = sorted(
        {t for _, _, g in per_day for t in g}, key=lambda t: -max(g.get(t, 0) for _, _, g in per_day)
    )
    width = max(len(n) for n in names) + 2
    print("\nMB added per day, per table (each table copied alone into a fresh file, after CHECKPOINT):")
    print(f"{'table':<{width}}" + "".join(f"{label:>10}" for label, _, _ in per_day))
    for name in names:
        print(_row(name, {label: g.get(name, 0) for label, _, g in per_day}, width))
    print(_row("sum of tables", {label: sum(g.values()) for label, _, g in per_day}, width))
    print(_row("warehouse file", {label: grown for label, grown, _ in per_day}, width))
    print(_row("blocks in use", {label: used_growth[i] for i, (label, _, _) in enumerate(per_day)}, width))

    print(
        f"\nrecomputes of {last}, file size after each (MB): "
        + ", ".join(f"{s / MB:.2f}" for s in recompute_sizes)
    )
    print("raw: " + ", ".join(f"{k} {v}" for k, v in counts.items()))

    warm = [grown for label, grown, _ in per_day if label != "cold"]
    if warm:
        scale = 50_000 / args.packages
        for what, cold, mean in (
            ("file growth", per_day[0][1], sum(warm) / len(warm)),
            ("growth of the blocks in use", used_growth[0], sum(used_growth[1:]) / len(warm)),
        ):
            year = cold + 364 * mean
            print(
                f"per year from the {what} (cold day + 364 x the mean warm day, {mean / MB:.2f} MB): "
                f"{year / 1024**3:.2f} GB at {args.packages} packages; "
                f"{year * scale / 1024**3:.2f} GB at 50,000 (linear in packages, x{scale:.2f})"
            )
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
