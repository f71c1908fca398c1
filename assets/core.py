"""Validated core tables: typed snapshots of each source's records, rejects quarantined with reasons.

Each is a pure function of the date's raw rows, so a past date recomputes without a request. Every frame
is checked against its contract before it is staged; the run publishes the date only when all checks pass.
"""

from collections.abc import Collection
from datetime import date

import dagster as dg
import polars as pl

from assets.checks import contract_check_result, contract_check_spec
from assets.partitions import partition_date, table_metadata, table_spec
from assets.raw import DJANGOPACKAGES_SOURCES, raw_djangopackages, raw_forges, raw_github, raw_pypi
from assets.resources import WarehouseResource
from assets.staging import staged
from warehouse import enrichment, parsing
from warehouse.enrichment import FORGE_SOURCES
from warehouse.raw import read_raw
from warehouse.store import Warehouse

CATALOG_TABLES = {
    "package_snapshots": "One row per package as djangopackages listed it on the date (typed, repairs flagged).",
    "category_snapshots": "One row per djangopackages category on the date.",
    "grid_snapshots": "One row per djangopackages grid on the date.",
    "grid_package_snapshots": "One row per (grid, accepted package) membership on the date.",
    "rejected_records": "One row per record that could not be used, with the failing fields, reasons and payload.",
}


def check_and_stage(
    wh: Warehouse,
    day: date,
    frames: dict[str, pl.DataFrame],
    scope: dict | None = None,
    *,
    reported: Collection[str],
) -> list[dg.AssetCheckResult]:
    """Check every frame against its contract, then stage the partition in one transaction; nothing is
    written when a frame fails (its blocking check stops the run before anything is published).

    The checks of the ``reported`` tables are returned for the asset to yield; a table this step does not
    own (its rejects, in the catalog's ``rejected_records``) cannot carry its check, so a failure there
    fails the step instead.
    """
    checks = {table: contract_check_result(table, frame) for table, frame in frames.items()}
    if all(check.passed for check in checks.values()):
        wh.replace_partitions(day, frames, scope=scope)
    foreign = [table for table, check in checks.items() if table not in reported and not check.passed]
    if foreign:
        raise dg.Failure(f"{', '.join(foreign)}: rows fail their contract; nothing was staged for {day}")
    return [checks[table] for table in reported]


def materializations(
    frames: dict[str, pl.DataFrame], extra: dict[str, dict] | None = None
) -> list[dg.MaterializeResult]:
    return [
        dg.MaterializeResult(
            asset_key=table, metadata={**table_metadata(table, frame.height), **(extra or {}).get(table, {})}
        )
        for table, frame in frames.items()
    ]


@dg.multi_asset(
    specs=[table_spec(table, text, [raw_djangopackages], "core") for table, text in CATALOG_TABLES.items()],
    check_specs=[contract_check_spec(table) for table in CATALOG_TABLES],
)
def djangopackages_catalog(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    day = partition_date(context)
    with staged(context, warehouse) as wh:
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
        checks = check_and_stage(
            wh,
            day,
            frames,
            scope={"rejected_records": ("source", DJANGOPACKAGES_SOURCES)},
            reported=list(CATALOG_TABLES),
        )
    for name, parsed in (("packages", packages), ("categories", categories), ("grids", grids)):
        context.log.info(f"{name}: {parsed.counts}")
    yield from materializations(
        frames, {"package_snapshots": {f"records_{k}": v for k, v in packages.counts.items()}}
    )
    yield from checks


GITHUB_TABLES = {
    "repository_snapshots": "One row per GitHub repository linked from a package: its state and participation on the date.",
}


@dg.multi_asset(
    specs=[table_spec(table, text, [raw_github], "core") for table, text in GITHUB_TABLES.items()],
    check_specs=[contract_check_spec("repository_snapshots")],
)
def github_repositories(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    day = partition_date(context)
    with staged(context, warehouse) as wh:
        parsed = enrichment.parse_repositories(
            read_raw(wh, day, "github/repository"), read_raw(wh, day, "github/participation"), day
        )
        frames = {"repository_snapshots": parsed.accepted}
        checks = check_and_stage(
            wh,
            day,
            {**frames, "rejected_records": parsed.rejected},
            scope={"rejected_records": ("source", ["github/repository"])},
            reported=list(GITHUB_TABLES),
        )
    accepted = parsed.accepted
    yield from materializations(
        frames,
        {
            "repository_snapshots": {
                "rejected": parsed.rejected.height,
                "not_ok": accepted.filter(pl.col("status") != "ok").height,
            }
        },
    )
    yield from checks


FORGE_TABLES = {
    "forge_repository_snapshots": "One row per GitLab project and Bitbucket repository linked from a package: "
    "its last activity on the date, or that it is gone.",
}


@dg.multi_asset(
    specs=[table_spec(table, text, [raw_forges], "core") for table, text in FORGE_TABLES.items()],
    check_specs=[contract_check_spec("forge_repository_snapshots")],
)
def forge_repositories(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    day = partition_date(context)
    with staged(context, warehouse) as wh:
        parsed = enrichment.parse_forges(
            {host: read_raw(wh, day, source) for host, source in FORGE_SOURCES.items()}, FORGE_SOURCES, day
        )
        frames = {"forge_repository_snapshots": parsed.accepted}
        checks = check_and_stage(
            wh,
            day,
            {**frames, "rejected_records": parsed.rejected},
            scope={"rejected_records": ("source", list(FORGE_SOURCES.values()))},
            reported=list(FORGE_TABLES),
        )
    accepted = parsed.accepted
    yield from materializations(
        frames,
        {
            "forge_repository_snapshots": {
                "rejected": parsed.rejected.height,
                **{
                    status: accepted.filter(pl.col("status") == status).height
                    for status in ("gone", "deferred", "failed")
                },
            }
        },
    )
    yield from checks


PYPI_TABLES = {
    "pypi_projects": "One row per PyPI project linked from a package: its latest metadata on the date.",
    "release_snapshots": "One row per released version of a linked PyPI project, as PyPI listed it on the date.",
}


@dg.multi_asset(
    specs=[table_spec(table, text, [raw_pypi], "core") for table, text in PYPI_TABLES.items()],
    check_specs=[contract_check_spec(table) for table in PYPI_TABLES],
)
def pypi_releases(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    day = partition_date(context)
    with staged(context, warehouse) as wh:
        projects, releases = enrichment.parse_pypi(read_raw(wh, day, "pypi/project"), day)
        frames = {"pypi_projects": projects.accepted, "release_snapshots": releases}
        checks = check_and_stage(
            wh,
            day,
            {**frames, "rejected_records": projects.rejected},
            scope={"rejected_records": ("source", ["pypi/project"])},
            reported=list(PYPI_TABLES),
        )
    yield from materializations(frames, {"pypi_projects": {"rejected": projects.rejected.height}})
    yield from checks
