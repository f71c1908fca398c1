"""The partitioning of every asset: one partition per snapshot date (UTC)."""

from __future__ import annotations

from datetime import date

import dagster as dg

# end_offset=1 makes today's partition exist during today: raw for a date can only be captured on that date.
daily_partitions = dg.DailyPartitionsDefinition(start_date="2016-01-01", end_offset=1)


def partition_date(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def table_spec(table: str, description: str, deps: list, group: str) -> dg.AssetSpec:
    """A DuckDB table written by polars code, one partition per snapshot date."""
    return dg.AssetSpec(
        table,
        description=description,
        deps=deps,
        partitions_def=daily_partitions,
        group_name=group,
        kinds={"duckdb", "polars"},
    )
