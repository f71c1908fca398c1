"""The `dpw` command line: ingest, ask SQL questions, run the replay server and the offline demo."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import duckdb
import polars as pl
import pyarrow as pa
import typer
from rich.console import Console
from rich.table import Table

from pipelines.settings import Settings
from warehouse import queries
from warehouse.store import Warehouse, WarehouseError

app = typer.Typer(
    help="Django Packages Warehouse: which Django packages are alive, rising or abandoned.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
replay_app = typer.Typer(
    help="The offline replay server for djangopackages, GitHub and PyPI.", no_args_is_help=True
)
app.add_typer(replay_app, name="replay")

console = Console()
err_console = Console(stderr=True)

WarehouseOption = Annotated[
    Path | None,
    typer.Option(
        "--warehouse", help="DuckDB warehouse file [default: $DPW_WAREHOUSE or ./data/warehouse.duckdb]"
    ),
]
FormatOption = Annotated[str, typer.Option("--format", help="table, csv or json")]


def _settings(warehouse: Path | None) -> Settings:
    return Settings.from_env().with_warehouse(warehouse)


def _date(text: str, option: str = "--date") -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date like 2026-02-17", param_hint=option) from None


# What a user's query can run into: a bad statement, a missing warehouse, a result polars cannot hold.
QUERY_ERRORS = (WarehouseError, duckdb.Error, pl.exceptions.PolarsError, pa.ArrowException)


def _describe(err: Exception) -> str:
    return (
        str(err) if isinstance(err, WarehouseError | queries.QueryError) else f"{type(err).__name__}: {err}"
    )


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def print_frame(frame: pl.DataFrame, fmt: str, title: str | None = None) -> None:
    if fmt == "csv":
        # CSV has no lists or structs: such cells are written as JSON text.
        nested = [c for c, dtype in frame.schema.items() if dtype.is_nested()]
        flat = frame.with_columns(
            pl.Series(
                c,
                [None if v is None else json.dumps(v, default=str) for v in frame.get_column(c).to_list()],
                pl.String,
            )
            for c in nested
        )
        sys.stdout.write(flat.write_csv())
    elif fmt == "json":
        sys.stdout.write(json.dumps(frame.to_dicts(), default=str, indent=2) + "\n")
    elif fmt == "table":
        table = Table(title=title, show_lines=False)
        for column in frame.columns:
            table.add_column(column, justify="right" if frame.schema[column].is_numeric() else "left")
        for row in frame.iter_rows():
            table.add_row(*("" if v is None else f"{v:.1f}" if isinstance(v, float) else str(v) for v in row))
        console.print(table)
    else:
        raise typer.BadParameter(f"{fmt!r}: use table, csv or json", param_hint="--format")


@app.command()
def ingest(
    day: Annotated[str, typer.Option("--date", help="snapshot date YYYY-MM-DD")],
    warehouse: WarehouseOption = None,
) -> None:
    """Materialize one snapshot date: capture it if it is the sources' current date, else recompute it
    from its stored raw data; refuse otherwise."""
    from pipelines.runner import IngestRefused, plan, run_date

    settings = _settings(warehouse)
    target = _date(day)
    try:
        mode = plan(settings, target)
        console.print(
            f"{target}: {'capturing from the sources' if mode == 'capture' else 'recomputing from stored raw'}"
        )
        result = run_date(settings, target, mode)
    except (IngestRefused, WarehouseError) as err:
        raise _fail(str(err)) from None
    s = result.summary
    console.print(
        f"{target} ({result.mode}): {s['records_fetched']} records fetched, {s['records_accepted']} accepted "
        f"({s['records_repaired']} repaired), {s['records_rejected']} rejected; "
        f"{s['packages_scored']} packages scored with {s['score_version']}; requests: "
        f"djangopackages {s['requests_djangopackages']}, github {s['requests_github']}, pypi {s['requests_pypi']} "
        f"({s['requests_failed']} failed); counts {'add up' if s['status'] == 'ok' else 'DO NOT add up'}"
    )
    for check in result.failed_checks:
        err_console.print(f"[bold red]contract check failed:[/] {check}")
    if s["status"] != "ok" or result.failed_checks:
        raise typer.Exit(1)


@app.command()
def rescore(
    first: Annotated[str, typer.Option("--from", help="first snapshot date")],
    last: Annotated[str, typer.Option("--to", help="last snapshot date")],
    score_version: Annotated[
        str | None, typer.Option(help="score version [default: the current one]")
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
    console.print(f"rescored {len(days)} dates ({days[0]} .. {days[-1]}) with {version}")


@app.command()
def explain(
    package: Annotated[str, typer.Argument(help="package slug or id")],
    day: Annotated[str | None, typer.Option("--date", help="snapshot date [default: the latest]")] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Why a package scores what it does: the components, the reason in words, and its score history."""
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
            f"{package} has no row on {day}; it has {history['snapshot_date'].min()} .. {history['snapshot_date'].max()}"
        )
    row = chosen.row(-1, named=True)
    console.print(
        f"[bold]{row['title']}[/] ({row['slug']}, id {row['package_id']}) on {row['snapshot_date']}"
    )
    score = "unknown" if row["activity_score"] is None else f"{row['activity_score']:.1f}"
    console.print(
        f"activity {score} ({row['score_version']}): {row['status']}, trend {row['trend']}, coverage {row['coverage']}"
    )
    console.print(reason(row))
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
    components = pl.DataFrame(
        {
            "component": parts,
            "value": [
                "" if row[p] is None else f"{row[p]:.3f}" if isinstance(row[p], float) else str(row[p])
                for p in parts
            ],
        }
    )
    print_frame(components, "table", title="components")
    print_frame(
        history.select("snapshot_date", "activity_score", "status", "trend", "commits_52w", "stars"),
        "table",
        title="score history",
    )


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="a SQL query, run on a read-only connection")],
    warehouse: WarehouseOption = None,
    fmt: FormatOption = "table",
) -> None:
    """Run a SQL query against the warehouse (read-only)."""
    settings = _settings(warehouse)
    try:
        with Warehouse(settings.warehouse, read_only=True) as wh:
            frame = wh.query(statement)
    except QUERY_ERRORS as err:
        raise _fail(_describe(err)) from None
    print_frame(frame, fmt)


@app.command()
def query(
    name: Annotated[str | None, typer.Argument(help="a named query from warehouse/sql/")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="key=value (repeatable)")] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="list the named queries and their parameters")
    ] = False,
    warehouse: WarehouseOption = None,
    fmt: FormatOption = "table",
) -> None:
    """Run a named SQL query (see --list)."""
    if list_ or name is None:
        for q in queries.available():
            console.print(f"[bold]{q.name}[/]: {q.description}")
            for p in q.params:
                console.print(f"    --param {p.name}=<{p.kind}>  {p.help} (default {p.default})")
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
    print_frame(frame, fmt, title=named.description)


@replay_app.command("serve")
def replay_serve(
    bundle: Annotated[
        Path | None, typer.Option(help="bundle directory [default: the shipped sample]")
    ] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0 picks a free one)")] = 8765,
    day: Annotated[
        str | None, typer.Option("--date", help="the clock [default: the bundle's as-of date]")
    ] = None,
    synthetic: Annotated[
        int | None, typer.Option(help="serve N generated packages instead of a bundle")
    ] = None,
) -> None:
    """Serve the djangopackages, GitHub and PyPI APIs from a bundle on loopback until interrupted."""
    from pipelines.replay.server import SAMPLE_BUNDLE, serve

    serve(
        bundle or SAMPLE_BUNDLE, host=host, port=port, date=_date(day) if day else None, synthetic=synthetic
    )


@app.command()
def demo(
    days: Annotated[int, typer.Option(help="how many days of history to capture")] = 14,
    warehouse: WarehouseOption = None,
    bundle: Annotated[
        Path | None, typer.Option(help="bundle directory [default: the shipped sample]")
    ] = None,
) -> None:
    """Offline demo: start the replay server, capture DAYS days through Dagster, and summarise."""
    from pipelines.demo import run_demo

    try:
        run_demo(Settings.from_env().with_warehouse(warehouse), days=days, bundle=bundle, console=console)
    except Exception as err:  # the demo is the first thing a new user runs: say what broke, plainly
        raise _fail(f"the demo failed: {type(err).__name__}: {err}") from err
