"""The CLI in a pipe: every format carries every value exactly, a table says what it leaves out, SQL comes
from stdin, settings errors are one line, and runs land in DAGSTER_HOME's instance when it is set."""

import csv
import io
import json
from datetime import UTC, date, datetime
from importlib import metadata

import dagster as dg
import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.output import FORMATS, emit
from tests.conftest import capture_days
from warehouse.store import Warehouse

# Values a lossy writer gets wrong: integers past a double's 53 bits, floats that round to 0.0 at one decimal,
# text with every separator and quote, nulls beside empty strings, dates, times in UTC, lists.
EXACT = pl.DataFrame(
    {
        "big": [2**62 + 1, -(2**60) - 7, None],
        "small": [0.013, 1e-300, None],
        "text": ['café ☃ 𝄞, "quoted"', "tab\there\nnewline\r\\back", ""],
        "nothing": [None, "", "null"],
        "day": [date(2026, 5, 1), None, date(1999, 12, 31)],
        "at": [datetime(2026, 5, 1, 12, 30, 0, 5, tzinfo=UTC), None, datetime(2026, 1, 1, tzinfo=UTC)],
        "tags": [["a,b", 'q"', "é\t"], [], None],
        "flag": [True, False, None],
    }
)


def _value(text: str | None, dtype: pl.DataType) -> object:
    """A csv, tsv or json value back in ``dtype``."""
    if text is None or not isinstance(text, str):
        return text
    if dtype == pl.Date:
        return date.fromisoformat(text)
    if isinstance(dtype, pl.Datetime):
        return datetime.fromisoformat(text)
    if isinstance(dtype, pl.List):
        return json.loads(text)
    if dtype.is_integer():
        return int(text)
    if dtype.is_float():
        return float(text)
    if dtype == pl.Boolean:
        return {"true": True, "false": False}[text]
    return text


def _csv(out: str) -> list[list[str | None]]:
    # An empty field is a null; an empty string is written "" (polars reads the two apart, csv does not).
    reread = pl.read_csv(io.StringIO(out), infer_schema=False)
    assert [row for row in csv.reader(io.StringIO(out))][1:] == [
        ["" if v is None else v for v in row] for row in reread.iter_rows()
    ]
    return [reread.columns, *map(list, reread.iter_rows())]


def _tsv(out: str) -> list[list[str | None]]:
    def field(text: str) -> str | None:
        if text == "\\N":
            return None
        escapes = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}
        chars, i = [], 0
        while i < len(text):
            if text[i] == "\\":
                chars.append(escapes[text[i + 1]])
                i += 2
            else:
                chars.append(text[i])
                i += 1
        return "".join(chars)

    return [[field(f) for f in line.split("\t")] for line in out.splitlines()]


def _json(out: str) -> list[list[object]]:
    rows = json.loads(out)
    return [list(rows[0]), *[list(r.values()) for r in rows]]


def _jsonl(out: str) -> list[list[object]]:
    rows = [json.loads(line) for line in out.splitlines()]
    return [list(rows[0]), *[list(r.values()) for r in rows]]


def _emitted(frame: pl.DataFrame, fmt: str) -> str:
    out = io.StringIO()
    emit(frame, fmt, out=out)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "parse"), [("csv", _csv), ("tsv", _tsv), ("json", _json), ("jsonl", _jsonl)])
def test_data_formats_carry_every_value_exactly(fmt, parse):
    header, *rows = parse(_emitted(EXACT, fmt))
    assert header == EXACT.columns
    back = [[_value(v, dtype) for v, dtype in zip(row, EXACT.dtypes, strict=True)] for row in rows]
    assert back == [list(row) for row in EXACT.iter_rows()]


def test_tsv_keeps_one_row_per_line_and_json_is_ascii():
    assert len(_emitted(EXACT, "tsv").splitlines()) == EXACT.height + 1
    assert _emitted(EXACT, "json").isascii() and _emitted(EXACT, "jsonl").isascii()


def test_a_table_shows_numbers_as_stored_and_nulls_apart_from_text():
    out = _emitted(EXACT.select("big", "small", "nothing"), "table")
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines() if line.startswith("│")]
    assert cells == [
        ["4611686018427387905", "0.013", "NULL"],
        ["-1152921504606846983", "1e-300", ""],
        ["NULL", "NULL", "null"],
    ]


def test_markdown_is_a_pipe_table_with_pipes_escaped():
    out = _emitted(pl.DataFrame({"a": ["x|y", None], "n": [1, 2]}), "markdown")
    assert out == "| a | n |\n|---|---:|\n| x\\|y | 1 |\n|  | 2 |\n"


def test_a_table_wider_than_the_terminal_says_how_many_columns_it_shows(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    wide = pl.DataFrame({f"c{i:02}": [0.013 if i == 0 else float(i)] for i in range(38)})
    out = _emitted(wide, "table")
    assert max(len(line) for line in out.splitlines()[:-1]) <= 80
    header = next(line for line in out.splitlines() if line.startswith("┃"))
    shown = [c.strip() for c in header.split("┃")[1:-1]]
    assert shown == wide.columns[: len(shown)] and 1 < len(shown) < 38
    assert out.splitlines()[-1].startswith(f"38 columns, {len(shown)} shown")
    assert "│ 0.013 │" in out


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="format 'xml': use one of table, csv"):
        emit(EXACT, "xml")
    assert FORMATS == ("table", "csv", "tsv", "json", "jsonl", "markdown")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipes") / "warehouse.duckdb"
    capture_days(path, 1)
    return path


def dpw(*args: str, code: int = 0, stdin: str | None = None):
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert result.exit_code == code, result.output
    return result


METRICS = "select * from daily_package_metrics order by snapshot_date, package_id limit 3"


def test_piped_sql_is_complete_csv_of_every_column_and_row(warehouse):
    with Warehouse(warehouse, read_only=True) as wh:
        expected = wh.query(METRICS)
    assert expected.height == 3 and expected.width > 30
    header, *rows = list(csv.reader(io.StringIO(dpw("sql", METRICS, "--warehouse", str(warehouse)).stdout)))
    assert header == expected.columns
    back = [[_value(v or None, dtype) for v, dtype in zip(row, expected.dtypes, strict=True)] for row in rows]
    assert back == [list(row) for row in expected.iter_rows()]


def test_sql_from_stdin_and_a_table_in_80_columns(warehouse, monkeypatch):
    out = dpw("sql", "-", "--format", "json", "--warehouse", str(warehouse), stdin=METRICS.replace(" ", "\n"))
    with Warehouse(warehouse, read_only=True) as wh:
        expected = wh.query(METRICS)
    assert [row["package_id"] for row in json.loads(out.stdout)] == expected["package_id"].to_list()
    assert dpw("sql", "-", "--warehouse", str(warehouse), stdin=" \n", code=2).stderr == (
        "error: no SQL on stdin (`dpw sql -` reads the query from it)\n"
    )
    monkeypatch.setenv("COLUMNS", "80")
    table = dpw("sql", METRICS, "--format", "table", "--warehouse", str(warehouse)).stdout
    assert f"{expected.width} columns, " in table.splitlines()[-1]
    assert len(table.splitlines()) < 20  # three rows, not thousands of lines of wrapped boxes


def test_explain_as_json_is_every_date_with_its_reason(warehouse):
    rows = json.loads(
        dpw("explain", "django-postpone-index", "--format", "json", "--warehouse", str(warehouse)).stdout
    )
    with Warehouse(warehouse, read_only=True) as wh:
        stored = wh.query(
            "SELECT snapshot_date, activity_score, recency FROM daily_package_metrics "
            "WHERE package_id = 6278 ORDER BY snapshot_date"
        )
    assert [(r["snapshot_date"], r["activity_score"], r["recency"]) for r in rows] == [
        (d.isoformat(), score, recency) for d, score, recency in stored.iter_rows()
    ]
    assert all(r["slug"] == "django-postpone-index" and r["reason"] for r in rows)


def test_version_is_the_installed_distributions():
    assert dpw("--version").stdout == f"dpw {metadata.version('django-packages-warehouse')}\n"


@pytest.mark.parametrize(
    "args", [["sql", "select 1"], ["ingest", "--date", "2026-05-01"], ["demo", "--days", "1"]]
)
def test_a_malformed_url_setting_is_one_line_naming_it_and_exit_2(monkeypatch, args):
    monkeypatch.setenv("DPW_PYPI_URL", "htp:/x")
    result = dpw(*args, code=2)
    assert result.stdout == ""
    assert result.stderr == (
        "error: DPW_PYPI_URL: 'htp:/x' is not a base URL with a scheme and a host, such as https://host or "
        "http://127.0.0.1:8000\n"
    )


def test_a_relative_dagster_home_is_one_line_naming_it(monkeypatch, tmp_path):
    monkeypatch.setenv("DAGSTER_HOME", "relative/home")
    result = dpw("demo", "--days", "1", "--warehouse", str(tmp_path / "w.duckdb"), code=2)
    assert result.stderr == (
        "error: DAGSTER_HOME: 'relative/home' is not an absolute path to an existing directory\n"
    )


def test_the_demo_records_its_run_in_dagster_home_and_its_hints_name_the_warehouse(monkeypatch, tmp_path):
    home, path = tmp_path / "dagster", tmp_path / "my warehouse.duckdb"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    out = dpw("demo", "--days", "1", "--warehouse", str(path)).stdout
    with Warehouse(path, read_only=True) as wh:
        run_id, day = wh.row("SELECT run_id, snapshot_date FROM ingest_runs")
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert [(r.run_id, r.job_name, r.tags["dagster/partition"], r.status) for r in runs] == [
            (run_id, "daily_job", day.isoformat(), dg.DagsterRunStatus.SUCCESS)
        ]
    assert f"  .venv/bin/dpw query --list --warehouse '{path}'" in out.splitlines()
    # Runs after this one, in an instance of their own, are untouched by the one opened and closed here.
    monkeypatch.delenv("DAGSTER_HOME")

    @dg.asset
    def one() -> int:
        return 1

    assert dg.materialize([one]).success
