"""The Dagster code location: assets, the daily job and its schedule, resources bound from settings, and
whatever the project's defs folder (``pipelines/defs/``, where ``dg scaffold defs`` writes) defines."""

from __future__ import annotations

from dataclasses import asdict
from functools import cache
from pathlib import Path

import dagster as dg

from assets import ALL_ASSETS
from assets.partitions import daily_partitions_from
from assets.resources import (
    BitbucketResource,
    DjangoPackagesResource,
    GitHubResource,
    GitLabResource,
    GuardsResource,
    PyPIResource,
    WarehouseResource,
)
from assets.staging import MODE_TAG, record_failure
from pipelines.settings import REPLAY_TOKEN, Settings

RAW_ASSETS = dg.AssetSelection.groups("raw")

# Every job builds its date in a staging file and publishes it in one transaction at the end; a failed
# step records the run's root cause in the ledger.
daily_job = dg.define_asset_job(
    "daily_job",
    selection=dg.AssetSelection.all(),
    description="Capture today's raw data from every source, rebuild that date's tables and scores, and "
    "publish the date if its guards pass.",
    hooks={record_failure},
)
recompute_job = dg.define_asset_job(
    "recompute_job",
    selection=dg.AssetSelection.all() - RAW_ASSETS,
    description="Rebuild a date's tables and scores from its stored (or kept, unpublished) raw data, "
    "without a single request, and publish it.",
    tags={MODE_TAG: "recompute"},
    hooks={record_failure},
)
rescore_job = dg.define_asset_job(
    "rescore_job",
    selection=dg.AssetSelection.all() - RAW_ASSETS,
    description="Recompute a date from its stored raw data with a chosen score version, e.g. a new one.",
    tags={MODE_TAG: "rescore"},
    hooks={record_failure},
)
# The run at 06:00 UTC targets today's partition (end_offset=1), the only date it can capture.
daily_schedule = dg.build_schedule_from_partitioned_job(daily_job, hour_of_day=6, minute_of_hour=0)


def resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    timeout = {} if settings.http_timeout is None else {"timeout": settings.http_timeout}
    return {
        "warehouse": WarehouseResource(path=str(settings.warehouse)),
        "djangopackages": DjangoPackagesResource(
            base_url=settings.djangopackages_url,
            page_size=settings.djangopackages_page_size,
            max_body_bytes=settings.max_body_bytes,
            **timeout,
        ),
        # An EnvVar is resolved when the run starts and never written to Dagster's run storage, where a
        # plain value would be kept in every job snapshot; the replay's stand-in token is no secret.
        "github": GitHubResource(
            base_url=settings.github_url,
            token=settings.github_token
            if settings.github_token in (None, REPLAY_TOKEN)
            else dg.EnvVar("GITHUB_TOKEN"),
            max_body_bytes=settings.max_body_bytes,
            **timeout,
        ),
        "pypi": PyPIResource(
            base_url=settings.pypi_url,
            concurrency=settings.pypi_concurrency,
            max_body_bytes=settings.max_body_bytes,
            **timeout,
        ),
        "gitlab": GitLabResource(
            base_url=settings.gitlab_url,
            token=None if settings.gitlab_token is None else dg.EnvVar("GITLAB_TOKEN"),
            max_body_bytes=settings.max_body_bytes,
            **timeout,
        ),
        "bitbucket": BitbucketResource(
            base_url=settings.bitbucket_url,
            token=None if settings.bitbucket_token is None else dg.EnvVar("BITBUCKET_TOKEN"),
            max_body_bytes=settings.max_body_bytes,
            **timeout,
        ),
        "dataset_guards": GuardsResource(**asdict(settings.guards)),
    }


def build_defs(settings: Settings) -> dg.Definitions:
    # The assets declare the default first date; the setting is only known here, where the layers meet.
    partitions = daily_partitions_from(settings.first_date)
    core = dg.Definitions(
        assets=dg.map_asset_specs(
            lambda spec: spec.replace_attributes(partitions_def=partitions), ALL_ASSETS
        ),
        jobs=[daily_job, recompute_job, rescore_job],
        schedules=[daily_schedule],
        resources=resources(settings),
        # Each step of the multiprocess executor re-imports everything (seconds per step) for no gain here.
        executor=dg.in_process_executor,
    )
    # The runner executes what `dg dev` shows: the defs folder belongs to every build, not only to `defs`.
    return dg.Definitions.merge(core, defs_folder())


@cache
def defs_folder() -> dg.Definitions:
    """What the defs folder defines, loaded once a process: it is code, and loading it takes Dagster's
    component machinery 0.1 s even when it is empty, which every run of a backfill paid."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


defs = build_defs(Settings.from_env())
