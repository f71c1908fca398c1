"""The partitioning of every asset (one partition per snapshot date, UTC) and the metadata of its tables."""

from __future__ import annotations

from datetime import date

import dagster as dg

from warehouse.contracts import TABLE_MODELS

# The first snapshot date unless DPW_FIRST_DATE says otherwise: the day the shipped sample bundle's records
# were first fetched, before every date the tests and the demo capture. A date before the first partition can
# never be captured (sources only tell "now"), so an early default only lists dates nobody can fill.
DEFAULT_FIRST_DATE = date(2026, 2, 15)


def daily_partitions_from(first: date) -> dg.DailyPartitionsDefinition:
    # end_offset=1 makes today's partition exist during today: raw for a date can only be captured on that date.
    return dg.DailyPartitionsDefinition(start_date=first.isoformat(), end_offset=1)


# What the assets are declared with; the code location rebinds them to the configured first date.
daily_partitions = daily_partitions_from(DEFAULT_FIRST_DATE)


def partition_date(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def column_schema(table: str) -> dg.TableSchema:
    """The table's columns as its pandera model defines them: the one source of its schema."""
    columns = TABLE_MODELS[table].to_schema().columns
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name,
                str(column.dtype),
                description=column.description,
                constraints=dg.TableColumnConstraints(nullable=column.nullable, unique=column.unique),
            )
            for name, column in columns.items()
        ]
    )


def table_metadata(table: str, rows: int | None = None) -> dict[str, dg.TableSchema | int]:
    """Dagster's column schema of ``table`` and, for a materialization, its row count."""
    metadata: dict[str, dg.TableSchema | int] = {"dagster/column_schema": column_schema(table)}
    if rows is not None:
        metadata["dagster/row_count"] = rows
    return metadata


def table_spec(table: str, description: str, deps: list, group: str) -> dg.AssetSpec:
    """A DuckDB table written by polars code, one partition per snapshot date."""
    return dg.AssetSpec(
        table,
        description=description,
        deps=deps,
        partitions_def=daily_partitions,
        group_name=group,
        kinds={"duckdb", "polars"},
        metadata=table_metadata(table),
    )
