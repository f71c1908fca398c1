import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs

ROOT = Path(__file__).resolve().parents[2]


def test_dg_check_defs_loads_the_code_location():
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "VIRTUAL_ENV": str(bin_dir.parent),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        [str(bin_dir / "dg"), "check", "defs"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


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
