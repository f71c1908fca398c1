"""The `dpw` command line: ingest, ask SQL questions, run the replay server and the offline demo.

Rows are printed by `pipelines.output` (a table on a terminal, csv in a pipe, or the `--format` asked for);
every other line that quotes data goes through its `say`, which shows control characters instead of obeying
them.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Annotated, Literal

import click
import duckdb
import polars as pl
import pyarrow as pa
import typer
from rich.console import Console
from typer.core import TyperGroup

from pipelines.output import Format, cell, default_format, emit, plain, say
from pipelines.settings import Settings, SettingsError
from warehouse import compaction, queries
from warehouse.store import Warehouse, WarehouseError

console = Console()
err_console = Console(stderr=True)

DISTRIBUTION = "django-packages-warehouse"


class _App(TyperGroup):
    """The root command. Every command runs inside its `invoke`, so this is the one place a Ctrl-C is
    turned into a line and the shell's code for SIGINT (typer alone exits 130 without a word)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            err_console.print("interrupted", markup=False, highlight=False)
            raise typer.Exit(130) from None
        except SettingsError as err:
            # Settings are read where a command needs them, and by the code location when it is imported.
            raise _fail(str(err), 2) from None


app = typer.Typer(
    cls=_App,
    help="Django Packages Warehouse: which Django packages are alive, rising or abandoned.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
replay_app = typer.Typer(
    help="The offline replay server for djangopackages, GitHub and PyPI.", no_args_is_help=True
)
app.add_typer(replay_app, name="replay")


def _version(asked: bool) -> None:
    if asked:
        try:
            version = metadata.version(DISTRIBUTION)
        except metadata.PackageNotFoundError:
            version = f"unknown ({DISTRIBUTION} is not installed)"
        say(console, f"dpw {version}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="print the installed version and exit"
        ),
    ] = False,
) -> None:
    """Django Packages Warehouse: which Django packages are alive, rising or abandoned."""


WarehouseOption = Annotated[
    Path | None,
    typer.Option(
        "--warehouse",
        help="DuckDB warehouse file",
        show_default="$DPW_WAREHOUSE, else ./data/warehouse.duckdb",
    ),
]
FormatOption = Annotated[
    Format | None,
    typer.Option(
        "--format",
        "-f",
        help="a table fitting the terminal, or csv, tsv, json, jsonl (every value exact: dates ISO, lists "
        "as JSON, tsv escapes tab, newline and backslash, null is \\N) or markdown",
        show_default="table on a terminal, else csv",
    ),
]
# `dpw sql` and `dpw query` also write a result as a parquet file, for tools that read columns.
QueryFormat = Literal[Format, "parquet"]
QueryFormatOption = Annotated[
    QueryFormat | None,
    typer.Option(
        "--format",
        "-f",
        help="a table fitting the terminal, or csv, tsv, json, jsonl (every value exact: dates ISO, lists "
        "as JSON, tsv escapes tab, newline and backslash, null is \\N), markdown, or parquet (with --out)",
        show_default="table on a terminal, else csv",
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out", "-o", help="write the rows to this file (needed for parquet)", show_default="stdout"
    ),
]


def _settings(warehouse: Path | None) -> Settings:
    return Settings.from_env().with_warehouse(warehouse)


def _date(text: str, option: str = "--date") -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date like 2026-02-17", param_hint=option) from None


# What a user's query can run into: a bad statement, a missing or busy warehouse, a result polars cannot hold.
QUERY_ERRORS = (WarehouseError, duckdb.Error, pl.exceptions.PolarsError, pa.ArrowException)


def _describe(err: Exception) -> str:
    return (
        str(err) if isinstance(err, WarehouseError | queries.QueryError) else f"{type(err).__name__}: {err}"
    )


def _fail(message: str, code: int = 1) -> typer.Exit:
    # DuckDB's errors point at the statement on a second line, so newlines stay.
    say(err_console, ("error:", "bold red"), " ", message, keep="\n\t")
    return typer.Exit(code)


@app.command()
def ingest(
    day: Annotated[str, typer.Option("--date", help="snapshot date YYYY-MM-DD")],
    allow: Annotated[
        list[str] | None,
        typer.Option(
            "--allow",
            help="a guard to let through after looking at the refused day (repeatable); publishes the kept "
            "capture without a request",
        ),
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Materialize one snapshot date: capture it if it is the sources' current date, else recompute it
    from its stored (or kept) raw data; refuse otherwise. The date is published only if its guards pass."""
    from pipelines.runner import IngestRefused, decide, run_date

    settings = _settings(warehouse)
    target = _date(day)
    try:
        decision = decide(settings, target, allow=allow or ())
        mode = decision.mode
        say(
            console,
            f"{target}: {'capturing from the sources' if mode == 'capture' else 'recomputing from stored raw'}",
        )
        if mode == "capture":
            for reason in settings.skipped_sources().values():
                say(err_console, reason)
        result = run_date(settings, target, mode, allow=allow or (), sources_date=decision.sources_date)
    except (IngestRefused, WarehouseError) as err:
        raise _fail(str(err)) from None
    s = result.summary
    say(
        console,
        f"{target} ({result.mode}): {s['records_fetched']} records fetched, {s['records_accepted']} accepted "
        f"({s['records_repaired']} repaired), {s['records_rejected']} rejected; "
        f"{s['packages_scored']} packages scored with {s['score_version']}; requests: "
        f"djangopackages {s['requests_djangopackages']}, github {s['requests_github']}, pypi {s['requests_pypi']} "
        f"({s['requests_failed']} failed); counts {'add up' if s['status'] == 'ok' else 'DO NOT add up'}",
    )
    for guard in result.guards:
        say(err_console, f"guard {guard['guard']} {guard['level']}: {guard['message']}")
    for check in result.failed_checks:
        say(err_console, f"contract check failed: {check}")
    if s["status"] != "ok" or result.failed_checks:
        raise typer.Exit(1)


@app.command()
def rescore(
    first: Annotated[str, typer.Option("--from", help="first snapshot date")],
    last: Annotated[str, typer.Option("--to", help="last snapshot date")],
    score_version: Annotated[
        str | None, typer.Option(help="score version", show_default="the current one")
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Recompute scores for stored dates from stored inputs, one transaction per date, without a request."""
    from pipelines.runner import IngestRefused
    from pipelines.runner import rescore as run_rescore
    from warehouse.scoring import SCORE_VERSION, SCORE_VERSIONS

    version = score_version or SCORE_VERSION
    if version not in SCORE_VERSIONS:
        raise _fail(f"unknown score version {version!r}; known: {', '.join(sorted(SCORE_VERSIONS))}")
    try:
        days = run_rescore(_settings(warehouse), _date(first, "--from"), _date(last, "--to"), version)
    except (IngestRefused, WarehouseError) as err:
        raise _fail(str(err)) from None
    say(console, f"rescored {len(days)} dates ({days[0]} .. {days[-1]}) with {version}")
    _compact(_settings(warehouse))


@app.command()
def explain(
    package: Annotated[str, typer.Argument(help="package slug or id")],
    day: Annotated[
        str | None,
        typer.Option("--date", help="snapshot date", show_default="every date; the latest in a table"),
    ] = None,
    warehouse: WarehouseOption = None,
    fmt: FormatOption = None,
) -> None:
    """Why a package scores what it does: the components, the reason in words, and its score history.

    A table (or markdown) shows the date's components and reason and the score history; csv, tsv, json and
    jsonl give one row per date (only --date's when given) with every metric and the reason."""
    from warehouse.scoring import explain as reason

    settings = _settings(warehouse)
    try:
        with Warehouse(settings.warehouse, read_only=True) as wh:
            # By id, so a package renamed along the way keeps its whole history.
            history = wh.query(
                "SELECT m.*, p.slug, p.title FROM daily_package_metrics m "
                "JOIN package_snapshots p USING (snapshot_date, package_id) "
                "WHERE m.package_id IN (SELECT package_id FROM packages "
                "  WHERE slug = $key OR CAST(package_id AS VARCHAR) = $key) ORDER BY m.snapshot_date",
                {"key": package},
            )
    except QUERY_ERRORS as err:
        raise _fail(_describe(err)) from None
    if history.height == 0:
        raise _fail(f"no package {package!r} in {settings.warehouse}")
    chosen = history if day is None else history.filter(pl.col("snapshot_date") == _date(day))
    if chosen.height == 0:
        raise _fail(
            f"{package!r} has no row on {day}; it has {history['snapshot_date'].min()} .. {history['snapshot_date'].max()}"
        )
    fmt = fmt or default_format()
    if fmt not in ("table", "markdown"):
        reasons = pl.Series("reason", [reason(r) for r in chosen.iter_rows(named=True)], pl.String)
        emit(chosen.with_columns(reasons), fmt)
        return
    row = chosen.row(-1, named=True)
    say(
        console,
        (row["title"], "bold"),
        f" ({row['slug']}, id {row['package_id']}) on {row['snapshot_date']}",
    )
    score = "unknown" if row["activity_score"] is None else f"{row['activity_score']:.1f}"
    say(
        console,
        f"activity {score} ({row['score_version']}): {row['status']}, trend {row['trend']}, coverage {row['coverage']}",
    )
    say(console, reason(row))
    parts = [
        "recency",
        "consistency",
        "volume",
        "staleness_decay",
        "gap_weeks",
        "stale_weeks",
        "momentum",
        "burstiness",
        "percentile_category",
        "popularity_pct",
        "weeks_source",
        "baseline_djangopackages",
    ]
    # Components of several types share one column, so each is written as text (a null stays null).
    values = pl.Series("value", [None if row[p] is None else cell(row[p]) for p in parts], pl.String)
    emit(pl.DataFrame({"component": parts}).with_columns(values), fmt, title="components")
    emit(
        history.select("snapshot_date", "activity_score", "status", "trend", "commits_52w", "stars"),
        fmt,
        title="score history",
    )


@app.command()
def sql(
    statement: Annotated[
        str, typer.Argument(help="a SQL query, run on a read-only connection; - reads it from stdin")
    ],
    warehouse: WarehouseOption = None,
    fmt: QueryFormatOption = None,
    out: OutOption = None,
) -> None:
    """Run a SQL query against the warehouse (read-only)."""
    _check_out(fmt, out)
    if statement == "-":
        statement = sys.stdin.read()
        if not statement.strip():
            raise _fail("no SQL on stdin (`dpw sql -` reads the query from it)", 2)
    settings = _settings(warehouse)
    try:
        with Warehouse(settings.warehouse, read_only=True) as wh:
            frame = wh.query(statement)
    except QUERY_ERRORS as err:
        raise _fail(_describe(err)) from None
    _write(frame, fmt, out)


@app.command()
def query(
    name: Annotated[
        str | None, typer.Argument(help="the name of a query in the catalog (see --list), not a path")
    ] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="key=value (repeatable)")] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="list the named queries and their parameters")
    ] = False,
    warehouse: WarehouseOption = None,
    fmt: QueryFormatOption = None,
    out: OutOption = None,
) -> None:
    """Run a named SQL query from the catalog shipped in warehouse/sql/ (see --list)."""
    _check_out(fmt, out)
    if list_ or name is None:
        _list_queries(fmt, out)
        return
    given = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not key=value", param_hint="--param")
        given[key.strip()] = value.strip()
    settings = _settings(warehouse)
    try:
        named = queries.load(name)
        params = named.bind(given)
        with Warehouse(settings.warehouse, read_only=True) as wh:
            frame = wh.query(named.sql, params)
    except (queries.QueryError, *QUERY_ERRORS) as err:
        raise _fail(_describe(err)) from None
    _write(frame, fmt, out, title=named.title)


def _check_out(fmt: QueryFormat | None, out: Path | None) -> None:
    # Checked before the query runs: a binary file has no place on a terminal or in a pipe.
    if fmt == "parquet" and out is None:
        raise _fail("--format parquet writes a file, not stdout: give --out FILE", 2)


def _write(frame: pl.DataFrame, fmt: QueryFormat | None, out: Path | None, title: str | None = None) -> None:
    """``frame`` to stdout or to the file ``out``: parquet as polars writes it, the other formats as
    `emit` prints them (csv when none is given, the file being no terminal)."""
    try:
        if out is None:  # never parquet: `_check_out` refused it
            emit(frame, fmt, title=title)
        elif fmt == "parquet":
            frame.write_parquet(out)
        else:
            with out.open("w", encoding="utf-8", newline="") as file:
                emit(frame, fmt, title=title, out=file)
    except OSError as err:
        raise _fail(f"cannot write {out}: {err.strerror or err}") from None


def _list_queries(fmt: QueryFormat | None, out: Path | None) -> None:
    """The catalog: in a table, a name and its title, then its description, a line per parameter as
    `--param` takes it, its columns and an example; in the other formats, a row per query with its
    parameters and columns as lists."""
    catalog = queries.available()
    if (fmt or (default_format() if out is None else "csv")) == "table":
        for q in catalog:
            say(console, (q.name, "bold"), f": {q.title}")
            say(console, f"    {q.description}")
            for p in q.params:
                say(console, f"    --param {p.name}=<{p.kind}>  {p.help} (default {p.default})")
            say(console, f"    columns: {', '.join(q.columns)}")
            say(console, f"    e.g. {q.example}")
        return
    param = pl.Struct({"name": pl.String, "kind": pl.String, "default": pl.String, "help": pl.String})
    rows = [
        {
            "name": q.name,
            "title": q.title,
            "description": q.description,
            "params": [
                {"name": p.name, "kind": p.kind, "default": p.default, "help": p.help} for p in q.params
            ],
            "columns": list(q.columns),
            "example": q.example,
        }
        for q in catalog
    ]
    schema: dict[str, pl.DataType] = {
        "name": pl.String(),
        "title": pl.String(),
        "description": pl.String(),
        "params": pl.List(param),
        "columns": pl.List(pl.String),
        "example": pl.String(),
    }
    _write(pl.DataFrame(rows, schema=schema), fmt, out)


def reject_causes(reasons: str, fields: list[str]) -> list[str]:
    """The distinct causes in a rejected record's ``reasons``: each reason ("<field>: <what> (<value>)",
    joined with "; ") without its value, so records rejected for the same cause group together.

    The value is raw data and may itself hold "; " or parentheses, so the text is split only where one of
    the record's own fields begins, and the value is everything from the first " (" to the final ")"
    (pandera's check names, like ``greater_than_or_equal_to(0)``, have no space before their parenthesis).
    """
    names = "|".join(re.escape(f) for f in fields if f)
    parts = re.split(f"; (?=(?:{names}): )", reasons) if names else reasons.split("; ")
    return list(dict.fromkeys(re.sub(r" \(.*\)\Z", "", part, flags=re.DOTALL) for part in parts))


# How many record keys a group of rejects shows: enough to look one up, few enough to read.
REJECT_EXAMPLES = 3


def _reject_groups(rows: pl.DataFrame, day: date) -> pl.DataFrame:
    groups: dict[tuple[str, str], list[str]] = {}
    for source, key, fields, reasons in rows.iter_rows():
        for cause in reject_causes(reasons, fields):
            groups.setdefault((source, cause), []).append(key)
    ordered = sorted(groups.items(), key=lambda item: (item[0][0], -len(item[1]), item[0][1]))
    return pl.DataFrame(
        {
            "snapshot_date": [day] * len(ordered),
            "source": [source for (source, _), _ in ordered],
            "reason": [cause for (_, cause), _ in ordered],
            "records": [len(keys) for _, keys in ordered],
            "examples": [list(dict.fromkeys(keys))[:REJECT_EXAMPLES] for _, keys in ordered],
        },
        schema={
            "snapshot_date": pl.Date,
            "source": pl.String,
            "reason": pl.String,
            "records": pl.Int64,
            "examples": pl.List(pl.String),
        },
    )


# The date `dpw rejects` shows when none is given: the latest with something to show.
_LATEST_SHOWN = (
    "SELECT greatest((SELECT max(snapshot_date) FROM rejected_records), "
    "(SELECT max(snapshot_date) FROM guard_results WHERE level <> 'ok'))"
)
_LATEST_REJECT = "SELECT max(snapshot_date) FROM rejected_records WHERE source = ?"


@app.command()
def rejects(
    day: Annotated[
        str | None,
        typer.Option("--date", help="snapshot date", show_default="the latest with something to show"),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(help="only rejects from this source, e.g. djangopackages/packages or github/repository"),
    ] = None,
    warehouse: WarehouseOption = None,
    fmt: FormatOption = None,
) -> None:
    """What a date quarantined, by source and reason, and the dataset guards that fired.

    Rejected records are grouped by source and cause (the reason without the value it quotes), with counts
    and example record keys; the guards are those at warn, fail or allowed in the date's runs.

    The default date is the latest with rejects or a guard that fired; with --source, the latest with
    rejects from that source. Guards belong to a date, not a source: --source does not filter them.

    A table (or markdown) shows the two parts under their titles, json one document holding both; csv, tsv
    and jsonl one row per group or guard, its `section` saying which."""
    fmt = fmt or default_format()
    # For a person the parts are titled tables and words; for a program only data.
    shown = fmt in ("table", "markdown")
    settings = _settings(warehouse)
    picked = None if day is None else _date(day)
    try:
        with Warehouse(settings.warehouse, read_only=True) as wh:
            if picked is None:
                picked = wh.row(*((_LATEST_REJECT, [source]) if source else (_LATEST_SHOWN, [])))[0]
            rows = wh.query(
                "SELECT source, record_key, fields, reasons FROM rejected_records "
                "WHERE snapshot_date = $d AND ($s::VARCHAR IS NULL OR source = $s) "
                "ORDER BY source, TRY_CAST(record_key AS BIGINT) NULLS LAST, record_key",
                {"d": picked, "s": source},
            )
            guards = wh.query(
                "SELECT g.snapshot_date, g.run_id, g.guard, g.level, g.value, g.message "
                "FROM guard_results g LEFT JOIN ingest_runs r USING (run_id) "
                "WHERE g.snapshot_date = $d AND g.level <> 'ok' "
                "ORDER BY r.started_at NULLS LAST, g.run_id, g.guard",
                {"d": picked},
            )
    except QUERY_ERRORS as err:
        raise _fail(_describe(err)) from None
    groups = _reject_groups(rows, picked)
    where = f" from {source}" if source else ""
    if rows.height == 0 and guards.height == 0:
        # In the data formats the output stays data (empty), and the words go to stderr.
        say(
            console if shown else err_console,
            f"nothing quarantined{where} and no guard fired "
            + (f"on {picked}" if picked else f"in {settings.warehouse}"),
        )
        if shown:
            return
    if fmt == "json":
        document = {
            "snapshot_date": picked,
            "records": rows.height,
            "rejects": groups.drop("snapshot_date").to_dicts(),
            "guards": guards.drop("snapshot_date").to_dicts(),
        }
        sys.stdout.write(json.dumps(plain(document), indent=2) + "\n")
    elif not shown:
        # One table for both parts: `section` says which, and the other part's columns stay empty.
        both = pl.concat(
            [
                groups.select(pl.lit("reject").alias("section"), pl.all()),
                guards.select(pl.lit("guard").alias("section"), pl.all()),
            ],
            how="diagonal",
        )
        emit(both, fmt)
    else:
        if rows.height:
            title = f"{rows.height} records quarantined{where} on {picked}, by reason"
            emit(groups.drop("snapshot_date"), fmt, title=title)
        else:
            say(console, f"nothing quarantined{where} on {picked}")
        if guards.height:
            emit(guards.drop("snapshot_date"), fmt, title=f"guards that fired on {picked}")
        else:
            say(console, f"no guard fired on {picked}")


@app.command()
def deps(
    path: Annotated[
        Path, typer.Argument(help="a project directory (its declaration files are found) or one file")
    ] = Path("."),
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            help="exit 1 when a dependency's status is this or worse: abandoned, inactive or stale",
            show_default="never",
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="table, json, or markdown (for a pull-request comment)")
    ] = "table",
    django: Annotated[
        str | None,
        typer.Option(
            help="the project's Django version X.Y", show_default="read from the files, else the newest known"
        ),
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Judge a project's Django dependencies: status, score, releases, Django support, alternatives."""
    from pipelines.deps import run as judge

    code = judge(path, _settings(warehouse).warehouse, django=django, fail_on=fail_on, fmt=fmt)
    if code:
        raise typer.Exit(code)


@app.command()
def backfill(
    first: Annotated[str, typer.Option("--from", help="first snapshot date")],
    last: Annotated[str, typer.Option("--to", help="last snapshot date")],
    warehouse: WarehouseOption = None,
) -> None:
    """Rebuild every table below raw for the dates in a range from their stored raw data, through Dagster's
    recompute_job, one publication per date, without a request. Dates with no raw stored are skipped; a
    date refused or failed stops the backfill (exit 1), the dates before it staying done."""
    from pipelines.runner import IngestRefused
    from pipelines.runner import backfill as run_backfill

    done: list[date] = []
    try:
        for since, until, result in run_backfill(
            _settings(warehouse), _date(first, "--from"), _date(last, "--to")
        ):
            if result is None:
                span = since if since == until else f"{since} .. {until}"
                say(console, f"{span}: skipped, no raw data stored")
                continue
            done.append(since)
            s = result.summary
            requests = sum(int(s[f"requests_{source}"]) for source in ("djangopackages", "github", "pypi"))
            say(
                console,
                f"{since}: recomputed, {s['packages_scored']} packages scored with {s['score_version']}, "
                f"{requests} requests" + ("" if s["status"] == "ok" else f"; status {s['status']}"),
            )
            for check in result.failed_checks:
                say(err_console, f"contract check failed: {check}")
    except (IngestRefused, WarehouseError) as err:
        raise _fail(f"{err}; {_backfilled(done)}") from None
    except KeyboardInterrupt:
        say(err_console, _backfilled(done))
        raise
    say(console, _backfilled(done))
    if done:
        _compact(_settings(warehouse))


@app.command()
def compact(warehouse: WarehouseOption = None) -> None:
    """Rewrite each closed month not compacted since it last changed in key order, which keeps a year of
    history about a third of its size; the daily capture, `dpw backfill` and `dpw rescore` do it too."""
    settings = _settings(warehouse)
    if not settings.warehouse.exists():
        raise _fail(f"no warehouse at {settings.warehouse}")
    if not _compact(settings):
        say(console, "nothing to compact")


def _compact(settings: Settings) -> int:
    """Compact the due months and say so; a warehouse that cannot be compacted now is said, not an error:
    what was published stays, and the next run compacts it."""
    try:
        with Warehouse(settings.warehouse) as wh:
            done = compaction.compact_due(wh)
    except (WarehouseError, duckdb.Error, OSError) as err:
        say(err_console, f"compaction skipped: {_describe(err)}")
        return 0
    for month in done:
        say(console, f"compacted {month.month:%Y-%m}: {month.rows:,} rows in {month.seconds:.1f} s")
    return len(done)


def _backfilled(done: list[date]) -> str:
    if not done:
        return "no date backfilled"
    return f"{len(done)} dates backfilled ({done[0]} .. {done[-1]})"


@app.command()
def export(
    to: Annotated[
        Path,
        typer.Option("--to", help="the export directory: new, empty, or a previous export (replaced whole)"),
    ],
    warehouse: WarehouseOption = None,
) -> None:
    """Write the public tables as Parquet: each dated table partitioned by snapshot_date (Hive layout), each
    current-state table or view as one file, and a manifest.json; for DuckDB, polars, Spark or Trino."""
    from warehouse.export import ExportError
    from warehouse.export import export as write_export

    try:
        done = write_export(_settings(warehouse).warehouse, to)
    except ExportError as err:
        raise _fail(f"not exported: {err}") from None
    except (WarehouseError, duckdb.Error, OSError) as err:
        raise _fail(f"not exported: {_describe(err)}") from None
    say(console, done.describe())


@app.command()
def upgrade(
    warehouse: WarehouseOption = None,
    wait: Annotated[
        float, typer.Option(help="seconds to wait for a run or reader to let go of the file")
    ] = 10.0,
) -> None:
    """Rewrite a warehouse made in a newer DuckDB storage format than DPW_STORAGE_VERSION (one made before
    dpw set it) in that format, so older DuckDB clients open it. Every table is checked before the new file
    replaces the old one; a file already in the format is left alone. Refused while a run holds the file."""
    from warehouse.fileformat import upgrade as upgrade_file
    from warehouse.store import WarehouseBusy

    settings = _settings(warehouse)
    try:
        done = upgrade_file(settings.warehouse, wait=wait, version=settings.storage_version)
    except WarehouseBusy as err:
        raise _fail(f"not upgraded: {err}; run `dpw upgrade` again when no run is writing") from None
    except (WarehouseError, duckdb.Error, OSError) as err:
        raise _fail(f"not upgraded: {_describe(err)}") from None
    say(console, done.describe())


@app.command()
def dashboard(
    name: Annotated[str, typer.Argument(help="overview, category, package or movers")] = "overview",
    port: Annotated[int | None, typer.Option(help="port on 127.0.0.1", show_default="a free one")] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Serve a trend dashboard (a marimo app) on 127.0.0.1 and print its URL; Ctrl-C stops it. The app
    reads the warehouse read-only, for a moment at a time, so a daily run is never blocked by it."""
    from pipelines.dashboard import DashboardError, serve

    settings = _settings(warehouse)

    def ready(url: str) -> None:
        say(console, f"{name} dashboard of {settings.warehouse} on {url} (Ctrl-C stops it)")

    try:
        code = serve(name, settings.warehouse, port, ready)
    except DashboardError as err:
        raise _fail(str(err)) from None
    if code:
        raise typer.Exit(code)


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", help="directory to write the pages into")],
    packages: Annotated[int, typer.Option(help="how many of the most starred packages get a page")] = 5,
    warehouse: WarehouseOption = None,
) -> None:
    """Write the four dashboards as static HTML pages (index.html first) that open offline: every chart
    inline SVG, nothing fetched from anywhere, the data date on every page."""
    from notebooks.report import build
    from warehouse.dashboards import Unavailable

    try:
        files = build(_settings(warehouse).warehouse, out, packages=packages)
    except Unavailable as err:
        raise _fail(f"no report: {err}") from None
    except OSError as err:
        raise _fail(f"no report: cannot write {out}: {err.strerror or err}") from None
    say(console, f"{len(files)} pages in {out}; open {out / 'index.html'}")


@app.command()
def doctor(warehouse: WarehouseOption = None) -> None:
    """Check the setup: resolved settings (tokens redacted), one request to each configured source, GitHub's
    quota left, the warehouse's dates and its last run. Exits 1 with one line per problem."""
    from pipelines.doctor import diagnose

    report = diagnose(_settings(warehouse))
    for line in report.lines:
        say(console, line)
    for problem in report.problems:
        say(err_console, ("problem:", "bold red"), " ", problem)
    if report.problems:
        raise typer.Exit(1)


@replay_app.command("serve")
def replay_serve(
    bundle: Annotated[
        Path | None, typer.Option(help="bundle directory", show_default="the shipped sample")
    ] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0 picks a free one)")] = 8765,
    day: Annotated[
        str | None, typer.Option("--date", help="the clock", show_default="the bundle's as-of date")
    ] = None,
    synthetic: Annotated[
        int | None, typer.Option(help="serve N generated packages instead of a bundle")
    ] = None,
    faults: Annotated[
        str | None,
        typer.Option(
            help="fault rates, e.g. '5xx=0.1,timeout=0.02,truncate=0.01,html=0.01,stats202=0.3'; "
            "'pypi:5xx=0.2' for one source, 'timeout_s=5' for how long a timeout holds [default: 65]"
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the fault rates and of --synthetic")] = 0,
    latency_ms: Annotated[
        float, typer.Option(min=0, max=60_000, help="milliseconds added before every API answer")
    ] = 0.0,
) -> None:
    """Serve every replayed API (djangopackages, GitHub, PyPI) from a bundle on loopback until interrupted."""
    from replay.faults import RateSpec
    from replay.server import SAMPLE_BUNDLE, serve

    try:
        RateSpec.parse(faults or "")
    except ValueError as err:  # refused before the bundle is loaded, naming the bad item
        raise typer.BadParameter(str(err), param_hint="--faults") from None
    serve(
        bundle or SAMPLE_BUNDLE,
        host=host,
        port=port,
        date=_date(day) if day else None,
        synthetic=synthetic,
        seed=seed,
        faults=faults,
        latency_ms=latency_ms,
    )


@app.command()
def demo(
    days: Annotated[int, typer.Option(help="how many days of history to capture")] = 14,
    warehouse: WarehouseOption = None,
    bundle: Annotated[
        Path | None, typer.Option(help="bundle directory", show_default="the shipped sample")
    ] = None,
) -> None:
    """Offline demo: start the replay server, capture DAYS days through Dagster, and summarise."""
    from pipelines.demo import run_demo

    try:
        run_demo(
            Settings.from_env().with_warehouse(warehouse),
            days=days,
            bundle=bundle,
            console=console,
            options=() if warehouse is None else ("--warehouse", str(warehouse)),
        )
    except SettingsError:
        raise  # one line naming the variable, from `_App`
    except Exception as err:  # the demo is the first thing a new user runs: say what broke, plainly
        raise _fail(f"the demo failed: {type(err).__name__}: {err}") from err
