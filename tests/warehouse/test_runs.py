"""run_summary on a hand-filled warehouse: every count of the ledger row, and the status it gives when the
counts add up and when they do not."""

from datetime import UTC, date, datetime

import pytest

from warehouse.runs import run_summary

DAY = date(2026, 5, 4)
START, END = datetime(2026, 5, 4, 6, tzinfo=UTC), datetime(2026, 5, 4, 6, 5, tzinfo=UTC)


@pytest.fixture
def filled(warehouse):
    """Three package records (one rejected, one repaired), a category and a repository; four requests, one
    failed; two packages scored. Plus a row of another date in each table, which must not count."""
    for day in (DAY, date(2026, 5, 3)):
        warehouse.conn.execute(
            "INSERT INTO raw_requests SELECT ?, 'raw', source, 'GET', '/', 200, 1, ok, NULL, 1.0, now() "
            "FROM (VALUES ('djangopackages', true), ('djangopackages', true), ('github', false), "
            "('pypi', true)) t(source, ok)",
            [day],
        )
        warehouse.conn.execute(
            "INSERT INTO raw_records SELECT ?, source, k, 'ok', NULL FROM (VALUES "
            "('djangopackages/packages', '1'), ('djangopackages/packages', '2'), ('djangopackages/packages', 'x'), "
            "('djangopackages/categories', '7'), ('github/repository', 'a/one'), ('github/participation', 'a/one')) "
            "t(source, k)",
            [day],
        )
        warehouse.conn.execute(
            "INSERT INTO package_snapshots (snapshot_date, package_id, slug, title, repo_host, stars, forks, "
            "last_fetched_at, repairs) VALUES (?, 1, 'one', 'One', 'github', 0, 0, now(), []), "
            "(?, 2, 'two', 'Two', 'github', 0, 0, now(), ['stars: was -1, now 0'])",
            [day, day],
        )
        warehouse.conn.execute(
            "INSERT INTO rejected_records VALUES (?, 'djangopackages/packages', 'x', ['id'], 'id: not an integer', '{}')",
            [day],
        )
        warehouse.conn.execute(
            "INSERT INTO category_snapshots (snapshot_date, category_id, slug, title) VALUES (?, 7, 'apps', 'Apps')",
            [day],
        )
        warehouse.conn.execute(
            "INSERT INTO repository_snapshots (snapshot_date, full_name, status) VALUES (?, 'a/one', 'ok')",
            [day],
        )
        warehouse.conn.execute(
            "INSERT INTO daily_package_metrics (snapshot_date, package_id, stars, forks, weeks_source, "
            "score_version, status, trend, coverage, censored) SELECT ?, id, 0, 0, 'none', 'dpas-1.0', "
            "'unknown', 'n/a', 'unknown', false FROM (VALUES (1), (2)) t(id)",
            [day],
        )
    return warehouse


def summary(wh, mode="capture", **kw):
    return run_summary(wh, DAY, run_id="run-1", mode=mode, started_at=START, finished_at=END, **kw).to_dicts()


def test_a_run_whose_counts_add_up_is_ok(filled):
    assert summary(filled) == [
        {
            "run_id": "run-1",
            "snapshot_date": DAY,
            "mode": "capture",
            "started_at": START,
            "finished_at": END,
            "status": "ok",
            "requests_djangopackages": 2,
            "requests_github": 1,
            "requests_pypi": 1,
            "requests_failed": 1,
            # participation answers fold into their repository's row: 5 records, not 6
            "records_fetched": 5,
            "records_accepted": 4,
            "records_repaired": 1,
            "records_rejected": 1,
            "packages_scored": 2,
            "score_version": "dpas-1.0",
            "message": None,
        }
    ]


def test_a_recompute_counts_no_request_and_an_explicit_status_wins(filled):
    [row] = summary(filled, "recompute", status="refused", message="packages_vanished: 40% gone")
    assert (row["requests_djangopackages"], row["requests_github"], row["requests_pypi"]) == (0, 0, 0)
    assert (row["requests_failed"], row["status"], row["message"]) == (
        0,
        "refused",
        "packages_vanished: 40% gone",
    )


def test_a_record_neither_accepted_nor_rejected_makes_a_counts_mismatch(filled):
    filled.conn.execute("DELETE FROM rejected_records WHERE snapshot_date = ?", [DAY])
    [row] = summary(filled)
    assert (row["records_fetched"], row["records_accepted"], row["records_rejected"]) == (5, 4, 0)
    assert row["status"] == "counts_mismatch"


def test_a_package_without_a_score_makes_a_counts_mismatch(filled):
    filled.conn.execute("DELETE FROM daily_package_metrics WHERE snapshot_date = ? AND package_id = 2", [DAY])
    [row] = summary(filled)
    assert (row["packages_scored"], row["status"]) == (1, "counts_mismatch")
