"""`dpw deps`: a project's dependencies judged against the warehouse, with alternatives for the dying ones.

The declarations are read by `warehouse.dependencies`; the health of each comes from the named query
`dependency_health` (what `dpw query dependency_health` and a notebook get too), the reason in words from
`warehouse.scoring.explain`. The warehouse is opened once, read-only, for the few queries, and closed
before anything is printed.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import duckdb
import polars as pl
from rich.console import Console

from pipelines.output import emit, plain, safe, say
from warehouse import queries
from warehouse.dependencies import DeclarationError, Declarations, Dependency, django_version, read
from warehouse.scoring import STATUSES as VOCABULARY
from warehouse.scoring import explain
from warehouse.store import Warehouse, WarehouseError

# Worst first. `unknown` (no activity data) is outside the order: --fail-on never fails on it.
STATUSES = tuple(reversed([status for status in VOCABULARY if status != "unknown"]))
# The statuses --fail-on takes, and those that get alternatives (the SQL's candidates are the other two).
FAIL_ON = ("abandoned", "inactive", "stale")
FORMATS = ("table", "json", "markdown")
# what a reader runs when the terminal is too narrow for the table
WHOLE = "--format markdown or json"
ALTERNATIVES = 3
_DJANGO = re.compile(r"\d+\.\d+")

# The Django versions the latest date's releases declare: what a range in the project's files is read against.
_KNOWN_DJANGO = """
SELECT DISTINCT v FROM (
    SELECT unnest(django_versions) AS v FROM pypi_projects
    WHERE snapshot_date = (SELECT max(snapshot_date) FROM daily_package_metrics)
) WHERE regexp_full_match(v, '\\d+\\.\\d+')
"""

_COMPONENTS = """
SELECT * FROM daily_package_metrics
WHERE snapshot_date = $day AND package_id IN (SELECT unnest(CAST($ids AS BIGINT[])))
"""

# For each dependency in $ids: the alive packages that share one of its grids, then its category, and
# declare support for $django (any, when no Django version is known), most active first.
_ALTERNATIVES = """
WITH deps AS (SELECT unnest(CAST($ids AS BIGINT[])) AS dep_id),
candidates AS (
    SELECT p.package_id, p.slug, p.title, p.pypi_name, p.category_id, m.activity_score, m.status
    FROM package_snapshots p
    JOIN daily_package_metrics m ON m.snapshot_date = p.snapshot_date AND m.package_id = p.package_id
    LEFT JOIN pypi_projects pp ON pp.snapshot_date = p.snapshot_date AND pp.pypi_name = p.pypi_name
    WHERE p.snapshot_date = $day AND p.pypi_name <> '' AND m.status IN ('active', 'slowing')
      AND (CAST($django AS VARCHAR) IS NULL OR list_contains(pp.django_versions, $django))
),
found AS (
    SELECT d.dep_id, c.*, 0 AS tier, 'grid: ' || g.title AS via
    FROM deps d
    JOIN grid_package_snapshots mine ON mine.snapshot_date = $day AND mine.package_id = d.dep_id
    JOIN grid_package_snapshots theirs ON theirs.snapshot_date = $day AND theirs.grid_id = mine.grid_id
    JOIN grid_snapshots g ON g.snapshot_date = $day AND g.grid_id = mine.grid_id
    JOIN candidates c ON c.package_id = theirs.package_id
    UNION ALL
    SELECT d.dep_id, c.*, 1 AS tier, 'category: ' || coalesce(cat.title, '?') AS via
    FROM deps d
    JOIN package_snapshots mine ON mine.snapshot_date = $day AND mine.package_id = d.dep_id
    JOIN candidates c ON c.category_id = mine.category_id
    LEFT JOIN category_snapshots cat ON cat.snapshot_date = $day AND cat.category_id = mine.category_id
),
best AS (
    SELECT * FROM found WHERE package_id <> dep_id
    QUALIFY row_number() OVER (PARTITION BY dep_id, package_id ORDER BY tier, via) = 1
)
SELECT dep_id, package_id, slug, title, pypi_name, round(activity_score, 1) AS activity_score, status, via
FROM best
QUALIFY row_number() OVER (PARTITION BY dep_id ORDER BY tier, activity_score DESC, slug) <= $limit
ORDER BY dep_id, tier, activity_score DESC, slug
"""


class DepsError(Exception):
    """Bad input or nothing to judge: the command's exit code 2, with this one line."""


@dataclass
class Report:
    declarations: Declarations
    data_date: date | None
    django: str | None
    django_source: str
    matched: list[dict[str, Any]]  # one per catalogue dependency, worst status first
    not_in_catalogue: list[str]
    fail_on: str | None

    def failing(self) -> list[str]:
        """The dependencies at or below ``fail_on``; never those of unknown status."""
        if self.fail_on is None:
            return []
        limit = STATUSES.index(self.fail_on)
        return [
            row["name"]
            for row in self.matched
            if row["status"] in STATUSES and STATUSES.index(row["status"]) <= limit
        ]

    def unknown(self) -> list[str]:
        return [row["name"] for row in self.matched if row["status"] not in STATUSES]


def run(
    path: Path,
    warehouse: Path,
    *,
    django: str | None = None,
    fail_on: str | None = None,
    fmt: str = "table",
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Judge the dependencies declared at ``path`` (a project directory or one file) and write the report
    to ``out``. Returns the exit code: 0, 1 when a dependency is at or below ``fail_on``, 2 (with one line
    on ``err``) when there is nothing to read or the input is bad."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if fmt not in FORMATS:
            raise DepsError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
        report = build(path, warehouse, django=django, fail_on=fail_on)
    except (DepsError, DeclarationError, WarehouseError, duckdb.Error, queries.QueryError) as problem:
        say(Console(file=err, highlight=False), ("error:", "bold red"), " ", str(problem))
        return 2
    {"table": render_table, "json": render_json, "markdown": render_markdown}[fmt](report, out)
    return 1 if report.failing() else 0


def build(path: Path, warehouse: Path, *, django: str | None = None, fail_on: str | None = None) -> Report:
    if fail_on is not None and fail_on not in FAIL_ON:
        raise DepsError(f"--fail-on {fail_on!r}: use one of {', '.join(FAIL_ON)}")
    if django is not None and not _DJANGO.fullmatch(django):
        raise DepsError(f"--django {django!r}: give a Django version like 5.2")
    declarations = read(path)
    names = declarations.names()
    if not names:
        files = ", ".join(declarations.where(f) for f in declarations.files)
        unread = "".join(
            f"; {declarations.where(u.file)}:{u.line} could not be read: {u.reason}"
            for u in declarations.unparsed[:1]
        )
        raise DepsError(f"no dependencies declared in {files}{unread}")
    named = queries.load("dependency_health")
    with Warehouse(warehouse, read_only=True) as wh:
        if django is not None:
            source = "given with --django"
        else:
            known = wh.query(_KNOWN_DJANGO).get_column("v").to_list()
            django, source = django_version(declarations.dependencies, known)
        given = {"names": ",".join(names)} | ({} if django is None else {"django": django})
        health = wh.query(named.sql, named.bind(given))
        day = health.get_column("data_date")[0]
        if day is None:
            raise DepsError(f"the warehouse at {warehouse} has no scored date yet: run `dpw ingest` first")
        if django is None:
            # The query's default: the newest Django version any package of the date declares.
            django = health.get_column("django")[0]
            source += (
                "; the newest any package in the warehouse declares"
                if django
                else "; the warehouse knows no Django version, so support is not checked"
            )
        ids = [i for i in health.get_column("package_id").to_list() if i is not None]
        components = {r["package_id"]: r for r in wh.query(_COMPONENTS, {"day": day, "ids": ids}).to_dicts()}
        dying = health.filter(pl.col("status").is_in(FAIL_ON)).get_column("package_id").to_list()
        alternatives = wh.query(
            _ALTERNATIVES, {"day": day, "ids": dying, "django": django, "limit": ALTERNATIVES}
        )
    by_dep: dict[int, list[dict[str, Any]]] = {}
    for alt in alternatives.to_dicts():
        by_dep.setdefault(alt.pop("dep_id"), []).append(alt)
    matched, missing = [], []
    for row in health.drop("position", "django", "data_date").to_dicts():
        if row["package_id"] is None:
            missing.append(row["normalized"])
            continue
        row["name"] = row.pop("normalized")
        row["declared"] = [
            _declared(declarations, d) for d in declarations.dependencies if d.name == row["name"]
        ]
        row["reason"] = explain(components[row["package_id"]])
        row["alternatives"] = by_dep.get(row["package_id"], [])
        matched.append(row)
    matched.sort(key=lambda r: (_rank(r["status"]), r["name"]))
    return Report(declarations, day, django, source, matched, missing, fail_on)


def _rank(status: str | None) -> float:
    # unknown between the failing statuses and the alive ones: worth a look, not a failure.
    return STATUSES.index(status) if status in STATUSES else 2.5


def _declared(declarations: Declarations, dep: Dependency) -> dict[str, Any]:
    return {
        "file": declarations.where(dep.file),
        "line": dep.line,
        "group": dep.group,
        "specifier": dep.specifier,
    }


# --- rendering ---------------------------------------------------------------------------------------


def _frame(report: Report) -> pl.DataFrame:
    django = report.django or "?"
    return pl.DataFrame(
        [
            {
                # The catalogue's slug only where it is not the name (cacheops for django-cacheops).
                "dependency": row["name"] + ("" if row["slug"] == row["name"] else f" ({row['slug']})"),
                "status": row["status"],
                "score": row["activity_score"],
                f"django {django}": _support(row["supports_django"]),
                "latest release": _release(row),
                "last commit": None if row["last_commit_at"] is None else row["last_commit_at"].date(),
                "trend": row["trend"],
                "stars": row["stars"],
                "djangopackages": row["djangopackages_score"],
                "why": row["reason"],
            }
            for row in report.matched
        ],
        schema={
            "dependency": pl.String,
            "status": pl.String,
            "score": pl.Float64,
            f"django {django}": pl.String,
            "latest release": pl.String,
            "last commit": pl.Date,
            "trend": pl.String,
            "stars": pl.Int64,
            "djangopackages": pl.Int64,
            "why": pl.String,
        },
    )


def _alternatives_frame(report: Report) -> pl.DataFrame:
    rows = [
        {
            "dependency": row["name"],
            "status": row["status"],
            "alternative": alt["pypi_name"],
            "its score": alt["activity_score"],
            "its status": alt["status"],
            "found in": alt["via"],
        }
        for row in report.matched
        for alt in row["alternatives"]
    ]
    schema = {
        "dependency": pl.String,
        "status": pl.String,
        "alternative": pl.String,
        "its score": pl.Float64,
        "its status": pl.String,
        "found in": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def _unparsed_frame(report: Report) -> pl.DataFrame:
    d = report.declarations
    return pl.DataFrame(
        {
            "where": [f"{d.where(u.file)}:{u.line}" for u in d.unparsed],
            "line": [u.text for u in d.unparsed],
            "why": [u.reason for u in d.unparsed],
        },
        schema={"where": pl.String, "line": pl.String, "why": pl.String},
    )


def _support(value: bool | None) -> str:
    return "not declared" if value is None else "yes" if value else "no"


def _release(row: dict[str, Any]) -> str | None:
    if row["latest_version"] is None:
        return None
    age = row["release_age_days"]
    return row["latest_version"] if age is None else f"{row['latest_version']} ({age} days ago)"


def _notes(report: Report) -> list[str]:
    """The lines under the table: what had no alternative, the statuses --fail-on ignores, its verdict."""
    notes = []
    without = [r["name"] for r in report.matched if r["status"] in FAIL_ON and not r["alternatives"]]
    if without:
        notes.append(
            f"no alive alternative supporting Django {report.django or '(any)'} in the same grids or "
            f"category for: {', '.join(without)}"
        )
    if report.unknown():
        notes.append(
            f"status unknown (no activity data) for: {', '.join(report.unknown())}; "
            "--fail-on never fails on unknown"
        )
    if report.fail_on:
        failing = report.failing()
        notes.append(
            f"--fail-on {report.fail_on}: "
            + (
                f"{len(failing)} at or below {report.fail_on}: {', '.join(failing)}"
                if failing
                else f"none at or below {report.fail_on}"
            )
        )
    return notes


def _title(report: Report) -> str:
    return f"Dependency health (data of {report.data_date})"


def _heading(report: Report) -> str:
    files = ", ".join(report.declarations.where(f) for f in report.declarations.files)
    unread = len(report.declarations.unparsed)
    return (
        f"{len(report.matched) + len(report.not_in_catalogue)} dependencies from {files}"
        + (f" ({unread} {'line' if unread == 1 else 'lines'} could not be read)" if unread else "")
        + f". Django {report.django or 'unknown'}: {report.django_source}"
    )


def render_table(report: Report, out: TextIO) -> None:
    console = Console(file=out, highlight=False)
    say(console, (_title(report), "bold"))
    say(console, _heading(report))
    if report.matched:
        # The reasons are long: as lines under the table they keep the other columns on screen.
        emit(_frame(report).drop("why"), "table", title="in the catalogue", out=out, whole=WHOLE)
        for row in report.matched:
            say(console, (row["name"], "bold"), f": {row['reason']}")
    alternatives = _alternatives_frame(report)
    if alternatives.height:
        emit(alternatives, "table", title="alternatives", out=out, whole=WHOLE)
    if report.not_in_catalogue:
        say(console, "not in the catalogue: ", ", ".join(report.not_in_catalogue))
    if report.declarations.unparsed:
        emit(_unparsed_frame(report), "table", title="lines that could not be read", out=out)
    for note in _notes(report):
        say(console, note)


def render_markdown(report: Report, out: TextIO) -> None:
    """A pull-request comment: every cell and line from the data goes through `emit` or `_md`."""
    out.write(f"### {_title(report)}\n\n{_md(_heading(report))}\n\n")
    if report.matched:
        emit(_frame(report), "markdown", out=out)
        out.write("\n")
    alternatives = _alternatives_frame(report)
    if alternatives.height:
        emit(alternatives, "markdown", title="Alternatives", out=out)
        out.write("\n")
    if report.not_in_catalogue:
        names = ", ".join(_md(n) for n in report.not_in_catalogue)
        out.write(f"**Not in the catalogue** ({len(report.not_in_catalogue)}): {names}\n\n")
    if report.declarations.unparsed:
        emit(_unparsed_frame(report), "markdown", title="Lines that could not be read", out=out)
        out.write("\n")
    for note in _notes(report):
        out.write(f"- {_md(note)}\n")


def render_json(report: Report, out: TextIO) -> None:
    d = report.declarations
    document = {
        "data_date": report.data_date,
        "django": {"version": report.django, "source": report.django_source},
        "files": [d.where(f) for f in d.files],
        "fail_on": report.fail_on,
        "failing": report.failing(),
        "unknown_status": report.unknown(),
        "matched": report.matched,
        "not_in_catalogue": [
            {"name": name, "declared": [_declared(d, x) for x in d.dependencies if x.name == name]}
            for name in report.not_in_catalogue
        ],
        "unparsed": [
            {"file": d.where(u.file), "line": u.line, "text": u.text, "reason": u.reason} for u in d.unparsed
        ],
    }
    # ensure_ascii (json's default) writes every control character and non-ASCII one as \uXXXX.
    out.write(json.dumps(plain(document), indent=2) + "\n")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#])")


def _md(text: str) -> str:
    """A line of prose for markdown: controls escaped, markup characters shown as themselves."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", safe(text).replace("&", "&amp;"))
