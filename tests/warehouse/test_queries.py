"""The named-query catalog: headers, parameter kinds (lists among them) and binding."""

from __future__ import annotations

from datetime import date

import pytest

from warehouse import queries


def header(*params: str) -> queries.NamedQuery:
    text = (
        "-- title: Test\n-- description: test\n-- columns: x\n-- example: dpw query test\n"
        + "".join(f"-- param: {p}\n" for p in params)
        + "SELECT 1 AS x"
    )
    return queries._parse("test", text)


def test_a_list_parameter_is_comma_separated_and_typed():
    q = header("names str[] required names", "days int[] null days", "on date[] null dates")
    assert [(p.name, p.kind, p.default) for p in q.params] == [
        ("names", "str[]", "required"),
        ("days", "int[]", "null"),
        ("on", "date[]", "null"),
    ]
    bound = q.bind({"names": " django-filter, Celery ,,", "days": "7,14", "on": "2026-02-17"})
    assert bound == {"names": ["django-filter", "Celery"], "days": [7, 14], "on": [date(2026, 2, 17)]}
    assert q.bind({"names": "a"}) == {"names": ["a"], "days": None, "on": None}


def test_a_bad_item_or_a_missing_required_parameter_is_named():
    q = header("names str[] required names", "days int[] null days")
    with pytest.raises(queries.QueryError, match=r"parameter days: 'x' is not a valid int"):
        q.bind({"names": "a", "days": "1,x"})
    with pytest.raises(queries.QueryError, match=r"query test needs --param names=<str\[\]>"):
        q.bind({})


def test_dependency_health_is_in_the_catalog_with_its_parameters():
    q = queries.load("dependency_health")
    assert [(p.name, p.kind, p.default) for p in q.params] == [
        ("names", "str[]", "required"),
        ("django", "str", "null"),
    ]
    assert q.bind({"names": "django-filter,celery"}) == {"names": ["django-filter", "celery"], "django": None}
    assert "dependency_health" in [named.name for named in queries.available()]
