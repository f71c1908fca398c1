"""The Dagster code location: assets, the daily job and its schedule, resources bound from settings."""

from __future__ import annotations

import dagster as dg

from assets import ALL_ASSETS
from assets.marts import MODE_TAG
from assets.resources import DjangoPackagesResource, GitHubResource, PyPIResource, WarehouseResource
from pipelines.settings import Settings

RAW_ASSETS = dg.AssetSelection.groups("raw")

daily_job = dg.define_asset_job(
    "daily_job",
    selection=dg.AssetSelection.all(),
    description="Capture today's raw data from every source and rebuild that date's tables and scores.",
)
recompute_job = dg.define_asset_job(
    "recompute_job",
    selection=dg.AssetSelection.all() - RAW_ASSETS,
    description="Rebuild a date's tables and scores from its stored raw data, without a single request.",
    tags={MODE_TAG: "recompute"},
)
rescore_job = dg.define_asset_job(
    "rescore_job",
    selection=dg.AssetSelection.assets("daily_package_metrics", "daily_grid_percentiles"),
    description="Recompute a date's scores from its stored core tables (one transaction), e.g. for a new score version.",
    tags={MODE_TAG: "rescore"},
)
# The run at 06:00 UTC targets today's partition (end_offset=1), the only date it can capture.
daily_schedule = dg.build_schedule_from_partitioned_job(daily_job, hour_of_day=6, minute_of_hour=0)


def resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": WarehouseResource(path=str(settings.warehouse)),
        "djangopackages": DjangoPackagesResource(base_url=settings.djangopackages_url),
        # An EnvVar is resolved when the run starts and never written to Dagster's run storage, where a
        # plain value would be kept in every job snapshot.
        "github": GitHubResource(
            base_url=settings.github_url, token=dg.EnvVar("GITHUB_TOKEN") if settings.github_token else None
        ),
        "pypi": PyPIResource(base_url=settings.pypi_url),
    }


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=ALL_ASSETS,
        jobs=[daily_job, recompute_job, rescore_job],
        schedules=[daily_schedule],
        resources=resources(settings),
        # Each step of the multiprocess executor re-imports everything (seconds per step) for no gain here.
        executor=dg.in_process_executor,
    )


defs = build_defs(Settings.from_env())
