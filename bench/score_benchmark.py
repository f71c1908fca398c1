"""How fast DPAS-1 scores: 1,000,000 synthetic packages vectorized, against the row-by-row reference.

    .venv/bin/python -m bench.score_benchmark [--packages 1000000] [--reference 20000] [--runs 3]

Prints figures; it is not a test. The vectorized timing runs in a child process that only reads the
generated input. Peak memory is the kernel's resident high-water mark (what ru_maxrss reports) after the
runs minus the resident size before them. ru_maxrss itself cannot be reset, and a child started by a
large parent inherits the parent's mark at exec, so on Linux the mark is read as VmHWM from
/proc/self/status after resetting it through /proc/self/clear_refs; elsewhere the plain ru_maxrss delta
is reported, and says so. tracemalloc cannot see polars' allocations; psutil is not installed.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import polars as pl

from bench.reference import score_row
from bench.synthetic import describe, synthetic_packages
from warehouse.scoring import SCORE_VERSION, score_packages

SCORING_DATE = date(2026, 3, 1)
ROOT = Path(__file__).resolve().parent.parent


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _child(path: str, runs: int) -> None:
    """Score the input at `path` `runs` times; print timings and the peak-memory growth as JSON."""
    packages = pl.read_parquet(path).drop("alive")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets the high-water mark to the current size
        before, method = _status_kib("VmRSS"), "VmHWM (reset) minus VmRSS"
    except OSError:
        before, method = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "ru_maxrss delta"
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        scored = score_packages(packages, SCORING_DATE)
        timings.append(time.perf_counter() - start)
        del scored
    after = (
        _status_kib("VmHWM")
        if method.startswith("VmHWM")
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    )
    print(
        json.dumps(
            {
                "timings": timings,
                "rss_before_kib": before,
                "peak_growth_kib": after - before,
                "method": method,
            }
        )
    )


def _reference_seconds(rows: list[dict]) -> float:
    start = time.perf_counter()
    for row in rows:
        score_row(
            row["weeks"],
            row["weeks_anchor_at"],
            row["last_commit_at"],
            SCORING_DATE,
            stars=row["stars"],
            supports_python3=row["supports_python3"],
            archived=row["archived"],
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=1_000_000)
    parser.add_argument("--reference", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.runs)
        return

    print(f"DPAS-1 benchmark ({SCORE_VERSION}), polars {pl.__version__}, {pl.thread_pool_size()} threads")
    start = time.perf_counter()
    packages = synthetic_packages(args.packages, seed=1, scoring_date=SCORING_DATE)
    print(f"generated {args.packages:,} synthetic packages in {time.perf_counter() - start:.1f} s")
    print("  mix: " + ", ".join(f"{k} {v:.1%}" for k, v in describe(packages).items()))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "packages.parquet"
        packages.write_parquet(path)
        child = subprocess.run(
            [sys.executable, "-m", "bench.score_benchmark", "--child", str(path), "--runs", str(args.runs)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
    figures = json.loads(child.stdout)
    median = statistics.median(figures["timings"])
    per_package_vectorized = median / args.packages
    print(
        f"score_packages, {args.packages:,} packages: median {median:.2f} s of {args.runs} "
        f"({', '.join(f'{t:.2f}' for t in figures['timings'])} s); "
        f"{per_package_vectorized * 1e6:.2f} us per package"
    )
    print(
        f"  peak memory: +{figures['peak_growth_kib'] / 1024:.0f} MiB over the loaded input "
        f"({figures['rss_before_kib'] / 1024:.0f} MiB resident before scoring; {figures['method']}, child process)"
    )

    sample = packages.head(args.reference)
    rows = sample.to_dicts()
    reference = _reference_seconds(rows)
    per_package_reference = reference / len(rows)
    print(
        f"row-by-row reference, {len(rows):,} packages: {reference:.2f} s; "
        f"{per_package_reference * 1e6:.1f} us per package"
    )
    start = time.perf_counter()
    score_packages(sample.drop("alive"), SCORING_DATE)
    small = time.perf_counter() - start
    print(
        f"score_packages on the same {len(rows):,}: {small:.3f} s ({small / len(rows) * 1e6:.2f} us per package)"
    )
    print(
        f"per-package ratio (reference / vectorized at 1M): {per_package_reference / per_package_vectorized:.0f}x"
    )
    print(
        "targets: 1M under 5 s -> "
        f"{'met' if median < 5 else 'MISSED'}; at least 50x per package -> "
        f"{'met' if per_package_reference / per_package_vectorized >= 50 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
