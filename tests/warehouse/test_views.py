"""The public views live in warehouse/views/, one file each: a writer re-creates them when a file changed (and
only then), a reader never does, and a warehouse whose views the first migration made gets them with its rows."""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
from datetime import date
from importlib import resources
from pathlib import Path

import pytest

from tests.conftest import legacy_warehouse
from warehouse import store
from warehouse.store import VIEWS, Warehouse, WarehouseError

DAY = date(2026, 5, 4)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def view_columns(wh: Warehouse) -> dict[str, list[str]]:
    return {name: wh.columns(name) for name in VIEWS}


def stamps(wh: Warehouse) -> dict[str, str]:
    return dict(
        wh.conn.execute("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal").fetchall()
    )


@pytest.fixture
def edited_views(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A copy of the shipped view files as an importable package that the store reads instead; the test
    edits a file of it through the returned function."""
    package = tmp_path / "edited_views"
    shutil.copytree(
        resources.files(store.VIEWS_PACKAGE), package, ignore=shutil.ignore_patterns("__pycache__")
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "edited_views", raising=False)

    def edit(name: str, old: str, new: str) -> None:
        path = package / f"{name}.sql"
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} is not once in {path}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    monkeypatch.setattr(store, "VIEWS_PACKAGE", "edited_views")
    return edit


def test_every_view_has_one_file_that_names_its_columns() -> None:
    shipped = sorted(
        p.name for p in resources.files(store.VIEWS_PACKAGE).iterdir() if p.name.endswith(".sql")
    )
    assert shipped == sorted(f"{name}.sql" for name in VIEWS)
    for name, query in store.views():
        # A star grows the public contract silently when a table gains a column.
        assert not re.search(r"(SELECT|,)\s*(\w+\.)?\*|\bEXCLUDE\b", query, re.I), name


def test_a_changed_view_file_is_applied_on_the_next_writer_open(tmp_path: Path, edited_views) -> None:
    path = tmp_path / "warehouse.duckdb"
    Warehouse(path).close()
    edited_views("grid_packages", "SELECT grid_id, package_id", "SELECT grid_id, package_id, snapshot_date")
    with Warehouse(path, read_only=True) as wh:  # a reader does not apply it
        assert wh.columns("grid_packages") == ["grid_id", "package_id"]
    with Warehouse(path) as wh:
        assert wh.columns("grid_packages") == ["grid_id", "package_id", "snapshot_date"]
        wh.conn.execute("INSERT INTO grid_package_snapshots VALUES (?, 3, 30)", [DAY])
        assert wh.conn.execute("SELECT * FROM grid_packages").fetchall() == [(3, 30, DAY)]
        assert stamps(wh) == {name: store.view_stamp(name, query) for name, query in store.views()}
        assert wh.refresh_views() == []  # applied once


def test_an_open_with_nothing_changed_writes_nothing(tmp_path: Path, edited_views) -> None:
    path = tmp_path / "warehouse.duckdb"
    Warehouse(path).close()
    before = digest(path)
    with Warehouse(path) as wh:
        assert wh.refresh_views() == []
    assert digest(path) == before
    edited_views("grids", "g.is_locked, ", "")
    with Warehouse(path, read_only=True) as wh:
        assert "is_locked" in wh.columns("grids")
    assert digest(path) == before and not Path(f"{path}.wal").exists()


def test_a_view_file_that_does_not_bind_names_its_file_and_changes_nothing(
    tmp_path: Path, edited_views
) -> None:
    path = tmp_path / "warehouse.duckdb"
    Warehouse(path).close()
    before = digest(path)
    edited_views("releases", "r.yanked", "r.withdrawn")
    with pytest.raises(
        WarehouseError, match=r"the view releases \(warehouse/views/releases.sql\) cannot be created"
    ):
        Warehouse(path)
    assert digest(path) == before
    with Warehouse(path, read_only=True) as wh:
        assert "yanked" in wh.columns("releases")


def test_a_warehouse_with_the_first_migration_views_gets_the_files_views_with_its_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "warehouse.duckdb"
    conn = legacy_warehouse(path)
    conn.execute(
        "INSERT INTO package_snapshots (snapshot_date, package_id, slug, title, repo_host, pypi_name, stars, "
        "forks, last_fetched_at, repairs) VALUES (?, 1, 'django-a', 'A', 'github', 'django-a', 5, 1, "
        "'2026-05-01 00:00:00+00', []), (?, 2, 'django-b', 'B', 'none', NULL, 0, 0, '2026-05-01 00:00:00+00', [])",
        [DAY, DAY],
    )
    conn.execute(
        "INSERT INTO category_snapshots (snapshot_date, category_id, slug, title) VALUES (?, 7, 'apps', 'Apps')",
        [DAY],
    )
    conn.execute(
        "INSERT INTO grid_snapshots (snapshot_date, grid_id, slug, title) VALUES (?, 3, 'auth', 'Auth')",
        [DAY],
    )
    conn.execute("INSERT INTO grid_package_snapshots VALUES (?, 3, 1)", [DAY])
    conn.execute(
        "INSERT INTO pypi_projects (snapshot_date, pypi_name, status) VALUES (?, 'django-a', 'ok')", [DAY]
    )
    conn.execute(
        "INSERT INTO release_snapshots VALUES (?, 'django-a', '1.0', '2026-01-02 03:04:05+00', false, '>=3.10')",
        [DAY],
    )
    old = {name: sorted(conn.execute(f'SELECT * FROM "{name}"').fetchall()) for name in VIEWS}
    old_columns = {
        name: [d[0] for d in conn.execute(f'SELECT * FROM "{name}" LIMIT 0').description] for name in VIEWS
    }
    conn.close()
    assert {name: len(rows) for name, rows in old.items()} == {
        "packages": 2,
        "categories": 1,
        "grids": 1,
        "grid_packages": 1,
        "releases": 1,
    }

    with Warehouse(path) as wh:
        assert stamps(wh) == {name: store.view_stamp(name, query) for name, query in store.views()}
        assert view_columns(wh) == old_columns
        assert {name: sorted(wh.conn.execute(f'SELECT * FROM "{name}"').fetchall()) for name in VIEWS} == old
