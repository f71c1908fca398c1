"""The registry of score versions: a version is its constants plus its scorer, found by name."""

from datetime import UTC, date, datetime

import polars as pl
import pytest

from warehouse.scoring import (
    DPAS1,
    SCORE_VERSION,
    SCORE_VERSIONS,
    ScoreConstants,
    ScoreVersion,
    dpas_1,
    explain,
    lookup_version,
    register,
    score_packages,
)

TAU = date(2026, 3, 1)
# Eight-week blocks: the consistency of the same array reads differently.
EIGHT_WEEK_BLOCKS = ScoreConstants(**(DPAS1.as_dict() | {"version": "blocks-8", "block_weeks": 8}))


@pytest.fixture
def eight_week_blocks():
    version = register(ScoreVersion(EIGHT_WEEK_BLOCKS, dpas_1))
    yield version
    del SCORE_VERSIONS[version.name]


def packages() -> pl.DataFrame:
    # Commits in 2 of the 13 four-week blocks, which fall in 2 of the 7 eight-week blocks.
    weeks = [0] * 40 + [3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0]
    return pl.DataFrame(
        {
            "package_id": [1, 2],
            "weeks": [weeks, None],
            "weeks_anchor_at": [datetime(2026, 3, 1, tzinfo=UTC)] * 2,
            "category_id": [1, 1],
        }
    )


def test_the_current_version_is_dpas_1_with_its_scorer():
    current = lookup_version()
    assert current is SCORE_VERSIONS[SCORE_VERSION] and current.name == "dpas-1.0"
    assert current.constants is DPAS1
    assert current.score(packages(), TAU).equals(score_packages(packages(), TAU))


def test_a_registered_version_scores_with_its_constants(eight_week_blocks):
    assert lookup_version("blocks-8") is eight_week_blocks
    row = eight_week_blocks.score(packages(), TAU).row(0, named=True)
    assert row["score_version"] == "blocks-8" and row["consistency"] == pytest.approx(2 / 7)
    assert score_packages(packages(), TAU).row(0, named=True)["consistency"] == pytest.approx(2 / 13)
    assert explain(row).startswith("last commit 3 weeks ago; active in 2 of 7 eight-week blocks")


def test_a_name_is_registered_once(eight_week_blocks):
    with pytest.raises(ValueError, match="'blocks-8' is already registered"):
        register(ScoreVersion(EIGHT_WEEK_BLOCKS, dpas_1))
    assert SCORE_VERSIONS["blocks-8"] is eight_week_blocks


def test_an_unknown_name_says_which_are_known():
    with pytest.raises(ValueError, match=r"unknown score version 'dpas-9'; known: dpas-1.0$"):
        lookup_version("dpas-9")


def test_a_scorer_that_leaves_out_columns_is_named():
    def no_status(frame, scoring_date, constants):
        return dpas_1(frame, scoring_date, constants).drop("status", "stars")

    broken = ScoreVersion(ScoreConstants(**(DPAS1.as_dict() | {"version": "broken"})), no_status)
    with pytest.raises(ValueError, match=r"score version broken: .* lack the columns \['status', 'stars'\]"):
        broken.score(packages(), TAU)
