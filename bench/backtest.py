"""Does DPAS-1 predict activity better than the scores users know?

    .venv/bin/python -m bench.backtest [--bootstrap 2000] [--synthetic 5000]

Each 52-week array is cut in half. Features come from weeks 0-25 only, anchored at the cut (the instant
week 25 ends, 26 weeks before the array's own anchor), with `last_updated` kept only when it is before the
cut; the scoring date is the cut's date. The label is "any commit in weeks 26-51". Every score is ranked
against the label by ROC-AUC, and the difference DPAS-1 minus each baseline gets a paired bootstrap 95%
interval (packages resampled with replacement, percentile interval).

Baselines: djangopackages' own score (stars, last_updated, no Python 3 flag in API v4 records), the
26-week commit sum, recency alone (100 * R from the same gap), and stars. Stars are those at fetch time,
after the cut, for every data set.

Look-ahead: hiding a `last_updated` that falls after the cut is itself a glimpse of the label. Only a
package with a commit after the cut has its date hidden, and djangopackages charges a missing date a single
quarter while charging a known old date one quarter per quarter idle, so "no date" ranks those packages
above the idle ones without any evidence from the first half. Each data set is therefore also scored with
`last_updated` withheld from every package, which has no look-ahead.

Data: the shipped real sample (one record per package, its first snapshot, arrays of exactly 52 entries)
and synthetic packages with persistent activity (bench.synthetic), full arrays only.
"""

from __future__ import annotations

import argparse
import gzip
import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from bench.synthetic import synthetic_packages
from warehouse.parsing import parse_packages
from warehouse.raw import raw_frame, record_key
from warehouse.scoring import SCORE_VERSION, score_packages

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "replay" / "bundles" / "sample" / "packages.jsonl.gz"
HALF = 26
SCORES = {
    "DPAS-1": "activity_score",
    "djangopackages score": "baseline_djangopackages",
    "26-week sum": "baseline_sum_26w",
    "recency only": "baseline_recency",
    "stars": "stars",
}


def real_sample() -> pl.DataFrame:
    """The sample's packages read exactly as the pipeline reads them (warehouse.parsing), first snapshot of
    each package, whole well-formed 52-entry arrays only."""
    seen: set[object] = set()
    records = []
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = {k: v for k, v in json.loads(line).items() if not k.startswith("_")}
            if record["id"] not in seen:
                seen.add(record["id"])
                records.append(record)
    day = date.today()
    packages = parse_packages(
        raw_frame(day, "djangopackages/packages", [(record_key(r), "ok", r) for r in records]), day
    )
    return packages.accepted.filter(
        pl.col("commits_over_52").is_not_null() & (pl.col("repairs").list.len() == 0)
    ).select(
        "package_id",
        pl.col("commits_over_52").alias("weeks"),
        pl.col("last_fetched_at").alias("weeks_anchor_at"),
        pl.col("last_updated_at").alias("last_commit_at"),
        "stars",
    )


def synthetic_sample(n: int, seed: int) -> pl.DataFrame:
    """`n` synthetic packages with a whole 52-week array (generated with a margin, then cut to `n`)."""
    frame = synthetic_packages(int(n * 1.1) + 50, seed=seed)
    full = frame.filter(pl.col("weeks").list.drop_nulls().list.len() == 52).head(n)
    if full.height < n:
        raise RuntimeError(f"only {full.height} synthetic packages with a full array")
    return full.select("package_id", "weeks", "weeks_anchor_at", "last_commit_at", "stars")


def cut_and_score(frame: pl.DataFrame, keep_last_updated: bool) -> pl.DataFrame:
    """Features from the first half, scored at the cut; the label from the second half.

    `keep_last_updated`: keep the date when it is before the cut (the specified protocol); else withhold it.
    """
    known_date = pl.col("last_commit_at") < pl.col("cut") if keep_last_updated else pl.lit(False)
    cut = pl.col("weeks_anchor_at") - timedelta(weeks=HALF)
    halves = frame.with_columns(
        pl.col("weeks").list.head(HALF).alias("first"),
        (pl.col("weeks").list.tail(52 - HALF).list.sum() > 0).alias("label"),
        cut.alias("cut"),
    )
    # Scoring dates differ per package (each array has its own anchor): score each date's group.
    parts = []
    for (cut_date,), group in halves.group_by(pl.col("cut").dt.date(), maintain_order=True):
        features = group.select(
            "package_id",
            pl.col("first").alias("weeks"),
            pl.col("cut").alias("weeks_anchor_at"),
            pl.when(known_date).then(pl.col("last_commit_at")).alias("last_commit_at"),
            "stars",
        )
        scored = score_packages(features, _as_date(cut_date))
        parts.append(scored.with_columns(group["label"], group["stars"].cast(pl.Float64)))
    return pl.concat(parts)


def _as_date(value: object) -> date:
    if not isinstance(value, date):
        raise TypeError(f"not a date: {value!r}")
    return value


def auc(frame: pl.DataFrame, column: str) -> float:
    """ROC-AUC by the Mann-Whitney statistic with mid-ranks; a null score ranks below every value."""
    ranked = frame.select(
        pl.col(column).cast(pl.Float64).fill_null(float("-inf")).rank("average").alias("r"), "label"
    )
    positives = ranked["label"].sum()
    negatives = ranked.height - positives
    rank_sum = ranked.filter(pl.col("label"))["r"].sum()
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def bootstrap_differences(frame: pl.DataFrame, resamples: int, seed: int) -> dict[str, tuple[float, float]]:
    """Paired bootstrap 95% percentile intervals of AUC(DPAS-1) - AUC(baseline), all resamples at once."""
    n = frame.height
    draws = pl.DataFrame({"i": pl.int_range(0, resamples * n, eager=True)}).select(
        (pl.col("i") // n).alias("b"),
        (pl.col("i").hash(seed=seed) % n).cast(pl.Int64).alias("row"),
    )
    columns = [pl.col(c).cast(pl.Float64).fill_null(float("-inf")).alias(c) for c in SCORES.values()]
    data = frame.select(pl.int_range(0, n).alias("row"), "label", *columns)
    long = draws.join(data, on="row", how="left")
    per_resample = long.group_by("b").agg(
        pl.col("label").sum().alias("pos"),
        pl.len().alias("len"),
        *[pl.col(c).rank("average").filter(pl.col("label")).sum().alias(c) for c in SCORES.values()],
    )
    pos, neg = pl.col("pos"), pl.col("len") - pl.col("pos")
    aucs = per_resample.filter((pos > 0) & (neg > 0)).select(
        *[((pl.col(c) - pos * (pos + 1) / 2) / (pos * neg)).alias(c) for c in SCORES.values()]
    )
    out = {}
    for name, column in SCORES.items():
        if name == "DPAS-1":
            continue
        diff = aucs["activity_score"] - aucs[column]
        out[name] = (diff.quantile(0.025, "linear"), diff.quantile(0.975, "linear"))
    return out


def report(title: str, packages: pl.DataFrame, resamples: int, seed: int) -> None:
    for keep, protocol in (
        (True, "last_updated kept when before the cut (as specified)"),
        (False, "last_updated withheld from every package (no look-ahead)"),
    ):
        frame = cut_and_score(packages, keep)
        positives = int(frame["label"].sum())
        print(f"\n{title}, {protocol}")
        print(
            f"  {frame.height} packages, {positives} with a commit in weeks 26-51 ({positives / frame.height:.0%})"
        )
        _table(frame, resamples, seed)


def _table(frame: pl.DataFrame, resamples: int, seed: int) -> None:
    intervals = bootstrap_differences(frame, resamples, seed)
    dpas = auc(frame, "activity_score")
    print(f"  {'score':22s} {'ROC-AUC':>8s}   {'DPAS-1 minus it [95% bootstrap CI]':>38s}")
    for name, column in SCORES.items():
        value = auc(frame, column)
        if name == "DPAS-1":
            print(f"  {name:22s} {value:8.3f}")
            continue
        low, high = intervals[name]
        print(f"  {name:22s} {value:8.3f}   {dpas - value:+8.3f} [{low:+.3f}, {high:+.3f}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--synthetic", type=int, default=5000)
    args = parser.parse_args()
    print(f"Backtest of {SCORE_VERSION}: features from weeks 0-25, label = any commit in weeks 26-51")
    print(f"{args.bootstrap} paired bootstrap resamples per data set")
    report("Real sample (shipped bundle)", real_sample(), args.bootstrap, seed=11)
    report(
        f"Synthetic ({args.synthetic} packages, seed 5)",
        synthetic_sample(args.synthetic, seed=5),
        args.bootstrap,
        12,
    )


if __name__ == "__main__":
    main()
