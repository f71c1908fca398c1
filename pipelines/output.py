"""What `dpw` prints from data, in one place: rows as a table, csv, tsv, json, jsonl or markdown.

A table is for a person at a terminal: it fits the terminal's width (saying how many columns it left out),
shows nulls as a dim NULL and every number as stored. The other formats are for programs and carry every
value exactly: numbers in their shortest exact form, dates and times ISO 8601, lists and structs as JSON
(csv, tsv), nulls as an empty csv field (an empty string is ``""``), ``\\N`` in tsv, ``null`` in json.

Whatever reaches a terminal goes through `safe`: the warehouse holds what strangers typed into
djangopackages.org, and a terminal obeys escape sequences. Sent to a pipe or a file, csv and tsv are the
data as stored; json is ASCII either way (every control and non-ASCII character a \\u escape).
"""

from __future__ import annotations

import json
import math
import re
import sys
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal, TextIO, get_args

import polars as pl
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

Format = Literal["table", "csv", "tsv", "json", "jsonl", "markdown"]
FORMATS: tuple[Format, ...] = get_args(Format)

# What a terminal acts on instead of showing: C0 controls (ESC starts a sequence, CR rewrites the line,
# BS erases), DEL and C1 controls (U+009B is a CSI by itself); and lone surrogates, which cannot be encoded,
# so printing one raises. Arguments bring those in: Python decodes bytes that are not UTF-8 to surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def safe(text: object, keep: str = "") -> str:
    """``text`` made fit for a terminal: each character `_UNSAFE` matches, except those in ``keep``, is
    written as its Python escape (ESC as ``\\x1b``, a surrogate as ``\\ud800``), so it is seen, not obeyed.
    Print the result as `Text` (or with markup off): a title ``[/]`` is data, not rich markup."""
    return _UNSAFE.sub(lambda m: m.group() if m.group() in keep else ascii(m.group())[1:-1], str(text))


def say(con: Console, *parts: str | tuple[str, str], keep: str = "") -> None:
    """Print one line of ``parts`` (text, or text and a style), each made safe. Not wrapped: an answer
    meant as one line stays one line at any width."""
    con.print(
        Text.assemble(*(safe(p, keep) if isinstance(p, str) else (safe(p[0], keep), p[1]) for p in parts)),
        soft_wrap=True,
    )


def default_format(out: TextIO | None = None) -> str:
    """A table for a person at a terminal, csv for whatever reads a pipe or a file."""
    return "table" if (out or sys.stdout).isatty() else "csv"


def emit(
    frame: pl.DataFrame,
    fmt: str | None = None,
    *,
    title: str | None = None,
    out: TextIO | None = None,
    whole: str = "--format csv or json",
) -> None:
    """Write ``frame`` to ``out`` (stdout) in ``fmt`` (one of `FORMATS`; None: `default_format`).
    ``title`` heads a table or markdown; the data formats carry only the data. A table too wide for the
    terminal says that ``whole`` (the calling command's way) shows every column."""
    out = out or sys.stdout
    fmt = fmt or default_format(out)
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "table":
        _table(frame, title, out, whole)
    elif fmt == "markdown":
        out.write(_markdown(frame, title))
    elif fmt in ("json", "jsonl"):
        rows = [plain(row) for row in frame.to_dicts()]
        # ensure_ascii (json's default) writes every control character and non-ASCII one as \uXXXX.
        out.write(
            json.dumps(rows, indent=2) + "\n"
            if fmt == "json"
            else "".join(json.dumps(row) + "\n" for row in rows)
        )
    else:
        text = as_text(frame).write_csv() if fmt == "csv" else _tsv(as_text(frame))
        # Escaping adds no separator, quote or newline, so the shape survives; a terminal gets no control.
        out.write(safe(text, keep="\t\n") if out.isatty() else text)


def plain(value: object) -> object:
    """``value`` as JSON holds it exactly: dates and times ISO 8601, decimals and durations as text (a
    JSON number would round them), NaN and infinities as the words JavaScript uses, bytes as hex."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def cell(value: object) -> str:
    """One value as text, as csv and tables show it: floats in their shortest exact form (0.013, 1e-300),
    booleans as true/false, lists and structs as JSON (unicode kept, control characters escaped)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | dict):
        return json.dumps(plain(value), ensure_ascii=False)
    plain_value = plain(value)
    return plain_value if isinstance(plain_value, str) else repr(plain_value)


def _cast_by_polars(dtype: pl.DataType) -> bool:
    # Polars writes these as `cell` would (floats shortest, Float32 too, dates ISO) and much faster.
    return dtype.is_numeric() or dtype in (pl.String, pl.Boolean, pl.Date, pl.Categorical, pl.Null)


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every column as text (`cell`), nulls still null."""
    return pl.DataFrame(
        [
            column.cast(pl.String)
            if _cast_by_polars(column.dtype)
            else pl.Series(column.name, [None if v is None else cell(v) for v in column.to_list()], pl.String)
            for column in frame.iter_columns()
        ],
        schema={name: pl.String for name in frame.columns},
    )


# The linear tsv convention (PostgreSQL's text COPY, ClickHouse's TabSeparated): a row is one line, so
# cut, sort and awk work on it, and nothing is lost: tab, newline, CR and backslash are escaped, null is \N.
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _tsv(text: pl.DataFrame) -> str:
    def field(value: str | None) -> str:
        return "\\N" if value is None else value.translate(_TSV_ESCAPES)

    lines = [text.columns, *text.iter_rows()]
    return "".join("\t".join(field(v) for v in line) + "\n" for line in lines)


def _markdown(frame: pl.DataFrame, title: str | None) -> str:
    def field(value: str | None) -> str:
        return "" if value is None else safe(value, keep="\n").replace("|", "\\|").replace("\n", "<br>")

    rows = [frame.columns, *as_text(frame).iter_rows()]
    lines = ["| " + " | ".join(field(v) for v in row) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("---:" if d.is_numeric() else "---" for d in frame.dtypes) + "|")
    return (f"**{field(title)}**\n\n" if title else "") + "\n".join(lines) + "\n"


# When the columns do not all fit, how wide each is counted as at most while choosing how many to show: a
# long text folds onto more lines (never cut) rather than push every other column off the screen.
FOLD_AT = 40
# What rich draws around each column (a space each side and a rule), and the table's left edge.
_COLUMN_FRAME, _TABLE_EDGE = 3, 1


def _widths(natural: list[int], headers: list[int], room: int) -> list[int]:
    """How wide to draw the first columns that fit in ``room`` (at least one, folded if it must be):
    all of them as wide as their values when they fit, else each counted at most `FOLD_AT` (or its
    header) and the room left over given back to the folded ones, left to right."""
    room -= _TABLE_EDGE
    if sum(n + _COLUMN_FRAME for n in natural) <= room:
        return natural
    widths: list[int] = []
    for n, header in zip(natural, headers, strict=True):
        width = max(header, min(n, FOLD_AT))
        if widths and sum(widths) + (len(widths) + 1) * _COLUMN_FRAME + width > room:
            break
        widths.append(min(width, max(1, room - _COLUMN_FRAME)))
    spare = room - sum(widths) - len(widths) * _COLUMN_FRAME
    for i, n in enumerate(natural[: len(widths)]):
        grown = min(n, widths[i] + max(0, spare))
        spare -= grown - widths[i]
        widths[i] = max(widths[i], grown)
    return widths


def _table(frame: pl.DataFrame, title: str | None, out: TextIO, whole: str) -> None:
    console = Console(file=out, highlight=False)
    cells = [[None if v is None else safe(v) for v in col] for col in as_text(frame).iter_columns()]
    headers = [cell_len(safe(name)) for name in frame.columns]
    natural = [
        max(h, max((cell_len(v) for v in values if v is not None), default=0))
        for h, values in zip(headers, cells, strict=True)
    ]
    widths = _widths(natural, headers, console.width)
    shown = len(widths)
    table = Table(title=None if title is None else Text(safe(title)))
    for name, width in zip(frame.columns, widths, strict=False):
        table.add_column(
            Text(safe(name)),
            justify="right" if frame.schema[name].is_numeric() else "left",
            overflow="fold",
            max_width=width,
        )
    null = Text("NULL", style="dim")
    for row in zip(*cells[:shown], strict=True):
        table.add_row(*(null if v is None else Text(v) for v in row))
    console.print(table)
    if shown < frame.width:
        console.print(
            Text(
                f"{frame.width} columns, {shown} shown (the terminal is {console.width} wide); "
                f"{whole} shows them all"
            ),
            soft_wrap=True,
        )
