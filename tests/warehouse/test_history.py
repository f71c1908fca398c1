"""Which history steps a migration rebuilds: the step that names it and every step after it, none for others."""

import pytest

from warehouse import history


@pytest.fixture
def stale(warehouse):
    """A warehouse whose history tables hold rows no stored snapshot supports, so a rebuilt table is empty."""
    warehouse.conn.execute(
        "INSERT INTO weekly_commits VALUES (1, DATE '2026-05-04', 3, 'github', DATE '2026-05-06')"
    )
    warehouse.conn.execute("INSERT INTO attribute_history VALUES (1, 'title', 'x', DATE '2026-05-06', NULL)")
    warehouse.conn.execute("INSERT INTO package_contributors VALUES (DATE '2026-05-06', 1, 2, false)")
    return warehouse


def _counts(wh) -> dict[str, int]:
    return {
        t: wh.row(f"SELECT count(*) FROM {t}")[0]
        for t in ("weekly_commits", "attribute_history", "package_contributors")
    }


@pytest.mark.parametrize(
    ("migrated", "rebuilt", "kept"),
    [
        ({6}, [], {"weekly_commits": 1, "attribute_history": 1, "package_contributors": 1}),
        (
            {4},
            ["attribute_history"],
            {"weekly_commits": 1, "attribute_history": 0, "package_contributors": 0},
        ),
        (
            {3, 6},
            ["weekly_commits"],
            {"weekly_commits": 0, "attribute_history": 0, "package_contributors": 0},
        ),
        (None, ["weekly_commits"], {"weekly_commits": 0, "attribute_history": 0, "package_contributors": 0}),
    ],
)
def test_a_migration_rebuilds_its_step_and_the_steps_after_it(stale, migrated, rebuilt, kept):
    tables = history.rebuild(stale, migrated)
    assert tables[:1] == rebuilt
    assert ("package_contributors" in tables) == bool(rebuilt)  # the marts follow any rebuilt step
    assert _counts(stale) == kept
