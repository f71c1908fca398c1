"""Turn raw source records (JSON text as received) into typed rows, repairing what is odd but usable
and quarantining what is not.

No record may stop a day, so nothing here is strict. Each payload is read into one cell per field: the
value's JSON type and its text. Python's ``json`` is the reference reader (it keeps every value: integers
of any size, NaN, lone surrogates, the last copy of a key given twice), but reading value by value in
Python is most of a day's parse, so the payloads that DuckDB's JSON reader reads exactly as Python would
(nearly all of them) are read in bulk by DuckDB, and only the others by Python (``_cells_of_payloads``;
tests/warehouse/test_bulk_cells.py compares the two). Everything after that is polars, driven by the policy
tables below:
each field's rule reads its cell non-strictly and says whether the value is usable, usable after a
repair (control characters stripped, credentials removed, non-strings dropped from a list), or unusable.
An unusable required field rejects the record with a reason naming the field; an unusable optional one
becomes null and is flagged in ``repairs``, like every repair. The typed rows then pass the table's pandera
model (every failure reported), whose failures are rejected as well.
"""

from __future__ import annotations

import functools
import gc
import json
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, ParamSpec, TypeVar

import duckdb
import pandera.polars as pa
import polars as pl
import pyarrow  # type: ignore[import-untyped]

from warehouse import contracts, identifiers
from warehouse.scoring import sanitize_weeks

P = ParamSpec("P")
R = TypeVar("R")

Kind = Literal[
    "int", "text", "name", "url", "bool", "timestamp", "link", "links", "strings", "weeks", "object"
]


@dataclass(frozen=True)
class Field:
    column: str
    # JSON path: dotted keys; ``a.b[].c`` reads ``c`` from every element of the list ``a.b``.
    key: str
    kind: Kind
    required: bool = False
    resource: str = ""  # for link fields: the API resource the hyperlink points to
    minimum: int | None = None  # for int fields
    max_chars: int = 0  # for text, names, URLs and list entries; 0: the kind's default
    comma_list: bool = False  # for strings: a comma-separated string is the list too (API v3, old dumps)


@dataclass(frozen=True)
class Parsed:
    accepted: pl.DataFrame  # typed rows, valid for the table's model
    rejected: pl.DataFrame  # rejected_records rows
    repaired: int  # accepted rows that carry at least one repair

    @property
    def counts(self) -> dict[str, int]:
        return {
            "fetched": self.accepted.height + self.rejected.height,
            "accepted": self.accepted.height,
            "repaired": self.repaired,
            "rejected": self.rejected.height,
        }


# Integers a float holds exactly: a larger count or id is not a faithful reading of anything, and keeps every
# sum and product downstream inside Int64.
MAX_INTEGER = 2**53
# Nothing the sources record precedes the Unix epoch; an earlier time is a placeholder, not a date.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_DEFAULT_MAX_CHARS = {"text": 10_000, "name": 200, "url": 2_000, "strings": 200}
# Schemes a repository, documentation or PyPI link may use; anything else (javascript:, file:, data:,
# ftp:) is not a link a reader should follow. Links without a scheme (a bare PyPI name, git@host:path) pass.
URL_SCHEMES = ("http", "https", "git", "ssh", "git+https", "git+ssh")
_ANSI = r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
_CONTROLS = rf"{_ANSI}|\p{{Cc}}"
_CONTROLS_BUT_LINES = rf"{_ANSI}|[\p{{Cc}}--[\t\n\r]]"  # free text keeps its tabs and line breaks
_CREDENTIALS = r"(?i)^([a-z][a-z0-9+.-]*://)[^/?#@\s]*:[^/?#@\s]*@"
_SCHEME = r"^([A-Za-z][A-Za-z0-9+-]*):"

# --------------------------------------------------------------------------------------------------------
# Reading payloads into cells
# --------------------------------------------------------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", dict: "object", list: "array"}


def _int_or_float(digits: str) -> int | float:
    # Python refuses to convert integers of over 4,300 digits (and to print them); any integer this long is
    # out of range anyway, and a float keeps it readable as one.
    limit = sys.get_int_max_str_digits()  # 0: no limit
    return int(digits) if not limit or len(digits) <= limit else float(digits)


class _Pause:
    """How many threads are inside ``gc_paused``, and whether the collector was on before the first came."""

    lock = threading.Lock()
    depth = 0
    was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cycle collector off while documents are decoded and read: JSON makes no cycles, and every
    collection would walk the millions of objects a day's documents are, again and again. The collector
    is one per process: sources parsed in threads at once keep it off until the last one is done."""
    with _Pause.lock:
        if _Pause.depth == 0:
            _Pause.was_enabled = gc.isenabled()
            gc.disable()
        _Pause.depth += 1
    try:
        yield
    finally:
        with _Pause.lock:
            _Pause.depth -= 1
            if _Pause.depth == 0 and _Pause.was_enabled:
                gc.enable()


def without_gc(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` run with the cycle collector off (``gc_paused``) until it has returned, so that the
    documents it decoded are freed (by reference counting) before the collector runs again: re-enabled
    while they are alive, its first collections would walk them all."""

    @functools.wraps(function)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        with gc_paused():
            return function(*args, **kwargs)

    return paused


def decode_all(payloads: Iterable[str | None]) -> list[tuple[Any, str | None]]:
    """``decode`` of every payload."""
    with gc_paused():
        return [decode(payload) for payload in payloads]


def decode(payload: str | None) -> tuple[Any, str | None]:
    """(the JSON object, None), or (None, why the payload is not one)."""
    if payload is None:
        return None, "payload: missing"
    try:
        try:
            # The C scanner reads integers itself unless told otherwise; only an integer too long for
            # int() (a plain ValueError, not a JSONDecodeError) needs the slower reading that keeps it.
            doc = json.loads(payload)
        except json.JSONDecodeError:
            raise
        except ValueError:
            doc = json.loads(payload, parse_int=_int_or_float)
    except (ValueError, RecursionError) as err:
        return None, f"payload: not JSON ({str(err)[:80]})"
    if not isinstance(doc, dict):
        return None, f"payload: not a JSON object (a JSON {_json_type(doc)})"
    return doc, None


def _json_type(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), "unknown")


def _text(value: Any) -> tuple[str | None, bool]:
    """A value as text (a string as itself, anything else as compact JSON) and whether a lone surrogate, which
    has no UTF-8 form, was replaced by U+FFFD."""
    if value is None:
        return None, False
    kind = type(value)
    if kind is str:
        text = value
    elif kind is int:  # what json.dumps writes for an int, without its encoder
        return str(value), False
    elif kind is bool:
        return ("true" if value else "false"), False
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if text.isascii():  # no surrogate can hide in ASCII text
        return text, False
    fixed = _SURROGATE.sub("\ufffd", text)
    return fixed, fixed != text


@dataclass(frozen=True)
class _Path:
    head: tuple[str, ...]
    item: tuple[str, ...] | None  # the path inside each list element, for ``a[].b`` keys

    @classmethod
    def of(cls, key: str) -> _Path:
        head, sep, item = key.partition("[]")
        return cls(_parts(head), _parts(item) if sep else None)


def _parts(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.split(".") if part)


def _walk(value: Any, parts: tuple[str, ...]) -> tuple[str, Any]:
    """(JSON type, value) at ``parts``; a path that runs into a non-object has the type ``shape``."""
    for depth, part in enumerate(parts):
        if value is None:
            return "null", None
        if not isinstance(value, dict):
            where = ".".join(parts[:depth])
            return "shape", f"{where} is {_text(value)[0]}" if where else _text(value)[0]
        value = value.get(part)
    return _json_type(value), value


Cell = tuple[str, str | None, list[str | None] | None, bool]


def _cell(doc: Any, path: _Path, listed: bool, untold: str | None = None) -> Cell:
    """One field's cell: its JSON type, its text, for lists (``listed``: a links or strings field) the text of
    every element (null where the element is not a string), and whether a lone surrogate was replaced.

    A value of the JSON type ``untold`` has no text: the field's rule never reads it (an object's whole JSON,
    for a field that only asks whether it is one; a list read element by element), and writing it out is
    most of the cost. A list still counts a lone surrogate anywhere in it as replaced."""
    kind, value = _walk(doc, path.head)  # a missing document is "null" all the way down
    if kind == "shape":
        return kind, value, None, False
    return _cell_of(kind, value, path, listed, untold)


def _cell_of(kind: str, value: Any, path: _Path, listed: bool, untold: str | None) -> Cell:
    if kind != untold:
        text, fixed = _text(value)
    elif kind == "array":
        text, fixed = None, _text(value)[1]
    else:
        text, fixed = None, False
    items = None
    if listed and kind == "array":
        items = []
        for element in value:
            item_kind, item = _walk(element, path.item) if path.item else (_json_type(element), element)
            item_text, item_fixed = _text(item) if item_kind == "string" else (None, False)
            items.append(item_text)
            fixed = fixed or item_fixed
    return kind, text, items, fixed


# The JSON type whose text a kind's rule never reads (see _cell).
_UNTOLD = {"object": "object", "links": "array", "strings": "array"}
_OFF_PATH = object()  # a document that is not an object down a field's path (see _walk)


def _field_cells(
    docs: list[Any], f: Field, values_at: Callable[[tuple[str, ...]], list[Any]]
) -> list[pl.Series]:
    """The four cell columns of field ``f`` for every document, as ``_cell`` gives them, with the common
    cases (objects down the path to a string, integer, boolean or null) read in bulk. ``values_at``: every
    document's value at a path, ``_OFF_PATH`` where the path runs into something that is not an object."""
    path = _Path.of(f.key)
    listed = f.kind in ("links", "strings")
    untold = _UNTOLD.get(f.kind)
    values = values_at(path.head)
    texts = [
        value
        if type(value) is str and value.isascii()
        else None
        if value is None
        else str(value)
        if type(value) is int
        else ("true" if value else "false")
        if type(value) is bool
        else _OFF_PATH
        for value in values
    ]
    kinds = [_PLAIN_KINDS.get(type(value), "") for value in values]
    items: list[list[str | None] | None] = [None] * len(values)
    fixed = [False] * len(values)
    for i in [i for i, text in enumerate(texts) if text is _OFF_PATH]:
        value = values[i]
        if value is _OFF_PATH:
            cell = _cell(docs[i], path, listed, untold)
        elif type(value) is list and listed and path.item is None and all(type(e) is str for e in value):
            # A list of strings: a surrogate can only be in its elements, so the list needs no writing out.
            elements = [e if e.isascii() else _text(e)[0] for e in value]
            replaced = any(not e.isascii() and _text(e)[1] for e in value)
            cell = ("array", None, elements, replaced)
        else:
            cell = _cell_of(_json_type(value), value, path, listed, untold)
        kinds[i], texts[i], items[i], fixed[i] = cell
    return [
        pl.Series(f"_t_{f.column}", kinds, dtype=pl.String),
        pl.Series(f"_x_{f.column}", texts, dtype=pl.String),
        _string_lists(f"_i_{f.column}", items)
        if listed
        else pl.Series(f"_i_{f.column}", dtype=pl.List(pl.String)).extend_constant(None, len(items)),
        pl.Series(f"_f_{f.column}", fixed, dtype=pl.Boolean),
    ]


_PLAIN_KINDS = {str: "string", type(None): "null", int: "integer", bool: "boolean"}


def _string_lists(name: str, lists: list[list[str | None] | None]) -> pl.Series:
    """A List(String) column, built as one Arrow array (polars builds a Series per list otherwise)."""
    offsets, flat, absent = [0], [], []
    for entries in lists:
        if entries is None:
            absent.append(True)
        else:
            absent.append(False)
            flat.extend(entries)
        offsets.append(len(flat))
    array = pyarrow.LargeListArray.from_arrays(
        pyarrow.array(offsets, pyarrow.int64()),
        pyarrow.array(flat, pyarrow.large_string()),
        mask=pyarrow.array(absent, pyarrow.bool_()),
    )
    return pl.Series(name, array).cast(pl.List(pl.String))


def read_cells(docs: Iterable[Any], fields: list[Field]) -> pl.DataFrame:
    """The cells of ``fields`` for each decoded document (None for a record that is not one): per field
    ``_t_`` its JSON type, ``_x_`` its text, ``_i_`` its elements' texts, ``_f_`` whether one was fixed."""
    walked: dict[tuple[str, ...], list[Any]] = {(): list(docs)}

    def values_at(parts: tuple[str, ...]) -> list[Any]:
        # Fields under one object (info.version, info.license, ...) walk to it once.
        if parts not in walked:
            walked[parts] = [
                value.get(parts[-1]) if type(value) is dict else _OFF_PATH for value in values_at(parts[:-1])
            ]
        return walked[parts]

    documents = walked[()]
    return pl.DataFrame([series for f in fields for series in _field_cells(documents, f, values_at)])


# --------------------------------------------------------------------------------------------------------
# Reading cells in bulk: DuckDB's JSON reader, for the payloads it reads exactly as Python's
# --------------------------------------------------------------------------------------------------------

# DuckDB's reader (yyjson) refuses more than Python's does, and a payload it refuses goes to Python, which
# says why. It is laxer in three ways, so a payload that may show one goes to Python as well: a lone
# surrogate's escape (an error in DuckDB; escaped pairs go along), a trailing comma (DuckDB accepts it)
# and nesting past Python's recursion limit (DuckDB reads it): deeper than _BULK_MAX_DEPTH.
_BULK_SUSPECT = r"\\u[dD][89a-fA-F]|,[ \t\n\r]*[\]}]"
_BULK_MAX_DEPTH = 200
# DuckDB writes an array of integers (of a size no float rounds) and nulls as Python's compact JSON does;
# any other array a rule reads as text is written out by Python.
_BULK_WEEKS = r"^\[(?:(?:-?\d{1,15}|null)(?:,(?:-?\d{1,15}|null))*)?\]$"
# The JSON types whose text DuckDB gives as Python's _text does.
BULK_PLAIN = ("VARCHAR", "BIGINT", "UBIGINT", "BOOLEAN", "NULL")
# DuckDB's JSON types as Python's (_json_type); a missing key reads as null in both.
BULK_KINDS = {
    "VARCHAR": "string",
    "BIGINT": "integer",
    "UBIGINT": "integer",
    "BOOLEAN": "boolean",
    "NULL": "null",
    "DOUBLE": "number",
    "OBJECT": "object",
    "ARRAY": "array",
}


def bulk_candidates(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``frame`` whose ``payload`` DuckDB may read as Python would (it must still be JSON to
    DuckDB): none of the leniencies above, nesting no deeper than _BULK_MAX_DEPTH."""
    payload = pl.col("payload")
    frame = frame.filter(payload.is_not_null() & ~payload.str.contains(_BULK_SUSPECT))
    # Counting brackets bounds the depth; only a payload with many is measured, outside its strings.
    many = frame.filter(payload.str.count_matches("[\\[{]") > _BULK_MAX_DEPTH)
    deep = many.filter(
        payload.str.replace_all(r'"(?:[^"\\]|\\.)*"', "")
        .str.extract_all(r"[\[\]{}]")
        .list.eval(pl.element().is_in(["[", "{"]).cast(pl.Int32).mul(2).sub(1).cum_sum().max())
        .list.first()
        > _BULK_MAX_DEPTH
    )
    return frame.join(deep.select("_row"), on="_row", how="anti", maintain_order="left")


def json_path(parts: Sequence[str], prefix: str = "$") -> str:
    """A DuckDB JSON path as an SQL literal."""
    return "'" + (prefix + "".join(f'."{part}"' for part in parts)).replace("'", "''") + "'"


def distinct_keys(key_lists: Sequence[str]) -> str:
    """SQL: true unless a key comes twice in one of the key lists (each an SQL list of key lists or of
    keys) ``key_lists``. DuckDB reads the first copy of a key, Python the last."""
    keys = f"flatten([{', '.join(key_lists)}])" if key_lists else "[]"
    return f"coalesce(list_bool_and(list_transform({keys}, lambda k: len(k) = len(list_distinct(k)))), true)"


@functools.cache
def _bulk_reader() -> duckdb.DuckDBPyConnection:
    """The in-memory DuckDB that bulk reads run in, a cursor each: opening a database costs 16 ms, and a
    recompute reads nine times. One thread: a query then runs on its caller's thread alone, and the
    sources are parsed at the same time, a thread each (assets.core), so a second DuckDB thread per parse
    only competed with them (at 50,000 packages a recompute took 0.5 s longer with it)."""
    return duckdb.connect(config={"threads": 1})


def _bulk_cells(payloads: pl.Series, fields: list[Field]) -> pl.DataFrame:
    """``_row`` (the payload's position) and the cells of ``fields``, as ``read_cells`` gives them, of
    each payload that DuckDB reads exactly as Python and whose cells need nothing written out by Python.
    The other payloads are Python's to read: anything not JSON or unusual, a key given twice in an object
    a path passes through, a path through a value that is not an object, a float or a nested value where a
    rule reads its text."""
    paths = [_Path.of(f.key) for f in fields]
    parents = sorted({p.head[:depth] for p in paths for depth in range(len(p.head))})
    # Each json_ call reads the whole payload, so each reads every path it can in one go: the JSON types of
    # the fields and of the objects on their paths, the fields' texts (an array's is its compact JSON, read
    # again for its elements below), the keys of the objects on the paths.
    types = ", ".join(json_path(p.head) for p in paths)
    # An object's text is never read (see _cell), and a PyPI document's releases are most of it.
    told = [i for i, f in enumerate(fields) if f.kind != "object"]
    texts = ", ".join(json_path(paths[i].head) for i in told)
    objects = ", ".join(json_path(p) for p in parents)
    lists = [i for i, f in enumerate(fields) if f.kind in ("links", "strings")]
    elements, strings = [], []
    for i in lists:
        item = paths[i].item or ()
        at = json_path(item, "$[*]")
        # the array's compact JSON, where the value is an array (a string's text is no JSON)
        array = f"(CASE WHEN _types[{len(parents) + i + 2}] = 'ARRAY' THEN _texts[{told.index(i) + 1}] END)"
        elements += [
            f"json_type({array}, {at}) AS _item_types_{i}",
            f"json_extract_string({array}, {at}) AS _item_texts_{i}",
            # An element without the item path gives DuckDB no value and Python a null; the elements
            # themselves (no item path) always have one, and pass through no object.
            (
                f"coalesce(len(json_type({array}, {at})) = json_array_length({array}), true) AND "
                + distinct_keys(
                    [f"json_keys({array}, {json_path(item[:d], '$[*]')})" for d in range(len(item))]
                )
                if item
                else "true"
            )
            + f" AS _items_ok_{i}",
        ]
        # the text of each element (at its item path) that is a string, else null
        strings.append(
            f"list_transform(_item_texts_{i}, lambda x, j: CASE WHEN _item_types_{i}[j] = 'VARCHAR' "
            f"THEN x END) AS _items_{i}"
        )
    candidates = bulk_candidates(
        pl.DataFrame({"payload": payloads}, schema={"payload": pl.String}).with_row_index("_row")
    )
    conn = _bulk_reader().cursor()
    try:
        conn.register("candidates", candidates)
        # The types first: try() is null where DuckDB finds no JSON, and the rest reads only the others. A
        # CASE, not a WHERE: DuckDB pushes a filter into the scan and then reads the types a second time.
        read = conn.sql(
            f"SELECT {', '.join(['*', *strings])} FROM (SELECT {', '.join(['*', *elements])} FROM ("
            f"SELECT _row, _types, CASE WHEN _types IS NOT NULL THEN json_extract_string(payload, [{texts}]) "
            f"END AS _texts, CASE WHEN _types IS NOT NULL THEN json_keys(payload, [{objects}]) END AS _keys "
            f"FROM (SELECT _row, payload, try(json_type(payload, ['$', {objects}, {types}])) AS _types "
            "FROM candidates)))"
        ).pl()
    finally:
        conn.close()
    accepted = [
        (pl.col("_types").list.first() == "OBJECT").fill_null(False),  # null: no JSON to DuckDB
        pl.col("_types")
        .list.slice(1, len(parents))
        .list.eval(pl.element().is_null() | pl.element().is_in(["OBJECT", "NULL"]))
        .list.all(),
        # No key twice in an object on a path (DuckDB reads the first copy, Python the last), counted here:
        # DuckDB's list_distinct took longer than reading the keys.
        *(
            (keys.list.len() == keys.list.n_unique()).fill_null(True)
            for keys in (pl.col("_keys").list.get(j) for j in range(len(parents)))
        ),
    ]
    cells = []
    for i, f in enumerate(fields):
        text = pl.col("_texts").list.get(told.index(i)) if i in told else pl.lit(None, pl.String)
        items = (pl.col(f"_items_{i}"), pl.col(f"_items_ok_{i}")) if i in lists else None
        readable, cell = bulk_cell(pl.col("_types").list.get(1 + len(parents) + i), text, f, items)
        accepted.append(readable)
        cells += cell
    return read.filter(pl.all_horizontal(accepted)).select("_row", *cells)


def bulk_cell(
    duck: pl.Expr, text: pl.Expr, f: Field, items: tuple[pl.Expr, pl.Expr] | None = None
) -> tuple[pl.Expr, list[pl.Expr]]:
    """Whether DuckDB's reading of field ``f`` (the JSON type ``duck`` of its value and its text, for a
    list field the texts of its string elements and whether they were read as Python reads them) is
    Python's cell, and that cell's four columns (see read_cells)."""
    plain = duck.is_null() | duck.is_in(BULK_PLAIN)
    if f.kind == "object":  # its text is never read, so an object is all a rule reads in bulk
        plain = duck.is_null() | duck.is_in(["OBJECT", "NULL"])
    if f.kind == "weeks":
        plain |= (duck == "ARRAY") & text.str.contains(_BULK_WEEKS)
    if items is not None:
        plain |= (duck == "ARRAY") & items[1]
    untold = duck.is_in(["OBJECT", "ARRAY"]) & (f.kind != "weeks")
    return plain, [
        duck.replace_strict(BULK_KINDS, default=None, return_dtype=pl.String)
        .fill_null("null")
        .alias(f"_t_{f.column}"),
        pl.when(~untold & (duck != "NULL")).then(text).alias(f"_x_{f.column}"),
        (pl.when(duck == "ARRAY").then(items[0]) if items else pl.lit(None, pl.List(pl.String))).alias(
            f"_i_{f.column}"
        ),
        pl.lit(False).alias(f"_f_{f.column}"),
    ]


def _cells_of_payloads(payloads: pl.Series, fields: list[Field]) -> tuple[pl.DataFrame, pl.Series]:
    """The cells of ``fields`` for every payload (``read_cells``), read in bulk where DuckDB reads them as
    Python would (``_bulk_cells``) and by Python otherwise, and ``_unreadable``: why a payload is not a JSON
    object (``decode``), else null."""
    bulk = _bulk_cells(payloads, fields)
    rest = (
        pl.DataFrame({"payload": payloads}, schema={"payload": pl.String})
        .with_row_index("_row")
        .join(bulk.select("_row"), on="_row", how="anti")
    )
    decoded = decode_all(rest.get_column("payload").to_list())
    cells = pl.concat(
        [bulk, read_cells((doc for doc, _ in decoded), fields).insert_column(0, rest.get_column("_row"))]
    ).sort("_row")
    why = pl.DataFrame(
        {"_row": rest.get_column("_row"), "_unreadable": [why for _, why in decoded]},
        schema={"_row": pl.UInt32, "_unreadable": pl.String},
    )
    unreadable = cells.select("_row").join(why, on="_row", how="left").get_column("_unreadable")
    return cells.drop("_row"), unreadable


# --------------------------------------------------------------------------------------------------------
# Judging cells: one rule per kind
# --------------------------------------------------------------------------------------------------------


def _clean(text: pl.Expr, *, keep_lines: bool = False) -> pl.Expr:
    """Text without terminal escape sequences and control characters (NUL, ESC, DEL, C1)."""
    return text.str.replace_all(_CONTROLS_BUT_LINES if keep_lines else _CONTROLS, "")


# A UTC time as GitHub and PyPI write it, up to microseconds: read apart from the rest (see parse_timestamp).
# ([0-9], not \d, which in polars is any Unicode digit: the fraction is cast as ASCII digits.)
_PLAIN_UTC = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?Z$"


def parse_timestamp(text: pl.Expr) -> pl.Expr:
    """ISO-8601 with an offset or ``Z`` as UTC; naive values are America/New_York local time (the API
    before djangopackages set USE_TZ on 2026-01-29)."""
    # Most texts are plain UTC times. Their seconds are read by polars' own parser of a fixed format and
    # their fraction as digits: a format with a fraction or an offset goes through chrono, value by value,
    # at several times the cost. Only the other texts are read the general way.
    plain = text.str.contains(_PLAIN_UTC)
    fraction = text.str.slice(20).str.strip_suffix("Z").str.pad_end(6, "0").cast(pl.Int64, strict=False)
    utc = pl.when(plain).then(text.str.slice(0, 19)).str.to_datetime(
        "%Y-%m-%dT%H:%M:%S", time_zone="UTC", strict=False
    ) + pl.duration(microseconds=fraction)
    return pl.coalesce(utc, _timestamp(pl.when(~plain).then(text)))


def _timestamp(text: pl.Expr) -> pl.Expr:
    # Each text is parsed once or twice, not three times: a "Z" right after the seconds is the offset +00:00,
    # and only a text that ends without an offset can be local time (a text ending in one never parses so).
    aware = text.str.replace(r"(\d)Z$", "${1}+00:00").str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%:z", time_zone="UTC", strict=False
    )
    naive = (
        pl.when(~text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$"))
        .then(text)
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False)
        .dt.replace_time_zone("America/New_York", ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )
    return pl.coalesce(aware, naive)


def _latest_credible(snapshot_date: date) -> datetime:
    """The latest time a record of ``snapshot_date`` can truthfully carry: the end of that UTC day. Anything
    later is unknown, never the future: a commit in 2099 must not raise a score."""
    return datetime.combine(snapshot_date, time(0), tzinfo=UTC) + timedelta(days=1)


@dataclass(frozen=True)
class _Judged:
    value: pl.Expr  # the typed value; only used where problem is null
    problem: pl.Expr  # why the value is unusable (words for "{key}: {problem} ({text})"), else null
    repairs: tuple[pl.Expr, ...]  # notes on what was repaired, each null when nothing was
    # Intermediate columns the expressions above read, computed before them, one step after another: an
    # expression used twice would otherwise be planned and evaluated twice, and a nested one (the cleaned
    # text inside every condition) many times over.
    steps: tuple[pl.Expr, ...] = ()


def _judge(f: Field, latest: datetime) -> _Judged:
    kind, text = pl.col(f"_t_{f.column}"), pl.col(f"_x_{f.column}")
    items, fixed = pl.col(f"_i_{f.column}"), pl.col(f"_f_{f.column}")
    present = kind != "null"
    is_string = kind == "string"
    max_chars = f.max_chars or _DEFAULT_MAX_CHARS.get(f.kind, 0)

    def note(condition: pl.Expr, words: str, *args: pl.Expr) -> pl.Expr:
        words = f"{f.key}: {words}"
        return pl.when(condition).then(pl.format(words, *args) if args else pl.lit(words))

    steps: list[pl.Expr] = []

    def keep(expr: pl.Expr, name: str) -> pl.Expr:
        """``expr`` as a column computed once, in a step before the ones that read it."""
        column = f"_k_{f.column}_{name}"
        steps.append(expr.alias(column))
        return pl.col(column)

    surrogates = note(fixed, "lone surrogates replaced by U+FFFD")
    # Every kind builds these its own way: a chain of conditions, a list or a tuple of notes.
    problem: pl.Expr
    repairs: Sequence[pl.Expr]
    match f.kind:
        case "int":
            stripped = keep(text.str.strip_chars(), "stripped")
            number = keep(stripped.cast(pl.Float64, strict=False), "number")
            numeric = keep(
                kind.is_in(["integer", "number"])
                | (is_string & stripped.str.contains(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")),
                "numeric",
            )
            fraction = number.is_nan() | (number.is_finite() & (number != number.floor()))
            huge = number.is_infinite() | (number.abs() > MAX_INTEGER)
            value = keep(
                pl.coalesce(stripped.cast(pl.Int64, strict=False), number.cast(pl.Int64, strict=False)),
                "value",
            )
            low = value < f.minimum if f.minimum is not None else pl.lit(False)
            problem = (
                pl.when(present & (~numeric | fraction))
                .then(pl.lit("not an integer"))
                .when(present & huge)
                .then(pl.lit("out of range"))
                .when(present & low)
                .then(pl.lit(f"below {f.minimum}"))
            )
            converted = note(numeric & (kind != "integer"), "the {} {} read as an integer", kind, text)
            return _Judged(value, problem, (converted,), tuple(steps))
        case "bool":
            problem = pl.when(present & (kind != "boolean")).then(pl.lit("not true or false"))
            return _Judged(text == "true", problem, ())
        case "text" | "name" | "url":
            cleaned = keep(_clean(text, keep_lines=f.kind == "text"), "cleaned")
            controls = cleaned.str.len_chars() < text.str.len_chars()
            credentials = cleaned.str.contains(_CREDENTIALS) if f.kind == "url" else pl.lit(False)
            if f.kind == "url":
                cleaned = keep(cleaned.str.replace(_CREDENTIALS, "${1}"), "uncredentialed")
            blank = keep(cleaned.str.strip_chars() == "", "blank")
            length = keep(cleaned.str.len_chars(), "length")
            too_long = length > max_chars
            problem = (
                pl.when(present & ~is_string)
                .then(pl.lit("not text"))
                .when(blank & (text.str.strip_chars() != ""))
                .then(pl.lit("nothing but control characters"))
            )
            if f.kind != "text":  # a name or link cut short would name something else
                problem = problem.when(too_long).then(pl.lit(f"longer than {max_chars:,} characters"))
            if f.kind == "url":
                scheme = keep(cleaned.str.extract(_SCHEME, 1).str.to_lowercase(), "scheme")
                problem = problem.when(scheme.is_not_null() & ~scheme.is_in(URL_SCHEMES)).then(
                    pl.format("not a web or repository address (scheme {})", scheme)
                )
            repairs = [
                surrogates,
                note(controls, "control characters removed"),
                note(credentials, "credentials removed"),
            ]
            if f.kind == "text":
                repairs.append(note(too_long, "cut to {} of {} characters", pl.lit(max_chars), length))
                cleaned = cleaned.str.slice(0, max_chars)
            return _Judged(pl.when(~blank).then(cleaned), problem, tuple(repairs), tuple(steps))
        case "timestamp":
            stripped = keep(pl.when(is_string).then(text.str.strip_chars()), "stripped")
            moment = keep(parse_timestamp(stripped), "moment")
            problem = (
                pl.when(present & moment.is_null())
                .then(pl.lit("not an ISO-8601 time"))
                .when(moment > latest)
                .then(pl.lit("after the snapshot date"))
                .when(moment < EARLIEST)
                .then(pl.lit("before 1970"))
            )
            return _Judged(moment, problem, (), tuple(steps))
        case "link":
            value = keep(identifiers.linked_id(pl.when(is_string).then(text), f.resource), "id")
            problem = pl.when(present & value.is_null()).then(pl.lit("not a link to an API resource"))
            return _Judged(value, problem, (surrogates,), tuple(steps))
        case "links":
            ids = keep(items.list.eval(identifiers.linked_id(pl.element(), f.resource)), "ids")
            problem = pl.when(present & (kind != "array")).then(
                pl.lit("not a list of links to API resources")
            )
            unlinked = ids.list.len() - ids.list.drop_nulls().list.len()
            dropped = note(
                unlinked > 0, "{} entries that are not links to {} dropped", unlinked, pl.lit(f.resource)
            )
            return _Judged(ids.list.drop_nulls(), problem, (dropped,), tuple(steps))
        case "strings":
            entry = pl.element()
            commas = is_string & (text.str.strip_chars() != "") if f.comma_list else pl.lit(False)
            entries = keep(
                pl.when(kind == "array").then(items).when(commas).then(text.str.split(",")), "entries"
            )
            cleaned = entries.list.eval(_clean(entry).str.strip_chars())
            kept = keep(
                cleaned.list.eval(
                    entry.filter(entry.is_not_null() & (entry != "") & (entry.str.len_chars() <= max_chars))
                ),
                "kept",
            )
            usable = (kind == "array") | (is_string & pl.lit(f.comma_list))
            problem = pl.when(present & ~usable).then(pl.lit("not a list of strings"))
            dropped = entries.list.len() - kept.list.len()
            repairs = (
                surrogates,
                note(commas, "read from a comma-separated string"),
                note(
                    entries.list.eval(entry.str.contains(_CONTROLS)).list.any(), "control characters removed"
                ),
                note(
                    dropped > 0,
                    "{} of {} entries dropped (not a string, blank or over {} characters)",
                    dropped,
                    entries.list.len(),
                    pl.lit(max_chars),
                ),
            )
            return _Judged(kept, problem, repairs, tuple(steps))
        case "weeks":
            usable = kind.is_in(["array", "string"])
            info = keep(sanitize_weeks(pl.when(usable).then(text)), "weeks")
            problem = pl.when(present & ~usable).then(pl.lit("not a list of weekly counts"))
            repaired = note(
                info.struct.field("repaired"),
                "repaired (received {} entries{}, {} invalid counts set to unknown)",
                info.struct.field("raw_len"),
                pl.when(info.struct.field("was_string"))
                .then(pl.lit(" as a comma-separated string"))
                .otherwise(pl.lit("")),
                info.struct.field("n_invalid"),
            )
            return _Judged(info.struct.field("weeks"), problem, (repaired,), tuple(steps))
        case "object":
            # Only whether it is one: its text is not read (see _cell), its fields are their own Fields.
            problem = pl.when(present & (kind != "object")).then(pl.lit("not an object"))
            return _Judged(pl.when(kind == "object").then(pl.lit(True)), problem, ())
    raise ValueError(f"unknown field kind {f.kind!r}")


def _judge_cells(cells: pl.DataFrame, fields: list[Field], snapshot_date: date) -> pl.DataFrame:
    """One typed column per field, ``_reasons`` (why the record is unusable: an unusable required field) and
    ``repairs`` (what was repaired, and the optional fields that were unusable and stored as null)."""
    latest = _latest_credible(snapshot_date)
    judged = [(f, _judge(f, latest)) for f in fields]
    frame = cells
    # Each field's intermediate columns, step by step (a field's step reads only its earlier ones), then its
    # value, problem and repair notes once each, then the rows' typed columns and lists of words.
    for depth in range(max((len(j.steps) for _, j in judged), default=0)):
        frame = frame.with_columns(j.steps[depth] for _, j in judged if depth < len(j.steps))
    frame = frame.with_columns(
        expr
        for f, j in judged
        for expr in (
            j.value.alias(f"_v_{f.column}"),
            j.problem.alias(f"_p_{f.column}"),
            *(r.alias(f"_r_{f.column}_{i}") for i, r in enumerate(j.repairs)),
        )
    )
    typed, reasons, repairs = [], [], []
    for f, j in judged:
        kind, text = pl.col(f"_t_{f.column}"), pl.col(f"_x_{f.column}")
        problem = pl.col(f"_p_{f.column}")
        # Shown only where the field is unusable: cleaning every text (most rows) cost more than judging it.
        shown = _clean(pl.when(problem.is_not_null()).then(text)).str.slice(0, 80)
        typed.append(pl.when(problem.is_null()).then(pl.col(f"_v_{f.column}")).alias(f.column))
        if f.required:
            missing = (kind == "null") | ((kind == "string") & (text.str.strip_chars() == ""))
            reasons.append(
                pl.when(missing)
                .then(pl.lit(f"{f.key}: missing"))
                .otherwise(pl.format(f"{f.key}: {{}} ({{}})", problem, shown))
            )
        else:
            repairs.append(pl.format(f"{f.key}: {{}} ({{}}); stored as null", problem, shown))
        repairs.extend(
            pl.when(problem.is_null()).then(pl.col(f"_r_{f.column}_{i}")) for i in range(len(j.repairs))
        )
    scratch = frame.columns  # the cells and everything computed from them so far
    return frame.with_columns(
        *typed, _notes(frame, reasons, "_reasons"), _notes(frame, repairs, "repairs")
    ).drop(scratch)


def _notes(frame: pl.DataFrame, notes: list[pl.Expr], name: str) -> pl.Series:
    """Each row's ``notes`` (expressions over ``frame``, null where a row has none to say) that are not
    null, as a list, built for the rows that have one only: a list built for every row cost about 2 µs a row
    per note, most of judging half a million release files."""
    if not notes:
        return frame.select(pl.repeat([], frame.height, dtype=pl.List(pl.String)).alias(name)).to_series()
    row = "_note_row"
    noted = frame.with_row_index(row).filter(pl.any_horizontal(note.is_not_null() for note in notes))
    built = noted.select(row, pl.concat_list(notes).list.drop_nulls().alias(name))
    return (
        pl.DataFrame({row: pl.int_range(frame.height, dtype=pl.UInt32, eager=True)})
        .join(built, on=row, how="left", maintain_order="left")
        .get_column(name)
        .fill_null(pl.lit([], pl.List(pl.String)))
    )


@without_gc
def read_records(
    raw: pl.DataFrame,
    fields: list[Field],
    snapshot_date: date,
    cells: pl.DataFrame | None = None,
    texts: pl.Series | None = None,
) -> pl.DataFrame:
    """The raw records' columns (``record_key``, ``payload``, ...), one typed column per field, ``_reasons``
    and ``repairs``; a payload that is not a JSON object has that as its only reason. ``cells``: the
    records' cells (``read_cells``) read already, for a caller whose records are not payloads. ``texts``:
    what the fields are read from instead of each payload, one per record, each read by Python exactly as
    its payload is (a document cut down to the parts the fields read: reading costs what the text is long)."""
    if cells is None:
        read_from = raw.get_column("payload") if texts is None else texts
        cells, unreadable = _cells_of_payloads(read_from, fields)
    else:
        unreadable = pl.Series("_unreadable", dtype=pl.String).extend_constant(None, raw.height)
    frame = _judge_cells(cells, fields, snapshot_date)
    return pl.concat([raw, frame], how="horizontal").with_columns(
        pl.when(unreadable.is_not_null())
        .then(pl.concat_list(pl.lit(unreadable)))
        .otherwise(pl.col("_reasons"))
        .alias("_reasons"),
        pl.lit(snapshot_date).alias("snapshot_date"),
    )


def quarantine(
    frame: pl.DataFrame,
    *,
    snapshot_date: date,
    source: str,
    model: type[pa.DataFrameModel],
    key: str,
    exact: pl.Expr | None = None,
) -> Parsed:
    """Split read records (``record_key``, ``payload``, ``_reasons``, ``repairs`` and the model's columns) into
    the rows ``model`` accepts and ``rejected_records`` rows for the others, keyed by column ``key``.

    Of the copies of one key, one is kept: a readable copy before one with reasons to reject it, then one
    whose key came as sent (``exact``: 9001, not "9001" or 9001.0) before one whose key was converted, then
    the first. Raw is read back in ``record_key`` order, where an id and the same id as a string tie, so the
    choice cannot rest on position alone: the same raw must give the same rows, in any order of ties.
    """
    # The listing is newest-first and paged, so a record can come twice, and an id in several forms.
    rank = (
        pl.when(pl.col("_reasons").list.len() > 0).then(2).otherwise(0)
        + pl.when(pl.lit(True) if exact is None else exact).then(0).otherwise(1)
    ).cast(pl.Int64) * pl.len() + pl.int_range(pl.len())
    frame = frame.with_columns(rank.alias("_copy_rank"))
    duplicate = pl.col(key).is_not_null() & (pl.col("_copy_rank") != pl.col("_copy_rank").min().over(key))
    frame = frame.with_columns(
        pl.when(duplicate)
        .then(pl.col("_reasons").list.concat(pl.lit([f"{key}: duplicate of an earlier record"])))
        .otherwise(pl.col("_reasons"))
        .alias("_reasons")
    ).drop("_copy_rank")
    columns = list(model.to_schema().columns)
    readable = frame.filter(pl.col("_reasons").list.len() == 0).with_row_index("row")
    result = contracts.validate(model, readable.select(columns))
    failures = result.failures.group_by("row", maintain_order=True).agg(
        pl.col("field").unique(maintain_order=True).alias("fields"),
        pl.col("reason").str.join("; ").alias("reasons"),
    )
    failed_rows = readable.join(failures, on="row", how="inner")
    unreadable = frame.filter(pl.col("_reasons").list.len() > 0).with_columns(
        pl.col("_reasons").list.eval(pl.element().str.extract(r"^([^:]+):", 1)).alias("fields"),
        pl.col("_reasons").list.join("; ").alias("reasons"),
    )
    rejected = pl.concat(
        [
            part.select(
                pl.lit(snapshot_date).alias("snapshot_date"),
                pl.lit(source).alias("source"),
                pl.col("record_key"),
                pl.col("fields").cast(pl.List(pl.String)),
                pl.col("reasons"),
                pl.col("payload"),
            )
            for part in (unreadable, failed_rows)
        ]
    )
    # Tables without a repairs column still count their repaired rows for the run's ledger.
    kept = readable.join(failures, on="row", how="anti")
    repaired = kept.filter(pl.col("repairs").list.len() > 0).height
    return Parsed(accepted=result.valid, rejected=rejected, repaired=repaired)


@without_gc
def parse_records(
    raw: pl.DataFrame,
    fields: list[Field],
    *,
    snapshot_date: date,
    source: str,
    model: type[pa.DataFrameModel],
    key: str,
    derive: tuple[pl.Expr, ...] = (),
) -> Parsed:
    """Parse ``raw`` (columns ``record_key``, ``payload``) into rows of ``model`` keyed by column ``key``.

    ``derive`` adds columns computed from the typed fields (identifiers parsed out of links).
    """
    frame = read_records(raw, fields, snapshot_date).with_columns(*derive)
    # The key as sent: no repair note on its field (an id given as "9001" or 9001.0 carries one).
    key_field = next((f for f in fields if f.column == key), None)
    exact = (
        None
        if key_field is None
        else ~pl.col("repairs").list.eval(pl.element().str.starts_with(f"{key_field.key}: ")).list.any()
    )
    return quarantine(frame, snapshot_date=snapshot_date, source=source, model=model, key=key, exact=exact)


# --------------------------------------------------------------------------------------------------------
# The djangopackages policy tables
# --------------------------------------------------------------------------------------------------------

PACKAGE_FIELDS = [
    Field("package_id", "id", "int", required=True, minimum=1),
    Field("slug", "slug", "name", required=True),
    Field("title", "title", "text", required=True, max_chars=500),
    Field("category_id", "category", "link", resource="categories"),
    Field("grid_ids", "grids", "links", resource="grids"),
    Field("repo_url", "repo_url", "url"),
    Field("pypi_version", "pypi_version", "name"),
    Field("documentation_url", "documentation_url", "url"),
    Field("repo_description", "repo_description", "text"),
    Field("stars", "repo_watchers", "int", required=True, minimum=0),
    Field("forks", "repo_forks", "int", required=True, minimum=0),
    Field("participants", "participants", "strings", comma_list=True),
    Field("commits_over_52", "commits_over_52", "weeks"),
    Field("last_updated_at", "last_updated", "timestamp"),
    Field("last_fetched_at", "last_fetched", "timestamp", required=True),
    Field("created_at", "created", "timestamp"),
    Field("modified_at", "modified", "timestamp"),
    # read only to derive identifiers below
    Field("_pypi_url", "pypi_url", "url"),
]

CATEGORY_FIELDS = [
    Field("category_id", "id", "int", required=True, minimum=1),
    Field("slug", "slug", "name", required=True),
    Field("title", "title", "text", required=True, max_chars=500),
    Field("title_plural", "title_plural", "text", max_chars=500),
    Field("description", "description", "text"),
    Field("show_pypi", "show_pypi", "bool"),
    Field("created_at", "created", "timestamp"),
    Field("modified_at", "modified", "timestamp"),
]

GRID_FIELDS = [
    Field("grid_id", "id", "int", required=True, minimum=1),
    Field("slug", "slug", "name", required=True),
    Field("title", "title", "text", required=True, max_chars=500),
    Field("description", "description", "text"),
    Field("is_locked", "is_locked", "bool"),
    Field("header", "header", "bool"),
    Field("created_at", "created", "timestamp"),
    Field("modified_at", "modified", "timestamp"),
]

# What grid_memberships reads from a grid: its id and the packages it links to.
_MEMBERSHIP_FIELDS = [
    Field("grid_id", "id", "int", minimum=1),
    Field("package_id", "packages", "links", resource="packages"),
]


def parse_packages(raw: pl.DataFrame, snapshot_date: date) -> Parsed:
    """Package snapshot rows from raw djangopackages package records."""
    return parse_records(
        raw,
        PACKAGE_FIELDS,
        snapshot_date=snapshot_date,
        source="djangopackages/packages",
        model=contracts.PackageSnapshot,
        key="package_id",
        derive=(
            identifiers.repo_host(pl.col("repo_url")).alias("repo_host"),
            identifiers.github_full_names(pl.col("repo_url")).alias("repo_full_name"),
            identifiers.pypi_names(pl.col("_pypi_url")).alias("pypi_name"),
        ),
    )


def parse_categories(raw: pl.DataFrame, snapshot_date: date) -> Parsed:
    """Category snapshot rows from raw djangopackages category records."""
    return parse_records(
        raw,
        CATEGORY_FIELDS,
        snapshot_date=snapshot_date,
        source="djangopackages/categories",
        model=contracts.CategorySnapshot,
        key="category_id",
    )


def parse_grids(raw: pl.DataFrame, snapshot_date: date) -> Parsed:
    """Grid snapshot rows from raw djangopackages grid records."""
    return parse_records(
        raw,
        GRID_FIELDS,
        snapshot_date=snapshot_date,
        source="djangopackages/grids",
        model=contracts.GridSnapshot,
        key="grid_id",
    )


@without_gc
def grid_memberships(packages: pl.DataFrame, raw_grids: pl.DataFrame, snapshot_date: date) -> pl.DataFrame:
    """(grid, package) pairs from both sides of the link: a package's ``grids`` and a grid's ``packages``.

    Only accepted packages appear, so every pair joins to a package row of the same date.
    """
    from_packages = packages.select(pl.col("grid_ids").alias("grid_id"), "package_id").explode("grid_id")
    from_grids = read_records(raw_grids, _MEMBERSHIP_FIELDS, snapshot_date).select("grid_id", "package_id")
    pairs = (
        pl.concat([from_packages, from_grids.explode("package_id")])
        .drop_nulls()
        .filter(pl.col("grid_id") >= 1)
        .unique()
        .sort("grid_id", "package_id")
    )
    return pairs.join(packages.select("package_id"), on="package_id", how="semi").select(
        pl.lit(snapshot_date).alias("snapshot_date"), "grid_id", "package_id"
    )
