"""Compaction on tiny hand-built days: a closed month rewritten in key order with every row kept, the open
month left alone, a month made due again by a write, and a failure that leaves everything as it was."""

from __future__ import annotations

from datetime import date

import pytest

from tests.warehouse.test_marts import metric, publish
from warehouse import compaction, marts

JAN_30, JAN_31, FEB_1 = date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1)


def _day(wh, day: date, ids: list[int]) -> None:
    publish(
        wh,
        day,
        package_snapshots=[{"package_id": i, "pypi_name": f"p{i}"} for i in ids],
        daily_package_metrics=[metric(i, stars=i * 10 + day.day) for i in ids],
        pypi_projects=[{"pypi_name": f"p{i}"} for i in ids],
    )


@pytest.fixture
def three_days(warehouse):
    _day(warehouse, JAN_30, [3, 1, 2])
    _day(warehouse, JAN_31, [2, 3, 1])
    _day(warehouse, FEB_1, [1, 3, 2])
    return warehouse


def _stored_order(wh, table: str, key: str) -> list[tuple]:
    # No ORDER BY: the rows as stored (a small table is read in storage order).
    return wh.query(f"SELECT {key}, snapshot_date FROM {table}").rows()


def _contents(wh) -> dict[str, list[tuple]]:
    return {
        table: wh.query(f"SELECT * FROM {table} ORDER BY ALL").rows()
        for table in compaction.clustered_tables()
    }


def test_a_closed_month_is_rewritten_in_key_order_with_every_row(three_days):
    wh = three_days
    before = _contents(wh)
    assert compaction.due(wh) == [date(2026, 1, 1)]  # February is still open
    # As published: date after date, each in the order the day gave.
    assert _stored_order(wh, "package_snapshots", "package_id")[:6] == [
        (3, JAN_30), (1, JAN_30), (2, JAN_30), (2, JAN_31), (3, JAN_31), (1, JAN_31),
    ]  # fmt: skip

    done = compaction.compact_due(wh)

    assert [(c.month, c.rows) for c in done] == [
        (date(2026, 1, 1), sum(1 for rows in before.values() for row in rows if row[0] < FEB_1))
    ]
    assert _contents(wh) == before
    # The rewritten month goes after the rows already stored: February's, as published.
    assert _stored_order(wh, "package_snapshots", "package_id") == [
        (1, FEB_1), (3, FEB_1), (2, FEB_1),
        (1, JAN_30), (1, JAN_31), (2, JAN_30), (2, JAN_31), (3, JAN_30), (3, JAN_31),
    ]  # fmt: skip
    assert _stored_order(wh, "pypi_projects", "pypi_name")[3:5] == [("p1", JAN_30), ("p1", JAN_31)]
    assert wh.query("SELECT month, row_count FROM compacted_months").rows() == [
        (date(2026, 1, 1), done[0].rows)
    ]
    assert compaction.due(wh) == []


def test_a_write_to_a_compacted_month_makes_it_due_again(three_days):
    wh = three_days
    compaction.compact_due(wh)
    # FEB_1's marts are rewritten with a later date's: January is untouched and stays compacted.
    marts.refresh(wh, FEB_1)
    assert compaction.due(wh) == []
    # A recompute of JAN_31 replaces its rows (and the marts of the dates that read it).
    marts.refresh(wh, JAN_31)
    assert compaction.due(wh) == [date(2026, 1, 1)]
    assert wh.query("SELECT count(*) FROM compacted_months").item() == 0


def test_a_compaction_that_fails_leaves_the_month_as_it_was(three_days, monkeypatch):
    wh = three_days
    before = _contents(wh)
    order = _stored_order(wh, "package_snapshots", "package_id")
    tables = compaction.clustered_tables()
    # One table fails after the tables before it were rewritten inside the transaction.
    monkeypatch.setattr(
        compaction, "clustered_tables", lambda: {**tables, "pypi_projects": ("no_such_column",)}
    )
    with pytest.raises(Exception, match="no_such_column"):
        compaction.compact(wh, date(2026, 1, 1))
    assert _contents(wh) == before
    assert _stored_order(wh, "package_snapshots", "package_id") == order
    assert compaction.due(wh) == [date(2026, 1, 1)]


def test_only_a_month_s_first_day_names_it(warehouse):
    with pytest.raises(ValueError, match="first day of a month"):
        compaction.compact(warehouse, JAN_30)
