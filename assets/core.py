"""Validated core tables: typed snapshots of each source's records, rejects quarantined with reasons.

Each is a pure function of the date's raw rows, so a past date recomputes without a request.
"""

from datetime import date

import dagster as dg
import polars as pl

from assets.checks import contract_check_result, contract_check_spec
from assets.partitions import partition_date, table_spec
from assets.raw import DJANGOPACKAGES_SOURCES, raw_djangopackages, raw_github, raw_pypi
from assets.resources import WarehouseResource
from warehouse import enrichment, parsing
from warehouse.raw import read_raw
from warehouse.store import Warehouse

CATALOG_TABLES = {
    "package_snapshots": "One row per package as djangopackages listed it on the date (typed, repairs flagged).",
    "category_snapshots": "One row per djangopackages category on the date.",
    "grid_snapshots": "One row per djangopackages grid on the date.",
    "grid_package_snapshots": "One row per (grid, accepted package) membership on the date.",
    "rejected_records": "One row per record that could not be used, with the failing fields, reasons and payload.",
}


def _write_and_check(
    wh: Warehouse, day: date, frames: dict[str, pl.DataFrame], scope: dict | None = None
) -> list[dg.AssetCheckResult]:
    """Write the partition in one transaction, then check what was stored against each contract."""
    wh.replace_partitions(day, frames, scope=scope)
    return [contract_check_result(table, wh.partition(table, day)) for table in frames]


@dg.multi_asset(
    specs=[table_spec(table, text, [raw_djangopackages], "core") for table, text in CATALOG_TABLES.items()],
    check_specs=[contract_check_spec(table) for table in CATALOG_TABLES],
)
def djangopackages_catalog(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    day = partition_date(context)
    with warehouse.open() as wh:
        packages = parsing.parse_packages(read_raw(wh, day, "djangopackages/packages"), day)
        categories = parsing.parse_categories(read_raw(wh, day, "djangopackages/categories"), day)
        raw_grids = read_raw(wh, day, "djangopackages/grids")
        grids = parsing.parse_grids(raw_grids, day)
        frames = {
            "package_snapshots": packages.accepted,
            "category_snapshots": categories.accepted,
            "grid_snapshots": grids.accepted,
            "grid_package_snapshots": parsing.grid_memberships(packages.accepted, raw_grids, day),
            "rejected_records": pl.concat([packages.rejected, categories.rejected, grids.rejected]),
        }
        checks = _write_and_check(
            wh, day, frames, scope={"rejected_records": ("source", DJANGOPACKAGES_SOURCES)}
        )
    for name, parsed in (("packages", packages), ("categories", categories), ("grids", grids)):
        context.log.info(f"{name}: {parsed.counts}")
    for table, frame in frames.items():
        metadata: dict[str, object] = {"rows": frame.height}
        if table == "package_snapshots":
            metadata.update({f"records_{k}": v for k, v in packages.counts.items()})
        yield dg.MaterializeResult(asset_key=table, metadata=metadata)
    yield from checks


@dg.multi_asset(
    specs=[
        table_spec(
            "repository_snapshots",
            "One row per GitHub repository linked from a package: its state and participation on the date.",
            [raw_github],
            "core",
        )
    ],
    check_specs=[contract_check_spec("repository_snapshots")],
)
def github_repositories(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    day = partition_date(context)
    with warehouse.open() as wh:
        frame = enrichment.parse_repositories(
            read_raw(wh, day, "github/repository"), read_raw(wh, day, "github/participation"), day
        )
        checks = _write_and_check(wh, day, {"repository_snapshots": frame})
    yield dg.MaterializeResult(
        asset_key="repository_snapshots",
        metadata={"rows": frame.height, "missing": frame.filter(pl.col("status") != "ok").height},
    )
    yield from checks


@dg.multi_asset(
    specs=[
        table_spec(
            "pypi_projects",
            "One row per PyPI project linked from a package: its latest metadata on the date.",
            [raw_pypi],
            "core",
        ),
        table_spec(
            "release_snapshots",
            "One row per released version of a linked PyPI project, as PyPI listed it on the date.",
            [raw_pypi],
            "core",
        ),
    ],
    check_specs=[contract_check_spec("pypi_projects"), contract_check_spec("release_snapshots")],
)
def pypi_releases(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    day = partition_date(context)
    with warehouse.open() as wh:
        projects, releases = enrichment.parse_pypi(read_raw(wh, day, "pypi/project"), day)
        checks = _write_and_check(wh, day, {"pypi_projects": projects, "release_snapshots": releases})
    yield dg.MaterializeResult(asset_key="pypi_projects", metadata={"rows": projects.height})
    yield dg.MaterializeResult(asset_key="release_snapshots", metadata={"rows": releases.height})
    yield from checks
