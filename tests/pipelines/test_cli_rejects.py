"""`dpw rejects`: what a date quarantined, grouped by source and cause, and the guards that fired."""

import json
import re
from datetime import UTC, date, datetime

import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.cli import app, reject_causes
from warehouse import runs
from warehouse.store import Warehouse

D1, D2, D3 = date(2026, 5, 1), date(2026, 5, 2), date(2026, 5, 3)
PACKAGES, GITHUB, PYPI = "djangopackages/packages", "github/repository", "pypi/project"

REJECTED = [
    (D2, PACKAGES, "10", ["repo_watchers"], "repo_watchers: not an integer (1180591620717411303424)"),
    (D2, PACKAGES, "9", ["repo_watchers", "title"], "repo_watchers: not an integer (1e308); title: missing"),
    # The value holds "; ", a field-like "title: " and parentheses of its own: still one cause.
    (D2, PACKAGES, "100", ["repo_watchers"], 'repo_watchers: not an integer ("a; title: (x)")'),
    (D2, PACKAGES, "11", ["repo_watchers"], "repo_watchers: not an integer (2.5)"),
    (D2, PACKAGES, "12", ["id"], "id: duplicate of an earlier record"),
    (D2, GITHUB, "c/d", ["stars"], "stars: fails greater_than_or_equal_to(0) (value -1)"),
    (D2, GITHUB, "a/b", ["stars"], "stars: fails greater_than_or_equal_to(0) (value -5)"),
    (D1, PYPI, "x", ["version"], "version: missing"),
]
# (run_id, started at hour, date, guard, level, value, message)
GUARDS = [
    ("r2", 10, D2, "packages_vanished", "fail", 0.6, "listed packages fell 60% (240 -> 96), over 30%"),
    ("r2", 10, D2, "reject_share", "ok", 0.02, "2% rejected"),
    ("r1", 9, D2, "count_mismatch", "warn", 3.0, "fetched 237, the API's count is 240"),
    ("r3", 11, D2, "packages_vanished", "allowed", 0.6, "listed packages fell 60%, allowed"),
    ("r4", 12, D3, "reject_share", "ok", 0.0, "0% rejected"),
]


def _run_row(run_id: str, hour: int, day: date) -> pl.DataFrame:
    started = datetime(2026, 5, day.day, hour, tzinfo=UTC)
    return runs.started_row(run_id, day, "capture", started).with_columns(
        pl.lit(started).cast(runs.LEDGER_SCHEMA["finished_at"]).alias("finished_at"),
        pl.lit("ok").alias("status"),
    )


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with Warehouse(path) as wh:
        wh.append(
            "rejected_records",
            pl.DataFrame(
                [(*row, "{}") for row in REJECTED],
                schema=["snapshot_date", "source", "record_key", "fields", "reasons", "payload"],
                orient="row",
            ),
        )
        ledger = {(run_id, hour, day) for run_id, hour, day, *_ in GUARDS}
        wh.append("ingest_runs", pl.concat([_run_row(*run) for run in sorted(ledger)]))
        wh.append(
            "guard_results",
            pl.DataFrame(
                [
                    (run_id, day, guard, level, value, message)
                    for run_id, _, day, guard, level, value, message in GUARDS
                ],
                schema=["run_id", "snapshot_date", "guard", "level", "value", "message"],
                orient="row",
            ),
        )
    return path


def rejects(path, *args: str, code: int = 0):
    result = CliRunner().invoke(app, ["rejects", "--warehouse", str(path), *args])
    assert result.exit_code == code, result.output
    return result


def table_rows(out: str) -> list[list[str]]:
    """The header and body cells of every table in ``out`` (rich draws headers with ┃, rows with │)."""
    return [
        [cell.strip() for cell in re.split("[│┃]", line)[1:-1]]
        for line in out.splitlines()
        if line.startswith(("│", "┃"))
    ]


def test_causes_drop_the_value_and_split_only_where_a_field_begins():
    assert reject_causes('repo_watchers: not an integer ("a; title: (x)")', ["repo_watchers"]) == [
        "repo_watchers: not an integer"
    ]
    assert reject_causes(
        "repo_watchers: not an integer (1e308); title: missing", ["repo_watchers", "title"]
    ) == [
        "repo_watchers: not an integer",
        "title: missing",
    ]
    assert reject_causes(
        "stars: fails greater_than_or_equal_to(0) (value -5); stars: fails greater_than_or_equal_to(0) (value -6)",
        ["stars"],
    ) == ["stars: fails greater_than_or_equal_to(0)"]


def test_json_groups_the_latest_date_by_source_and_cause_with_the_guards_that_fired(path):
    document = json.loads(rejects(path, "--format", "json").stdout)
    assert document == {
        "snapshot_date": "2026-05-02",
        "records": 7,
        "rejects": [
            {
                "source": PACKAGES,
                "reason": "repo_watchers: not an integer",
                "records": 4,
                "examples": ["9", "10", "11"],
            },
            {
                "source": PACKAGES,
                "reason": "id: duplicate of an earlier record",
                "records": 1,
                "examples": ["12"],
            },
            {"source": PACKAGES, "reason": "title: missing", "records": 1, "examples": ["9"]},
            {
                "source": GITHUB,
                "reason": "stars: fails greater_than_or_equal_to(0)",
                "records": 2,
                "examples": ["a/b", "c/d"],
            },
        ],
        "guards": [
            {
                "run_id": "r1",
                "guard": "count_mismatch",
                "level": "warn",
                "value": 3.0,
                "message": "fetched 237, the API's count is 240",
            },
            {
                "run_id": "r2",
                "guard": "packages_vanished",
                "level": "fail",
                "value": 0.6,
                "message": "listed packages fell 60% (240 -> 96), over 30%",
            },
            {
                "run_id": "r3",
                "guard": "packages_vanished",
                "level": "allowed",
                "value": 0.6,
                "message": "listed packages fell 60%, allowed",
            },
        ],
    }


def test_table_shows_both_parts_with_their_titles(path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = rejects(path, "--format", "table").stdout
    assert "7 records quarantined on 2026-05-02, by reason" in out
    assert "guards that fired on 2026-05-02" in out
    assert table_rows(out) == [
        ["source", "reason", "records", "examples"],
        [PACKAGES, "repo_watchers: not an integer", "4", '["9", "10", "11"]'],
        [PACKAGES, "id: duplicate of an earlier record", "1", '["12"]'],
        [PACKAGES, "title: missing", "1", '["9"]'],
        [GITHUB, "stars: fails greater_than_or_equal_to(0)", "2", '["a/b", "c/d"]'],
        ["run_id", "guard", "level", "value", "message"],
        ["r1", "count_mismatch", "warn", "3.0", "fetched 237, the API's count is 240"],
        ["r2", "packages_vanished", "fail", "0.6", "listed packages fell 60% (240 -> 96), over 30%"],
        ["r3", "packages_vanished", "allowed", "0.6", "listed packages fell 60%, allowed"],
    ]


def test_csv_is_one_table_with_a_section_column(path):
    out = rejects(path, "--source", GITHUB, "--date", "2026-05-02", "--format", "csv").stdout
    assert out.splitlines() == [
        "section,snapshot_date,source,reason,records,examples,run_id,guard,level,value,message",
        'reject,2026-05-02,github/repository,stars: fails greater_than_or_equal_to(0),2,"[""a/b"", ""c/d""]",,,,,',
        'guard,2026-05-02,,,,,r1,count_mismatch,warn,3.0,"fetched 237, the API\'s count is 240"',
        'guard,2026-05-02,,,,,r2,packages_vanished,fail,0.6,"listed packages fell 60% (240 -> 96), over 30%"',
        'guard,2026-05-02,,,,,r3,packages_vanished,allowed,0.6,"listed packages fell 60%, allowed"',
    ]


def test_source_picks_its_own_latest_date_and_says_when_no_guard_fired(path):
    out = rejects(path, "--source", PYPI, "--format", "table").stdout
    assert table_rows(out) == [
        ["source", "reason", "records", "examples"],
        [PYPI, "version: missing", "1", '["x"]'],
    ]
    assert out.splitlines()[-1] == "no guard fired on 2026-05-01"


def test_a_date_with_only_passing_guards_has_nothing_to_show(path):
    assert (
        rejects(path, "--date", "2026-05-03", "--format", "table").stdout
        == "nothing quarantined and no guard fired on 2026-05-03\n"
    )
    result = rejects(path, "--date", "2026-05-03", "--format", "json")
    assert json.loads(result.stdout) == {
        "snapshot_date": "2026-05-03",
        "records": 0,
        "rejects": [],
        "guards": [],
    }
    assert result.stderr == "nothing quarantined and no guard fired on 2026-05-03\n"


def test_an_empty_warehouse_says_so_in_one_line(tmp_path):
    empty = tmp_path / "empty.duckdb"
    Warehouse(empty).close()
    assert (
        rejects(empty, "--format", "table").stdout == f"nothing quarantined and no guard fired in {empty}\n"
    )
    assert (
        rejects(empty, "--source", PYPI, "--format", "table").stdout
        == f"nothing quarantined from {PYPI} and no guard fired in {empty}\n"
    )
