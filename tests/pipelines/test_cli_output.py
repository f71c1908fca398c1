"""What the CLI prints from data is shown, never obeyed: no rich markup, no control bytes, no path as a query."""

import io
import json
import re

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.output import emit, safe
from warehouse import queries
from warehouse.store import Warehouse

# A title as a stranger could type it into djangopackages.org: rich markup that crashes ("[/]") or styles
# ("[bold red]", ":smile:"), an ANSI colour sequence, BEL, backspace, carriage return and NUL.
HOSTILE = "[/][bold red]x\x1b[31mred\x07\x08\rZ\x00:smile:"
SHOWN = "[/][bold red]x\\x1b[31mred\\x07\\x08\\rZ\\x00:smile:"
# tsv writes a carriage return as \r, so a row stays one line; the other controls go out as they are.
HOSTILE_IN_TSV = HOSTILE.replace("\r", "\\r")
# Anything a terminal would act on: C0 but newline, DEL, C1.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


@pytest.fixture
def hostile(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with Warehouse(path) as wh:
        wh.conn.execute(
            "INSERT INTO package_snapshots "
            "(snapshot_date, package_id, slug, title, repo_host, stars, forks, last_fetched_at, repairs) "
            "VALUES ('2026-05-01', 7, 'evil', ?, 'github', 3, 1, '2026-05-01', [])",
            [HOSTILE],
        )
        wh.conn.execute(
            "INSERT INTO daily_package_metrics (snapshot_date, package_id, stars, forks, weeks_source, "
            "score_version, status, trend, coverage, censored) "
            "VALUES ('2026-05-01', 7, 3, 1, 'none', 'dpas-1', 'unknown', 'n/a', 'unknown', false)"
        )
    return path


def run(*args: str, code: int = 0):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result


@pytest.mark.parametrize(
    ("text", "keep", "shown"),
    [
        ("a\x1b[31mb", "", "a\\x1b[31mb"),
        ("\x00\x07\x08\r\n\t\x7f\x9b", "", "\\x00\\x07\\x08\\r\\n\\t\\x7f\\x9b"),
        ("a\nb\tc\rd", "\t\n", "a\nb\tc\\rd"),
        ("lone \ud800 and \udced", "", "lone \\ud800 and \\udced"),
        ("café ☃ [bold] :smile: \\x1b", "", "café ☃ [bold] :smile: \\x1b"),
    ],
)
def test_safe_writes_what_a_terminal_would_obey_as_escapes(text, keep, shown):
    assert safe(text, keep) == shown


def test_sql_table_shows_markup_and_control_bytes_as_text(hostile):
    out = run("sql", "select title from packages", "--format", "table", "--warehouse", str(hostile)).stdout
    assert f"│ {SHOWN} │" in out.splitlines()
    assert not RAW_CONTROL.search(out)


def test_lists_in_a_table_cell_are_json_and_escaped(hostile):
    out = run(
        "sql", "select [title, 'b'] as l from packages", "--format", "table", "--warehouse", str(hostile)
    ).stdout
    assert '│ ["[/][bold red]x\\u001b[31mred\\u0007\\b\\rZ\\u0000:smile:", "b"] │' in out.splitlines()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("fmt", "piped", "shown"),
    [
        (
            "csv",
            f'package_id,title,kept\n7,"{HOSTILE}","a\tb\nc"\n',
            f'package_id,title,kept\n7,"{SHOWN}","a\tb\nc"\n',
        ),
        (
            "tsv",
            f"package_id\ttitle\tkept\n7\t{HOSTILE_IN_TSV}\ta\\tb\\nc\n",
            f"package_id\ttitle\tkept\n7\t{SHOWN}\ta\\tb\\nc\n",
        ),
    ],
)
def test_csv_and_tsv_are_exact_in_a_pipe_and_escape_control_bytes_on_a_terminal(hostile, fmt, piped, shown):
    query = "select package_id, title, 'a' || chr(9) || 'b' || chr(10) || 'c' as kept from packages"
    assert run("sql", query, "--format", fmt, "--warehouse", str(hostile)).stdout == piped
    with Warehouse(hostile, read_only=True) as wh:
        frame = wh.query(query)
    terminal = Terminal()
    emit(frame, fmt, out=terminal)
    assert terminal.getvalue() == shown
    assert not RAW_CONTROL.search(shown.replace("\t", ""))


def test_json_is_faithful_and_ascii(hostile):
    out = run("sql", "select title from packages", "--format", "json", "--warehouse", str(hostile)).stdout
    assert json.loads(out) == [{"title": HOSTILE}]
    assert out.isascii() and not RAW_CONTROL.search(out)


def test_explain_prints_a_hostile_title_visibly(hostile):
    out = run("explain", "evil", "--format", "table", "--warehouse", str(hostile)).stdout
    assert out.splitlines()[:3] == [
        f"{SHOWN} (evil, id 7) on 2026-05-01",
        "activity unknown (dpas-1): unknown, trend n/a, coverage unknown",
        "no weekly commit data and no last commit date: activity unknown",
    ]
    assert not RAW_CONTROL.search(out)


def test_an_error_quoting_sql_is_escaped_but_keeps_its_lines(hostile):
    # DuckDB quotes the name verbatim: the ESC, and "[/]" that rich would read as a closing tag.
    result = run("sql", 'select * from "t\x1b[2J[/]"', "--warehouse", str(hostile), code=1)
    first, *rest = result.stderr.splitlines()
    assert first == "error: CatalogException: Catalog Error: Table with name t\\x1b[2J[/] does not exist!"
    assert rest and not RAW_CONTROL.search(result.stderr)


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../sql/biggest_movers", "biggest_movers.sql", "a.b", "x\\y"]
)
def test_query_names_that_look_like_paths_are_refused(name):
    with pytest.raises(queries.QueryError, match="looks like a path or file name"):
        queries.load(name)


def test_query_runs_no_sql_file_outside_the_catalog(hostile, tmp_path):
    (tmp_path / "leak.sql").write_text("select 4242 as leaked")
    result = run("query", str(tmp_path / "leak"), "--warehouse", str(hostile), code=1)
    assert result.stdout == ""
    assert result.stderr == (
        f"error: '{tmp_path / 'leak'}' looks like a path or file name: `dpw query` runs only the catalog's "
        "named queries; `dpw query --list` shows them\n"
    )


def test_query_runs_a_catalog_name_and_lists_the_catalog(hostile):
    assert queries.load("biggest_movers").name == "biggest_movers"
    assert run("query", "nope", "--warehouse", str(hostile), code=1).stderr == (
        "error: no query named 'nope' in the catalog; `dpw query --list` shows them\n"
    )
    catalog = queries.available()
    assert {"biggest_movers", "most_active_by_category", "popular_but_dormant"} <= {q.name for q in catalog}
    listing = run("query", "--list", "--format", "table").stdout.splitlines()
    assert [line.split(":")[0] for line in listing if not line.startswith(" ")] == [q.name for q in catalog]
    # For a program, a row per query with its parameters as data.
    rows = json.loads(run("query", "--list", "--format", "json").stdout)
    assert rows == [
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
