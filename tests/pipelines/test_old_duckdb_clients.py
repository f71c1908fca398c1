"""The warehouse opens in the DuckDB clients people have: the oldest the README promises (DuckDB 1.4.0), in a
throwaway virtualenv with that release from the package index, reads every table and view of a warehouse
built through the pipeline, with the writer's row counts and checksums. And a warehouse made before the
storage version was set (DuckDB 2's own format) is upgraded by `dpw upgrade` with every row intact."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import capture_days, legacy_warehouse
from warehouse import fileformat, history
from warehouse.staging import PUBLISHED_TABLES
from warehouse.store import VIEWS, Warehouse

# The oldest client the README promises; the venv also gets pytz, which DuckDB 1.4's Python package needs
# to return TIMESTAMPTZ values.
OLDEST_CLIENT = "1.4.0"
# What pip says when it could not reach the index at all (rather than not finding the release there).
_UNREACHABLE = (
    "from versions: none",
    "NewConnectionError",
    "ConnectionError",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "Network is unreachable",
)

# Run by the old client: open the file read-only, then for each (name, checksum SQL) fetch every row as
# Python values and the checksum, printing JSON. Nothing in it is newer than DuckDB 1.4.
READER = """
import json, sys
import duckdb
path, queries = sys.argv[1], json.load(sys.stdin)
conn = duckdb.connect(path, read_only=True)
conn.execute("SET TimeZone = 'UTC'")
out = {"version": duckdb.__version__, "objects": {}}
out["storage"] = conn.execute(
    "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = current_database()"
).fetchone()[0]
found = conn.execute(
    "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() ORDER BY 1"
).fetchall()
out["names"] = [row[0] for row in found]
for name, checksum in queries:
    rows = conn.execute('SELECT * FROM "%s"' % name).fetchall()
    count, digest = conn.execute(checksum).fetchone()
    out["objects"][name] = [len(rows), count, digest]
print(json.dumps(out))
"""


@pytest.fixture(scope="session")
def old_duckdb(tmp_path_factory) -> Path:
    """A virtualenv with the oldest promised DuckDB, made once a session (pip takes seconds)."""
    venv = tmp_path_factory.mktemp("duckdb-venv") / f"duckdb-{OLDEST_CLIENT}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--retries", "1", "--timeout", "30"]
        + [f"duckdb=={OLDEST_CLIENT}", "pytz"],
        capture_output=True,
        text=True,
    )
    if pip.returncode != 0:
        if any(marker in pip.stderr for marker in _UNREACHABLE):
            said = " ".join(pip.stderr.split())[-240:]
            pytest.skip(f"the package index cannot be reached to install duckdb=={OLDEST_CLIENT} ({said})")
        pytest.fail(f"pip could not install duckdb=={OLDEST_CLIENT}:\n{pip.stderr}")
    return python


def read_in(python: Path, path: Path, names: list[str]) -> dict:
    queries = [[name, fileformat.checksum_sql(name)] for name in names]
    done = subprocess.run(
        [str(python), "-c", READER, str(path)],
        input=json.dumps(queries),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def writer_side(path: Path) -> dict[str, list]:
    """Row counts and checksums of every table and view, as the writer (DuckDB 2) computes them."""
    with Warehouse(path, read_only=True) as wh:
        database = wh.row("SELECT current_database()")[0]
        return {
            name: [count, count, digest]
            for name, (count, digest) in fileformat.checksums(wh.conn, database).items()
        }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Replay and two dates through Dagster, with the default storage version whatever the environment says."""
    path = tmp_path_factory.mktemp("built") / "warehouse.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("DPW_STORAGE_VERSION", raising=False)
        patch.setattr(fileformat, "_configured", fileformat.DEFAULT_STORAGE_VERSION)
        capture_days(path, 2)
    return path


def test_duckdb_1_4_reads_every_table_and_view_of_a_pipeline_warehouse(built: Path, old_duckdb: Path) -> None:
    expected = writer_side(built)
    assert {*VIEWS, *PUBLISHED_TABLES, *history.tables(), "ingest_runs", "guard_results"} <= set(expected)
    assert expected["daily_package_metrics"][0] > 0 and expected["weekly_commits"][0] > 0
    seen = read_in(old_duckdb, built, sorted(expected))
    assert seen["version"] == OLDEST_CLIENT
    assert seen["storage"] == "v1.4.0+"
    assert sorted(seen["names"]) == sorted(expected)  # every table and view, nothing the old client hides
    assert seen["objects"] == expected


def old_style_copy(source: Path, target: Path) -> None:
    """What dpw made before the storage version was set: plain duckdb.connect (DuckDB 2's own format), the
    migrations applied, then the rows of a pipeline-built warehouse inserted table by table."""
    conn = legacy_warehouse(target)
    conn.execute("ATTACH ? AS built (READ_ONLY)", [str(source)])
    tables = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'built' "
        "AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'"
    ).fetchall()
    for (table,) in tables:
        conn.execute(f'INSERT INTO main."{table}" BY NAME SELECT * FROM built."{table}"')
    conn.execute("DETACH built")
    conn.close()


def test_an_old_warehouse_is_upgraded_by_dpw_upgrade_and_then_opens_in_duckdb_1_4(
    built: Path, old_duckdb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "warehouse.duckdb"
    old_style_copy(built, path)
    with duckdb.connect(str(path), read_only=True) as conn:
        assert fileformat.storage_version(conn) == "v2.0.0+"
    before = writer_side(path)
    assert before["raw_records"][0] == writer_side(built)["raw_records"][0] > 0

    refused = subprocess.run(
        [str(old_duckdb), "-c", "import duckdb, sys; duckdb.connect(sys.argv[1], read_only=True)", str(path)],
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0 and "version number" in refused.stderr  # why this issue exists

    monkeypatch.delenv("DPW_STORAGE_VERSION", raising=False)
    monkeypatch.setattr(fileformat, "_configured", fileformat.DEFAULT_STORAGE_VERSION)
    result = CliRunner().invoke(app, ["upgrade", "--warehouse", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"upgraded {path} from storage format v2.0.0+ to v1.4.0:")
    assert result.output.count("\n") == 1

    assert writer_side(path) == before
    seen = read_in(old_duckdb, path, sorted(before))
    assert seen["storage"] == "v1.4.0+" and seen["objects"] == before

    again = CliRunner().invoke(app, ["upgrade", "--warehouse", str(path)])
    assert again.exit_code == 0 and "nothing to do" in again.output


def test_dpw_upgrade_is_refused_in_one_line_while_a_run_holds_the_file(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(built, path)
    monkeypatch.setattr(fileformat, "_configured", fileformat.DEFAULT_STORAGE_VERSION)
    with Warehouse(path):  # a run publishing a date
        result = CliRunner().invoke(app, ["upgrade", "--warehouse", str(path), "--wait", "0.2"])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: not upgraded: {path} is held by")
    assert result.output.rstrip().endswith("run `dpw upgrade` again when no run is writing")
    assert result.output.count("\n") == 1
