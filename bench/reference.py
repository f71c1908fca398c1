"""DPAS-1 written row by row in plain Python: the benchmark's comparison and the tests' cross-check.

Deliberately independent of warehouse.scoring's vectorized code (only the constants are shared): loops
and math calls, straight from the spec in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime

from dateutil.relativedelta import relativedelta

from warehouse.scoring import DPAS1, ScoreConstants

_WEEK_SECONDS = 7 * 86_400


def _weeks_between(earlier: datetime, later: datetime) -> float:
    delta = later - earlier
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros / (_WEEK_SECONDS * 1_000_000)


def djangopackages_score_row(
    stars: int | None, last_commit_at: datetime | None, supports_python3: bool | None, now: datetime
) -> int | None:
    """Upstream's _calculate_score (package/scores.py), verbatim apart from the null-stars guard."""
    if stars is None:
        return None
    if last_commit_at:
        delta = relativedelta(now, last_commit_at)
        delta_months = (delta.years * 12) + delta.months
        last_commit_date_penalty = math.modf(delta_months / 3)[1] * stars / 10
    else:
        last_commit_date_penalty = stars / 10
    python_3_penalty = 0 if supports_python3 else min(stars * 30 / 100, 1000)
    return max(-500, int(stars - last_commit_date_penalty - python_3_penalty))


def score_row(
    weeks: Sequence[int | None] | None,
    weeks_anchor_at: datetime | None,
    last_commit_at: datetime | None,
    scoring_date: date,
    stars: int | None = None,
    supports_python3: bool | None = None,
    archived: bool | None = None,
    n_invalid: int | None = None,
    constants: ScoreConstants = DPAS1,
) -> dict[str, object]:
    """One package's per-package output columns (everything but the set-level percentiles)."""
    c = constants
    tau = datetime(scoring_date.year, scoring_date.month, scoring_date.day, tzinfo=UTC)
    window = c.window
    slots: list[int | None] = [None] * window
    if weeks is not None:
        tail = list(weeks)[-window:]
        slots[window - len(tail) :] = tail
    slots = [w if w is not None and w >= 0 else None for w in slots]
    observed = [j for j in range(window) if slots[j] is not None]
    has_array = bool(observed) and weeks_anchor_at is not None

    since_commit = max(0.0, _weeks_between(last_commit_at, tau)) if last_commit_at is not None else None
    s = max(0.0, _weeks_between(weeks_anchor_at, tau)) if has_array else None
    last_nonzero = None
    capped = [None if w is None else min(w, c.week_cap) for w in slots]
    censored = False
    if has_array:
        for j in range(window - 1, -1, -1):
            if slots[j] is not None and slots[j] > 0:
                last_nonzero = window - 1 - j
                break
        span = window - observed[0]
        if last_nonzero is None and since_commit is None:
            censored = True
            gap: float | None = max(span + s, c.censor_floor_weeks)
        elif last_nonzero is None:
            gap = since_commit
        elif since_commit is None:
            gap = s + last_nonzero
        else:
            gap = min(s + last_nonzero, since_commit)
    else:
        span = 0
        gap = since_commit

    row: dict[str, object] = {
        "gap_weeks": gap,
        "stale_weeks": s,
        "censored": censored,
        "archived": archived,
        "last_nonzero_week_ago": last_nonzero if has_array else None,
    }
    recency = None if gap is None else 1.0 / (1.0 + (gap / c.recency_scale_weeks) ** c.recency_exponent)
    row["recency"] = recency
    row["baseline_recency"] = None if recency is None else 100.0 * recency

    if has_array:
        values = [w for w in capped if w is not None]
        total_capped = sum(values)
        active_blocks = observed_blocks = 0
        for end in range(window, 0, -c.block_weeks):
            block = [w for w in slots[max(0, end - c.block_weeks) : end] if w is not None]
            if block:
                observed_blocks += 1
                active_blocks += any(w > 0 for w in block)
        consistency = active_blocks / observed_blocks
        volume = min(1.0, math.log(1 + total_capped) / math.log(1 + c.volume_reference))
        decay = 2.0 ** (-s / c.staleness_half_life_weeks)
        score = 100.0 * (
            c.weight_recency * recency
            + decay * (c.weight_consistency * consistency + c.weight_volume * volume)
        )
        recent_start = window - c.momentum_weeks
        r13 = sum(w for w in capped[recent_start:] if w is not None)
        prior = [w for w in capped[:recent_start] if w is not None]
        if total_capped >= c.trend_min_commits and len(prior) >= c.momentum_weeks:
            p13 = sum(prior) / len(prior) * c.momentum_weeks
            momentum: float | None = math.tanh(0.5 * math.log((r13 + 1) / (p13 + 1)))
        else:
            momentum = None
        mu = total_capped / len(values)
        sigma = math.sqrt(sum((w - mu) ** 2 for w in values) / len(values))
        burstiness = (sigma - mu) / (sigma + mu) if sigma + mu > 0 else None
        coverage = "full" if len(observed) == window else "partial"
        inconsistent = False
        if last_commit_at is not None:
            before_anchor = _weeks_between(last_commit_at, weeks_anchor_at)
            tol = c.inconsistency_tolerance_weeks
            if last_nonzero is not None and before_anchor > last_nonzero + 1 + tol:
                inconsistent = True
            if tol < before_anchor < span - tol and (
                last_nonzero is None or before_anchor < last_nonzero - tol
            ):
                inconsistent = True
        row.update(
            activity_score=score,
            consistency=consistency,
            volume=volume,
            staleness_decay=decay,
            momentum=momentum,
            burstiness=burstiness,
            coverage=coverage,
            inconsistent=inconsistent,
            dump_weeks=sum(1 for w in slots if w is not None and w > c.week_cap),
            n_invalid=n_invalid if n_invalid is not None else span - len(observed),
            commits_52w=sum(w for w in slots if w is not None),
            baseline_sum_26w=sum(w for w in slots[window - 26 :] if w is not None),
        )
    else:
        row.update(
            activity_score=None if recency is None else 100.0 * c.weight_recency * recency,
            consistency=None,
            volume=None,
            staleness_decay=None,
            momentum=None,
            burstiness=None,
            coverage="recency_only" if recency is not None else "unknown",
            inconsistent=False,
            dump_weeks=None,
            n_invalid=n_invalid,
            commits_52w=None,
            baseline_sum_26w=None,
        )
    row["baseline_sum_52w"] = row["commits_52w"]
    m = row["momentum"]
    row["trend"] = (
        "n/a"
        if m is None
        else "rising"
        if m >= c.trend_threshold
        else "declining"
        if m <= -c.trend_threshold
        else "steady"
    )
    if gap is None:
        status = "unknown"
    elif gap <= c.status_active_weeks:
        status = "active"
    elif gap <= c.status_slowing_weeks:
        status = "slowing"
    elif gap <= c.status_stale_weeks:
        status = "stale"
    elif gap <= c.status_inactive_weeks:
        status = "inactive"
    else:
        status = "abandoned"
    row["status"] = status
    row["baseline_djangopackages"] = djangopackages_score_row(stars, last_commit_at, supports_python3, tau)
    row["score_version"] = c.version
    return row


def percentile_rows(
    values: Sequence[float | None], groups: Sequence[int | None], min_group: int
) -> list[float | None]:
    """Mid-rank percentiles within groups, global for a null or small group; quadratic, for tests only."""
    known = [v for v in values if v is not None]

    def mid_rank(value: float, population: list[float]) -> float:
        below = sum(1 for v in population if v < value)
        ties = sum(1 for v in population if v == value)
        return 100.0 * (below + ties / 2) / len(population)

    out: list[float | None] = []
    for value, group in zip(values, groups, strict=True):
        if value is None:
            out.append(None)
            continue
        members = [v for v, g in zip(values, groups, strict=True) if g == group and v is not None]
        population = members if group is not None and len(members) >= min_group else known
        out.append(mid_rank(value, population))
    return out
