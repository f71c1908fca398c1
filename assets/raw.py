"""Raw landing: what each source answered on the snapshot date, stored as received.

A source only tells "now", so these assets capture only when the partition is the sources' current date
(the ``Date`` the djangopackages API answers with: the replay server's clock, or today for the live
services), asked once a run: by ``dpw ingest`` before it decides to capture (passed on as a run tag), else by
``raw_djangopackages``; the other steps follow it in the same run, and a second question that went
unanswered must not cost the day. ``raw_djangopackages`` lists the catalogue first; then one step,
``raw_enrichment``, captures GitHub, PyPI and the forges at the same time (three assets, one thread each) and
stores each one's rows in turn. They land in the run's staging file (see ``assets.staging``), which no reader
can block, with every request they make in ``raw_requests``, failed ones too, even when the asset then fails.
"""

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from assets import forges
from assets.checks import contract_check_result, contract_check_spec
from assets.participation import StoredWeeks, participation_rows, previous_answers, stored_weeks
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
from assets.sources.forges import ForgeClient
from assets.sources.github import GitHubClient
from assets.sources.http import RequestLog, SourceError, together
from assets.sources.pypi import PyPIClient
from assets.staging import SOURCES_DATE_TAG, root_cause, staged
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


def sources_date(context: dg.AssetExecutionContext, djangopackages: DjangoPackagesResource) -> date:
    """The sources' current date, asked once a run: a run started by ``dpw ingest`` carries the answer the
    runner got when it decided to capture (tag ``dpw/sources_date``); any other run asks (the schedule, the
    UI, and a re-execution, which inherits its parent's tags but may run on a later day)."""
    told = context.run.tags.get(SOURCES_DATE_TAG)
    if told and context.run.parent_run_id is None:
        return date.fromisoformat(told)
    return djangopackages.client(RequestLog()).current_date()


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
        stage_requests(context, warehouse, asset, log)
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
        asset_key=asset,
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
    ensure_capture_date(sources_date(context, djangopackages), day)
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


def github_records(
    client: GitHubClient,
    day: date,
    repos: pl.DataFrame,
    previous: pl.DataFrame,
    stored: dict[str, StoredWeeks],
) -> pl.DataFrame:
    """Today's raw GitHub rows: every linked repository's GraphQL state, then participation for those whose
    weekly commits may have changed (``previous`` answers and ``stored`` arrays decide, see participation)."""
    names = repos.get_column("full_name").to_list()
    states = client.repository_states(names)
    pushed = {
        name: (r.doc or {}).get("pushedAt") if r.status == "ok" and isinstance(r.doc, dict) else None
        for name, r in states.items()
    }
    wanted = participation_wanted(repos, pushed, previous)
    etags = {n: s.etag for n in wanted if (s := stored.get(n)) is not None and s.etag}
    participation = client.participation(wanted, etags)
    return pl.concat(
        [
            raw_frame(day, "github/repository", _fetched_rows(states)),
            raw_frame(day, "github/participation", participation_rows(day, participation, stored, names)),
        ]
    )


def previous_pypi(warehouse: Path, day: date, warn: Callable[[str], None]) -> pl.DataFrame:
    """Each project's latest raw document from an earlier published date, with the serial it had then.

    Without them (a first day, or a warehouse held by a reader for longer than a reader waits) every
    document is fetched: a slower capture, never a lost one.
    """
    empty = pl.DataFrame(
        schema={"name": pl.String, "status": pl.String, "payload": pl.String, "serial": pl.Int64}
    )
    if not warehouse.exists():
        return empty
    try:
        with Warehouse.current(warehouse) as wh:
            # A payload DuckDB cannot read (a lone surrogate's escape) has no serial: it is fetched again.
            return latest_documents(wh, "pypi/project", day, ["ok", "unchanged"]).rename(
                {"record_key": "name"}
            )
    except WarehouseError as err:
        warn(f"every PyPI document is fetched: the stored ones cannot be read now ({err})")
        return empty


def _fetched_rows(results: Mapping[str, Any]) -> Iterator[tuple[str, str, object]]:
    for name, r in results.items():
        yield name, r.status, failure_payload(r.error) if r.status == "failed" else r.doc


def published_pypi(warehouse: Path, day: date) -> pl.DataFrame:
    """The date's PyPI raw rows already in the warehouse (none before its first capture)."""
    if not warehouse.exists():
        return raw_frame(day, "pypi/project", ())
    # A writer's patience: without these rows the published date would lose its PyPI raw.
    with Warehouse.current(warehouse, wait=store.WRITER_WAIT) as wh:
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


def forge_records(
    clients: Mapping[str, ForgeClient],
    day: date,
    todo: Mapping[str, forges.Plan],
    previous: Mapping[str, dict[str, forges.Known]],
    warn: Callable[[str], None],
) -> pl.DataFrame:
    """Today's raw GitLab and Bitbucket rows: each host's due repositories asked (one at a time, within its
    budget; the two hosts at the same time), the rest as ``forges.plan`` kept them or deferred."""

    def host_records(host: str) -> pl.DataFrame:
        due = todo[host].due
        answers = clients[host].states(due)
        if len(answers) < len(due):
            warn(
                f"{host}: {len(due) - len(answers)} of {len(due)} repositories due were not asked (the "
                "hourly request budget is spent); they are carried to a later day"
            )
        return raw_frame(day, FORGE_SOURCES[host], forges.rows(todo[host], answers, previous[host]))

    # Two services, each keeping its own rule: nothing obliges one to wait for the other. The threads'
    # client logs are stopped by the caller on an interrupt.
    frames = together({host: partial(host_records, host) for host in clients}, stop=lambda: None)
    for frame in frames.values():
        if not isinstance(frame, pl.DataFrame):
            raise frame
    return pl.concat([f for f in frames.values() if isinstance(f, pl.DataFrame)])


@dataclass(frozen=True)
class Capture:
    """One raw asset's part of the enrichment step: the raw sources it replaces, its request log, the fetch
    (network only: everything it needs from the warehouse was read before) and what it has to say."""

    sources: list[str]
    log: RequestLog
    fetch: Callable[[], pl.DataFrame]
    notes: list[str] = field(default_factory=list)


def github_capture(github: GitHubResource, main: Path, day: date, packages: pl.DataFrame) -> Capture:
    log, repos = RequestLog(), linked_repositories(packages)
    sources = ["github/repository", "github/participation", GITHUB_SKIPPED]
    if not github.token:
        reason = "GITHUB_TOKEN is not set: GitHub's GraphQL API answers no one without a token"
        records = skipped_frame(day, GITHUB_SKIPPED, reason, repositories=repos.height)
        note = f"{reason}; the GitHub phase is skipped and scores rest on djangopackages"
        return Capture(sources, log, lambda: records, [note])
    previous, stored = previous_answers(main, day), stored_weeks(main, day)
    return Capture(sources, log, partial(github_records, github.client(log), day, repos, previous, stored))


def pypi_capture(pypi: PyPIResource, main: Path, day: date, packages: pl.DataFrame) -> Capture:
    log, notes = RequestLog(), []
    client = pypi.client(log)
    if client is None:
        # Publishing replaces the whole date: keep what an earlier capture of it fetched from PyPI.
        records = published_pypi(main, day)
        return Capture(
            ["pypi/project"], log, lambda: records, ["DPW_PYPI_URL is not set: PyPI enrichment skipped"]
        )
    names = packages.get_column("pypi_name").drop_nulls().unique().sort().to_list()
    previous = previous_pypi(main, day, notes.append)
    return Capture(["pypi/project"], log, partial(pypi_records, client, day, names, previous), notes)


def forges_capture(
    gitlab: GitLabResource, bitbucket: BitbucketResource, main: Path, day: date, packages: pl.DataFrame
) -> Capture:
    log, notes = RequestLog(), []
    linked = linked_forges(packages)
    previous = {host: forges.known(main, day, source) for host, source in FORGE_SOURCES.items()}
    todo = {host: forges.plan(linked[host], previous[host], day) for host in FORGE_SOURCES}
    clients: dict[str, ForgeClient] = {"gitlab": gitlab.client(log), "bitbucket": bitbucket.client(log)}
    fetch = partial(forge_records, clients, day, todo, previous, notes.append)
    return Capture(list(FORGE_SOURCES.values()), log, fetch, notes)


def stage_requests(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, asset: str, log: RequestLog
) -> None:
    """The requests of a capture that failed, into the staged ``raw_requests``: they were made all the same."""
    with staged(context, warehouse) as wh:
        wh.append("raw_requests", requests_frame(partition_date(context), asset, log.records))


ENRICHMENT_ASSETS = {
    "raw_github": "One row per GitHub repository linked from a package (its GraphQL state) and per "
    "participation answer.",
    "raw_pypi": "One row per PyPI project linked from a package: its JSON API document as received, or missing.",
    "raw_forges": "One row per GitLab project and Bitbucket repository linked from a package: its state, or "
    "why not asked.",
}


def _enrichment_spec(asset: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        asset,
        description=ENRICHMENT_ASSETS[asset],
        deps=[raw_djangopackages],
        partitions_def=daily_partitions,
        group_name="raw",
        kinds={"duckdb"},
        metadata=table_metadata("raw_records"),
    )


raw_github, raw_pypi, raw_forges = (_enrichment_spec(asset) for asset in ENRICHMENT_ASSETS)


@dg.multi_asset(
    name="raw_enrichment",
    specs=[raw_github, raw_pypi, raw_forges],
    check_specs=[spec for asset in ENRICHMENT_ASSETS for spec in raw_check_specs(asset)],
    can_subset=True,
)
def raw_enrichment(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    github: GitHubResource,
    pypi: PyPIResource,
    gitlab: GitLabResource,
    bitbucket: BitbucketResource,
) -> Iterator[dg.MaterializeResult]:
    """GitHub, PyPI and the forges captured at the same time, each service by its own rules (GitHub one
    request at a time, PyPI DPW_PYPI_CONCURRENCY at once, GitLab and Bitbucket one at a time), then each
    asset's rows stored in turn. A source whose fetch fails costs only itself: the others' rows are stored,
    its requests still reach ``raw_requests``, and then the step fails naming it."""
    day, main = partition_date(context), Path(warehouse.path)
    selected = [a for a in ENRICHMENT_ASSETS if dg.AssetKey(a) in context.selected_asset_keys]
    with staged(context, warehouse) as wh:
        packages = linked_packages(wh, day)
    prepare = {
        "raw_github": lambda: github_capture(github, main, day, packages),
        "raw_pypi": lambda: pypi_capture(pypi, main, day, packages),
        "raw_forges": lambda: forges_capture(gitlab, bitbucket, main, day, packages),
    }
    captures: dict[str, Capture] = {}
    failures: dict[str, BaseException] = {}
    for asset in selected:
        try:
            captures[asset] = prepare[asset]()
        except Exception as error:  # noqa: BLE001 - that source fails alone, named below
            failures[asset] = error

    def stop() -> None:
        for capture in captures.values():
            capture.log.stop()

    stored: list[str] = []
    try:
        fetched = together({asset: c.fetch for asset, c in captures.items()}, stop=stop)
        for asset, capture in captures.items():
            for note in capture.notes:
                context.log.warning(f"{asset}: {note}")
            records = fetched[asset]
            try:
                if not isinstance(records, pl.DataFrame):
                    raise records
                result = store_raw(context, warehouse, asset, capture.sources, records, capture.log)
            except Exception as error:  # noqa: BLE001 - the other sources are stored all the same
                failures[asset] = error
                continue
            stored.append(asset)
            yield result
    finally:
        # Requests made are requests recorded, whatever kept their rows from being stored (an error, Ctrl-C).
        for asset, capture in captures.items():
            if asset not in stored:
                stage_requests(context, warehouse, asset, capture.log)
    if failures:
        raise dg.Failure(
            description="; ".join(f"{a} failed: {root_cause(e)}" for a, e in failures.items())
            + (f" ({', '.join(stored)} stored)" if stored else "")
        ) from next(iter(failures.values()))
