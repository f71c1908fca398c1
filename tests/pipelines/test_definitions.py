import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.definitions import build_defs, defs
from pipelines.runner import IngestRefused, plan
from pipelines.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
DEFS_FOLDER = ROOT / "pipelines" / "defs"
BIN = Path(sys.executable).parent


def dg_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`dg` as a user runs it from the project root, in the project's virtual environment."""
    env = {
        **os.environ,
        "VIRTUAL_ENV": str(BIN.parent),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        # A scaffolded module leaves no bytecode behind in the source tree.
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    result = subprocess.run(
        [str(BIN / "dg"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def listed_defs() -> dict:
    return json.loads(dg_cli("list", "defs", "--json").stdout)


def test_dg_check_defs_loads_the_code_location():
    result = dg_cli("check", "defs")
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_dg_list_defs_shows_the_assets_jobs_and_schedule():
    listed = listed_defs()
    assets = {a["asset_key"] for a in listed["assets"]}
    assert {
        "raw_djangopackages",
        "raw_github",
        "raw_pypi",
        "raw_forges",
        "package_snapshots",
        "repository_snapshots",
        "forge_repository_snapshots",
        "pypi_projects",
        "daily_package_metrics",
        "daily_grid_percentiles",
        "ingest_runs",
    } <= assets
    assert {j["name"] for j in listed["jobs"]} >= {"daily_job", "recompute_job", "rescore_job"}
    assert [(s["name"], s["cron_schedule"]) for s in listed["schedules"]] == [
        ("daily_job_schedule", "0 6 * * *")
    ]
    assert {r["name"] for r in listed["resources"]} == {
        "warehouse",
        "djangopackages",
        "github",
        "pypi",
        "gitlab",
        "bitbucket",
        "dataset_guards",
    }


def test_dg_scaffold_defs_writes_an_asset_the_code_location_loads():
    # The scaffold writes into the source tree: a name of its own, removed whatever happens.
    name = f"scaffold_probe_{uuid.uuid4().hex[:12]}"
    module = DEFS_FOLDER / f"{name}.py"
    try:
        dg_cli("scaffold", "defs", "dagster.asset", f"{name}.py")
        assert module.is_file()
        assert f"def {name}(" in module.read_text()
        assert name in {a["asset_key"] for a in listed_defs()["assets"]}
    finally:
        module.unlink(missing_ok=True)
    assert not module.exists()


def test_the_graph_is_layered_and_every_asset_is_partitioned_by_date():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {
        "raw_djangopackages",
        "raw_github",
        "raw_pypi",
        "package_snapshots",
        "daily_package_metrics",
        "ingest_runs",
    } <= keys
    for key in graph.get_all_asset_keys():
        assert graph.get(key).partitions_def is not None, key
    recompute = defs.resolve_job_def("recompute_job")
    assert not {k.to_user_string() for k in recompute.asset_layer.selected_asset_keys} & {
        "raw_djangopackages",
        "raw_github",
        "raw_pypi",
    }


def test_the_daily_schedule_captures_todays_partition():
    schedule = defs.resolve_schedule_def("daily_job_schedule")
    now = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=now)
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-03-04"]


def partition_keys(settings: Settings, job: str = "daily_job") -> list[str]:
    partitions = build_defs(settings).resolve_job_def(job).partitions_def
    assert partitions is not None
    return partitions.get_partition_keys()


@pytest.mark.parametrize(
    ("env", "first"),
    [({}, date(2026, 2, 15)), ({"DPW_FIRST_DATE": "2026-05-01"}, date(2026, 5, 1))],
    ids=["default", "custom"],
)
def test_the_partitions_run_from_the_first_date_to_today(env, first):
    settings = Settings.from_env(env)
    assert settings.first_date == first
    today = datetime.now(UTC).date()
    for job in ("daily_job", "recompute_job", "rescore_job"):
        keys = partition_keys(settings, job)
        assert keys[0] == first.isoformat()
        # Today's partition exists during today (it is the only date a capture can fill).
        assert keys[-1] == today.isoformat()
        assert len(keys) == (today - first).days + 1


def test_the_default_first_date_holds_every_date_the_sample_and_tests_capture():
    keys = set(partition_keys(Settings()))
    # the hostile corpus's day, the sample bundle's as-of date, the demo's first day and the checks' day
    assert {"2026-02-17", "2026-05-28", "2026-05-29", "2026-06-01"} <= keys
    assert "2026-02-14" not in keys


def test_a_first_date_that_is_not_a_date_is_refused_naming_the_variable():
    with pytest.raises(SettingsError, match="DPW_FIRST_DATE must be a date like 2026-02-15"):
        Settings.from_env({"DPW_FIRST_DATE": "15/02/2026"})


def test_ingest_refuses_a_date_before_the_first_date_naming_the_setting(tmp_path, monkeypatch):
    # No source is asked (their URLs lead nowhere): the setting alone decides.
    settings = Settings(first_date=date(2026, 3, 1), djangopackages_url="http://127.0.0.1:9")
    with pytest.raises(IngestRefused, match=r"2026-02-28 is before DPW_FIRST_DATE \(2026-03-01\)"):
        plan(settings.with_warehouse(tmp_path / "w.duckdb"), date(2026, 2, 28))

    monkeypatch.setenv("DPW_FIRST_DATE", "2026-03-01")
    monkeypatch.setenv("DPW_DJANGOPACKAGES_URL", "http://127.0.0.1:9")
    result = CliRunner().invoke(
        app, ["ingest", "--date", "2026-02-20", "--warehouse", str(tmp_path / "w.duckdb")]
    )
    assert result.exit_code == 1
    assert "2026-02-20 is before DPW_FIRST_DATE (2026-03-01)" in result.output
    assert not (tmp_path / "w.duckdb").exists()
