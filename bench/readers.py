"""What busy readers cost a capture: a synthetic day captured alone, then with readers holding the file.

    .venv/bin/python -m bench.readers [--packages 5300] [--readers 2] [--hold 2 4]

Prints figures; it is not a test (tests/pipelines/test_readers_and_kills.py asserts the promises). Each
reader is its own process, as an analyst's `dpw sql` or a notebook is: it opens the warehouse read-only,
asks a question, holds the file for a random 2-4 s, lets go and starts again. For every attempt it logs
how long the answer (or the one-line refusal) took, not counting the deliberate hold.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def reader_loop(path: str, log: str, stop: str, seed: int, hold: tuple[float, float] = (2.0, 4.0)) -> None:
    """Read, hold, let go, again, until ``stop`` exists; one JSON line per attempt in ``log``."""
    from warehouse.store import Warehouse, WarehouseError

    rng = random.Random(seed)
    with open(log, "a", encoding="utf-8") as out:
        while not Path(stop).exists():
            started = time.monotonic()
            try:
                with Warehouse(path, read_only=True) as wh:
                    runs = wh.row("SELECT count(*) FROM ingest_runs")[0]
                    answered = time.monotonic() - started
                    time.sleep(rng.uniform(*hold))
                entry = {"ok": True, "seconds": answered, "runs": runs}
            except WarehouseError as err:
                entry = {"ok": False, "seconds": time.monotonic() - started, "error": str(err)}
            out.write(json.dumps(entry) + "\n")
            out.flush()


def start_readers(path: Path, folder: Path, n: int, hold: tuple[float, float]) -> list[subprocess.Popen]:
    code = "import sys; from bench.readers import reader_loop; reader_loop(*sys.argv[1:5], hold=(float(sys.argv[5]), float(sys.argv[6])))"
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                code,
                str(path),
                str(folder / f"reader{i}.jsonl"),
                str(folder / "stop"),
                str(i),
                *map(str, hold),
            ],
            cwd=ROOT,
        )
        for i in range(n)
    ]


def attempts(folder: Path) -> list[dict]:
    return [
        json.loads(line)
        for log in sorted(folder.glob("reader*.jsonl"))
        for line in log.read_text().splitlines()
    ]


def capture(
    packages: int, folder: Path, readers: int, hold: tuple[float, float]
) -> tuple[float, dict, list[dict]]:
    from pipelines.runner import run_date
    from pipelines.settings import Settings
    from replay.server import ReplayServer
    from warehouse.store import Warehouse

    path = folder / "w.duckdb"
    Warehouse(path).close()
    procs = start_readers(path, folder, readers, hold) if readers else []
    try:
        with ReplayServer(synthetic=packages) as server:
            settings = Settings().with_replay(server.base_url).with_warehouse(path)
            time.sleep(3 if readers else 0)
            started = time.perf_counter()
            result = run_date(settings, server.date, "capture")
            elapsed = time.perf_counter() - started
    finally:
        (folder / "stop").touch()
        for proc in procs:
            proc.wait(timeout=60)
    return elapsed, result.summary, attempts(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=5300)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--hold", type=float, nargs=2, default=(2.0, 4.0))
    args = parser.parse_args()
    hold = (args.hold[0], args.hold[1])
    with tempfile.TemporaryDirectory() as alone, tempfile.TemporaryDirectory() as busy:
        quiet, summary, _ = capture(args.packages, Path(alone), 0, hold)
        loaded, busy_summary, tries = capture(args.packages, Path(busy), args.readers, hold)
    answered = [t["seconds"] for t in tries if t["ok"]]
    refused = [t for t in tries if not t["ok"]]
    print(
        f"{args.packages:,} synthetic packages, {args.readers} readers holding the file {hold[0]:.0f}-{hold[1]:.0f} s each in a loop"
    )
    print(
        f"capture alone:        {quiet:6.1f} s, status {summary['status']}, {summary['packages_scored']:,} scored"
    )
    print(
        f"capture with readers: {loaded:6.1f} s, status {busy_summary['status']}, {busy_summary['packages_scored']:,} scored ({loaded / quiet:.2f}x)"
    )
    print(
        f"reader attempts: {len(tries)}, answered {len(answered)}, refused with the one-line message {len(refused)}; "
        f"answer time median {statistics.median(answered):.3f} s, max {max(answered):.2f} s"
        + (f"; refusals after {max(t['seconds'] for t in refused):.1f} s at most" if refused else "")
    )


if __name__ == "__main__":
    main()
