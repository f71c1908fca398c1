"""The README's section "The public SQL contract" is the contract users read: it must list exactly the tables
and views a migrated warehouse has, with their columns in order, so no column joins or leaves unannounced."""

from __future__ import annotations

import re
from pathlib import Path

from warehouse.store import VIEWS, Warehouse, migrations

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## The public SQL contract"
# The ledger of applied migrations: bookkeeping, not something users query.
INTERNAL = {"schema_migrations"}

Contract = list[tuple[str, list[str]]]


def readme_contract(text: str) -> Contract:
    """(name, columns) from the section's fenced block: ``name: col, col`` lines, indented lines continuing
    the one above."""
    if SECTION not in text:
        raise AssertionError(f"README.md has no section {SECTION!r}")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```text\n(.*?)```", section, re.S)
    if block is None:
        raise AssertionError(f"README.md's section {SECTION!r} has no ```text block of columns")
    entries: list[str] = []
    for line in block.group(1).splitlines():
        if line.startswith((" ", "\t")) and entries:
            entries[-1] += " " + line.strip()
        elif line.strip():
            entries.append(line.strip())
    contract = []
    for entry in entries:
        name, sep, columns = entry.partition(":")
        if not sep:
            raise AssertionError(f"README.md's contract line {entry!r} is not `name: column, column`")
        contract.append((name.strip(), [c.strip() for c in columns.split(",") if c.strip()]))
    return contract


def database_contract(wh: Warehouse) -> Contract:
    """Views in the order the store creates them, then tables in the order the migrations create them."""
    rows = wh.conn.execute(
        "SELECT table_name, list(column_name ORDER BY ordinal_position) FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = 'main' GROUP BY table_name"
    ).fetchall()
    columns = {name: cols for name, cols in rows if name not in INTERNAL}
    created = [m.group(1) for _, _, sql in migrations() for m in re.finditer(r"CREATE TABLE (\w+)", sql)]
    order = [*VIEWS, *(t for t in created if t in columns)]
    # Anything the two orders miss still shows up, at the end, so the comparison names it.
    order += sorted(set(columns) - set(order))
    return [(name, columns[name]) for name in order]


def difference(readme: Contract, database: Contract) -> str:
    """What differs, in words; empty when the two agree in names, their order and every column list."""
    said, found = dict(readme), dict(database)
    problems = []
    if missing := [n for n in found if n not in said]:
        problems.append(f"in the database, not the README: {', '.join(missing)}")
    if extra := [n for n in said if n not in found]:
        problems.append(f"in the README, not the database: {', '.join(extra)}")
    for name in (n for n in found if n in said and said[n] != found[n]):
        problems.append(
            f"{name}: README lists {', '.join(said[name])}; the database has {', '.join(found[name])}"
        )
    if not problems and [n for n, _ in readme] != [n for n, _ in database]:
        problems.append(
            f"order: README {', '.join(n for n, _ in readme)}; expected {', '.join(n for n, _ in database)}"
        )
    return "\n".join(problems)


def test_the_readme_contract_matches_a_migrated_warehouse(warehouse: Warehouse) -> None:
    database = database_contract(warehouse)
    assert [n for n, _ in database[: len(VIEWS)]] == list(VIEWS) and "guard_results" in dict(database)
    gap = difference(readme_contract(README.read_text(encoding="utf-8")), database)
    assert gap == "", f"README.md's section {SECTION!r} and the warehouse differ:\n{gap}"


def test_a_difference_is_named_column_by_column(warehouse: Warehouse) -> None:
    database = database_contract(warehouse)
    readme = [(n, [c for c in cols if c != "listed"]) for n, cols in database if n != "guard_results"]
    readme.append(("downloads", ["package_id"]))
    assert difference(readme, database).splitlines() == [
        "in the database, not the README: guard_results",
        "in the README, not the database: downloads",
        "packages: README lists "
        + ", ".join(dict(database)["packages"][:-1])
        + "; the database has "
        + ", ".join(dict(database)["packages"]),
        "categories: README lists category_id, slug, title, title_plural, description, show_pypi, created_at, "
        "modified_at, last_seen_date; the database has category_id, slug, title, title_plural, description, "
        "show_pypi, created_at, modified_at, last_seen_date, listed",
        "grids: README lists grid_id, slug, title, description, is_locked, header, created_at, modified_at, "
        "last_seen_date; the database has grid_id, slug, title, description, is_locked, header, created_at, "
        "modified_at, last_seen_date, listed",
    ]
    swapped = [database[1], database[0], *database[2:]]
    assert difference(swapped, database).startswith("order: README categories, packages, grids")


def test_a_table_added_without_a_readme_line_is_named(warehouse: Warehouse) -> None:
    warehouse.conn.execute("CREATE TABLE downloads (snapshot_date DATE, package_id BIGINT)")
    gap = difference(readme_contract(README.read_text(encoding="utf-8")), database_contract(warehouse))
    assert gap == "in the database, not the README: downloads"


def test_the_readme_block_is_parsed_with_continuation_lines() -> None:
    text = (
        f"intro\n{SECTION}\n\nwords\n\n```text\na: x, y,\n    z\nb: w\n```\n\n## Next\n\n```text\nc: q\n```\n"
    )
    assert readme_contract(text) == [("a", ["x", "y", "z"]), ("b", ["w"])]
