"""Named SQL queries shipped in ``warehouse/sql/``: the saved questions behind ``dpw query``.

Each file starts with a header of ``-- key: value`` lines:

    -- title: Newly dormant packages
    -- description: the question it answers
    -- param: limit int 10 how many rows
    -- param: names str[] required PyPI names
    -- columns: slug, stars, status
    -- example: dpw query newly_dormant --param days=30

``columns`` names the result's columns in order (a test runs every query and compares), ``example`` is a
command line to copy. A query with a date window reads only that window: history grows by a day a day, and a
question about the last month must not cost more every month.

A kind ending in ``[]`` is a list, given comma-separated (``names=django-filter,celery``) and bound as a
DuckDB list. The default ``null`` leaves the value to the query; ``required`` makes it mandatory.
Parameters are bound by DuckDB (``$limit`` in the SQL), never pasted into the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable

SQL_PACKAGE = "warehouse.sql"
_PARAM = re.compile(r"^--\s*param:\s*(\w+)\s+((?:int|float|str|date)(?:\[\])?)\s+(\S+)\s*(.*)$")
_FIELD = re.compile(r"^--\s*(title|description|columns|example):\s*(.+)$")
# Without these a query cannot be listed or checked: `_parse` refuses a file that lacks one.
REQUIRED = ("title", "description", "columns", "example")
_CASTS: dict[str, Callable[[str], object]] = {
    "int": int,
    "float": float,
    "str": str,
    "date": date.fromisoformat,
}


class QueryError(Exception):
    pass


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    default: str  # "null": no value, the query decides (for example the latest date); "required": none
    help: str

    def parse(self, text: str) -> object:
        if text == "null":
            return None
        item = self.kind.removesuffix("[]")
        if item == self.kind:
            return self._cast(item, text)
        # Empty items (a trailing comma, spaces) are dropped: they name nothing.
        return [self._cast(item, part.strip()) for part in text.split(",") if part.strip()]

    def _cast(self, kind: str, text: str) -> object:
        try:
            return _CASTS[kind](text)
        except ValueError as err:
            raise QueryError(f"parameter {self.name}: {text!r} is not a valid {kind}") from err


@dataclass(frozen=True)
class NamedQuery:
    name: str
    title: str
    description: str
    params: tuple[Param, ...]
    columns: tuple[str, ...]
    example: str
    sql: str

    def bind(self, given: dict[str, str]) -> dict[str, object]:
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise QueryError(
                f"query {self.name} has no parameter {unknown[0]!r}; it takes {sorted(known) or 'none'}"
            )
        missing = [p.name for p in self.params if p.default == "required" and p.name not in given]
        if missing:
            raise QueryError(f"query {self.name} needs --param {missing[0]}=<{known[missing[0]].kind}>")
        return {name: p.parse(given.get(name, p.default)) for name, p in known.items()}


def load(name: str) -> NamedQuery:
    """The shipped query called ``name``. The name is looked up among the catalog's files, never joined
    into a path: ``/etc/x``, ``../x`` or ``x.sql`` would otherwise run any SQL file the user can name."""
    catalog = _catalog()
    if name not in catalog:
        if re.search(r"[./\\]", name):
            raise QueryError(
                f"{name!r} looks like a path or file name: `dpw query` runs only the catalog's named queries; "
                "`dpw query --list` shows them"
            )
        raise QueryError(f"no query named {name!r} in the catalog; `dpw query --list` shows them")
    return _parse(name, catalog[name].read_text(encoding="utf-8"))


def available() -> list[NamedQuery]:
    return [_parse(name, entry.read_text(encoding="utf-8")) for name, entry in sorted(_catalog().items())]


def _catalog() -> dict[str, Traversable]:
    return {
        entry.name.removesuffix(".sql"): entry
        for entry in resources.files(SQL_PACKAGE).iterdir()
        if entry.name.endswith(".sql")
    }


def _parse(name: str, text: str) -> NamedQuery:
    fields: dict[str, str] = {}
    params = []
    for line in text.splitlines():
        if m := _FIELD.match(line):
            fields[m.group(1)] = m.group(2).strip()
        elif m := _PARAM.match(line):
            params.append(Param(*m.groups()))
    missing = [key for key in REQUIRED if key not in fields]
    if missing:
        raise QueryError(f"query {name} has no `-- {missing[0]}:` line in its header")
    return NamedQuery(
        name=name,
        title=fields["title"],
        description=fields["description"],
        params=tuple(params),
        columns=tuple(c.strip() for c in fields["columns"].split(",")),
        example=fields["example"],
        sql=text,
    )
