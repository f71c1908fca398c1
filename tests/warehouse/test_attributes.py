"""attribute_history on hand-built days: exact intervals, refresh one date at a time equal to a rebuild, an
old date recomputed with another value, and an upgraded warehouse filled from its snapshots."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from tests.conftest import legacy_warehouse
from warehouse import attributes
from warehouse.contracts import AttributeInterval, validate
from warehouse.store import Warehouse

D = [date(2026, 3, 1) + timedelta(days=i) for i in range(6)]  # D[1] .. D[5] are the days used
FETCHED = datetime(2026, 3, 1, tzinfo=UTC)


def package(pid: int, **values: object) -> dict[str, object]:
    """A package_snapshots row: title and slug from the id, no repository, no PyPI name unless given."""
    return {"package_id": pid, "slug": f"p{pid}", "title": f"P{pid}", "repo_host": "none", **values}


def github(name: str) -> dict[str, object]:
    return {"repo_url": f"https://github.com/{name}", "repo_host": "github", "repo_full_name": name}


def _frame(wh: Warehouse, table: str, day: date, rows: list[dict[str, object]]) -> pl.DataFrame:
    """Rows for ``table`` on ``day``, every column the row does not name null, or the NOT NULL defaults."""
    schema = wh.query(f"SELECT * FROM {table} LIMIT 0").schema
    defaults = {"stars": 0, "forks": 0, "last_fetched_at": FETCHED, "repairs": [], "status": "ok"}
    if table == "repository_snapshots":
        defaults["stars"] = None
        defaults["forks"] = None
    filled = [{**{c: defaults.get(c) for c in schema}, **row, "snapshot_date": day} for row in rows]
    return pl.DataFrame(filled, schema=schema, orient="row")


def publish(wh: Warehouse, day: date, day_rows: dict[str, list[dict[str, object]]]) -> None:
    """Replace ``day`` as a run would (every snapshot table of it, then the history)."""
    packages = day_rows.get("packages", [])
    grids = [
        {"grid_id": g, "package_id": row["package_id"]} for row in packages for g in row.get("grids", [])
    ]
    frames = {
        "package_snapshots": _frame(
            wh, "package_snapshots", day, [{k: v for k, v in r.items() if k != "grids"} for r in packages]
        ),
        "grid_package_snapshots": _frame(wh, "grid_package_snapshots", day, grids),
        "repository_snapshots": _frame(wh, "repository_snapshots", day, day_rows.get("repos", [])),
        "pypi_projects": _frame(wh, "pypi_projects", day, day_rows.get("pypi", [])),
    }
    with wh.transaction():
        wh.replace_partitions(day, frames)
        attributes.refresh(wh, day)


def intervals(wh: Warehouse, pid: int, attribute: str) -> list[tuple[object, date, date | None]]:
    return wh.query(
        "SELECT value, valid_from, valid_to FROM attribute_history WHERE package_id = $p AND attribute = $a "
        "ORDER BY valid_from, value",
        {"p": pid, "a": attribute},
    ).rows()


def table(wh: Warehouse) -> list[tuple]:
    return wh.query("SELECT * FROM attribute_history ORDER BY ALL").rows()


def rebuilt(wh: Warehouse) -> list[tuple]:
    """The table as a rebuild from every snapshot makes it, leaving the stored one as it was."""
    with wh.transaction() as conn:
        conn.execute("CREATE TEMP TABLE kept AS SELECT * FROM attribute_history")
        attributes.rebuild(wh)
        rows = table(wh)
        conn.execute("DELETE FROM attribute_history")
        conn.execute("INSERT INTO attribute_history SELECT * FROM kept")
        conn.execute("DROP TABLE kept")
    return rows


def story() -> dict[date, dict[str, list[dict[str, object]]]]:
    """Five days of three packages.

    1 moves from GitHub to GitLab on day 3, is in grid 10 on days 1-3 and in grid 20 from day 2, its
    title never changes. 2 is archived from day 3 (its repository failed on day 4: no answer, nothing ends),
    its license is MIT, then BSD from day 4 (PyPI failed on day 2). 3 is absent on day 3 and comes back
    on day 4 under another slug.
    """
    days: dict[date, dict[str, list[dict[str, object]]]] = {}
    for i in range(1, 6):
        repo1 = github("o/one") if i < 3 else {"repo_url": "https://gitlab.com/o/one", "repo_host": "gitlab"}
        grids1 = [g for g, listed in ((10, i <= 3), (20, i >= 2)) if listed]
        packages = [
            package(1, **repo1, grids=grids1),
            package(2, **github("o/two"), pypi_name="two"),
        ]
        if i != 3:
            packages.append(package(3, slug="p3" if i < 3 else "p3-new", category_id=7))
        repo2 = {"full_name": "o/two", "archived": i >= 3}
        if i == 4:
            repo2 = {"full_name": "o/two", "status": "failed"}
        pypi2 = {"pypi_name": "two", "license": "MIT" if i < 4 else "BSD"}
        if i == 2:
            pypi2 = {"pypi_name": "two", "status": "failed"}
        days[D[i]] = {
            "packages": packages,
            "repos": [{"full_name": "o/one", "archived": False}, repo2],
            "pypi": [pypi2],
        }
    return days


@pytest.fixture
def told(warehouse: Warehouse) -> Warehouse:
    for day, rows in story().items():
        publish(warehouse, day, rows)
    return warehouse


def test_a_move_to_gitlab_ends_the_github_intervals_on_its_day(told):
    assert intervals(told, 1, "repo_url") == [
        ("https://github.com/o/one", D[1], D[3]),
        ("https://gitlab.com/o/one", D[3], None),
    ]
    assert intervals(told, 1, "repo_host") == [("github", D[1], D[3]), ("gitlab", D[3], None)]
    # No GitHub repository after the move: archived is NULL, a value.
    assert intervals(told, 1, "archived") == [("false", D[1], D[3]), (None, D[3], None)]


def test_grid_memberships_are_intervals_ended_by_a_listed_day_outside(told):
    assert intervals(told, 1, "grid") == [("10", D[1], D[4]), ("20", D[2], None)]


def test_an_unchanged_title_is_one_open_interval(told):
    assert intervals(told, 1, "title") == [("P1", D[1], None)]
    assert intervals(told, 1, "pypi_name") == [(None, D[1], None)]


def test_archived_and_license_change_and_a_failed_source_ends_nothing(told):
    assert intervals(told, 2, "archived") == [("false", D[1], D[3]), ("true", D[3], None)]
    assert intervals(told, 2, "license") == [("MIT", D[1], D[4]), ("BSD", D[4], None)]
    assert intervals(told, 3, "license") == [(None, D[1], None)]


def test_an_absence_ends_nothing_and_a_return_with_another_value_starts_on_its_day(told):
    assert intervals(told, 3, "title") == [("P3", D[1], None)]
    assert intervals(told, 3, "category_id") == [("7", D[1], None)]
    assert intervals(told, 3, "slug") == [("p3", D[1], D[4]), ("p3-new", D[4], None)]


def test_refreshing_day_by_day_is_the_rebuild(told):
    assert table(told) == rebuilt(told)
    assert len(table(told)) == 35


def test_an_old_day_recomputed_splits_the_interval_and_merges_back(told):
    days = story()
    changed = {**days[D[3]], "packages": [dict(r) for r in days[D[3]]["packages"]]}
    changed["packages"][0]["title"] = "P1 renamed"
    publish(told, D[3], changed)
    assert intervals(told, 1, "title") == [("P1", D[1], D[3]), ("P1 renamed", D[3], D[4]), ("P1", D[4], None)]
    assert table(told) == rebuilt(told)
    publish(told, D[3], days[D[3]])
    assert intervals(told, 1, "title") == [("P1", D[1], None)]
    assert table(told) == rebuilt(told)


def test_an_old_day_recomputed_without_a_package_or_a_membership(told):
    days = story()
    # Package 2 gone from day 3 (its archived run then starts on day 5), package 1 outside grid 10.
    packages = [dict(days[D[3]]["packages"][0], grids=[20])]
    publish(told, D[3], {**days[D[3]], "packages": packages})
    assert intervals(told, 1, "grid") == [("10", D[1], D[3]), ("20", D[2], None)]
    assert intervals(told, 2, "archived") == [("false", D[1], D[5]), ("true", D[5], None)]
    assert table(told) == rebuilt(told)


def test_days_published_in_any_order_and_again_give_the_rebuild(warehouse):
    """Random small histories (few values, absences, failed sources), published in a random order with
    recomputations: after every publication the table is what a rebuild makes."""
    rng = random.Random(7)
    for _ in range(3):
        warehouse.conn.execute("DELETE FROM package_snapshots; DELETE FROM grid_package_snapshots")
        warehouse.conn.execute("DELETE FROM repository_snapshots; DELETE FROM pypi_projects")
        warehouse.conn.execute("DELETE FROM attribute_history")
        order = [rng.choice(D[1:]) for _ in range(12)]
        for day in order:
            packages, repos, pypi = [], [], []
            for pid in (1, 2, 3):
                if rng.random() < 0.2:
                    continue
                name = f"o/r{pid}"
                packages.append(
                    package(
                        pid,
                        title=rng.choice(["a", "b"]),
                        **github(name),
                        pypi_name=rng.choice([None, f"n{pid}"]),
                        grids=[g for g in (1, 2) if rng.random() < 0.5],
                    )
                )
                status = rng.choice(["ok", "ok", "failed"])
                repos.append({"full_name": name, "status": status, "archived": rng.random() < 0.5})
                pypi.append({"pypi_name": f"n{pid}", "status": status, "license": rng.choice(["MIT", None])})
            publish(warehouse, day, {"packages": packages, "repos": repos, "pypi": pypi})
            assert table(warehouse) == rebuilt(warehouse), f"after publishing {day} in {order}"


def test_the_model_refuses_a_backward_interval_and_an_unknown_attribute():
    rows = pl.DataFrame(
        {
            "package_id": [1, 1, 1],
            "attribute": ["title", "title", "stars"],
            "value": ["a", "b", "5"],
            "valid_from": [D[1], D[3], D[1]],
            "valid_to": [D[3], D[2], None],
        }
    )
    failed = validate(AttributeInterval, rows)
    assert failed.valid.rows() == [(1, "title", "a", D[1], D[3])]
    assert sorted(failed.failures.get_column("row").to_list()) == [1, 2]


def test_an_upgraded_warehouse_gets_the_table_filled(tmp_path):
    path = tmp_path / "legacy.duckdb"
    conn = legacy_warehouse(path)
    # As it was before migration 004.
    conn.execute("DROP TABLE attribute_history")
    conn.execute("DELETE FROM schema_migrations WHERE version = 4")
    for i, title in ((1, "Old"), (2, "Old"), (3, "New")):
        conn.execute(
            "INSERT INTO package_snapshots (snapshot_date, package_id, slug, title, repo_host, stars, forks, "
            "last_fetched_at, repairs) VALUES (?, 5, 's', ?, 'none', 0, 0, now(), [])",
            [D[i], title],
        )
    conn.close()
    with Warehouse(path) as wh:
        assert intervals(wh, 5, "title") == [("Old", D[1], D[3]), ("New", D[3], None)]
        assert intervals(wh, 5, "slug") == [("s", D[1], None)]
        assert wh.query("SELECT version FROM schema_migrations WHERE version = 4").height == 1
