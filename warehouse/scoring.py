"""DPAS-1, the Django Packages activity score, and the baselines users know.

Pure polars: no Dagster, no I/O, no Python loop per package. The spec is the section "The activity score
(DPAS-1)" of DESIGN.md; this module is its single implementation. Every constant lives in a versioned
`ScoreConstants`, so `dpw rescore --score-version V` can recompute any past date with any version.

Week arithmetic. A sanitized array holds `window` weekly counts, oldest first; the newest week ends at
`weeks_anchor_at` (djangopackages' `last_fetched`, or the GitHub fetch time). A commit in the newest week is
"0 weeks ago" at the anchor; in the week before, 1 week ago; and so on. The scoring date tau is the snapshot
date at 00:00 UTC, and s (`stale_weeks`) is the number of weeks, fractional and never negative, from the
anchor to tau. All week counts are continuous (days / 7), so the score moves smoothly with time instead of
jumping at week or month boundaries.

Choices the spec leaves open, and why:

- Weeks above the cap (`dump_weeks`) are counted and capped at 25 everywhere in the score family
  (volume, consistency, momentum, burstiness): a one-off import of a decade of history must not look like
  a year of work. `commits_52w` and the sum baselines stay uncapped, as users know them.
- Censoring: an array with no commit and no `last_updated` says "no commit in the last n + s weeks"; the
  gap is set to max(n + s, 104) with n the observed span (from the oldest observed week to the newest).
  Using the span rather than the count of non-null weeks guarantees that any commit inside the span gives
  a smaller gap than the censored one, so one more commit never lowers the score.
- Coverage `partial`: an array with at least one unknown week (shorter than the window, or invalid entries).
  An array with no valid week at all, or without an anchor, cannot be placed in time and counts as absent.
- Archived repositories are flagged only; the formula is unchanged. An archived repository cannot receive
  commits, so its score already decays as time passes, and a separate penalty would make the score depend
  on something other than the activity it claims to measure.
- Percentiles are mid-rank percentile ranks, 100 * (below + ties / 2) / N: ties share one value, a group of
  one sits at 50, and no package is pushed to 0 or 100 by the group's size alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime

import polars as pl

SCORE_VERSION: str = "dpas-1.0"

_WEEK_US = 7 * 86_400 * 1_000_000
_DAY_US = 86_400 * 1_000_000
# A float holds every integer up to 2**53 exactly; a larger "count" is not a faithful count of anything.
_MAX_WEEK_VALUE = float(2**53)

STATUSES = ("active", "slowing", "stale", "inactive", "abandoned", "unknown")
TRENDS = ("rising", "declining", "steady", "n/a")
COVERAGES = ("full", "partial", "recency_only", "unknown")


@dataclass(frozen=True)
class ScoreConstants:
    """Every constant of one score version; a new version is a new instance, never an edit."""

    version: str
    week_cap: int  # commits counted per week at most
    window: int  # weeks in a sanitized array
    staleness_half_life_weeks: float  # array age that halves consistency and volume
    recency_scale_weeks: float  # gap at which recency is 0.5
    recency_exponent: float  # tail heaviness of recency
    weight_recency: float
    weight_consistency: float
    weight_volume: float
    volume_reference: int  # capped commits in the window that earn full volume
    censor_floor_weeks: float  # smallest gap assumed for an all-zero array without a last commit date
    block_weeks: int  # consistency counts blocks of this many weeks
    momentum_weeks: int  # recent period of the momentum ratio
    trend_threshold: float  # |momentum| at which the trend is rising or declining
    trend_min_commits: int  # fewer commits in the window: trend n/a
    status_active_weeks: float
    status_slowing_weeks: float
    status_stale_weeks: float
    status_inactive_weeks: float
    percentile_min_group: int  # smaller category or grid groups use the global percentile
    at_risk_popularity: float  # popularity share (0-1) from which a package counts as popular
    at_risk_activity: float  # activity score below which a popular package is at risk
    inconsistency_tolerance_weeks: float  # disagreement the array and last_updated may have

    def __post_init__(self) -> None:
        weights = self.weight_recency + self.weight_consistency + self.weight_volume
        if abs(weights - 1.0) > 1e-12:
            # The weights summing to one is what keeps the score within 0..100.
            raise ValueError(f"{self.version}: weights sum to {weights}, not 1")
        if not self.block_weeks <= self.momentum_weeks < self.window <= 255:
            # Per-week flags are summed as bytes, and momentum needs prior weeks inside the window.
            raise ValueError(f"{self.version}: window, momentum and block weeks out of range")

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


DPAS1 = ScoreConstants(
    version=SCORE_VERSION,
    week_cap=25,
    window=52,
    staleness_half_life_weeks=26.0,
    recency_scale_weeks=26.0,
    recency_exponent=1.5,
    weight_recency=0.40,
    weight_consistency=0.30,
    weight_volume=0.30,
    volume_reference=260,
    censor_floor_weeks=104.0,
    block_weeks=4,
    momentum_weeks=13,
    trend_threshold=0.3,
    trend_min_commits=3,
    status_active_weeks=13.0,
    status_slowing_weeks=26.0,
    status_stale_weeks=52.0,
    status_inactive_weeks=104.0,
    percentile_min_group=5,
    at_risk_popularity=0.8,
    at_risk_activity=20.0,
    inconsistency_tolerance_weeks=1.0,
)

SCORE_VERSIONS: dict[str, ScoreConstants] = {DPAS1.version: DPAS1}

SANITIZED_WEEKS_DTYPE = pl.Struct(
    {
        "weeks": pl.List(pl.Int64),
        "raw_len": pl.UInt32,
        "n_invalid": pl.UInt32,
        "was_string": pl.Boolean,
        "repaired": pl.Boolean,
    }
)

SCORE_SCHEMA: dict[str, pl.DataType] = {
    "package_id": pl.Int64(),
    "score_version": pl.String(),
    "activity_score": pl.Float64(),
    "recency": pl.Float64(),
    "consistency": pl.Float64(),
    "volume": pl.Float64(),
    "staleness_decay": pl.Float64(),
    "gap_weeks": pl.Float64(),
    "stale_weeks": pl.Float64(),
    "momentum": pl.Float64(),
    "burstiness": pl.Float64(),
    "status": pl.String(),
    "trend": pl.String(),
    "coverage": pl.String(),
    "censored": pl.Boolean(),
    "dump_weeks": pl.UInt32(),
    "n_invalid": pl.UInt32(),
    "inconsistent": pl.Boolean(),
    "archived": pl.Boolean(),
    "commits_52w": pl.Int64(),
    "last_nonzero_week_ago": pl.UInt32(),
    "percentile_category": pl.Float64(),
    "popularity_pct": pl.Float64(),
    "at_risk_popular": pl.Boolean(),
    "baseline_djangopackages": pl.Int64(),
    "baseline_sum_26w": pl.Int64(),
    "baseline_sum_52w": pl.Int64(),
    "baseline_recency": pl.Float64(),
}

GRID_PERCENTILE_SCHEMA: dict[str, pl.DataType] = {
    "package_id": pl.Int64(),
    "grid_id": pl.Int64(),
    "percentile_grid": pl.Float64(),
}

_INPUT_DTYPES: dict[str, pl.DataType] = {
    "package_id": pl.Int64(),
    "weeks": pl.List(pl.Int64),
    "weeks_anchor_at": pl.Datetime("us", "UTC"),
    "last_commit_at": pl.Datetime("us", "UTC"),
    "stars": pl.Int64(),
    "category_id": pl.Int64(),
    "archived": pl.Boolean(),
    "supports_python3": pl.Boolean(),
    "n_invalid": pl.UInt32(),
}
_REQUIRED_INPUTS = ("package_id", "weeks", "weeks_anchor_at")
# The columns callers hand to score_packages (n_invalid is optional, carried from sanitize_weeks).
SCORE_INPUTS: tuple[str, ...] = tuple(name for name in _INPUT_DTYPES if name != "n_invalid")


def _divide(numerator: pl.Expr, denominator: float) -> pl.Expr:
    """numerator / denominator, correctly rounded as Python's `/` is.

    polars divides a column by a scalar through the scalar's reciprocal, one rounding more, which can land
    an ulp off: enough for int() to truncate a djangopackages score to the neighbouring integer, or for an
    exact 13 weeks to read as 13.000000000000002. A full-length divisor takes the exact path.
    """
    return numerator / pl.when(numerator.is_not_null()).then(pl.lit(float(denominator)))


# --------------------------------------------------------------------------------------------------------
# Sanitizing commits_over_52
# --------------------------------------------------------------------------------------------------------


def sanitize_weeks(raw: pl.Expr, constants: ScoreConstants = DPAS1) -> pl.Expr:
    """Parse the raw text of `commits_over_52` into a right-aligned weekly array and repair flags.

    `raw` is a String expression holding a JSON array (`[0, 3, ...]`, possibly with floats, negatives, nulls,
    NaN or Infinity), the legacy comma string (`0,3,1`, bare or as a JSON string), or null, "", "null", "[]".
    The result is a Struct:

    - `weeks` List(Int64): oldest first, exactly `window` entries. A short array is missing its oldest weeks
      (null); a long one keeps its newest `window`. An entry that is not a whole, finite, non-negative number
      is null. No array, or no valid entry at all, gives a null list: unknown, never zeros.
    - `raw_len` UInt32: entries as received (0 when absent). `n_invalid` UInt32: entries that became null.
    - `was_string` Boolean: the legacy comma form. `repaired` Boolean: the stored weeks are not a verbatim
      reading of a well-formed array of `window` whole numbers (legacy form, invalid entries, other length).

    Entries are split on commas rather than JSON-decoded because the sources emit NaN and Infinity, which
    JSON parsers reject; a string containing a comma inside a JSON array is therefore two invalid entries.
    Whole floats (3.0) are accepted as counts; fractions (2.5) are invalid, since no count is fractional.
    """
    stripped = raw.str.strip_chars()
    length = stripped.str.len_chars()
    is_json_string = stripped.str.starts_with('"') & stripped.str.ends_with('"') & (length >= 2)
    text = (
        pl.when(is_json_string).then(stripped.str.slice(1, length - 2).str.strip_chars()).otherwise(stripped)
    )
    absent = text.is_null() | (text == "") | (text == "null")
    is_array = text.str.starts_with("[")
    body = pl.when(is_array).then(text.str.strip_prefix("[").str.strip_suffix("]")).otherwise(text)
    body = body.str.strip_chars()
    tokens = (
        pl.when(absent | (body == "")).then(pl.lit(None, pl.List(pl.String))).otherwise(body.str.split(","))
    )

    number = pl.element().str.strip_chars().cast(pl.Float64, strict=False)
    valid = number.is_finite() & (number >= 0) & (number == number.floor()) & (number <= _MAX_WEEK_VALUE)
    values = tokens.list.eval(pl.when(valid).then(number).cast(pl.Int64))

    raw_len = values.list.len().fill_null(0).cast(pl.UInt32)
    n_invalid = values.list.agg(pl.element().null_count()).fill_null(0).cast(pl.UInt32)
    window = constants.window
    padding = pl.lit([None] * window, dtype=pl.List(pl.Int64))
    aligned = pl.concat_list(padding, values).list.tail(window)
    weeks = pl.when((raw_len > 0) & (n_invalid < raw_len)).then(aligned)
    was_string = (~absent & (is_json_string | ~is_array)).fill_null(False)
    repaired = was_string | (n_invalid > 0) | ((raw_len > 0) & (raw_len != window))
    return pl.struct(
        weeks.alias("weeks"),
        raw_len.alias("raw_len"),
        n_invalid.alias("n_invalid"),
        was_string.alias("was_string"),
        repaired.alias("repaired"),
    )


# --------------------------------------------------------------------------------------------------------
# The djangopackages baseline
# --------------------------------------------------------------------------------------------------------


def _to_expr(value: pl.Expr | str) -> pl.Expr:
    return pl.col(value) if isinstance(value, str) else value


def _utc_literal(moment: date | datetime) -> pl.Expr:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return pl.lit(moment.astimezone(UTC)).cast(pl.Datetime("us", "UTC"))


def _whole_months(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    """12 * years + months of dateutil's relativedelta(later, earlier), vectorized.

    relativedelta takes the calendar-month difference, adds it to `earlier` (clipping the day to the end of
    the target month) and steps one month back towards `earlier` while that overshoots `later`. Within the
    target month only (day, time of day) decide the overshoot, so one comparison replaces the loop.
    """
    calendar = (later.dt.year().cast(pl.Int64) - earlier.dt.year().cast(pl.Int64)) * 12 + (
        later.dt.month().cast(pl.Int64) - earlier.dt.month().cast(pl.Int64)
    )
    later_key = (
        later.dt.day().cast(pl.Int64) * _DAY_US + (later - later.dt.truncate("1d")).dt.total_microseconds()
    )
    clipped_day = pl.min_horizontal(earlier.dt.day().cast(pl.Int64), later.dt.days_in_month().cast(pl.Int64))
    earlier_key = clipped_day * _DAY_US + (earlier - earlier.dt.truncate("1d")).dt.total_microseconds()
    overshoot_back = (later >= earlier) & (later_key < earlier_key)
    overshoot_forward = (later < earlier) & (later_key > earlier_key)
    return calendar - overshoot_back.cast(pl.Int64) + overshoot_forward.cast(pl.Int64)


def djangopackages_score(
    stars: pl.Expr | str,
    last_commit_at: pl.Expr | str,
    supports_python3: pl.Expr | str,
    now: date | datetime | pl.Expr,
) -> pl.Expr:
    """djangopackages' `Package.score` (package/scores.py), vectorized; Int64, null when stars is null.

    max(-500, int(W - P_age - P_py3)) with W = stars; P_age = trunc(m / 3) * W / 10 for m whole calendar
    months since the last commit (relativedelta), or W / 10 without a date (one quarter, despite upstream's
    "maximum penalty" comment); P_py3 = 0 if supports_python3 is True, else min(W * 30 / 100, 1000) (None
    counts as no Python 3). The float operations run in upstream's order, so int() truncates identically.
    Times are UTC, as upstream computes them since it set USE_TZ.
    """
    watchers = _to_expr(stars).cast(pl.Float64)
    last = _to_expr(last_commit_at)
    moment = now if isinstance(now, pl.Expr) else _utc_literal(now)
    months = _whole_months(moment, last)
    quarters = ((months.abs() // 3) * months.sign()).cast(pl.Float64)  # math.modf truncates toward zero
    age_penalty = (
        pl.when(last.is_not_null()).then(_divide(quarters * watchers, 10)).otherwise(_divide(watchers, 10))
    )
    py3_penalty = (
        pl.when(_to_expr(supports_python3).fill_null(False))
        .then(pl.lit(0.0))
        .otherwise(pl.min_horizontal(_divide(watchers * 30, 100), pl.lit(1000.0)))
    )
    raw = (watchers - age_penalty - py3_penalty).cast(pl.Int64)  # float -> int truncates toward zero
    return pl.when(watchers.is_not_null()).then(pl.max_horizontal(raw, pl.lit(-500, pl.Int64)))


# --------------------------------------------------------------------------------------------------------
# DPAS-1
# --------------------------------------------------------------------------------------------------------


def _prepare(frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Cast the input to the contract's types; optional columns absent from the frame become nulls."""
    lazy = frame.lazy()
    schema = lazy.collect_schema()
    missing = [name for name in _REQUIRED_INPUTS if name not in schema]
    if missing:
        raise ValueError(f"score_packages: missing input columns {missing}")
    columns: list[pl.Expr] = []
    for name, dtype in _INPUT_DTYPES.items():
        if name not in schema:
            columns.append(pl.lit(None, dtype).alias(name))
            continue
        column = pl.col(name)
        given = schema[name]
        if isinstance(given, pl.Datetime):
            # Naive times are UTC by the warehouse's convention; aware ones are converted.
            column = (
                column.dt.replace_time_zone("UTC")
                if given.time_zone is None
                else column.dt.convert_time_zone("UTC")
            )
        columns.append(column.cast(dtype).alias(name))
    return lazy.select(columns)


def _weeks_before(moment: pl.Expr, tau: pl.Expr) -> pl.Expr:
    return _divide((tau - moment).dt.total_microseconds(), _WEEK_US).clip(lower_bound=0.0)


def _global_percentile(value: pl.Expr) -> pl.Expr:
    """Mid-rank percentile of `value` among all rows: 100 * (below + ties / 2) / N; null stays null."""
    return 100.0 * (value.rank("average") - 0.5) / value.is_not_null().sum()


def _percentile(frame: pl.DataFrame, value: pl.Expr, group: pl.Expr, min_group: int) -> pl.Expr:
    """Mid-rank percentile of `value` within `group`, or among all rows when the group is null or small.

    The global ranking is a full sort, so it is only built when some known value of `frame` needs it.
    """
    known = value.is_not_null()
    group_size = known.sum().over(group)
    group_pct = 100.0 * (value.rank("average").over(group) - 0.5) / group_size
    use_group = group.is_not_null() & (group_size >= min_group)
    if frame.select((known & ~use_group).any()).item():
        return pl.when(known & use_group).then(group_pct).when(known).then(_global_percentile(value))
    return pl.when(known).then(group_pct)


def _normalized_weeks(prepared: pl.DataFrame, window: int) -> tuple[pl.DataFrame, pl.Series]:
    """`prepared` with `weeks` as sanitize_weeks leaves it, and a mask of the rows with no commit to count.

    Input from sanitize_weeks (exactly `window` entries, none negative) is used as is; anything else is
    brought to that form the way sanitize_weeks would: right-aligned (a short list is missing its oldest
    weeks, a long one keeps its newest `window`), negative counts unknown. The mask marks absent arrays and
    whole arrays of zeros, whose sums are constants.
    """
    weeks = pl.col("weeks")

    def shape(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(
            weeks.list.len().alias("length"),
            weeks.list.min().alias("min"),
            weeks.list.max().alias("max"),
            weeks.list.agg(pl.element().null_count()).alias("nulls"),
        )

    stats = shape(prepared)
    misaligned = stats.get_column("length").drop_nulls().ne(window).any()
    if misaligned or stats.get_column("min").lt(0).any():
        fixed = weeks
        if misaligned:
            padding = pl.lit([None] * window, dtype=pl.List(pl.Int64))
            fixed = pl.when(weeks.is_not_null()).then(pl.concat_list(padding, weeks).list.tail(window))
        fixed = fixed.list.eval(pl.when(pl.element() >= 0).then(pl.element()))
        prepared = prepared.with_columns(fixed.alias("weeks"))
        stats = shape(prepared)
    quiet = stats.select(
        (pl.col("length").is_null() | ((pl.col("max") == 0) & (pl.col("nulls") == 0))).fill_null(False)
    ).to_series()
    return prepared, quiet


def _busy_week_sums(busy: pl.DataFrame, c: ScoreConstants) -> pl.DataFrame:
    """Per-package sums (Int64) over the `weeks` of `busy`, one column per week slot in between.

    Splitting a list into a struct is several times faster than indexing it once per week, and the sums
    then run across columns.
    """
    window = c.window
    names = [f"_w{j}" for j in range(window)]
    raw = [pl.col(name) for name in names]
    capped = [pl.col(f"_x{j}") for j in range(window)]
    # Blocks end at the newest week, so the newest block is always whole.
    ends = range(window, 0, -c.block_weeks)
    blocks = [pl.col(f"_b{end}") for end in ends]
    observed = [w.is_not_null().cast(pl.UInt8) for w in raw]
    recent = window - c.momentum_weeks
    half = window - 26
    return (
        busy.lazy()
        .select(pl.col("weeks").list.to_struct(fields=names).alias("_weeks"))
        .unnest("_weeks")
        .with_columns(
            *(w.clip(upper_bound=c.week_cap).alias(f"_x{j}") for j, w in enumerate(raw)),
            *(pl.max_horizontal(raw[max(0, end - c.block_weeks) : end]).alias(f"_b{end}") for end in ends),
        )
        .select(
            pl.sum_horizontal(observed[:recent]).cast(pl.Int64).alias("_prior_obs"),
            pl.sum_horizontal(observed[recent:]).cast(pl.Int64).alias("_recent_obs"),
            pl.coalesce([pl.when(raw[j].is_not_null()).then(pl.lit(window - j)) for j in range(window)])
            .cast(pl.Int64)
            .alias("_span"),
            pl.coalesce([pl.when(raw[j] > 0).then(pl.lit(window - 1 - j)) for j in range(window - 1, -1, -1)])
            .cast(pl.Int64)
            .alias("_last_nonzero"),
            pl.sum_horizontal(raw[:half]).alias("_sum_old"),
            pl.sum_horizontal(raw[half:]).alias("_sum_26"),
            pl.sum_horizontal(capped[:recent]).alias("_prior_sum"),
            pl.sum_horizontal(capped[recent:]).alias("_r13"),
            pl.sum_horizontal([x * x for x in capped]).alias("_sum_sq"),
            pl.sum_horizontal([(w > c.week_cap).cast(pl.UInt8) for w in raw]).cast(pl.Int64).alias("_dumps"),
            pl.sum_horizontal([(b > 0).cast(pl.UInt8) for b in blocks])
            .cast(pl.Int64)
            .alias("_active_blocks"),
            pl.sum_horizontal([b.is_not_null().cast(pl.UInt8) for b in blocks])
            .cast(pl.Int64)
            .alias("_observed_blocks"),
        )
        .select(pl.all().cast(pl.Int64))
        .collect()
    )


def _week_aggregates(prepared: pl.DataFrame, tau: pl.Expr, c: ScoreConstants) -> pl.DataFrame:
    """The prepared input plus per-package sums over its weeks and the week counts from the anchors to tau.

    Most packages (about 80% of the real catalogue) have a whole array of zeros, whose sums are constants;
    only the others go through the per-week columns, and their sums are scattered back into place.
    """
    window = c.window
    frame, quiet = _normalized_weeks(prepared, window)
    sums = _busy_week_sums(frame.get_column("weeks").filter(~quiet).to_frame(), c)
    listed = pl.col("weeks").is_not_null()
    quiet_values = {
        "_prior_obs": pl.when(listed).then(window - c.momentum_weeks).otherwise(0),
        "_recent_obs": pl.when(listed).then(c.momentum_weeks).otherwise(0),
        "_span": pl.when(listed).then(window),
        "_observed_blocks": pl.when(listed).then(-(-window // c.block_weeks)).otherwise(0),
        "_last_nonzero": pl.lit(None),
    }
    columns = frame.select(
        quiet_values.get(name, pl.lit(0)).cast(pl.Int64).alias(name) for name in sums.columns
    ).get_columns()
    busy_rows = (~quiet).arg_true()
    for column in columns:
        column.scatter(busy_rows, sums.get_column(column.name))
    return (
        frame.drop("weeks")
        .with_columns(columns)
        .lazy()
        .with_columns(
            _weeks_before(pl.col("weeks_anchor_at"), tau).alias("_s"),
            _weeks_before(pl.col("last_commit_at"), tau).alias("_since_commit"),
            _divide(
                (pl.col("weeks_anchor_at") - pl.col("last_commit_at")).dt.total_microseconds(), _WEEK_US
            ).alias("_commit_before_anchor"),
        )
        .collect()
    )


def score_packages(
    frame: pl.DataFrame | pl.LazyFrame,
    scoring_date: date,
    constants: ScoreConstants = DPAS1,
    grid_members: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Score every package of `frame` with DPAS-1 as of `scoring_date` (00:00 UTC); one row per input row.

    Input: `package_id` Int64, `weeks` List(Int64) (from `sanitize_weeks`; null = no array),
    `weeks_anchor_at` Datetime(UTC) (when the newest week ends), and optionally `last_commit_at`, `stars`,
    `category_id`, `archived`, `supports_python3`, `n_invalid` (absent columns count as null).

    Output columns, in order (SCORE_SCHEMA):
    - `activity_score` 0..100, null exactly when `coverage` is `unknown`; its components `recency` R,
      `consistency` C, `volume` V, `staleness_decay` delta; `gap_weeks` g; `stale_weeks` s.
    - `momentum` (null when the trend is n/a), `burstiness` (null without commits), `status`, `trend`,
      `coverage`.
    - `censored`: the gap is the censored value max(n + s, 104), because the array shows no commit and
      there is no last commit date. `dump_weeks`: observed weeks above the cap (typically a history dump
      pushed in one go), capped before scoring. `n_invalid`: entries sanitizing dropped (passed through when
      given; else the unknown weeks inside the observed span, a lower bound).
    - `inconsistent`: the array and `last_commit_at` disagree by more than the tolerance (a week), either
      way: the last commit date is older than the start of the newest week with commits, or it falls inside
      the observed span at least a week after the newest week with commits (or in an all-zero array).
      Weeks of merge commits only, which participation leaves out, also trip it. It flags; it never changes
      the score. `archived`: passed through, flag only.
    - `commits_52w`: uncapped sum of the observed weeks (null without an array); `last_nonzero_week_ago`.
    - `percentile_category` (activity) and `popularity_pct` (stars), within the category, or global for a
      null category or one with fewer than `percentile_min_group` known values. `at_risk_popular`:
      popularity_pct >= 100 * at_risk_popularity and activity below at_risk_activity (null when unknown).
    - Baselines: `baseline_djangopackages` (djangopackages_score at tau), `baseline_sum_26w` and
      `baseline_sum_52w` (uncapped), `baseline_recency` = 100 * R (the gap alone).

    `grid_members` (`grid_id`, `package_id`), when given, adds a last column `grid_percentiles`,
    List(Struct(grid_id, percentile_grid)): the package's rows of `grid_percentiles`.
    """
    c = constants
    tau = _utc_literal(scoring_date)
    window = c.window
    aggregates = _week_aggregates(_prepare(frame).collect(), tau, c)

    n_obs = pl.col("_prior_obs") + pl.col("_recent_obs")
    capped_sum = pl.col("_prior_sum") + pl.col("_r13")
    has_array = (n_obs > 0) & pl.col("weeks_anchor_at").is_not_null()
    has_commit_date = pl.col("last_commit_at").is_not_null()
    s = pl.col("_s")
    last_nonzero = pl.col("_last_nonzero")
    censored = has_array & last_nonzero.is_null() & ~has_commit_date
    gap = (
        pl.when(censored)
        .then(pl.max_horizontal(pl.col("_span") + s, pl.lit(c.censor_floor_weeks)))
        .when(has_array)
        .then(pl.min_horizontal(s + last_nonzero, pl.col("_since_commit")))
        .otherwise(pl.col("_since_commit"))
    )
    lazy = aggregates.lazy().with_columns(
        gap.alias("gap_weeks"),
        censored.alias("censored"),
        has_array.alias("_has_array"),
        n_obs.alias("_n_obs"),
        capped_sum.alias("_capped_sum"),
        pl.when(has_array).then(s).alias("stale_weeks"),
    )
    g = pl.col("gap_weeks")
    has_array = pl.col("_has_array")
    capped_sum = pl.col("_capped_sum")
    recency = 1.0 / (1.0 + _divide(g, c.recency_scale_weeks) ** c.recency_exponent)
    consistency = pl.col("_active_blocks") / pl.col("_observed_blocks")
    volume = _divide((1.0 + capped_sum).log(), math.log(1.0 + c.volume_reference)).clip(upper_bound=1.0)
    lazy = lazy.with_columns(
        recency.alias("recency"),
        pl.when(has_array).then(consistency).alias("consistency"),
        pl.when(has_array).then(volume).alias("volume"),
        (2.0 ** (-pl.col("stale_weeks") / c.staleness_half_life_weeks)).alias("staleness_decay"),
    )
    weighted = c.weight_recency * pl.col("recency") + pl.col("staleness_decay").fill_null(0.0) * (
        c.weight_consistency * pl.col("consistency").fill_null(0.0)
        + c.weight_volume * pl.col("volume").fill_null(0.0)
    )
    prior_scaled = pl.col("_prior_sum") / pl.col("_prior_obs") * c.momentum_weeks
    trend_known = has_array & (capped_sum >= c.trend_min_commits) & (pl.col("_prior_obs") >= c.momentum_weeks)
    momentum = pl.when(trend_known).then((0.5 * ((pl.col("_r13") + 1.0) / (prior_scaled + 1.0)).log()).tanh())
    # (sigma - mu) / (sigma + mu) with both scaled by n: sqrt(n * sum(x^2) - sum(x)^2) is exact integer
    # arithmetic under the root, so no cancellation error however uniform the weeks are.
    spread = (pl.col("_n_obs") * pl.col("_sum_sq") - capped_sum * capped_sum).cast(pl.Float64).sqrt()
    burstiness = pl.when(has_array & (capped_sum > 0)).then((spread - capped_sum) / (spread + capped_sum))
    status = (
        pl.when(g.is_null())
        .then(pl.lit("unknown"))
        .when(g <= c.status_active_weeks)
        .then(pl.lit("active"))
        .when(g <= c.status_slowing_weeks)
        .then(pl.lit("slowing"))
        .when(g <= c.status_stale_weeks)
        .then(pl.lit("stale"))
        .when(g <= c.status_inactive_weeks)
        .then(pl.lit("inactive"))
        .otherwise(pl.lit("abandoned"))
    )
    coverage = (
        pl.when(has_array & (pl.col("_n_obs") == window))
        .then(pl.lit("full"))
        .when(has_array)
        .then(pl.lit("partial"))
        .when(has_commit_date)
        .then(pl.lit("recency_only"))
        .otherwise(pl.lit("unknown"))
    )
    tolerance = c.inconsistency_tolerance_weeks
    before_anchor = pl.col("_commit_before_anchor")
    date_too_old = last_nonzero.is_not_null() & (before_anchor > last_nonzero + 1 + tolerance)
    array_missed_it = (
        (before_anchor > tolerance)
        & (before_anchor < pl.col("_span") - tolerance)
        & (last_nonzero.is_null() | (before_anchor < last_nonzero - tolerance))
    )
    commits = pl.col("_sum_old") + pl.col("_sum_26")
    lazy = lazy.with_columns(
        pl.when(g.is_not_null()).then(100.0 * weighted).alias("activity_score"),
        momentum.alias("momentum"),
        burstiness.alias("burstiness"),
        status.alias("status"),
        coverage.alias("coverage"),
        (has_array & has_commit_date & (date_too_old | array_missed_it)).alias("inconsistent"),
        pl.when(has_array).then(pl.col("_dumps")).alias("dump_weeks"),
        pl.coalesce(pl.col("n_invalid"), pl.when(has_array).then(pl.col("_span") - pl.col("_n_obs")))
        .cast(pl.UInt32)
        .alias("n_invalid"),
        pl.when(has_array).then(commits).alias("commits_52w"),
        pl.when(has_array).then(pl.col("_sum_26")).alias("baseline_sum_26w"),
        pl.when(has_array).then(last_nonzero).cast(pl.UInt32).alias("last_nonzero_week_ago"),
        (100.0 * pl.col("recency")).alias("baseline_recency"),
        djangopackages_score("stars", "last_commit_at", "supports_python3", tau).alias(
            "baseline_djangopackages"
        ),
    )
    m = pl.col("momentum")
    trend = (
        pl.when(m.is_null())
        .then(pl.lit("n/a"))
        .when(m >= c.trend_threshold)
        .then(pl.lit("rising"))
        .when(m <= -c.trend_threshold)
        .then(pl.lit("declining"))
        .otherwise(pl.lit("steady"))
    )
    percentile_columns = ("percentile_category", "popularity_pct", "at_risk_popular")
    scored = (
        lazy.with_columns(
            trend.alias("trend"),
            pl.lit(c.version).alias("score_version"),
            pl.col("commits_52w").alias("baseline_sum_52w"),
        )
        .select(
            *(
                pl.col(name).cast(dtype)
                for name, dtype in SCORE_SCHEMA.items()
                if name not in percentile_columns
            ),
            "category_id",
            "stars",
        )
        .collect()
    )
    category = pl.col("category_id")
    popular = pl.col("popularity_pct") >= 100.0 * c.at_risk_popularity
    scored = (
        scored.lazy()
        .with_columns(
            _percentile(scored, pl.col("activity_score"), category, c.percentile_min_group).alias(
                "percentile_category"
            ),
            _percentile(scored, pl.col("stars").cast(pl.Float64), category, c.percentile_min_group).alias(
                "popularity_pct"
            ),
        )
        # Kleene logic: an active enough package is not at risk whatever its popularity; else unknown is null.
        .with_columns((popular & (pl.col("activity_score") < c.at_risk_activity)).alias("at_risk_popular"))
        .select(list(SCORE_SCHEMA))
        .collect()
    )
    if grid_members is None:
        return scored
    nested = (
        grid_percentiles(scored, grid_members, c)
        .group_by("package_id", maintain_order=True)
        .agg(pl.struct("grid_id", "percentile_grid").alias("grid_percentiles"))
    )
    return scored.join(nested, on="package_id", how="left", maintain_order="left")


def grid_percentiles(
    scored: pl.DataFrame, grid_members: pl.DataFrame, constants: ScoreConstants = DPAS1
) -> pl.DataFrame:
    """Percentile of `activity_score` within each grid; one row per (grid, scored package) membership.

    A grid with fewer than `percentile_min_group` scored members gets each member's global percentile, taken
    over all of `scored` (the same value `percentile_category` falls back to). Unscored members (null score)
    get null; grid members absent from `scored` are left out.
    """
    scores = scored.lazy().select(
        pl.col("package_id").cast(pl.Int64),
        pl.col("activity_score"),
        _global_percentile(pl.col("activity_score")).alias("_global"),
    )
    members = (
        grid_members.lazy()
        .select(pl.col("grid_id").cast(pl.Int64), pl.col("package_id").cast(pl.Int64))
        .unique(maintain_order=True)
    )
    score = pl.col("activity_score")
    group_size = score.is_not_null().sum().over("grid_id")
    in_grid = 100.0 * (score.rank("average").over("grid_id") - 0.5) / group_size
    return (
        members.join(scores, on="package_id", how="inner", maintain_order="left")
        .select(
            "package_id",
            "grid_id",
            pl.when(score.is_not_null() & (group_size >= constants.percentile_min_group))
            .then(in_grid)
            .otherwise(pl.col("_global"))
            .alias("percentile_grid"),
        )
        .select([pl.col(name).cast(dtype) for name, dtype in GRID_PERCENTILE_SCHEMA.items()])
        .collect()
    )


# --------------------------------------------------------------------------------------------------------
# Plain words
# --------------------------------------------------------------------------------------------------------


def _weeks_phrase(weeks: float) -> str:
    whole = round(weeks)
    if whole == 0:
        return "this week"
    return "1 week ago" if whole == 1 else f"{whole} weeks ago"


def explain(row: Mapping[str, object]) -> str:
    """The plain-words reason for one `score_packages` row, e.g. "last commit 31 weeks ago; active in 4 of
    13 four-week blocks; 10 commits in the window, declining"."""
    c = SCORE_VERSIONS.get(str(row.get("score_version")), DPAS1)
    coverage = row.get("coverage")
    if coverage == "unknown":
        return "no weekly commit data and no last commit date: activity unknown"
    gap = _number(row, "gap_weeks")
    if row.get("censored"):
        parts = [f"no commit in the weekly data and no last commit date; gap taken as {round(gap)} weeks"]
    else:
        parts = [f"last commit {_weeks_phrase(gap)}"]
    if coverage == "recency_only":
        parts.append("no weekly commit data, so the score rests on the last commit date alone")
    else:
        share = _number(row, "consistency")
        if coverage == "full":
            # With every week observed, the share is exactly active blocks / all blocks.
            blocks = -(-c.window // c.block_weeks)
            parts.append(f"active in {round(share * blocks)} of {blocks} {_block_name(c)} blocks")
        else:
            parts.append(f"active in {share:.0%} of the observed {_block_name(c)} blocks (partial data)")
        commits = round(_number(row, "commits_52w"))
        volume = f"{commits} commit{'' if commits == 1 else 's'} in the window"
        trend = row.get("trend")
        parts.append(volume if trend in (None, "n/a") else f"{volume}, {trend}")
        stale = _number(row, "stale_weeks")
        if stale >= 1:
            parts.append(f"weekly data {round(stale)} weeks old")
        dumps = round(_number(row, "dump_weeks"))
        if dumps:
            parts.append(
                f"{dumps} week{'' if dumps == 1 else 's'} above {c.week_cap} commits counted as {c.week_cap}"
            )
    if row.get("inconsistent"):
        parts.append("the last commit date and the weekly data disagree")
    if row.get("archived"):
        parts.append("repository archived")
    return "; ".join(parts)


def _number(row: Mapping[str, object], key: str) -> float:
    value = row.get(key)
    return float(value) if isinstance(value, int | float) else 0.0


def _block_name(c: ScoreConstants) -> str:
    numbers = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}
    return f"{numbers.get(c.block_weeks, str(c.block_weeks))}-week"
