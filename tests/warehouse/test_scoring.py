"""DPAS-1: hand-computed cases, the properties docs/ARCHITECTURE.md promises, and agreement with the row reference."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.reference import djangopackages_score_row, percentile_rows, score_row
from warehouse.scoring import (
    COVERAGES,
    DPAS1,
    SANITIZED_WEEKS_DTYPE,
    SCORE_SCHEMA,
    SCORE_VERSION,
    SCORE_VERSIONS,
    STATUSES,
    TRENDS,
    djangopackages_score,
    explain,
    grid_percentiles,
    sanitize_weeks,
    score_packages,
)

TAU = date(2026, 3, 1)
TAU_AT = datetime(2026, 3, 1, tzinfo=UTC)
WEEK = timedelta(weeks=1)
INPUT_SCHEMA = {
    "package_id": pl.Int64,
    "weeks": pl.List(pl.Int64),
    "weeks_anchor_at": pl.Datetime("us", "UTC"),
    "last_commit_at": pl.Datetime("us", "UTC"),
    "stars": pl.Int64,
    "category_id": pl.Int64,
    "archived": pl.Boolean,
    "supports_python3": pl.Boolean,
}


def frame(rows: list[dict]) -> pl.DataFrame:
    full = [
        {
            "package_id": i + 1,
            "weeks": None,
            "weeks_anchor_at": TAU_AT,
            "last_commit_at": None,
            "stars": None,
            "category_id": None,
            "archived": None,
            "supports_python3": None,
        }
        | row
        for i, row in enumerate(rows)
    ]
    return pl.DataFrame(full, schema=INPUT_SCHEMA)


def score_one(scoring_date: date = TAU, **row) -> dict:
    return score_packages(frame([row]), scoring_date).row(0, named=True)


def recency(gap: float) -> float:
    return 1.0 / (1.0 + (gap / 26.0) ** 1.5)


def aligned(values: list[int | None]) -> list[int | None]:
    return [None] * (52 - len(values)) + values


# ------------------------------------------------------------------------------------------------
# Hand-computed cases (warehouse.scoring.dpas)
# ------------------------------------------------------------------------------------------------


def test_constants_are_versioned():
    assert SCORE_VERSION == "dpas-1.0" and SCORE_VERSIONS[SCORE_VERSION].constants is DPAS1
    assert (DPAS1.week_cap, DPAS1.window, DPAS1.volume_reference, DPAS1.censor_floor_weeks) == (
        25,
        52,
        260,
        104,
    )
    with pytest.raises(ValueError):
        DPAS1.__class__(**(DPAS1.as_dict() | {"weight_volume": 0.5}))


def test_all_zeros_with_last_commit_26_weeks_ago_is_20():
    row = score_one(weeks=[0] * 52, last_commit_at=TAU_AT - 26 * WEEK)
    assert row["activity_score"] == pytest.approx(20.0, abs=1e-9)
    assert (row["gap_weeks"], row["recency"], row["consistency"], row["volume"]) == (26.0, 0.5, 0.0, 0.0)
    assert (row["status"], row["coverage"], row["censored"], row["trend"]) == (
        "slowing",
        "full",
        False,
        "n/a",
    )
    # The date says a commit 26 weeks ago, inside the window, where the array shows none.
    assert row["inconsistent"] is True


def test_52_weeks_of_5_fetched_on_the_scoring_date_is_100():
    row = score_one(weeks=[5] * 52)
    expected = 100 * (0.4 * recency(0) + 0.3 * 1.0 + 0.3 * math.log(261) / math.log(261))
    assert row["activity_score"] == pytest.approx(expected, abs=1e-9) and expected == pytest.approx(100.0)
    assert (row["commits_52w"], row["last_nonzero_week_ago"], row["status"], row["trend"]) == (
        260,
        0,
        "active",
        "steady",
    )
    assert row["momentum"] == pytest.approx(0.0, abs=1e-12)
    assert row["burstiness"] == pytest.approx(-1.0, abs=1e-12)  # no spread at all


def test_empty_array_without_last_commit_is_null_and_unknown():
    row = score_one(weeks=None)
    assert row["activity_score"] is None
    assert (row["coverage"], row["status"], row["trend"]) == ("unknown", "unknown", "n/a")
    assert row["commits_52w"] is None and row["gap_weeks"] is None


def test_empty_array_with_last_commit_is_recency_only():
    row = score_one(weeks=None, last_commit_at=TAU_AT - 26 * WEEK)
    assert row["activity_score"] == pytest.approx(20.0, abs=1e-9)
    assert (row["coverage"], row["status"]) == ("recency_only", "slowing")
    assert row["consistency"] is None and row["volume"] is None and row["staleness_decay"] is None


@pytest.mark.parametrize("stale_weeks", [0, 30, 60])
def test_all_zero_array_without_last_commit_is_censored(stale_weeks):
    row = score_one(weeks=[0] * 52, weeks_anchor_at=TAU_AT - stale_weeks * WEEK)
    gap = max(52 + stale_weeks, 104)
    assert row["censored"] is True and row["gap_weeks"] == pytest.approx(gap, abs=1e-9)
    assert row["activity_score"] == pytest.approx(40 * recency(gap), abs=1e-9)
    assert row["status"] == ("inactive" if gap <= 104 else "abandoned")


def test_censoring_uses_the_observed_span():
    row = score_one(weeks=aligned([0] * 20), weeks_anchor_at=TAU_AT - 100 * WEEK)
    assert row["gap_weeks"] == pytest.approx(120.0, abs=1e-9)  # max(20 + 100, 104)
    assert row["coverage"] == "partial"


def test_staleness_decay():
    row = score_one(weeks=[5] * 52, weeks_anchor_at=TAU_AT - 13 * WEEK)
    decay = 2 ** (-13 / 26)
    assert row["staleness_decay"] == pytest.approx(decay, abs=1e-12)
    assert row["stale_weeks"] == pytest.approx(13.0, abs=1e-12)
    assert row["activity_score"] == pytest.approx(100 * (0.4 * recency(13) + decay * 0.6), abs=1e-9)
    assert row["status"] == "active"  # g = 13 exactly


def test_weeks_are_capped_at_25():
    weeks = [0] * 51 + [1000]
    row = score_one(weeks=weeks)
    volume = math.log(26) / math.log(261)
    assert row["volume"] == pytest.approx(volume, abs=1e-12)
    assert row["activity_score"] == pytest.approx(100 * (0.4 + 0.3 / 13 + 0.3 * volume), abs=1e-9)
    assert (row["dump_weeks"], row["commits_52w"], row["baseline_sum_52w"]) == (1, 1000, 1000)
    assert row["activity_score"] == score_one(weeks=[0] * 51 + [25])["activity_score"]


def test_momentum_rising_declining_and_na():
    rising = score_one(weeks=[1] + [0] * 38 + [2] * 13)
    # r13 = 26, p13 = 1/39 * 13 = 1/3: tanh(ln(27 / (4/3)) / 2) = (20.25 - 1) / (20.25 + 1)
    assert rising["momentum"] == pytest.approx(19.25 / 21.25, abs=1e-12) and rising["trend"] == "rising"
    declining = score_one(weeks=[2] * 39 + [0] * 13)
    assert declining["momentum"] == pytest.approx(-26 / 28, abs=1e-12) and declining["trend"] == "declining"
    assert score_one(weeks=[0] * 50 + [1, 1])["trend"] == "n/a"  # under 3 commits
    short = score_one(weeks=aligned([3] * 20))  # 7 prior weeks only
    assert short["trend"] == "n/a" and short["momentum"] is None
    steady = score_one(weeks=[1, 0] * 26)  # r13 = 6 (weeks 40, 42, ..., 50), p13 = 20/39 * 13
    assert steady["momentum"] == pytest.approx(math.tanh(0.5 * math.log(7 / (20 / 3 + 1))), abs=1e-12)
    assert steady["momentum"] == pytest.approx(-2 / 44, abs=1e-12)
    assert steady["trend"] == "steady"


@pytest.mark.parametrize(
    ("weeks_ago", "status"),
    [(0, "active"), (13, "active"), (13.01, "slowing"), (26, "slowing"), (52, "stale"), (52.01, "inactive"),
     (104, "inactive"), (104.01, "abandoned"), (520, "abandoned")],
)  # fmt: skip
def test_status_thresholds(weeks_ago, status):
    row = score_one(weeks=None, last_commit_at=TAU_AT - timedelta(weeks=weeks_ago))
    assert row["status"] == status
    assert row["activity_score"] == pytest.approx(40 * recency(weeks_ago), abs=1e-9)


def test_consistency_counts_observed_blocks_only():
    row = score_one(weeks=aligned([1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
    assert row["consistency"] == pytest.approx(2 / 5, abs=1e-12)  # 20 weeks: 5 blocks, 2 with commits
    assert row["coverage"] == "partial" and row["n_invalid"] == 0


def test_burstiness_of_a_single_commit():
    row = score_one(weeks=[0] * 51 + [1])
    sigma_n = math.sqrt(52 * 1 - 1)  # sigma and mu scaled by n = 52
    assert row["burstiness"] == pytest.approx((sigma_n - 1) / (sigma_n + 1), abs=1e-12)


def test_inconsistent_both_ways_and_consistent():
    weeks = [0] * 40 + [3] + [0] * 11  # newest commit 11 weeks before the anchor
    assert score_one(weeks=weeks, last_commit_at=TAU_AT - 11.5 * WEEK)["inconsistent"] is False
    assert score_one(weeks=weeks, last_commit_at=TAU_AT - 14 * WEEK)["inconsistent"] is True  # date too old
    assert score_one(weeks=weeks, last_commit_at=TAU_AT - 5 * WEEK)["inconsistent"] is True  # array missed it
    assert (
        score_one(weeks=weeks, last_commit_at=TAU_AT - 0.5 * WEEK)["inconsistent"] is False
    )  # after the stats
    assert score_one(weeks=[0] * 52, last_commit_at=TAU_AT - 60 * WEEK)["inconsistent"] is False


def test_last_commit_date_shortens_the_gap():
    row = score_one(weeks=[0] * 40 + [3] + [0] * 11, last_commit_at=TAU_AT - 2 * WEEK)
    assert row["gap_weeks"] == pytest.approx(2.0, abs=1e-12)


def test_archived_is_a_flag_only():
    plain, archived = score_packages(
        frame([{"weeks": [1] * 52}, {"weeks": [1] * 52, "archived": True}]), TAU
    ).rows(named=True)
    assert archived["archived"] is True and plain["archived"] is None
    assert archived["activity_score"] == plain["activity_score"]


def test_output_schema_order_and_lazy_input():
    rows = [{"weeks": [0] * 52}, {"weeks": None, "last_commit_at": TAU_AT}, {"weeks": [2] * 52}]
    eager = score_packages(frame(rows), TAU)
    assert eager.schema == pl.Schema(SCORE_SCHEMA)
    assert eager["package_id"].to_list() == [1, 2, 3]
    assert eager.equals(score_packages(frame(rows).lazy(), TAU))
    minimal = frame(rows).select("package_id", "weeks", "weeks_anchor_at")
    assert (
        score_packages(minimal, TAU)["activity_score"].to_list()[::2]
        == eager["activity_score"].to_list()[::2]
    )


def test_explain_in_plain_words():
    weeks = [3, 0, 0, 0, 3, 0, 0, 0, 2] + [0] * 11 + [2] + [0] * 31  # last commit at index 20: 31 weeks ago
    row = score_one(weeks=weeks)
    assert (
        explain(row)
        == "last commit 31 weeks ago; active in 4 of 13 four-week blocks; 10 commits in the window, declining"
    )
    assert "activity unknown" in explain(score_one(weeks=None))
    assert "last commit date alone" in explain(score_one(weeks=None, last_commit_at=TAU_AT - 3 * WEEK))
    assert "gap taken as 104 weeks" in explain(score_one(weeks=[0] * 52))


# ------------------------------------------------------------------------------------------------
# Percentiles (warehouse.scoring.percentiles)
# ------------------------------------------------------------------------------------------------


def test_percentiles_within_category_and_global_fallback():
    rows = [{"weeks": [k] * 52, "stars": 10 * k, "category_id": 1} for k in range(5)]
    rows += [
        {"weeks": [9] * 52, "stars": 1000, "category_id": 2},
        {"weeks": [0] * 52, "stars": 5000, "category_id": 2},
        {"weeks": None, "stars": 7, "category_id": None},
    ]
    out = score_packages(frame(rows), TAU)
    # Category 1: five distinct scores, mid-ranks 1..5 -> 10, 30, 50, 70, 90.
    assert out["percentile_category"].to_list()[:5] == pytest.approx([10, 30, 50, 70, 90])
    # Category 2 is too small: global among the 7 scored; [0]*52 ties with package 1 (mid-rank 1.5).
    assert out["percentile_category"][5] == pytest.approx(100 * 6.5 / 7)
    assert out["percentile_category"][6] == pytest.approx(100 * 1.0 / 7)
    assert out["percentile_category"][7] is None  # unscored
    assert out["popularity_pct"].to_list()[:5] == pytest.approx([10, 30, 50, 70, 90])
    assert out["popularity_pct"][6] == pytest.approx(100 * 7.5 / 8)  # 5000 stars: top of all eight
    # Top-20% popular (>= 80) and activity under 20: only package 7 (censored array, 4.4).
    assert out["at_risk_popular"].to_list()[:7] == [False, False, False, False, False, False, True]
    scores = out["activity_score"].to_list()
    categories = [r.get("category_id") for r in rows]
    assert out["percentile_category"].to_list() == pytest.approx(percentile_rows(scores, categories, 5))


def test_grid_percentiles():
    rows = [{"weeks": [k] * 52} for k in range(6)] + [{"weeks": None}]
    scored = score_packages(frame(rows), TAU)
    members = pl.DataFrame(
        {
            "grid_id": [10] * 5 + [11, 11, 11, 10],
            "package_id": [1, 2, 3, 4, 5, 6, 1, 7, 99],
        }
    )
    out = grid_percentiles(scored, members)
    assert out.columns == ["package_id", "grid_id", "percentile_grid"]
    got = {(g, p): v for p, g, v in out.iter_rows()}
    assert [got[(10, p)] for p in range(1, 6)] == pytest.approx([10, 30, 50, 70, 90])
    # Grid 11 has two scored members: global percentiles among the six scored packages.
    assert got[(11, 6)] == pytest.approx(100 * 5.5 / 6) and got[(11, 1)] == pytest.approx(100 * 0.5 / 6)
    assert got[(11, 7)] is None and (10, 99) not in got
    nested = score_packages(frame(rows), TAU, grid_members=members)
    assert nested.columns[-1] == "grid_percentiles"
    assert {d["grid_id"] for d in nested["grid_percentiles"][0]} == {10, 11}


# ------------------------------------------------------------------------------------------------
# sanitize_weeks (warehouse.scoring.weeks)
# ------------------------------------------------------------------------------------------------


def sanitize(raw: list[str | None]) -> list[dict]:
    frame = pl.DataFrame({"raw": raw}, schema={"raw": pl.String}).select(
        sanitize_weeks(pl.col("raw")).alias("s")
    )
    assert frame.schema["s"] == SANITIZED_WEEKS_DTYPE
    return frame["s"].to_list()


def test_sanitize_cases():
    fifty_two = list(range(52))
    cases = sanitize(
        [
            json.dumps(fifty_two),
            json.dumps([1] * 51),
            json.dumps(list(range(53))),
            "0,3,1",
            '"0,3,1"',
            "[0, -2, 3]",
            "[NaN, 1, Infinity, -Infinity, null, 2.5, 3.0, 1e2]",
            None,
            "",
            "[]",
            "null",
            "[NaN]",
        ]
    )
    assert cases[0] == {
        "weeks": fifty_two,
        "raw_len": 52,
        "n_invalid": 0,
        "was_string": False,
        "repaired": False,
    }
    assert cases[1] == {
        "weeks": [None] + [1] * 51,
        "raw_len": 51,
        "n_invalid": 0,
        "was_string": False,
        "repaired": True,
    }
    assert cases[2]["weeks"] == list(range(1, 53)) and cases[2]["repaired"] is True
    for legacy in cases[3:5]:
        assert legacy == {
            "weeks": aligned([0, 3, 1]),
            "raw_len": 3,
            "n_invalid": 0,
            "was_string": True,
            "repaired": True,
        }
    assert cases[5]["weeks"] == aligned([0, None, 3]) and cases[5]["n_invalid"] == 1
    assert (
        cases[6]["weeks"] == aligned([None, 1, None, None, None, None, 3, 100]) and cases[6]["n_invalid"] == 5
    )
    absent = {"weeks": None, "raw_len": 0, "n_invalid": 0, "was_string": False, "repaired": False}
    assert cases[7:11] == [absent] * 4
    assert cases[11] == {"weeks": None, "raw_len": 1, "n_invalid": 1, "was_string": False, "repaired": True}


def test_sanitize_reads_a_plain_array_at_once_and_only_exactly_as_entry_by_entry():
    """A compact array of 52 whole counts is read as integers at once; every edge of that form reads as the
    entry-by-entry reading does: a count past 2**53 goes through a float there, so 2**53 + 1 becomes
    2**53, and a digit that is not ASCII, a count too large for any integer, a gap or a space is no count."""

    def plain(*entries: str) -> str:
        return "[" + ",".join(entries + ("1",) * (52 - len(entries))) + "]"

    cases = sanitize(
        [
            plain("007", "0", str(2**53)),
            plain(str(2**53 + 1)),
            plain(str(2**53 + 2)),
            plain("9" * 20),
            plain("\u0663"),
            plain("1 "),
            plain("", "1"),
        ]
    )
    exact = {"raw_len": 52, "n_invalid": 0, "was_string": False, "repaired": False}
    assert cases[0] == {"weeks": [7, 0, 2**53] + [1] * 49, **exact}
    assert cases[1] == {"weeks": [2**53] + [1] * 51, **exact}
    one_invalid = {"raw_len": 52, "n_invalid": 1, "was_string": False, "repaired": True}
    for case in (cases[2], cases[3], cases[4]):
        assert case == {"weeks": [None] + [1] * 51, **one_invalid}
    assert cases[5] == {"weeks": [1] * 52, **exact}
    assert cases[6] == {"weeks": [None] + [1] * 51, **one_invalid}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 10**6), max_size=60), min_size=1, max_size=20))
def test_sanitize_round_trips_json_arrays(arrays):
    results = sanitize([json.dumps(a) for a in arrays] + [",".join(map(str, a)) for a in arrays])
    for array, as_json, as_string in zip(arrays, results[: len(arrays)], results[len(arrays) :], strict=True):
        expected = None if not array else ([None] * max(0, 52 - len(array)) + array)[-52:]
        assert as_json["weeks"] == expected and as_string["weeks"] == expected
        assert as_json["raw_len"] == len(array) and as_json["n_invalid"] == 0
        assert as_json["repaired"] == (len(array) not in (0, 52))
        assert as_string["was_string"] == bool(array)


# ------------------------------------------------------------------------------------------------
# The djangopackages baseline (warehouse.scoring.baselines)
# ------------------------------------------------------------------------------------------------


def baseline(stars, last_commit_at, py3, now=TAU_AT) -> int | None:
    data = pl.DataFrame(
        {"stars": [stars], "last": [last_commit_at], "py3": [py3]},
        schema={"stars": pl.Int64, "last": pl.Datetime("us", "UTC"), "py3": pl.Boolean},
    )
    return data.select(djangopackages_score("stars", "last", "py3", now)).item()


def test_djangopackages_examples_from_the_research():
    assert baseline(100, TAU_AT - timedelta(days=3), True) == 100
    assert baseline(100, None, None) == 60
    assert baseline(100, None, False) == 60
    assert baseline(1000, TAU_AT - relativedelta(years=2), True) == 200
    assert baseline(1000, TAU_AT - relativedelta(years=5), None) == -500
    assert baseline(None, None, True) is None


def test_djangopackages_months_follow_relativedelta():
    rng = random.Random(7)
    cases = [
        (datetime(2026, 1, 31, 10, tzinfo=UTC), datetime(2026, 2, 28, 12, tzinfo=UTC)),
        (datetime(2026, 1, 31, 10, tzinfo=UTC), datetime(2026, 2, 28, 9, tzinfo=UTC)),
        (datetime(2025, 11, 30, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2026, 5, 31, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),  # a future date
    ]
    start = datetime(2010, 1, 1, tzinfo=UTC)
    for _ in range(300):
        cases.append(
            (
                start + timedelta(seconds=rng.randrange(5 * 10**8)),
                start + timedelta(seconds=rng.randrange(5 * 10**8)),
            )
        )
    data = pl.DataFrame(
        {"last": [a for a, _ in cases], "now": [b for _, b in cases], "stars": [137] * len(cases)},
        schema={"last": pl.Datetime("us", "UTC"), "now": pl.Datetime("us", "UTC"), "stars": pl.Int64},
    )
    got = data.select(
        djangopackages_score("stars", "last", pl.lit(None, pl.Boolean), pl.col("now"))
    ).to_series()
    expected = [djangopackages_score_row(137, last, None, now) for last, now in cases]
    assert got.to_list() == expected


# ------------------------------------------------------------------------------------------------
# Properties
# ------------------------------------------------------------------------------------------------

week_value = st.one_of(st.just(0), st.just(0), st.integers(1, 6), st.integers(0, 400), st.none())
weeks_strategy = st.one_of(
    st.none(),
    st.just([0] * 52),
    st.lists(week_value, min_size=52, max_size=52),
    st.lists(st.integers(0, 30), min_size=1, max_size=51).map(aligned),
)
package_strategy = st.fixed_dictionaries(
    {
        "weeks": weeks_strategy,
        "weeks_anchor_at": st.integers(-1_000, 800_000).map(lambda m: TAU_AT - timedelta(minutes=m)),
        "last_commit_at": st.one_of(
            st.none(), st.integers(-1_000, 6_000_000).map(lambda m: TAU_AT - timedelta(minutes=m))
        ),
        "stars": st.one_of(st.none(), st.integers(0, 80_000)),
        "category_id": st.one_of(st.none(), st.integers(1, 3)),
        "archived": st.one_of(st.none(), st.booleans()),
        "supports_python3": st.one_of(st.none(), st.booleans()),
    }
)
batches = st.lists(package_strategy, min_size=1, max_size=25)
PROPERTY_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scores(rows: list[dict], scoring_date: date = TAU) -> list[float | None]:
    return score_packages(frame(rows), scoring_date)["activity_score"].to_list()


@PROPERTY_SETTINGS
@given(batches, st.data())
def test_one_more_commit_never_lowers_the_score(rows, data):
    bumped = []
    for row in rows:
        known = [j for j, w in enumerate(row["weeks"] or []) if w is not None]
        if known:
            j = data.draw(st.sampled_from(known))
            weeks = list(row["weeks"])
            weeks[j] += 1
            row = row | {"weeks": weeks}
        bumped.append(row)
    for before, after in zip(scores(rows), scores(bumped), strict=True):
        assert (before is None) == (after is None)
        assert before is None or after >= before - 1e-12


@PROPERTY_SETTINGS
@given(batches, st.integers(1, 2_000))
def test_time_passing_without_commits_never_raises_the_score(rows, days):
    for before, after in zip(scores(rows), scores(rows, TAU + timedelta(days=days)), strict=True):
        assert before is None or after <= before + 1e-12


@PROPERTY_SETTINGS
@given(batches, st.integers(0, 2_000))
def test_a_week_without_new_data_moves_the_score_at_most_3_points(rows, days):
    start = TAU + timedelta(days=days)
    for before, after in zip(scores(rows, start), scores(rows, start + timedelta(weeks=1)), strict=True):
        assert before is None or abs(after - before) <= 3.0


@PROPERTY_SETTINGS
@given(batches, st.lists(st.integers(0, 10**6), min_size=25, max_size=25))
def test_stars_forks_and_downloads_never_change_the_score(rows, noise):
    other = frame([row | {"stars": noise[i]} for i, row in enumerate(rows)]).with_columns(
        pl.Series("forks", noise[: len(rows)]), pl.Series("downloads", noise[::-1][: len(rows)])
    )
    assert score_packages(other, TAU)["activity_score"].to_list() == scores(rows)


@PROPERTY_SETTINGS
@given(batches)
def test_score_is_bounded_and_null_exactly_when_unknown(rows):
    out = score_packages(frame(rows), TAU)
    for score, coverage in zip(out["activity_score"], out["coverage"], strict=True):
        assert (score is None) == (coverage == "unknown")
        assert score is None or 0.0 <= score <= 100.0
    assert set(out["status"]) <= set(STATUSES) and set(out["trend"]) <= set(TRENDS)
    assert set(out["coverage"]) <= set(COVERAGES)


# ------------------------------------------------------------------------------------------------
# Vectorized against the row-by-row reference
# ------------------------------------------------------------------------------------------------


def random_rows(rng: random.Random, n: int, sanitized: bool) -> list[dict]:
    rows = []
    for i in range(n):
        kind = rng.random()
        if kind < 0.05:
            weeks = None
        elif kind < 0.55:
            weeks = [0] * 52
        else:
            length = 52 if rng.random() < 0.8 else rng.randint(1, 70)
            weeks = [
                None
                if rng.random() < 0.03
                else 0
                if rng.random() < 0.6
                else rng.choice([1, 2, 3, 7, 24, 25, 26, 900])
                for _ in range(length)
            ]
            if not sanitized and rng.random() < 0.3:
                weeks[rng.randrange(length)] = -rng.randint(1, 5)
            if sanitized:
                weeks = ([None] * max(0, 52 - length) + weeks)[-52:]
        anchor = TAU_AT - timedelta(minutes=rng.randint(-1_000, 400_000))
        last = None if rng.random() < 0.2 else anchor - timedelta(minutes=rng.randint(-5_000, 3_000_000))
        rows.append(
            {
                "package_id": i + 1,
                "weeks": weeks,
                "weeks_anchor_at": anchor,
                "last_commit_at": last,
                "stars": None if rng.random() < 0.05 else int(rng.expovariate(1 / 300)),
                "category_id": None if rng.random() < 0.1 else rng.randint(1, 40),
                "archived": rng.choice([None, False, True]),
                "supports_python3": rng.choice([None, False, True]),
            }
        )
    return rows


def close(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))
    return a == b


@pytest.mark.parametrize("sanitized", [True, False], ids=["sanitized", "raw-lists"])
def test_vectorized_agrees_with_the_row_reference(sanitized):
    rows = random_rows(random.Random(20260301 + sanitized), 1_000, sanitized)
    out = score_packages(pl.DataFrame(rows, schema=INPUT_SCHEMA), TAU)
    per_package = [
        name
        for name in SCORE_SCHEMA
        if name not in ("percentile_category", "popularity_pct", "at_risk_popular")
    ]
    for row, got in zip(rows, out.iter_rows(named=True), strict=True):
        expected = score_row(
            row["weeks"],
            row["weeks_anchor_at"],
            row["last_commit_at"],
            TAU,
            stars=row["stars"],
            supports_python3=row["supports_python3"],
            archived=row["archived"],
        )
        for name in per_package[1:]:
            assert close(got[name], expected[name]), (name, row, got[name], expected[name])
    categories = [row["category_id"] for row in rows]
    activity = out["activity_score"].to_list()
    stars = [
        None if s is None else float(s)
        for s in out.join(pl.DataFrame(rows, schema=INPUT_SCHEMA), on="package_id")["stars"]
    ]
    for got, expected in zip(
        out["percentile_category"], percentile_rows(activity, categories, 5), strict=True
    ):
        assert close(got, expected)
    for got, expected in zip(out["popularity_pct"], percentile_rows(stars, categories, 5), strict=True):
        assert close(got, expected)
