"""The named-query catalog as shipped: every query has its header, runs on a real warehouse with the columns
it declares, answers exactly on hand-built days, and reads only its window of a long history."""

from __future__ import annotations

import json
import shlex
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import capture_days
from warehouse import attributes, queries
from warehouse.store import Warehouse

# The history tables this round adds, with their planned columns: created here when their migration is not
# in the tree yet, so every query runs (and is checked) before and after they land.
PLANNED = {
    "weekly_commits": "package_id BIGINT, week_start DATE, commits BIGINT, source VARCHAR, observed_on DATE",
    "attribute_history": "package_id BIGINT, attribute VARCHAR, value VARCHAR, valid_from DATE, valid_to DATE",
    "package_deltas": "snapshot_date DATE, package_id BIGINT, stars BIGINT, activity_score DOUBLE, "
    "commits_52w BIGINT, stars_7d BIGINT, stars_30d BIGINT, stars_90d BIGINT, score_7d DOUBLE, "
    "score_30d DOUBLE, score_90d DOUBLE, commits_7d BIGINT, commits_30d BIGINT, commits_90d BIGINT",
    "category_health": "snapshot_date DATE, category_id BIGINT, packages BIGINT, active BIGINT, slowing BIGINT, "
    "stale BIGINT, inactive BIGINT, abandoned BIGINT, unknown BIGINT, median_score DOUBLE, p75_score DOUBLE, "
    "share_active DOUBLE",
    "grid_health": "snapshot_date DATE, grid_id BIGINT, packages BIGINT, active BIGINT, slowing BIGINT, "
    "stale BIGINT, inactive BIGINT, abandoned BIGINT, unknown BIGINT, median_score DOUBLE, p75_score DOUBLE, "
    "share_active DOUBLE",
    "status_transitions": "snapshot_date DATE, package_id BIGINT, previous_date DATE, status_before VARCHAR, "
    "status_now VARCHAR, kind VARCHAR",
    "release_cadence": "snapshot_date DATE, pypi_name VARCHAR, package_id BIGINT, releases BIGINT, "
    "latest_version VARCHAR, latest_release_at TIMESTAMPTZ, latest_age_days BIGINT, "
    "median_days_between DOUBLE, releases_365d BIGINT",
    "django_support": "snapshot_date DATE, django_version VARCHAR, packages BIGINT, share DOUBLE",
    "package_contributors": "snapshot_date DATE, package_id BIGINT, participants BIGINT, "
    "single_maintainer BOOLEAN",
}


def existing(wh: Warehouse) -> dict[str, str]:
    return dict(wh.conn.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())


def ensure_planned(wh: Warehouse, *, replace_views: bool = False) -> None:
    """Create the planned tables a migration has not; ``replace_views`` also turns today's
    `weekly_commits` view into the planned table (the file is not to be opened for writing again)."""
    have = existing(wh)
    for table, columns in PLANNED.items():
        if have.get(table) == "VIEW" and replace_views:
            wh.conn.execute(f"DROP VIEW {table}")
        elif table in have:
            continue
        wh.conn.execute(f"CREATE TABLE {table} ({columns})")


def example_params(q: queries.NamedQuery) -> dict[str, str]:
    words = shlex.split(q.example)
    assert words[:3] == ["dpw", "query", q.name], q.example
    assert words[3::2] == ["--param"] * len(words[3::2]), q.example
    return dict(word.split("=", 1) for word in words[4::2])


def test_the_catalog_has_a_dozen_queries_each_with_its_whole_header():
    catalog = queries.available()
    assert len(catalog) >= 12
    for q in catalog:
        assert q.title and q.description and q.columns and q.example, q.name
        # The example is a command that binds: every parameter it sets exists and parses.
        q.bind({p.name: "x" for p in q.params if p.default == "required"} | example_params(q))


@pytest.mark.parametrize("missing", queries.REQUIRED)
def test_a_query_without_a_header_line_is_refused(missing):
    lines = {
        "title": "-- title: T",
        "description": "-- description: D",
        "columns": "-- columns: a, b",
        "example": "-- example: dpw query t",
    }
    whole = queries._parse("t", "\n".join(lines.values()) + "\nSELECT 1 AS a, 2 AS b")
    assert (whole.title, whole.columns, whole.example) == ("T", ("a", "b"), "dpw query t")
    text = "\n".join(line for key, line in lines.items() if key != missing) + "\nSELECT 1"
    with pytest.raises(queries.QueryError, match=f"query t has no `-- {missing}:` line"):
        queries._parse("t", text)


# --- every query on a real warehouse ------------------------------------------------------------------

# The queries that read only tables the pipeline fills today: on two captured days they must find rows.
ANSWERS_TODAY = {
    "most_active_by_category",
    "package_history",
    "weekly_commits_of",
    "status_mix",
    "recent_runs",
    "dependency_health",
    "score_distribution",
    "groups",
    "health_over_time",
    "group_ranking",
    "package_search",
}


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("real") / "warehouse.duckdb"
    capture_days(path, 2)
    with Warehouse(path) as wh:
        ensure_planned(wh)
    return path


@pytest.mark.parametrize("name", [q.name for q in queries.available()])
def test_every_query_runs_on_a_real_warehouse_with_the_columns_it_declares(real, name):
    q = queries.load(name)
    with Warehouse(real, read_only=True) as wh:
        slug = wh.row(
            "SELECT slug FROM package_snapshots p JOIN daily_package_metrics m USING (snapshot_date, package_id) "
            "WHERE m.weeks IS NOT NULL ORDER BY m.snapshot_date DESC, m.stars DESC, p.slug LIMIT 1"
        )[0]
        required = {"package": slug, "names": "django-filter,celery", "group": "apps", "text": "django"}
        given = {p.name: required[p.name] for p in q.params if p.default == "required"}
        frame = wh.query(q.sql, q.bind(given))
        example = wh.query(q.sql, q.bind(given | example_params(q)))
    assert frame.columns == list(q.columns)
    assert example.columns == list(q.columns)
    if name in ANSWERS_TODAY:
        assert frame.height > 0


# --- exact answers on hand-built days ------------------------------------------------------------------

DAY = date(2026, 5, 31)


def days_ago(n: int) -> date:
    return DAY - timedelta(days=n)


def add_package(wh: Warehouse, day: date, package_id: int, slug: str, *, stars: int = 10, **metrics) -> None:
    wh.conn.execute(
        "INSERT INTO package_snapshots (snapshot_date, package_id, slug, title, repo_host, stars, forks, "
        "last_fetched_at, repairs) VALUES (?, ?, ?, ?, 'github', ?, 0, ?, [])",
        [day, package_id, slug, slug, stars, day],
    )
    row = {"status": "active", "activity_score": None} | metrics
    wh.conn.execute(
        "INSERT INTO daily_package_metrics (snapshot_date, package_id, stars, forks, weeks_source, "
        "score_version, status, trend, coverage, censored, activity_score) "
        "VALUES (?, ?, ?, 0, 'none', 'dpas-1', ?, 'n/a', 'unknown', false, ?)",
        [day, package_id, stars, row["status"], row["activity_score"]],
    )


def run(wh: Warehouse, name: str, **given: str) -> list[tuple]:
    q = queries.load(name)
    return wh.query(q.sql, q.bind(given)).rows()


@pytest.fixture
def built(tmp_path):
    with Warehouse(tmp_path / "warehouse.duckdb") as wh:
        ensure_planned(wh)
        yield wh


def test_status_changes_lists_the_window_s_transitions_of_a_kind(built):
    for day in (days_ago(40), days_ago(10), DAY):
        for package_id, slug, stars in ((1, "a", 500), (2, "b", 50), (3, "c", 5)):
            add_package(built, day, package_id, slug, stars=stars)
    built.conn.execute(
        "INSERT INTO status_transitions VALUES "
        "(?, 1, ?, 'stale', 'inactive', 'newly_dormant'),"  # 40 days ago: outside the 30-day window
        "(?, 2, ?, 'stale', 'abandoned', 'newly_dormant'),"
        "(?, 1, ?, 'stale', 'inactive', 'newly_dormant'),"
        "(?, 3, ?, 'abandoned', 'active', 'revived')",
        [days_ago(40), days_ago(41), days_ago(10), days_ago(11), DAY, days_ago(1), DAY, days_ago(1)],
    )
    assert run(built, "status_changes") == [
        (DAY, "a", "stale", "inactive", days_ago(1), 500, None, None),
        (days_ago(10), "b", "stale", "abandoned", days_ago(11), 50, None, None),
    ]
    assert [r[:2] for r in run(built, "status_changes", days="60")] == [
        (DAY, "a"),
        (days_ago(10), "b"),
        (days_ago(40), "a"),
    ]
    assert [r[:2] for r in run(built, "status_changes", kind="revived")] == [(DAY, "c")]
    assert run(built, "status_changes", date=str(days_ago(11)), days="20") == []


def test_risers_and_fallers_rank_the_day_s_changes_over_the_chosen_span(built):
    changes = {
        1: (12.0, 1.0),
        2: (-30.0, 2.0),
        3: (0.0, -3.0),
        4: (None, 4.0),
        5: (5.0, None),
        6: (-2.0, 0.0),
    }
    for package_id, (score_30d, score_7d) in changes.items():
        add_package(built, DAY, package_id, f"p{package_id}")
        built.conn.execute(
            "INSERT INTO package_deltas (snapshot_date, package_id, stars, activity_score, score_7d, score_30d, "
            "stars_7d, stars_30d) VALUES (?, ?, 100, 50.0, ?, ?, 1, 3)",
            [DAY, package_id, score_7d, score_30d],
        )
    assert run(built, "risers_and_fallers", limit="2") == [
        ("riser", 1, "p1", 50.0, 12.0, 100, 3),
        ("riser", 2, "p5", 50.0, 5.0, 100, 3),
        ("faller", 1, "p2", 50.0, -30.0, 100, 3),
        ("faller", 2, "p6", 50.0, -2.0, 100, 3),
    ]
    assert [r[:3] for r in run(built, "risers_and_fallers", days="7")] == [
        ("riser", 1, "p4"),
        ("riser", 2, "p2"),
        ("riser", 3, "p1"),
        ("faller", 1, "p3"),
    ]
    with pytest.raises(Exception, match="days must be 7, 30 or 90"):
        run(built, "risers_and_fallers", days="14")


def test_biggest_movers_compares_with_each_package_s_first_score_in_the_window(built):
    scores = {
        "a": {10: 90.0, 7: 20.0, 3: 30.0, 0: 50.0},  # 10 days ago is before the window: 20 is the start
        "b": {5: 40.0, 0: 10.0},  # first seen in the window
        "c": {7: None, 0: 60.0},  # no score at the start: not compared
        "d": {6: 33.0, 0: 33.0},  # unchanged
    }
    for package_id, (slug, by_age) in enumerate(scores.items(), 1):
        for age, score in by_age.items():
            add_package(built, days_ago(age), package_id, slug, stars=100 - age, activity_score=score)
    assert run(built, "biggest_movers") == [
        ("a", 20.0, 50.0, 30.0, 7, "n/a"),
        ("b", 40.0, 10.0, -30.0, 5, "n/a"),
    ]
    assert run(built, "biggest_movers", days="3", limit="1") == [("a", 30.0, 50.0, 20.0, 3, "n/a")]
    assert run(built, "biggest_movers", date=str(days_ago(3))) == [("a", 90.0, 30.0, -60.0, 7, "n/a")]


def test_popular_but_dormant_means_inactive_or_abandoned(built):
    for package_id, (status, stars) in enumerate(
        [("inactive", 300), ("abandoned", 200), ("stale", 900), ("abandoned", 50), ("unknown", 400)], 1
    ):
        add_package(built, DAY, package_id, f"p{package_id}", stars=stars, status=status, activity_score=1.0)
    assert [r[:4] for r in run(built, "popular_but_dormant")] == [
        ("p1", 300, 1.0, "inactive"),
        ("p2", 200, 1.0, "abandoned"),
    ]


def test_attribute_changes_pairs_each_change_in_the_window_with_the_value_before(built):
    for age in (30, 20, 3, 0):
        add_package(built, days_ago(age), 1, "a")
    built.conn.execute(
        "INSERT INTO attribute_history VALUES "
        "(1, 'repo_url', 'u1', ?, ?), (1, 'repo_url', 'u2', ?, ?), (1, 'repo_url', 'u3', ?, NULL),"
        "(1, 'title', 'A', ?, NULL)",  # a first value: not a change
        [days_ago(30), days_ago(20), days_ago(20), days_ago(3), days_ago(3), days_ago(3)],
    )
    assert run(built, "attribute_changes") == [(days_ago(3), "a", "repo_url", "u2", "u3")]
    assert run(built, "attribute_changes", days="30") == [
        (days_ago(3), "a", "repo_url", "u2", "u3"),
        (days_ago(20), "a", "repo_url", "u1", "u2"),
    ]
    assert run(built, "attribute_changes", days="30", attribute="title") == []


def test_status_mix_counts_each_date_of_the_window(built):
    for age, statuses in {
        40: ["active"],
        1: ["active", "inactive", "stale"],
        0: ["abandoned", "unknown"],
    }.items():
        for package_id, status in enumerate(statuses, 1):
            add_package(built, days_ago(age), package_id, f"p{package_id}", status=status)
    assert run(built, "status_mix") == [
        (days_ago(1), 3, 1, 0, 1, 1, 0, 0, 1, 0.333),
        (DAY, 2, 0, 0, 0, 0, 1, 1, 1, 0.5),
    ]


def test_score_distribution_bands_scores_and_keeps_the_unscored_apart(built):
    for package_id, (score, status) in enumerate(
        [(5.0, "abandoned"), (9.99, "abandoned"), (15.0, "stale"), (100.0, "active"), (None, "unknown")], 1
    ):
        add_package(built, DAY, package_id, f"p{package_id}", status=status, activity_score=score)
    add_package(built, days_ago(1), 9, "old", activity_score=55.0)  # another date: not counted
    # A null score has no band: least() would put it in 90-100 if the query did not say otherwise.
    assert run(built, "score_distribution") == [
        (0, 10, "abandoned", 2),
        (10, 20, "stale", 1),
        (90, 100, "active", 1),
        (None, None, "unknown", 1),
    ]


def in_groups(wh: Warehouse, day: date) -> None:
    """Packages 1-3 in category 1 (apps), 4 in category 2 (other); 2 and 4 in grid 7 (forms)."""
    wh.conn.execute(
        "INSERT INTO category_snapshots (snapshot_date, category_id, slug, title) "
        "VALUES (?, 1, 'apps', 'App'), (?, 2, 'other', 'Other')",
        [day, day],
    )
    wh.conn.execute(
        "INSERT INTO grid_snapshots (snapshot_date, grid_id, slug, title) VALUES (?, 7, 'forms', 'Forms')",
        [day],
    )
    wh.conn.execute("INSERT INTO grid_package_snapshots VALUES (?, 7, 2), (?, 7, 4)", [day, day])
    wh.conn.execute(
        "UPDATE package_snapshots SET category_id = CASE WHEN package_id = 4 THEN 2 ELSE 1 END WHERE snapshot_date = ?",
        [day],
    )


def test_group_ranking_ranks_one_category_or_grid_with_each_package_s_history(built):
    for age in (40, 1, 0):
        for package_id in (1, 2, 3, 4):
            add_package(
                built, days_ago(age), package_id, f"p{package_id}", activity_score=10.0 * package_id + age
            )
        in_groups(built, days_ago(age))
    built.conn.execute(
        "INSERT INTO package_deltas (snapshot_date, package_id, stars, score_30d, stars_30d) VALUES (?, 3, 10, 2.5, 4)",
        [DAY],
    )
    rows = run(built, "group_ranking", group="apps")
    assert [r[:3] for r in rows] == [(1, 3, "p3"), (2, 2, "p2"), (3, 1, "p1")]
    assert rows[0][5:10] == (2.5, "active", "n/a", 10, 4)
    # The window's dates only (30 days by default), oldest first.
    assert rows[0][10] == [
        {"snapshot_date": days_ago(1), "activity_score": 31.0},
        {"snapshot_date": DAY, "activity_score": 30.0},
    ]
    assert [r[2] for r in run(built, "group_ranking", kind="grid", group="forms")] == ["p4", "p2"]
    assert [r[2] for r in run(built, "group_ranking", group="2")] == ["p4"]  # by id
    assert run(built, "group_ranking", group="nothing") == []
    with pytest.raises(Exception, match="kind must be category or grid"):
        run(built, "group_ranking", kind="tag", group="forms")


def test_risers_and_fallers_within_a_group(built):
    for package_id, change in ((1, 5.0), (2, -3.0), (3, 1.0), (4, 9.0)):
        add_package(built, DAY, package_id, f"p{package_id}")
        built.conn.execute(
            "INSERT INTO package_deltas (snapshot_date, package_id, stars, activity_score, score_30d) "
            "VALUES (?, ?, 10, 50.0, ?)",
            [DAY, package_id, change],
        )
    in_groups(built, DAY)
    assert [r[:3] for r in run(built, "risers_and_fallers")] == [
        ("riser", 1, "p4"),
        ("riser", 2, "p1"),
        ("riser", 3, "p3"),
        ("faller", 1, "p2"),
    ]
    assert [r[:3] for r in run(built, "risers_and_fallers", group="apps")] == [
        ("riser", 1, "p1"),
        ("riser", 2, "p3"),
        ("faller", 1, "p2"),
    ]
    assert [r[2] for r in run(built, "risers_and_fallers", kind="grid", group="forms")] == ["p4", "p2"]


def test_health_over_time_and_groups_read_the_health_marts(built):
    for age in (100, 5, 0):
        add_package(built, days_ago(age), 1, "p1")
        in_groups(built, days_ago(age))
        built.conn.execute(
            "INSERT INTO category_health VALUES (?, 1, 10, 4, 1, 1, 2, 1, 1, 5.0, 20.0, 0.4), "
            "(?, 2, 2, 0, 0, 0, 2, 0, 0, 1.0, 1.0, 0.0)",
            [days_ago(age), days_ago(age)],
        )
        built.conn.execute(
            "INSERT INTO grid_health VALUES (?, 7, 3, 1, 0, 0, 0, 2, 0, 3.0, 9.0, 0.333)", [days_ago(age)]
        )
    assert run(built, "health_over_time") == [
        (days_ago(5), "category", 1, "apps", "App", 10, 4, 3, 0.4, 5.0, 20.0),
        (days_ago(5), "category", 2, "other", "Other", 2, 0, 2, 0.0, 1.0, 1.0),
        (DAY, "category", 1, "apps", "App", 10, 4, 3, 0.4, 5.0, 20.0),
        (DAY, "category", 2, "other", "Other", 2, 0, 2, 0.0, 1.0, 1.0),
    ]
    assert [r[:4] for r in run(built, "health_over_time", kind="grid", group="forms", days="200")] == [
        (days_ago(100), "grid", 7, "forms"),
        (days_ago(5), "grid", 7, "forms"),
        (DAY, "grid", 7, "forms"),
    ]
    with pytest.raises(Exception, match="kind must be category or grid"):
        run(built, "health_over_time", kind="tag")
    assert run(built, "groups") == [
        ("category", 1, "apps", "App", 10, 4, 3, 0.4),
        ("category", 2, "other", "Other", 2, 0, 2, 0.0),
        ("grid", 7, "forms", "Forms", 3, 1, 2, 0.333),
    ]


def test_status_changes_of_one_package_of_every_kind(built):
    for day in (days_ago(10), DAY):
        for package_id, slug in ((1, "a"), (2, "b")):
            add_package(built, day, package_id, slug)
    built.conn.execute(
        "INSERT INTO status_transitions VALUES (?, 1, ?, 'stale', 'inactive', 'newly_dormant'),"
        "(?, 1, ?, 'inactive', 'active', 'revived'), (?, 2, ?, 'active', 'slowing', 'changed')",
        [days_ago(10), days_ago(11), DAY, days_ago(1), DAY, days_ago(1)],
    )
    attributes.rebuild(built)  # as every publication keeps it: the query finds a slug there
    assert [r[:4] for r in run(built, "status_changes", kind="all", package="a")] == [
        (DAY, "a", "inactive", "active"),
        (days_ago(10), "a", "stale", "inactive"),
    ]
    assert [r[:2] for r in run(built, "status_changes", kind="all")] == [
        (DAY, "a"),
        (DAY, "b"),
        (days_ago(10), "a"),
    ]
    assert run(built, "status_changes", kind="changed", package="1") == []


def test_package_search_puts_an_exact_name_first(built):
    for package_id, (slug, stars) in enumerate(
        [("django-filter-plus", 900), ("django-filter", 50), ("celery", 5000)], 1
    ):
        add_package(built, DAY, package_id, slug, stars=stars)
    assert [r[1] for r in run(built, "package_search", text="Django-Filter")] == [
        "django-filter",
        "django-filter-plus",
    ]
    assert [r[1] for r in run(built, "package_search", text="", limit="2")] == [
        "celery",
        "django-filter-plus",
    ]
    assert run(built, "package_search", text="flask") == []


# --- a long history: each query reads its window, not every date ----------------------------------------

# 600k rows a table, several of DuckDB's row groups (122,880 rows), over more days than any default window
DATES, IDS = 1000, 600
FIRST = date(2025, 1, 1)
STATUSES = "['active', 'slowing', 'stale', 'inactive', 'abandoned', 'unknown']"
# Each history table and the column that dates its rows.
HISTORY = {
    "package_snapshots": "snapshot_date",
    "daily_package_metrics": "snapshot_date",
    "category_snapshots": "snapshot_date",
    "grid_snapshots": "snapshot_date",
    "pypi_projects": "snapshot_date",
    "weekly_commits": "week_start",
    "attribute_history": "valid_from",
} | {table: "snapshot_date" for table in PLANNED if table not in ("weekly_commits", "attribute_history")}


def synthetic_value(column: str, kind: str) -> str:
    """One column of the synthetic row for date number ``d`` and id ``u``, by name and type."""
    if kind == "DATE":
        return f"DATE '{FIRST}' + CAST(d AS INTEGER) + {1 if column == 'valid_to' else 0}"
    if kind.endswith("[]"):
        return "[]"
    if column == "slug":
        return "'p' || u"
    if column in ("status", "status_now"):
        return f"{STATUSES}[u % 6 + 1]"
    if column == "kind":
        return "['newly_dormant', 'revived', 'changed'][u % 3 + 1]"
    if column in ("pypi_name", "django_version", "attribute"):
        return "'n' || u"
    if kind == "VARCHAR":
        return "'x'"
    if kind == "BOOLEAN":
        return "u % 7 = 0"
    if kind.startswith("TIMESTAMP"):
        return f"CAST(DATE '{FIRST}' + CAST(d AS INTEGER) AS TIMESTAMPTZ)"
    return "u" if column.endswith("_id") else "u % 500"


@pytest.fixture(scope="module")
def long_history(tmp_path_factory):
    with Warehouse(tmp_path_factory.mktemp("long") / "warehouse.duckdb") as wh:
        ensure_planned(wh, replace_views=True)
        for table in HISTORY:
            columns = wh.conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position",
                [table],
            ).fetchall()
            values = ", ".join(synthetic_value(c, k) for c, k in columns)
            wh.conn.execute(
                f"INSERT INTO {table} SELECT {values} FROM range({DATES}) t(d), range({IDS}) i(u) ORDER BY d, u"
            )
        yield wh


def scans(plan: dict) -> list[dict]:
    found = [plan] if "total_row_groups_to_scan" in plan else []
    return found + [s for child in plan.get("children", []) for s in scans(child)]


@pytest.mark.parametrize("name", [q.name for q in queries.available()])
def test_no_query_reads_all_history_when_a_window_suffices(long_history, name):
    q = queries.load(name)
    given = {"package": "p7", "names": "n7,n8", "group": "7", "text": "p7"}
    params = q.bind({p.name: given[p.name] for p in q.params if p.default == "required"})
    text = long_history.conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON)\n{q.sql}", params).fetchall()[0][1]
    read = [
        s
        for s in scans({"children": json.loads(text)["operator"]})
        if s["extra_info"].get("Table", "").rsplit(".", 1)[-1] in HISTORY
    ]
    whole = [
        (s["extra_info"]["Table"], s["extra_info"].get("Projections"))
        for s in read
        # Finding the latest date reads one column of every row: a few bytes a row, not the history.
        if s["row_groups_scanned"] == s["total_row_groups_to_scan"]
        and s["extra_info"].get("Projections") != HISTORY[s["extra_info"]["Table"].rsplit(".", 1)[-1]]
    ]
    assert whole == []
    if name != "recent_runs":  # reads the run ledger, one row a run
        assert read


def test_package_history_finds_a_package_by_any_slug_it_had_in_the_window_or_by_its_id(built):
    # 1 is renamed from "old" to "new" in the window; 2 took the name "old" afterwards; 3 was "old" long before.
    for age, slug in ((40, "old"), (20, "old"), (5, "new"), (0, "new")):
        add_package(built, days_ago(age), 1, slug, activity_score=float(age))
    for age in (4, 0):
        add_package(built, days_ago(age), 2, "old", activity_score=1.0)
    add_package(built, days_ago(200), 3, "old", activity_score=2.0)
    attributes.rebuild(built)  # as every publication keeps it: the query finds a slug there

    def history(**given):
        return [(d, slug, score) for d, slug, score, *_ in run(built, "package_history", **given)]

    # Two packages on the last date: the query orders by date only, so the rows are compared as a set there.
    assert sorted(history(package="old", days="30")) == [
        (days_ago(20), "old", 20.0),
        (days_ago(5), "new", 5.0),
        (days_ago(4), "old", 1.0),
        (days_ago(0), "new", 0.0),
        (days_ago(0), "old", 1.0),
    ]
    assert history(package="new", days="10") == [(days_ago(5), "new", 5.0), (days_ago(0), "new", 0.0)]
    assert history(package="1", days="10") == history(package="new", days="10")
    assert history(package="01") == []  # an id is matched as written
    assert history(package="old", days="3") == [(days_ago(0), "old", 1.0)]
