"""Which GitLab and Bitbucket repositories a capture asks for, and the rows it records for the others."""

from datetime import date, timedelta

import pytest

from assets.forges import GONE_FOR, Known, plan, rows
from assets.sources.forges import ForgeRepo

DAY = date(2026, 6, 1)
DOC = {"updated_on": "2026-05-01T00:00:00+00:00"}


@pytest.mark.parametrize(("days_ago", "asked"), [(GONE_FOR.days - 1, False), (GONE_FOR.days, True)])
def test_a_repository_that_answered_404_is_asked_again_only_after_30_days(days_ago, asked):
    previous = {"ws/hg": Known("missing", None, DAY - timedelta(days=days_ago))}
    todo = plan(["ws/hg"], previous, DAY)
    assert todo.due == (["ws/hg"] if asked else [])
    if not asked:
        assert todo.kept == [
            ("ws/hg", "missing", {"_asked_on": (DAY - timedelta(days=days_ago)).isoformat()})
        ]


def test_a_repository_asked_today_is_not_asked_again_but_one_deferred_today_is():
    previous = {
        "ws/asked": Known("ok", DOC, DAY),
        "ws/deferred": Known("deferred", DOC, DAY - timedelta(days=1)),
    }
    todo = plan(["ws/asked", "ws/deferred"], previous, DAY)
    assert todo.due == ["ws/deferred"] and todo.kept == [("ws/asked", "ok", DOC)]


def test_the_stalest_go_first_and_those_the_budget_left_are_deferred_with_their_last_state():
    previous = {
        "ws/a": Known("ok", DOC, DAY - timedelta(days=1)),
        "ws/b": Known("ok", DOC, DAY - timedelta(days=3)),
        "ws/c": Known("deferred", None, None),  # linked but never asked
    }
    todo = plan(["ws/a", "ws/b", "ws/c"], previous, DAY)
    assert todo.due == ["ws/c", "ws/b", "ws/a"]
    answers = {"ws/c": ForgeRepo("missing", None), "ws/b": ForgeRepo("ok", {"updated_on": "x"})}
    out = list(rows(todo, answers, previous))
    assert out[:2] == [("ws/c", "missing", None), ("ws/b", "ok", {"updated_on": "x"})]
    key, status, payload = out[2]
    assert (key, status) == ("ws/a", "deferred")
    assert payload is not None and payload["_asked_on"] == (DAY - timedelta(days=1)).isoformat()
    assert payload["updated_on"] == DOC["updated_on"]
