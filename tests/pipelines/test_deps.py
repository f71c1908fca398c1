"""`dpw deps` on a real warehouse: one date captured through Dagster from the sample bundle's replay."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.deps import Report, render_markdown, render_table, run
from tests.conftest import capture_days
from warehouse import queries
from warehouse.dependencies import Declarations
from warehouse.store import Warehouse

# On the bundle's first date: abandoned (with alive packages in its grid), slowing, active, stale, unknown.
ABANDONED, SLOWING, ACTIVE = "django-calendarium", "django-knocker", "django-valkey"
STALE, UNKNOWN = "django-cacheops", "sorethumb"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("deps") / "warehouse.duckdb"
    capture_days(path, 1)
    return path


def project(tmp_path: Path, *lines: str) -> Path:
    (tmp_path / "requirements.txt").write_text("".join(f"{line}\n" for line in lines))
    return tmp_path


def deps(path: Path, warehouse: Path, **options) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(path, warehouse, out=out, err=err, **options)
    return code, out.getvalue(), err.getvalue()


def metrics(warehouse: Path, names: list[str]) -> dict[str, dict]:
    """What the warehouse itself says of these PyPI names on its latest date."""
    with Warehouse(warehouse, read_only=True) as wh:
        rows = wh.query(
            "SELECT p.pypi_name, m.status, m.activity_score, m.stars, m.baseline_djangopackages, "
            "pp.django_versions, pp.last_release_at, m.snapshot_date "
            "FROM daily_package_metrics m JOIN package_snapshots p USING (snapshot_date, package_id) "
            "LEFT JOIN pypi_projects pp USING (snapshot_date, pypi_name) "
            "WHERE m.snapshot_date = (SELECT max(snapshot_date) FROM daily_package_metrics) "
            "AND p.pypi_name IN (SELECT unnest($n))",
            {"n": names},
        )
    return {row["pypi_name"]: row for row in rows.to_dicts()}


def test_the_named_query_matches_any_spelling_and_keeps_every_name(warehouse):
    named = queries.load("dependency_health")
    given = "Django_Calendarium, django-knocker,DJANGO.valkey,requests"
    with Warehouse(warehouse, read_only=True) as wh:
        rows = wh.query(named.sql, named.bind({"names": given})).to_dicts()
    truth = metrics(warehouse, [ABANDONED, SLOWING, ACTIVE])
    assert [(r["position"], r["name"], r["normalized"], r["slug"]) for r in rows] == [
        (1, "Django_Calendarium", ABANDONED, ABANDONED),
        (2, "django-knocker", SLOWING, SLOWING),
        (3, "DJANGO.valkey", ACTIVE, ACTIVE),
        (4, "requests", "requests", None),
    ]
    for row in rows[:3]:
        t = truth[row["normalized"]]
        assert (row["status"], row["activity_score"], row["stars"], row["djangopackages_score"]) == (
            t["status"],
            round(t["activity_score"], 1),
            t["stars"],
            t["baseline_djangopackages"],
        )
        assert row["release_age_days"] == (t["snapshot_date"] - t["last_release_at"].date()).days
        assert row["supports_django"] == ("5.2" in t["django_versions"])
        assert row["data_date"] == t["snapshot_date"]
    assert [r["status"] for r in rows] == ["abandoned", "slowing", "active", None]
    # No --param django: the newest version any release declares.
    assert {r["django"] for r in rows} == {"5.2"}
    with Warehouse(warehouse, read_only=True) as wh:
        old = wh.query(named.sql, named.bind({"names": ABANDONED, "django": "3.2"})).to_dicts()
    assert (old[0]["django"], old[0]["supports_django"]) == (
        "3.2",
        "3.2" in truth[ABANDONED]["django_versions"],
    )


def test_statuses_alternatives_only_for_the_abandoned_and_json_parsed_back(warehouse, tmp_path):
    path = project(
        tmp_path, f"{ABANDONED}==1.3.4", f"{SLOWING}>=0.4", ACTIVE, "requests==2.32.3  # not Django"
    )
    code, out, err = deps(path, warehouse, fmt="json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    truth = metrics(warehouse, [ABANDONED, SLOWING, ACTIVE])
    assert report["data_date"] == str(truth[ACTIVE]["snapshot_date"])
    assert report["django"] == {
        "version": "5.2",
        "source": "no django declared; the newest any package in the warehouse declares",
    }
    assert report["files"] == ["requirements.txt"]
    assert [(m["name"], m["status"]) for m in report["matched"]] == [
        (ABANDONED, "abandoned"),
        (SLOWING, "slowing"),
        (ACTIVE, "active"),
    ]
    assert [n["name"] for n in report["not_in_catalogue"]] == ["requests"]
    assert report["not_in_catalogue"][0]["declared"] == [
        {"file": "requirements.txt", "line": 4, "group": "main", "specifier": "==2.32.3"}
    ]
    assert [m["declared"][0]["line"] for m in report["matched"]] == [1, 2, 3]
    assert all(m["reason"].startswith("last commit") for m in report["matched"])
    alternatives = {m["name"]: m["alternatives"] for m in report["matched"]}
    assert alternatives[SLOWING] == [] and alternatives[ACTIVE] == []
    offered = alternatives[ABANDONED]
    assert 1 <= len(offered) <= 3
    # Its grid-mate first; every one alive, declaring Django 5.2, and not the dependency itself.
    assert (offered[0]["slug"], offered[0]["via"].startswith("grid: ")) == ("django-scheduler", True)
    assert ABANDONED not in [a["pypi_name"] for a in offered]
    alive = metrics(warehouse, [a["pypi_name"] for a in offered])
    assert all(alive[a["pypi_name"]]["status"] in ("active", "slowing") for a in offered)
    assert all("5.2" in alive[a["pypi_name"]]["django_versions"] for a in offered)
    assert [a["activity_score"] for a in offered] == [
        round(alive[a["pypi_name"]]["activity_score"], 1) for a in offered
    ]


@pytest.mark.parametrize(
    ("fail_on", "with_abandoned", "without"),
    [(None, 0, 0), ("abandoned", 1, 0), ("inactive", 1, 0), ("stale", 1, 1)],
)
def test_fail_on_exits_one_at_or_below_the_status(warehouse, tmp_path, fail_on, with_abandoned, without):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    dying = project(tmp_path / "a", ABANDONED, SLOWING, ACTIVE, "requests")
    # Stale, slowing, active and unknown: only --fail-on stale catches the stale one, unknown never fails.
    tired = project(tmp_path / "b", STALE, SLOWING, ACTIVE, UNKNOWN, "requests")
    assert deps(dying, warehouse, fail_on=fail_on)[0] == with_abandoned
    code, out, _ = deps(tired, warehouse, fail_on=fail_on, fmt="json")
    assert code == without
    report = json.loads(out)
    assert report["unknown_status"] == [UNKNOWN]
    assert report["failing"] == ([STALE] if without else [])


def test_markdown_is_a_pull_request_comment(warehouse, tmp_path):
    path = project(tmp_path, "Django==4.2.11", ABANDONED, SLOWING, UNKNOWN, "requests", "bad line !!")
    code, out, _ = deps(path, warehouse, fmt="markdown", fail_on="abandoned")
    day = metrics(warehouse, [ACTIVE])[ACTIVE]["snapshot_date"]
    lines = out.splitlines()
    assert code == 1
    assert lines[0] == f"### Dependency health (data of {day})"
    assert lines[2] == (
        "5 dependencies from requirements.txt (1 line could not be read). "
        "Django 4.2: django==4.2.11 in requirements.txt:1"
    )
    header = next(i for i, line in enumerate(lines) if line.startswith("| dependency | status | score |"))
    assert lines[header + 1].startswith("|---|---|---:|")
    rows = [line.split(" | ")[:2] for line in lines[header + 2 : header + 5]]
    assert rows == [[f"| {ABANDONED}", "abandoned"], [f"| {UNKNOWN}", "unknown"], [f"| {SLOWING}", "slowing"]]
    assert "**Not in the catalogue** (2): django, requests" in lines
    assert "**Lines that could not be read**" in lines
    assert any(line.startswith("| requirements.txt:6 | bad line !! |") for line in lines)
    # No package of its grid or category that is alive declares Django 4.2.
    assert "**Alternatives**" not in lines
    assert lines[-3:] == [
        f"- no alive alternative supporting Django 4.2 in the same grids or category for: {ABANDONED}",
        f"- status unknown (no activity data) for: {UNKNOWN}; --fail-on never fails on unknown",
        f"- --fail-on abandoned: 1 at or below abandoned: {ABANDONED}",
    ]
    (tmp_path / "requirements.txt").write_text(f"{ABANDONED}\n")
    lines = deps(path, warehouse, fmt="markdown")[1].splitlines()
    first = lines.index("**Alternatives**")
    scheduler = round(metrics(warehouse, ["django-scheduler"])["django-scheduler"]["activity_score"], 1)
    assert lines[first + 2 : first + 5] == [
        "| dependency | status | alternative | its score | its status | found in |",
        "|---|---|---|---:|---|---|",
        f"| {ABANDONED} | abandoned | django-scheduler | {scheduler} | slowing | grid: Grid 62 |",
    ]


def test_the_django_option_checks_support_for_that_version(warehouse, tmp_path):
    code, out, _ = deps(project(tmp_path, ABANDONED, "django>=4.2"), warehouse, fmt="json", django="3.2")
    report = json.loads(out)
    assert report["django"] == {"version": "3.2", "source": "given with --django"}
    assert report["matched"][0]["supports_django"] == ("3.2" in report["matched"][0]["django_versions"])
    offered = report["matched"][0]["alternatives"]
    versions = metrics(warehouse, [a["pypi_name"] for a in offered])
    assert all("3.2" in versions[a["pypi_name"]]["django_versions"] for a in offered)


def test_bad_input_exits_two_with_one_line(warehouse, tmp_path):
    path = project(tmp_path, ABANDONED)
    cases = [
        (
            dict(path=path, fail_on="slowing"),
            "error: --fail-on 'slowing': use one of abandoned, inactive, stale",
        ),
        (dict(path=path, fmt="yaml"), "error: --format 'yaml': use one of table, json, markdown"),
        (dict(path=path, django="5"), "error: --django '5': give a Django version like 5.2"),
        (dict(path=tmp_path / "nothing"), f"error: {tmp_path / 'nothing'}: no such file or directory"),
    ]
    for options, message in cases:
        target = options.pop("path")
        assert deps(target, warehouse, **options) == (2, "", message + "\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "requirements.txt").write_text("# nothing yet\n-r\n")
    assert deps(tmp_path / "empty", warehouse) == (
        2,
        "",
        "error: no dependencies declared in requirements.txt; requirements.txt:2 could not be read: "
        "-r names no file\n",
    )
    code, _, err = deps(path, tmp_path / "absent.duckdb")
    assert (code, err) == (
        2,
        f"error: no warehouse at {tmp_path / 'absent.duckdb'}: run `dpw demo` or `dpw ingest` first\n",
    )


def test_hostile_warehouse_text_is_escaped_in_table_and_markdown(tmp_path):
    hostile = "evil|pkg\x1b[31m"
    row = {
        "name": "evil-pkg",
        "slug": hostile,
        "status": "abandoned",
        "activity_score": 1.0,
        "djangopackages_score": 3,
        "supports_django": None,
        "latest_version": "1.0",
        "release_age_days": 9,
        "last_commit_at": datetime(2020, 1, 1, tzinfo=UTC),
        "trend": "n/a",
        "stars": 1,
        "reason": "last commit 300 weeks ago",
        "alternatives": [
            {"pypi_name": "ok", "activity_score": 80.0, "status": "active", "via": "grid: A|B\x07"}
        ],
    }
    report = Report(Declarations(tmp_path), None, "5.2", "--django", [row], [], None)
    md = io.StringIO()
    render_markdown(report, md)
    assert "\x1b" not in md.getvalue() and "\x07" not in md.getvalue()
    assert "| evil-pkg (evil\\|pkg\\x1b[31m) | abandoned |" in md.getvalue()
    assert "| grid: A\\|B\\x07 |" in md.getvalue()
    table = io.StringIO()
    render_table(report, table)
    assert "\x1b" not in table.getvalue() and "\\x1b[31m" in table.getvalue()


def test_the_cli_command_reads_a_directory_and_exits_by_fail_on(warehouse, tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli import app

    path = project(tmp_path, f"{ABANDONED}==1.3.4", f"{ACTIVE}", "requests")
    base = ["deps", str(path), "--warehouse", str(warehouse), "--format", "json"]
    runner = CliRunner()
    fine = runner.invoke(app, base)
    assert fine.exit_code == 0, fine.output
    report = json.loads(fine.stdout)
    assert {m["name"]: m["status"] for m in report["matched"]} == {ABANDONED: "abandoned", ACTIVE: "active"}
    assert [m["name"] for m in report["not_in_catalogue"]] == ["requests"]
    assert runner.invoke(app, [*base, "--fail-on", "abandoned"]).exit_code == 1
    bad = runner.invoke(app, [*base, "--fail-on", "dormant"])
    assert bad.exit_code == 2
    assert "--fail-on 'dormant'" in bad.stderr
