"""Asset checks generated from the pandera table models: a partition must match its contract before it is
staged, and a blocking check keeps a failing date from being published."""

from __future__ import annotations

import dagster as dg
import polars as pl

from warehouse.contracts import TABLE_MODELS, validate


def check_name(table: str, asset: str | None = None) -> str:
    # An asset that is its table has one contract; a raw asset writes rows of two shared tables.
    return "matches_contract" if asset is None else f"{table}_match_contract"


def check_key(table: str, asset: str | None = None) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(dg.AssetKey(asset or table), check_name(table, asset))


def contract_check_spec(table: str, asset: str | None = None) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=check_name(table, asset),
        asset=asset or table,
        # Rows that break their contract must not flow on into scores, marts or the published date.
        blocking=True,
        description=f"Every row of the partition passes the {TABLE_MODELS[table].__name__} model.",
    )


def contract_check_result(table: str, frame: pl.DataFrame, asset: str | None = None) -> dg.AssetCheckResult:
    """Validate a partition lazily: all failing rows and checks are reported, not the first."""
    model = TABLE_MODELS[table]
    key, name = asset or table, check_name(table, asset)
    try:
        failures = validate(model, frame.select(list(model.to_schema().columns))).failures
    except (ValueError, pl.exceptions.ColumnNotFoundError) as err:
        return dg.AssetCheckResult(asset_key=key, check_name=name, passed=False, metadata={"error": str(err)})
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=name,
        passed=failures.height == 0,
        metadata={
            "rows": frame.height,
            "failing_rows": failures.get_column("row").n_unique(),
            "failures": dg.MetadataValue.md(
                "\n".join(f"- row {r}: {reason}" for r, _, reason in failures.head(20).iter_rows()) or "none"
            ),
        },
    )
