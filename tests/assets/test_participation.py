"""Which repositories' participation a capture asks for."""

from datetime import UTC, datetime

import polars as pl

from assets.participation import wanted

FETCHED = datetime(2026, 5, 27, 20, tzinfo=UTC)


def repos(*rows: tuple[str, bool]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"full_name": n, "last_fetched_at": FETCHED, "no_weeks": no_weeks} for n, no_weeks in rows],
        schema={"full_name": pl.String, "last_fetched_at": pl.Datetime("us", "UTC"), "no_weeks": pl.Boolean},
    )


def previous(*rows: tuple[str, str, datetime]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"full_name": n, "status": s, "asked_on": FETCHED.date(), "pushed_then": p} for n, s, p in rows],
        schema={
            "full_name": pl.String,
            "status": pl.String,
            "asked_on": pl.Date,
            "pushed_then": pl.Datetime("us", "UTC"),
        },
    )


def test_asked_where_pushed_since_djangopackages_fetched_or_it_has_no_array():
    listed = repos(("a/pushed", False), ("a/quiet", False), ("a/no-array", True), ("a/gone", True))
    pushed = {"a/pushed": "2026-05-28T10:00:00Z", "a/quiet": "2026-05-01T10:00:00Z"}
    pushed |= {"a/no-array": "2020-01-01T00:00:00Z", "a/gone": None}
    assert wanted(listed, pushed, previous()) == ["a/pushed", "a/no-array"]


def test_a_pending_answer_waits_until_a_push_moves_it():
    then = datetime(2020, 1, 1, tzinfo=UTC)
    listed = repos(("a/still", True), ("a/moved", True), ("a/done", True))
    pushed = {
        "a/still": "2020-01-01T00:00:00Z",
        "a/moved": "2026-05-28T00:00:00Z",
        "a/done": "2020-01-01T00:00:00Z",
    }
    answered = previous(("a/still", "pending", then), ("a/moved", "pending", then), ("a/done", "ok", then))
    assert wanted(listed, pushed, answered) == ["a/moved", "a/done"]
