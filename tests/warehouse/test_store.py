from datetime import date

import duckdb
import polars as pl
import pytest

from warehouse.contracts import TABLE_MODELS
from warehouse.store import Warehouse, WarehouseError, migrations

D1, D2 = date(2026, 2, 17), date(2026, 2, 18)


def _grid_rows(day, pairs):
    return pl.DataFrame(
        {
            "snapshot_date": [day] * len(pairs),
            "grid_id": [g for g, _ in pairs],
            "package_id": [p for _, p in pairs],
        }
    )


def test_migrations_apply_once(tmp_path):
    path = tmp_path / "w.duckdb"
    with Warehouse(path) as wh:
        assert wh.query("SELECT version FROM schema_migrations").get_column("version").to_list() == [
            v for v, _, _ in migrations()
        ]
    with Warehouse(path) as wh:
        assert wh.migrate() == []
        assert wh.query("SELECT count(*) AS n FROM schema_migrations").item() == len(migrations())


def test_replacing_a_partition_touches_only_that_date(warehouse):
    warehouse.replace_partitions(D1, {"grid_package_snapshots": _grid_rows(D1, [(1, 10), (1, 11)])})
    warehouse.replace_partitions(D2, {"grid_package_snapshots": _grid_rows(D2, [(2, 20)])})
    warehouse.replace_partitions(D1, {"grid_package_snapshots": _grid_rows(D1, [(3, 30)])})
    rows = warehouse.query(
        "SELECT snapshot_date, grid_id, package_id FROM grid_package_snapshots ORDER BY 1, 2"
    ).rows()
    assert rows == [(D1, 3, 30), (D2, 2, 20)]


def test_a_failing_write_leaves_everything_as_it_was(warehouse):
    warehouse.replace_partitions(D1, {"grid_package_snapshots": _grid_rows(D1, [(1, 10)])})
    schema = warehouse.query("SELECT * FROM grid_snapshots LIMIT 0").schema
    bad = pl.DataFrame({"snapshot_date": [D1], "grid_id": [1]}).with_columns(
        pl.lit(None).cast(dtype).alias(name)
        for name, dtype in schema.items()
        if name not in ("snapshot_date", "grid_id")
    )  # slug and title are NOT NULL: the second write fails after the first one ran
    with pytest.raises(duckdb.ConstraintException):
        warehouse.replace_partitions(
            D1, {"grid_package_snapshots": _grid_rows(D1, [(9, 9)]), "grid_snapshots": bad}
        )
    assert warehouse.query("SELECT grid_id, package_id FROM grid_package_snapshots").rows() == [(1, 10)]


def test_frames_that_do_not_fit_are_refused_before_writing(warehouse):
    with pytest.raises(WarehouseError, match="columns do not match the table"):
        warehouse.replace_partitions(
            D1, {"grid_package_snapshots": _grid_rows(D1, [(1, 1)]).with_columns(extra=1)}
        )
    with pytest.raises(WarehouseError, match="in a write of partition"):
        warehouse.replace_partitions(D2, {"grid_package_snapshots": _grid_rows(D1, [(1, 1)])})


def test_scoped_replace_keeps_other_sources(warehouse):
    def rejects(source):
        return pl.DataFrame(
            {
                "snapshot_date": [D1],
                "source": [source],
                "record_key": ["1"],
                "fields": [["id"]],
                "reasons": ["r"],
                "payload": ["{}"],
            }
        )

    warehouse.replace_partitions(D1, {"rejected_records": pl.concat([rejects("a"), rejects("b")])})
    warehouse.replace_partitions(
        D1, {"rejected_records": rejects("a")}, scope={"rejected_records": ("source", ["a"])}
    )
    assert sorted(warehouse.query("SELECT source FROM rejected_records").get_column("source")) == ["a", "b"]


def test_a_reader_of_a_warehouse_behind_the_migrations_is_told_to_upgrade(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipelines.cli import app
    from warehouse import store

    path = tmp_path / "old.duckdb"
    shipped = migrations()
    with monkeypatch.context() as patch:
        patch.setattr(store, "migrations", lambda: shipped[:2])
        Warehouse(path).close()
    with pytest.raises(WarehouseError) as refused:
        Warehouse(path, read_only=True)
    pending = ", ".join(f"{v:03d}_{name}" for v, name, _ in shipped[2:])
    assert str(refused.value) == (
        f"{path} predates migrations {pending} of this dpw: run `dpw upgrade` (or the next `dpw ingest`) "
        "once to apply them"
    )
    result = CliRunner().invoke(app, ["upgrade", "--warehouse", str(path)])
    assert result.exit_code == 0, result.output
    assert f"applied migrations {', '.join(str(v) for v, _, _ in shipped[2:])}" in " ".join(
        result.output.split()
    )
    with Warehouse(path, read_only=True) as wh:
        assert wh.row("SELECT max(version) FROM schema_migrations")[0] == shipped[-1][0]
    # A DuckDB file that is no dpw warehouse is not judged: a reader may point the CLI at any file.
    duckdb.connect(str(tmp_path / "other.duckdb")).close()
    Warehouse(tmp_path / "other.duckdb", read_only=True).close()


def test_read_only_open_refuses_writes_and_missing_files(tmp_path):
    with pytest.raises(WarehouseError, match="no warehouse at"):
        Warehouse(tmp_path / "missing.duckdb", read_only=True)
    Warehouse(tmp_path / "w.duckdb").close()
    with (
        Warehouse(tmp_path / "w.duckdb", read_only=True) as wh,
        pytest.raises(WarehouseError, match="read-only"),
    ):
        wh.replace_partitions(D1, {"grid_package_snapshots": _grid_rows(D1, [(1, 1)])})


@pytest.mark.parametrize("table", sorted(TABLE_MODELS))
def test_every_table_matches_its_pandera_model(warehouse, table):
    """The DDL and the model are two statements of one schema: they must not drift apart."""
    stored = warehouse.query(f'SELECT * FROM "{table}" LIMIT 0').schema
    model = {name: column.dtype.type for name, column in TABLE_MODELS[table].to_schema().columns.items()}
    assert list(stored) == list(model)
    for name, dtype in model.items():
        assert stored[name] == dtype, f"{table}.{name}: DuckDB gives {stored[name]}, the model says {dtype}"


def test_columns_are_read_once_an_open_and_again_after_a_migration(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        assert "later" not in wh.columns("grid_snapshots")
        wh.conn.execute("ALTER TABLE grid_snapshots ADD COLUMN later INTEGER")  # as a migration would
        assert "later" not in wh.columns("grid_snapshots")
        wh.migrate()
        assert wh.columns_of(["grid_snapshots"])["grid_snapshots"][-1] == "later"
        with pytest.raises(WarehouseError, match="no table or view named 'nothing'"):
            wh.columns_of(["grid_snapshots", "nothing"])
