"""Validated core tables and the scores computed from them: each is a pure function of the date's raw rows,
so a past date recomputes without a request.

The core tables are typed snapshots of each source's records, rejects quarantined with reasons. One step,
``core_tables_and_scores``, reads every selected source's raw, parses the sources at the same time (one
thread each: their work is in DuckDB, polars and msgspec, which let go of the GIL), and stages each source's
tables as soon as they are parsed. The scores (``daily_package_metrics``, ``daily_grid_percentiles``) are
computed from the parsed frames in the same step, beside the staging of the last source, instead of in a
step of their own that read every table back. Every frame is checked against its contract before it is
staged; the run publishes the date only when all checks pass.
"""

from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
import polars as pl

from assets.checks import check_key, contract_check_result, contract_check_spec
from assets.partitions import partition_date, table_metadata, table_spec
from assets.raw import DJANGOPACKAGES_SOURCES, raw_djangopackages, raw_forges, raw_github, raw_pypi
from assets.resources import WarehouseResource
from assets.staging import root_cause, staged
from warehouse import enrichment, parsing
from warehouse.enrichment import FORGE_SOURCES
from warehouse.metrics import daily_metrics
from warehouse.raw import read_raws
from warehouse.scoring import SCORE_VERSION, SCORE_VERSIONS
from warehouse.store import Warehouse

CATALOG_TABLES = {
    "package_snapshots": "One row per package as djangopackages listed it on the date (typed, repairs flagged).",
    "category_snapshots": "One row per djangopackages category on the date.",
    "grid_snapshots": "One row per djangopackages grid on the date.",
    "grid_package_snapshots": "One row per (grid, accepted package) membership on the date.",
    "rejected_records": "One row per record that could not be used, with the failing fields, reasons and payload.",
}


def contract_checks(frames: dict[str, pl.DataFrame]) -> dict[str, dg.AssetCheckResult]:
    return {table: contract_check_result(table, frame) for table, frame in frames.items()}


def stage_checked(
    wh: Warehouse,
    day: date,
    frames: dict[str, pl.DataFrame],
    checks: dict[str, dg.AssetCheckResult],
    scope: dict | None = None,
    *,
    reported: Collection[str],
) -> list[dg.AssetCheckResult]:
    """Stage the partition in one transaction if every frame passed its contract check (``contract_checks``);
    nothing is written when one fails (its blocking check stops the run before anything is published).

    The checks of the ``reported`` tables are returned for the asset to yield; a table this step does not
    own (its rejects, in the catalog's ``rejected_records``) cannot carry its check, so a failure there
    fails the step instead.
    """
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


GITHUB_TABLES = {
    "repository_snapshots": "One row per GitHub repository linked from a package: its state and participation on the date.",
}


FORGE_TABLES = {
    "forge_repository_snapshots": "One row per GitLab project and Bitbucket repository linked from a package: "
    "its last activity on the date, or that it is gone.",
}


PYPI_TABLES = {
    "pypi_projects": "One row per PyPI project linked from a package: its latest metadata on the date.",
    "release_snapshots": "One row per released version of a linked PyPI project, as PyPI listed it on the date.",
}


@dataclass(frozen=True)
class Parsed:
    """A source's tables of the date (its rejects in ``rejected_records``), their checks, and what to say."""

    frames: dict[str, pl.DataFrame]
    checks: dict[str, dg.AssetCheckResult] = field(default_factory=dict)
    metadata: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CoreSource:
    """One source's core tables: the raw it reads, how its rows become tables, whose rejects it replaces."""

    tables: dict[str, str]  # table -> what one row is
    raw_asset: dg.AssetSpec | dg.AssetsDefinition
    raw_sources: list[str]
    rejects: list[str]  # the raw sources whose rows of ``rejected_records`` this source's rejects replace
    parse: Callable[[dict[str, pl.DataFrame], date], Parsed]


def catalog_tables(raw: dict[str, pl.DataFrame], day: date) -> Parsed:
    packages = parsing.parse_packages(raw["djangopackages/packages"], day)
    categories = parsing.parse_categories(raw["djangopackages/categories"], day)
    grids = parsing.parse_grids(raw["djangopackages/grids"], day)
    frames = {
        "package_snapshots": packages.accepted,
        "category_snapshots": categories.accepted,
        "grid_snapshots": grids.accepted,
        "grid_package_snapshots": parsing.grid_memberships(
            packages.accepted, raw["djangopackages/grids"], day
        ),
        "rejected_records": pl.concat([packages.rejected, categories.rejected, grids.rejected]),
    }
    return Parsed(
        frames,
        metadata={"package_snapshots": {f"records_{k}": v for k, v in packages.counts.items()}},
        notes=[
            f"{name}: {p.counts}"
            for name, p in (("packages", packages), ("categories", categories), ("grids", grids))
        ],
    )


def github_tables(raw: dict[str, pl.DataFrame], day: date) -> Parsed:
    parsed = enrichment.parse_repositories(raw["github/repository"], raw["github/participation"], day)
    accepted = parsed.accepted
    return Parsed(
        {"repository_snapshots": accepted, "rejected_records": parsed.rejected},
        metadata={
            "repository_snapshots": {
                "rejected": parsed.rejected.height,
                "not_ok": accepted.filter(pl.col("status") != "ok").height,
            }
        },
    )


def forge_tables(raw: dict[str, pl.DataFrame], day: date) -> Parsed:
    parsed = enrichment.parse_forges(
        {host: raw[source] for host, source in FORGE_SOURCES.items()}, FORGE_SOURCES, day
    )
    accepted = parsed.accepted
    return Parsed(
        {"forge_repository_snapshots": accepted, "rejected_records": parsed.rejected},
        metadata={
            "forge_repository_snapshots": {
                "rejected": parsed.rejected.height,
                **{
                    status: accepted.filter(pl.col("status") == status).height
                    for status in ("gone", "deferred", "failed")
                },
            }
        },
    )


def pypi_tables(raw: dict[str, pl.DataFrame], day: date) -> Parsed:
    projects, releases = enrichment.parse_pypi(raw["pypi/project"], day)
    return Parsed(
        {
            "pypi_projects": projects.accepted,
            "release_snapshots": releases,
            "rejected_records": projects.rejected,
        },
        metadata={"pypi_projects": {"rejected": projects.rejected.height}},
    )


# Read and parsed in this order: the catalogue first, alone (its parse is the longest and mostly DuckDB's and
# polars', so the others' read beside it runs nearly unhindered), then the rest in one read (see
# core_tables_and_scores).
CORE_SOURCES = {
    "djangopackages": CoreSource(
        CATALOG_TABLES, raw_djangopackages, DJANGOPACKAGES_SOURCES, DJANGOPACKAGES_SOURCES, catalog_tables
    ),
    "pypi": CoreSource(PYPI_TABLES, raw_pypi, ["pypi/project"], ["pypi/project"], pypi_tables),
    "github": CoreSource(
        GITHUB_TABLES,
        raw_github,
        ["github/repository", "github/participation"],
        ["github/repository"],
        github_tables,
    ),
    "forges": CoreSource(
        FORGE_TABLES, raw_forges, list(FORGE_SOURCES.values()), list(FORGE_SOURCES.values()), forge_tables
    ),
}


def parsed_and_checked(source: CoreSource, raw: dict[str, pl.DataFrame], day: date) -> Parsed:
    """The source's tables and their contract checks: pure work on frames, safe in a thread of its own."""
    parsed = source.parse(raw, day)
    return Parsed(parsed.frames, contract_checks(parsed.frames), parsed.metadata, parsed.notes)


SCORE_TABLES = {
    "daily_package_metrics": "One row per package per date: stars, forks, commits and the DPAS activity score with its parts.",
    "daily_grid_percentiles": "One row per (grid, package) per date: the package's activity percentile within the grid.",
}
SCORE_DEPS = {
    "daily_package_metrics": [
        "package_snapshots",
        "grid_package_snapshots",
        "repository_snapshots",
        "forge_repository_snapshots",
        "pypi_projects",
    ],
    "daily_grid_percentiles": ["package_snapshots", "grid_package_snapshots"],
}


class ScoringConfig(dg.Config):
    score_version: str = SCORE_VERSION


def scored_and_checked(tables: dict[str, pl.DataFrame], day: date, score_version: str) -> Parsed:
    """The date's scores from its core tables' frames, and their contract checks: pure work, safe in a
    thread."""
    metrics, percentiles = daily_metrics(
        tables["package_snapshots"],
        tables["repository_snapshots"],
        tables["pypi_projects"],
        tables["grid_package_snapshots"],
        day,
        score_version,
        tables["forge_repository_snapshots"],
    )
    frames = {"daily_package_metrics": metrics, "daily_grid_percentiles": percentiles}
    scored = metrics.filter(pl.col("activity_score").is_not_null())
    return Parsed(
        frames,
        contract_checks(frames),
        metadata={
            "daily_package_metrics": {
                "scored": scored.height,
                "score_version": score_version,
                "median_score": float(scored.get_column("activity_score").median() or 0.0),
            }
        },
    )


@dg.multi_asset(
    name="core_tables_and_scores",
    specs=[
        *(
            table_spec(table, text, [source.raw_asset], "core")
            for source in CORE_SOURCES.values()
            for table, text in source.tables.items()
        ),
        *(table_spec(table, text, SCORE_DEPS[table], "marts") for table, text in SCORE_TABLES.items()),
    ],
    check_specs=[
        contract_check_spec(table)
        for tables in (*(source.tables for source in CORE_SOURCES.values()), SCORE_TABLES)
        for table in tables
    ],
    can_subset=True,
)
def core_tables_and_scores(
    context: dg.AssetExecutionContext, config: ScoringConfig, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
    """Each selected source's tables of the date, parsed from its stored raw at the same time as the others',
    then the scores computed from them; a source that fails costs only itself: the others' tables are
    staged, then the step fails naming it. The scores need every source's tables, so a selection with a
    score parses (and stages) every source."""
    day = partition_date(context)
    selected = context.selected_asset_keys
    scoring = any(dg.AssetKey(table) in selected for table in SCORE_TABLES)
    if scoring and config.score_version not in SCORE_VERSIONS:
        raise dg.Failure(f"unknown score version {config.score_version!r}; known: {sorted(SCORE_VERSIONS)}")
    sources = {
        name: source
        for name, source in CORE_SOURCES.items()
        if scoring or any(dg.AssetKey(table) in selected for table in source.tables)
    }
    reported = context.selected_asset_check_keys
    failures: dict[str, BaseException] = {}
    with staged(context, warehouse) as wh, ThreadPoolExecutor(len(sources) or 1) as pool:
        # Read here (only this connection sees the raw a recompute reads through), then each source parsed
        # in a thread of its own and staged here as soon as it is parsed, while others parse. A read runs on
        # one core, so the first source's raw is read alone and parses on the other core while the others'
        # is read, in one read: a read costs a pass over the stored documents.
        pending = {}
        names = list(sources)
        for group in (names[:1], names[1:]):
            raw = (
                read_raws(wh, day, [s for name in group for s in sources[name].raw_sources]) if group else {}
            )
            for name in group:
                parts = {s: raw.pop(s) for s in sources[name].raw_sources}
                pending[pool.submit(parsed_and_checked, sources[name], parts, day)] = name
        # Queued behind the parses, it takes the first thread one of them leaves: the scores then start as the
        # last source is parsed, while this thread stages what is parsed.
        scores = (
            pool.submit(scored_once_parsed, list(pending), day, config.score_version) if scoring else None
        )
        for future in as_completed(pending):
            name = pending[future]
            source = sources[name]
            try:
                outcome = future.result()
                checks = stage_checked(
                    wh,
                    day,
                    outcome.frames,
                    outcome.checks,
                    scope={"rejected_records": ("source", source.rejects)},
                    # A check outside the selection cannot be reported: its failure fails the step instead.
                    reported=[t for t in source.tables if check_key(t) in reported],
                )
            except Exception as error:  # noqa: BLE001 - the other sources are staged all the same
                failures[name] = error
                continue
            for note in outcome.notes:
                context.log.info(note)
            # Yielded now, not at the end: Dagster records them while the other sources parse.
            yield from materializations(
                {t: outcome.frames[t] for t in source.tables if dg.AssetKey(t) in selected}, outcome.metadata
            )
            yield from checks
        if scores is not None and not failures:
            try:
                outcome = scores.result()
                checks = stage_checked(
                    wh,
                    day,
                    outcome.frames,
                    outcome.checks,
                    reported=[t for t in SCORE_TABLES if check_key(t) in reported],
                )
            except Exception as error:  # noqa: BLE001 - reported with the sources' failures
                failures["scores"] = error
            else:
                yield from materializations(
                    {t: outcome.frames[t] for t in SCORE_TABLES if dg.AssetKey(t) in selected},
                    outcome.metadata,
                )
                yield from checks
    if failures:
        order = [*sources, "scores"]
        raise dg.Failure(
            # In the sources' order, not the order they failed in: the same failure reads the same each time.
            description="; ".join(
                f"{name} failed: {root_cause(failures[name])}" for name in order if name in failures
            )
        ) from next(failures[name] for name in order if name in failures)


def scored_once_parsed(parsing: list[Future[Parsed]], day: date, score_version: str) -> Parsed:
    """The scores (``scored_and_checked``) of the sources ``parsing`` parses, once they all are. A source
    whose parse failed fails this too; a frame that fails its contract leaves the date unscored (its rows
    would not be staged, and its blocking check fails the step anyway)."""
    outcomes = [future.result() for future in parsing]
    failing = [table for outcome in outcomes for table, check in outcome.checks.items() if not check.passed]
    if failing:
        raise dg.Failure(f"nothing is scored, since the rows of {', '.join(failing)} fail their contract")
    tables = {table: frame for outcome in outcomes for table, frame in outcome.frames.items()}
    return scored_and_checked(tables, day, score_version)
