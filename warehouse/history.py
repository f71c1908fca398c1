"""Tables that summarise the whole history, kept up to date one published date at a time.

Every run publishes its date through `warehouse.staging.publish`, which calls `refresh` in the same
transaction, after the date's rows are replaced: a reader never sees a date without what follows from it.
Each step refreshes only what the date can change (a window around it, never all history), and
`rebuild` recomputes steps from the stored history. Only `Warehouse` calls it: when a writer opens the file
and applies a migration that made or changed a step's tables (the step's `MIGRATIONS`), so an older warehouse
upgrades with every row accounted for. `dpw backfill` does not rebuild:
it recomputes each date through the recompute job, whose publication refreshes that date like any run's.

A step is a module with `TABLES` (the tables it owns), `INPUTS` (the published tables it reads, each with the
columns it reads or None for all), `MIGRATIONS`, `refresh(wh, day)` and `rebuild(wh)`. A publication that
leaves the columns a step reads as they were for its date (a recompute with nothing new to say; a rescore,
for the stitched weeks) does not refresh it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING

from warehouse import attributes, marts, stitching

if TYPE_CHECKING:
    from warehouse.store import Warehouse

# In dependency order: marts may read the stitched weeks and the attribute history.
STEPS = (stitching, attributes, marts)


def tables() -> tuple[str, ...]:
    return tuple(table for step in STEPS for table in step.TABLES)


def refresh(wh: Warehouse, day: date, changed: Mapping[str, Collection[str]] | None = None) -> None:
    """Refresh what publishing ``day`` changes: every step, or (``changed``: each table whose rows of ``day``
    the publication changed, with the columns that changed) the steps that read one of those columns."""
    touched = None if changed is None else {table: set(columns) for table, columns in changed.items()}
    with wh.transaction():
        for step in STEPS:
            if touched is None or _reads(step.INPUTS, touched):
                step.refresh(wh, day)
                if touched is not None:  # a later step reading them would follow
                    touched.update({table: set(wh.columns(table)) for table in step.TABLES})


def _reads(inputs: Mapping[str, Collection[str] | None], changed: Mapping[str, set[str]]) -> bool:
    """Whether a step reading ``inputs`` (table -> its columns read, None: all) reads a changed column."""
    return any(
        table in changed and (columns is None or bool(changed[table] & set(columns)))
        for table, columns in inputs.items()
    )


def rebuild(wh: Warehouse, migrated: Iterable[int] | None = None) -> list[str]:
    """Rebuild every step (``migrated`` None), or the first step one of the ``migrated`` versions made or
    changed and every step after it (a later step may read an earlier one's tables); return the tables
    rebuilt. A migration no step names (raw storage, the run ledger) rebuilds nothing: at a year of 50,000
    packages a rebuild takes about 20 minutes."""
    versions = None if migrated is None else set(migrated)
    first = next(
        (i for i, step in enumerate(STEPS) if versions is None or versions & set(step.MIGRATIONS)), len(STEPS)
    )
    with wh.transaction():
        for step in STEPS[first:]:
            step.rebuild(wh)
    return [table for step in STEPS[first:] for table in step.TABLES]
