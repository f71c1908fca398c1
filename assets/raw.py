"""Raw landing: what each source answered on the snapshot date, stored as received.

A source only tells "now", so these assets capture only when the partition is the sources' current date
(the ``Date`` the djangopackages API answers with: the replay server's clock, or today for the live
services), asked once, by the first of them: the others follow it in the same run, and a second question
that went unanswered must not cost the day. They land in the run's staging file (see ``assets.staging``), which no reader can block, with
every request they make in ``raw_requests``, failed ones too, even when the asset then fails.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from assets import forges
from assets.checks import contract_check_result, contract_check_spec
from assets.participation import participation_rows, previous_answers, stored_weeks
from assets.participation import wanted as participation_wanted
from assets.partitions import daily_partitions, partition_date, table_metadata
from assets.resources import (
    BitbucketResource,
    DjangoPackagesResource,
    GitHubResource,
    GitLabResource,
    PyPIResource,
    WarehouseResource,
)
from assets.sources.djangopackages import Listing, Page
from assets.sources.http import RequestLog, SourceError
from assets.sources.pypi import PyPIClient
from assets.staging import staged
from warehouse import identifiers, parsing, store
from warehouse.enrichment import FORGE_SOURCES
from warehouse.raw import (
    latest_documents,
    raw_frame,
    raw_rows,
    read_raw,
    record_key,
    replace_raw,
    requests_frame,
)
from warehouse.runs import GITHUB_SKIPPED, skipped_frame
from warehouse.store import Warehouse, WarehouseError

DJANGOPACKAGES_SOURCES = ["djangopackages/packages", "djangopackages/categories", "djangopackages/grids"]
# One row per list page the capture read: the page's own `count` and whether it was a usable JSON page,
# which the guards compare with what was kept.
PAGES_SOURCE = "djangopackages/pages"


class CaptureRefused(dg.Failure):
    pass


def ensure_capture_date(sources_date: date, day: date) -> None:
    if sources_date != day:
        raise CaptureRefused(
            description=(
                f"cannot capture raw data for {day}: the sources' current date is {sources_date}. "
                "Sources only tell 'now', so a date's raw data can only be captured on that date; "
                "past dates are recomputed from stored raw (`dpw ingest --date D` does this)."
            )
        )


@contextmanager
def request_log(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, asset: str
) -> Iterator[RequestLog]:
    """A request log whose records reach the staged ``raw_requests`` even when the capture fails."""
    log = RequestLog()
    try:
        yield log
    except CaptureRefused:
        raise
    except BaseException:
        with staged(context, warehouse) as wh:
            wh.append("raw_requests", requests_frame(partition_date(context), asset, log.records))
        raise


def store_raw(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    asset: str,
    sources: list[str],
    records: pl.DataFrame,
    log: RequestLog,
) -> dg.MaterializeResult:
    """Replace this asset's staged raw rows and requests for the date in one transaction.

    Raw is staged even when it breaks its contract (a capture cannot be fetched again); the blocking
    checks then keep the date from being published until the code is fixed and the date recomputed.
    """
    day = partition_date(context)
    requests = requests_frame(day, asset, log.records)
    with staged(context, warehouse) as wh:
        with wh.transaction():
            replace_raw(wh, day, records, sources)
            wh.replace_partitions(day, {"raw_requests": requests}, scope={"raw_requests": ("asset", [asset])})
        # The contract is the table's: the rows as stored, each referencing its document.
        stored = wh.partition("raw_records", day).filter(pl.col("source").is_in(sources))
    checks = [
        contract_check_result("raw_records", stored, asset),
        contract_check_result("raw_requests", requests, asset),
    ]
    per_source = records.group_by("source", "status").len().sort("source", "status")
    return dg.MaterializeResult(
        metadata={
            **table_metadata("raw_records", records.height),
            "requests": requests.height,
            "failed_requests": requests.filter(~pl.col("ok")).height,
            **{f"{s}:{st}": n for s, st, n in per_source.iter_rows()},
        },
        check_results=checks,
    )


def listing_or_failure(fetch: Callable[[], Listing]) -> Listing:
    """A list as read, or, when it could not be read at all, an empty one whose one invalid page says why:
    the lists read before it are kept, and the guards refuse the day naming the URL."""
    try:
        return fetch()
    except SourceError as err:
        # The path is the page's key already: the error says what came back, and how often it was asked.
        answer = f"HTTP {err.status}" if err.status is not None else "no answer"
        error = f"{answer} after {err.attempts} attempt(s): {err.reason}"
        page = Page(path=err.path, status="invalid", count=None, results=0, error=error)
        return Listing(records=(), reported_count=0, duplicates=0, pages=(page,))


def raw_check_specs(asset: str) -> list[dg.AssetCheckSpec]:
    return [contract_check_spec("raw_records", asset), contract_check_spec("raw_requests", asset)]


def page_rows(resource: str, listing: Listing) -> Iterator[tuple[str, str, dict]]:
    for page in listing.pages:
        payload = {"list": resource, "count": page.count, "results": page.results, "error": page.error}
        yield page.path, page.status, payload


@dg.asset(
    partitions_def=daily_partitions,
    group_name="raw",
    kinds={"duckdb"},
    metadata=table_metadata("raw_records"),
    check_specs=raw_check_specs("raw_djangopackages"),
)
def raw_djangopackages(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, djangopackages: DjangoPackagesResource
) -> dg.MaterializeResult:
    """One row per package, category and grid record as the djangopackages API v4 listed it on the date,
    and one per list page read."""
    day = partition_date(context)
    # Before anything is staged: a refused capture leaves no trace on the date.
    ensure_capture_date(djangopackages.client(RequestLog()).current_date(), day)
    with staged(context, warehouse, create=True):
        pass  # the run's file and its started row exist before the first record is asked for
    with request_log(context, warehouse, "raw_djangopackages") as log:
        client = djangopackages.client(log)
        listings = {
            "djangopackages/packages": listing_or_failure(client.packages),
            "djangopackages/categories": listing_or_failure(client.categories),
            "djangopackages/grids": listing_or_failure(client.grids),
        }
        for source, listing in listings.items():
            if listing.duplicates or listing.reported_count != len(listing.records):
                context.log.warning(
                    f"{source}: {listing.duplicates} duplicates dropped; the API reported "
                    f"{listing.reported_count} records and {len(listing.records)} were kept"
                )
        records = pl.concat(
            [
                *(
                    raw_frame(day, source, ((record_key(r), "ok", r) for r in listing.records))
                    for source, listing in listings.items()
                ),
                raw_frame(
                    day,
                    PAGES_SOURCE,
                    (
                        row
                        for source, listing in listings.items()
                        for row in page_rows(source.removeprefix("djangopackages/"), listing)
                    ),
                ),
            ]
        )
        return store_raw(
            context,
            warehouse,
            "raw_djangopackages",
            [*DJANGOPACKAGES_SOURCES, PAGES_SOURCE],
            records,
            log,
        )


def linked_packages(wh: Warehouse, day: date) -> pl.DataFrame:
    """The day's accepted packages as the parser reads them: which repository and project each links to.

    Through the parser, not a path into the payload, so a record that is odd elsewhere (a lone surrogate
    in its title) still gets its enrichment, and one that is rejected asks nothing of GitHub or PyPI.
    """
    return parsing.parse_packages(read_raw(wh, day, "djangopackages/packages"), day).accepted


def linked_repositories(packages: pl.DataFrame) -> pl.DataFrame:
    """GitHub repositories the packages link to, with what djangopackages knew of them."""
    return (
        packages.select(
            pl.col("repo_full_name").alias("full_name"),
            "last_fetched_at",
            pl.col("commits_over_52").is_null().alias("no_weeks"),
        )
        .drop_nulls("full_name")
        .group_by("full_name")
        .agg(pl.col("last_fetched_at").min(), pl.col("no_weeks").any())
        .sort("full_name")
    )


def failure_payload(error: str | None) -> dict[str, str]:
    # A source that never answered usably leaves no document: the payload says why instead.
    return {"error": error or "no usable answer"}


@dg.asset(
    partitions_def=daily_partitions,
    group_name="raw",
    kinds={"duckdb"},
    deps=[raw_djangopackages],
    metadata=table_metadata("raw_records"),
    check_specs=raw_check_specs("raw_github"),
)
def raw_github(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, github: GitHubResource
) -> dg.MaterializeResult:
    """One row per GitHub repository linked from a package (its GraphQL state) and per participation answer."""
    day = partition_date(context)
    sources = ["github/repository", "github/participation", GITHUB_SKIPPED]
    with request_log(context, warehouse, "raw_github") as log:
        with staged(context, warehouse) as wh:
            repos = linked_repositories(linked_packages(wh, day))
        if not github.token:
            reason = "GITHUB_TOKEN is not set: GitHub's GraphQL API answers no one without a token"
            context.log.warning(f"{reason}; the GitHub phase is skipped and scores rest on djangopackages")
            records = skipped_frame(day, GITHUB_SKIPPED, reason, repositories=repos.height)
            return store_raw(context, warehouse, "raw_github", sources, records, log)
        client = github.client(log)
        states = client.repository_states(repos.get_column("full_name").to_list())
        pushed = {
            name: (r.doc or {}).get("pushedAt") if r.status == "ok" and isinstance(r.doc, dict) else None
            for name, r in states.items()
        }
        wanted = participation_wanted(repos, pushed, previous_answers(Path(warehouse.path), day))
        stored = stored_weeks(Path(warehouse.path), day)
        etags = {n: s.etag for n in wanted if (s := stored.get(n)) is not None and s.etag}
        participation = client.participation(wanted, etags)
        records = pl.concat(
            [
                raw_frame(
                    day,
                    "github/repository",
                    (
                        (name, r.status, failure_payload(r.error) if r.status == "failed" else r.doc)
                        for name, r in states.items()
                    ),
                ),
                raw_frame(
                    day,
                    "github/participation",
                    participation_rows(day, participation, stored, repos.get_column("full_name").to_list()),
                ),
            ]
        )
        return store_raw(context, warehouse, "raw_github", sources, records, log)


def previous_pypi(context: dg.AssetExecutionContext, warehouse: WarehouseResource, day: date) -> pl.DataFrame:
    """Each project's latest raw document from an earlier published date, with the serial it had then.

    Without them (a first day, or a warehouse held by a reader for longer than a reader waits) every
    document is fetched: a slower capture, never a lost one.
    """
    empty = pl.DataFrame(
        schema={"name": pl.String, "status": pl.String, "payload": pl.String, "serial": pl.Int64}
    )
    if not Path(warehouse.path).exists():
        return empty
    try:
        with Warehouse(warehouse.path, read_only=True) as wh:
            # A payload DuckDB cannot read (a lone surrogate's escape) has no serial: it is fetched again.
            return latest_documents(wh, "pypi/project", day, ["ok", "unchanged"]).rename(
                {"record_key": "name"}
            )
    except WarehouseError as err:
        context.log.warning(f"every PyPI document is fetched: the stored ones cannot be read now ({err})")
        return empty


def _fetched_rows(results: dict) -> Iterator[tuple[str, str, object]]:
    for name, r in results.items():
        yield name, r.status, failure_payload(r.error) if r.status == "failed" else r.doc


def published_pypi(warehouse: WarehouseResource, day: date) -> pl.DataFrame:
    """The date's PyPI raw rows already in the warehouse (none before its first capture)."""
    if not Path(warehouse.path).exists():
        return raw_frame(day, "pypi/project", ())
    # A writer's patience: without these rows the published date would lose its PyPI raw.
    with Warehouse(warehouse.path, read_only=True, wait=store.WRITER_WAIT) as wh:
        return raw_rows(wh, day, ["pypi/project"])


def pypi_records(client: PyPIClient, day: date, names: list[str], previous: pl.DataFrame) -> pl.DataFrame:
    """Today's raw PyPI rows, asking only for what may have changed.

    On a warm day (documents stored from an earlier date) one request for the simple index gives every
    project's serial; a project whose serial has not moved keeps its stored document (status
    ``unchanged``), one the index does not list is missing, and only the rest are fetched. A project that
    fails after its retries is ``failed`` for that package alone.
    """
    if previous.is_empty():
        return raw_frame(day, "pypi/project", _fetched_rows(client.projects(names)))
    serials = client.serials()
    stored = {row["name"]: row for row in previous.iter_rows(named=True)}
    listed = [n for n in names if n in serials]
    unchanged = [n for n in listed if n in stored and stored[n]["serial"] == serials[n]]
    fetched = client.projects([n for n in listed if n not in unchanged])
    rows = [
        *_fetched_rows(fetched),
        *((n, "unchanged", json.loads(stored[n]["payload"])) for n in unchanged),
        *((n, "missing", None) for n in names if n not in serials),
    ]
    return raw_frame(day, "pypi/project", sorted(rows, key=lambda row: row[0]))


@dg.asset(
    partitions_def=daily_partitions,
    group_name="raw",
    kinds={"duckdb"},
    deps=[raw_djangopackages],
    metadata=table_metadata("raw_records"),
    check_specs=raw_check_specs("raw_pypi"),
)
def raw_pypi(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, pypi: PyPIResource
) -> dg.MaterializeResult:
    """One row per PyPI project linked from a package: its JSON API document as received, or missing."""
    day = partition_date(context)
    with request_log(context, warehouse, "raw_pypi") as log:
        client = pypi.client(log)
        if client is None:
            # Publishing replaces the whole date: keep what an earlier capture of it fetched from PyPI.
            context.log.warning("DPW_PYPI_URL is not set: PyPI enrichment skipped for this date")
            return store_raw(
                context, warehouse, "raw_pypi", ["pypi/project"], published_pypi(warehouse, day), log
            )
        with staged(context, warehouse) as wh:
            names = linked_packages(wh, day).get_column("pypi_name").drop_nulls().unique().sort().to_list()
        records = pypi_records(client, day, names, previous_pypi(context, warehouse, day))
        return store_raw(context, warehouse, "raw_pypi", ["pypi/project"], records, log)


def linked_forges(packages: pl.DataFrame) -> dict[str, list[str]]:
    """GitLab and Bitbucket repository paths the packages link to, by host."""
    found = packages.select(identifiers.forge_paths(pl.col("repo_url")).alias("at")).drop_nulls()
    split = (
        found.get_column("at").str.split_exact(":", 1).struct.rename_fields(["host", "path"]).struct.unnest()
    )
    return {
        host: split.filter(pl.col("host") == host).get_column("path").unique().sort().to_list()
        for host in FORGE_SOURCES
    }


@dg.asset(
    partitions_def=daily_partitions,
    group_name="raw",
    kinds={"duckdb"},
    deps=[raw_djangopackages],
    metadata=table_metadata("raw_records"),
    check_specs=raw_check_specs("raw_forges"),
)
def raw_forges(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    gitlab: GitLabResource,
    bitbucket: BitbucketResource,
) -> dg.MaterializeResult:
    """One row per GitLab project and Bitbucket repository linked from a package: its state, or why not asked."""
    day = partition_date(context)
    with request_log(context, warehouse, "raw_forges") as log:
        with staged(context, warehouse) as wh:
            linked = linked_forges(linked_packages(wh, day))
        frames = []
        for host, client in (("gitlab", gitlab.client(log)), ("bitbucket", bitbucket.client(log))):
            source = FORGE_SOURCES[host]
            previous = forges.known(Path(warehouse.path), day, source)
            todo = forges.plan(linked[host], previous, day)
            answers = client.states(todo.due)
            if len(answers) < len(todo.due):
                context.log.warning(
                    f"{host}: {len(todo.due) - len(answers)} of {len(todo.due)} repositories due were not "
                    "asked (the hourly request budget is spent); they are carried to a later day"
                )
            frames.append(raw_frame(day, source, forges.rows(todo, answers, previous)))
        records = pl.concat(frames)
        return store_raw(context, warehouse, "raw_forges", list(FORGE_SOURCES.values()), records, log)
