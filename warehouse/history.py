"""Tables that summarise the whole history, kept up to date one published date at a time.

Every run publishes its date through `warehouse.staging.publish`, which calls `refresh` in the same
transaction, after the date's rows are replaced: a reader never sees a date without what follows from it.
Each step refreshes only what the date can change (a window around it, never all history), and
`rebuild` recomputes every step from the stored history. Only `Warehouse` calls it: when a writer opens the
file and applies a migration numbered FIRST_MIGRATION or later (the one that created the first history table,
or any since), so an older warehouse upgrades with every row accounted for. `dpw backfill` does not rebuild:
it recomputes each date through the recompute job, whose publication refreshes that date like any run's.

A step is a module with `TABLES` (the tables it owns), `refresh(wh, day)` and `rebuild(wh)`.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from warehouse import attributes, marts, stitching

if TYPE_CHECKING:
    from warehouse.store import Warehouse

# In dependency order: marts may read the stitched weeks and the attribute history.
STEPS = (stitching, attributes, marts)
# The first migration that creates a history table: applying it (or a later one) rebuilds the steps.
FIRST_MIGRATION = 3


def tables() -> tuple[str, ...]:
    return tuple(table for step in STEPS for table in step.TABLES)


def refresh(wh: Warehouse, day: date) -> None:
    with wh.transaction():
        for step in STEPS:
            step.refresh(wh, day)


def rebuild(wh: Warehouse) -> None:
    with wh.transaction():
        for step in STEPS:
            step.rebuild(wh)
