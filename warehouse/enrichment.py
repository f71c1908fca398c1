"""Typed rows from the raw GitHub and PyPI documents of a snapshot date.

The documents get the catalogue's policy (``warehouse.parsing``): every field is read non-strictly by its
rule in the tables below; a document unusable as a whole (not a JSON object, an ``info`` that is not one,
a repository without a readable star count) is rejected with its reasons and payload, and a field unusable
alone becomes null. These tables have no ``repairs`` column, so repairs are counted (``Parsed.repaired``),
not listed. Every raw row is accounted for: a document that did not come (missing, blocked, failed after
its retries) is a row with that status, so fetched = accepted + rejected for each source.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import msgspec
import polars as pl
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from warehouse import contracts
from warehouse.parsing import (
    Field,
    Parsed,
    decode_all,
    gc_paused,
    quarantine,
    read_cells,
    read_records,
    without_gc,
)

REPOSITORY_SOURCE = "github/repository"
PYPI_SOURCE = "pypi/project"
FORGE_SOURCES = {"gitlab": "gitlab/project", "bitbucket": "bitbucket/repository"}  # host -> raw source

# Raw statuses: the ones whose payload is a document to parse, and the ones that only say what happened.
# A raw status outside these is a record this code cannot account for, so it is rejected naming it.
REPOSITORY_DOCUMENTS, REPOSITORY_OUTCOMES = ("ok",), ("missing", "blocked", "failed")
# "unchanged": the serial had not moved, so the document stored earlier is today's too.
PYPI_DOCUMENTS, PYPI_OUTCOMES = ("ok", "unchanged"), ("missing", "failed")
PARTICIPATION_OUTCOMES = ("pending", "missing", "blocked", "failed")

REPOSITORY_FIELDS = [
    Field("github_id", "databaseId", "int", minimum=1),
    Field("name_with_owner", "nameWithOwner", "name"),
    # Without its star and fork counts a repository document is not one.
    Field("stars", "stargazerCount", "int", required=True, minimum=0),
    Field("forks", "forkCount", "int", required=True, minimum=0),
    Field("watchers", "watchers.totalCount", "int", minimum=0),
    Field("_open_issues", "issues.totalCount", "int", minimum=0),
    Field("open_pull_requests", "pullRequests.totalCount", "int", minimum=0),
    Field("pushed_at", "pushedAt", "timestamp"),
    Field("created_at", "createdAt", "timestamp"),
    Field("archived", "isArchived", "bool"),
    Field("disabled", "isDisabled", "bool"),
    Field("license", "licenseInfo.spdxId", "name"),
    Field("default_branch", "defaultBranchRef.name", "name"),
    Field("topics", "repositoryTopics.nodes[].topic.name", "strings"),
]
# An answer without a list of weekly counts is no usable answer; an empty list is an unknown series.
_PARTICIPATION_FIELDS = [
    Field("participation", "all", "weeks", required=True),
    Field("participation_etag", "_etag", "text", max_chars=200),
    # Set on an array reused from an earlier date: the instant it ends on (else the snapshot date's).
    Field("_weeks_end", "_weeks_end", "timestamp"),
]
# "unchanged": an array fetched earlier, reused (GitHub answered 304, or the repository was not asked).
PARTICIPATION_DOCUMENTS = ("ok", "unchanged")

PYPI_FIELDS = [
    Field("_info", "info", "object", required=True),
    Field("version", "info.version", "name"),
    Field("requires_python", "info.requires_python", "name"),
    Field("_license_expression", "info.license_expression", "name"),
    # Many projects paste their whole license text here.
    Field("_license", "info.license", "text", max_chars=100_000),
    Field("_classifiers", "info.classifiers", "strings"),
    Field("last_serial", "last_serial", "int", minimum=0),
    Field("_releases", "releases", "object"),
]
# One row per file of a release (a release without files: one row without a file).
_FILE_FIELDS = [
    Field("version", "version", "name", required=True),
    Field("uploaded_at", "file.upload_time_iso_8601", "timestamp"),
    Field("yanked", "file.yanked", "bool"),
    Field("requires_python", "file.requires_python", "name"),
]


def _read_by_status(
    raw: pl.DataFrame,
    fields: list[Field],
    snapshot_date: date,
    documents: tuple[str, ...],
    outcomes: tuple[str, ...],
    texts: pl.Series | None = None,
) -> pl.DataFrame:
    """Raw rows read by ``fields`` where the status carries a document; the other rows with null fields,
    rejected if their status is not one of ``outcomes``. ``texts``: what each document row's fields are
    read from instead of its payload, in the rows' order (see ``read_records``)."""
    is_document = pl.col("status").is_in(documents)
    docs = read_records(raw.filter(is_document), fields, snapshot_date, texts=texts)
    known = " | ".join((*documents, *outcomes))
    others = raw.filter(~is_document).with_columns(
        pl.when(pl.col("status").is_in(outcomes))
        .then(pl.lit([], pl.List(pl.String)))
        .otherwise(pl.concat_list(pl.format(f"status: not one of {known} ({{}})", pl.col("status"))))
        .alias("_reasons"),
        pl.lit([], pl.List(pl.String)).alias("repairs"),
        pl.lit(snapshot_date).alias("snapshot_date"),
    )
    return pl.concat([docs, others], how="diagonal_relaxed").sort("record_key", maintain_order=True)


@without_gc
def parse_repositories(
    raw_repos: pl.DataFrame, raw_participation: pl.DataFrame, snapshot_date: date
) -> Parsed:
    """Repository snapshot rows (source ``github/repository``): the GraphQL node per repository plus its
    participation, if asked for.

    A participation answer that is not a list of weekly counts is no usable answer: its status becomes
    ``failed``, as if it had never come, and the repository keeps its state (answers are folded into their
    repository's row, not counted as records of their own).
    """
    repos = _read_by_status(
        raw_repos, REPOSITORY_FIELDS, snapshot_date, REPOSITORY_DOCUMENTS, REPOSITORY_OUTCOMES
    )
    answers = (
        _read_by_status(
            raw_participation,
            _PARTICIPATION_FIELDS,
            snapshot_date,
            PARTICIPATION_DOCUMENTS,
            PARTICIPATION_OUTCOMES,
        )
        .unique("record_key", keep="first", maintain_order=True)
        .select(
            "record_key",
            pl.when(pl.col("_reasons").list.len() > 0)
            .then(pl.lit("failed"))
            .otherwise(pl.col("status"))
            .alias("participation_status"),
            "participation",
            "participation_etag",
            pl.when(pl.col("participation").is_not_null())
            .then(pl.coalesce(pl.col("_weeks_end").dt.date(), pl.lit(snapshot_date)))
            .alias("participation_fetched_on"),
            pl.col("repairs").alias("_participation_repairs"),
        )
    )
    frame = repos.join(answers, on="record_key", how="left", maintain_order="left").with_columns(
        pl.col("record_key").alias("full_name"),
        (pl.col("_open_issues") + pl.col("open_pull_requests")).alias("open_issues"),
        pl.col("repairs").list.concat(pl.col("_participation_repairs").fill_null([])).alias("repairs"),
    )
    return quarantine(
        frame,
        snapshot_date=snapshot_date,
        source=REPOSITORY_SOURCE,
        model=contracts.RepositorySnapshot,
        key="full_name",
    )


# A forge document is read for its last activity (and, on GitLab, its counts); "deferred" carries the state
# last fetched (possibly none), so it is read like a document whose every field may be absent.
FORGE_DOCUMENTS, FORGE_OUTCOMES = ("ok", "deferred"), ("missing", "failed")
FORGE_FIELDS = {
    "gitlab": [
        Field("last_activity_at", "last_activity_at", "timestamp"),
        Field("stars", "star_count", "int", minimum=0),
        Field("forks", "forks_count", "int", minimum=0),
        Field("archived", "archived", "bool"),
    ],
    "bitbucket": [Field("last_activity_at", "updated_on", "timestamp")],
}


def parse_forges(raw: dict[str, pl.DataFrame], sources: dict[str, str], snapshot_date: date) -> Parsed:
    """forge_repository_snapshots rows from each host's raw rows (``raw`` and ``sources`` by host): a 404
    is ``gone``, and ``asked_on`` is the date the state was fetched (``_asked_on`` of a carried row)."""
    parts = []
    for host, rows in raw.items():
        frame = _read_by_status(rows, FORGE_FIELDS[host], snapshot_date, FORGE_DOCUMENTS, FORGE_OUTCOMES)
        carried = pl.col("payload").str.json_path_match("$._asked_on").str.to_date(strict=False)
        frame = frame.with_columns(
            pl.lit(host).alias("host"),
            pl.col("record_key").alias("path"),
            pl.when(pl.col("status") == "missing").then(pl.lit("gone")).otherwise("status").alias("status"),
            pl.coalesce(
                carried, pl.when(pl.col("status").is_in(["ok", "missing"])).then(pl.lit(snapshot_date))
            ).alias("asked_on"),
        )
        # Bitbucket reports no star or fork count and no archived flag.
        absent = {"stars": pl.Int64, "forks": pl.Int64, "archived": pl.Boolean}
        frame = frame.with_columns(
            pl.lit(None, t).alias(c) for c, t in absent.items() if c not in frame.columns
        )
        parts.append(
            quarantine(
                frame,
                snapshot_date=snapshot_date,
                source=sources[host],
                model=contracts.ForgeRepositorySnapshot,
                key="path",
            )
        )
    return Parsed(
        accepted=pl.concat([p.accepted for p in parts]),
        rejected=pl.concat([p.rejected for p in parts]),
        repaired=sum(p.repaired for p in parts),
    )


def supports_python3(requires_python: pl.Expr, classifiers: pl.Expr) -> pl.Expr:
    """djangopackages' rule: a Requires-Python that admits some 3.0 .. 3.14, else a Python 3 classifier,
    else unknown; a malformed (or empty) Requires-Python falls back to the classifiers, as upstream does."""
    python3 = pl.element().str.starts_with("Programming Language :: Python :: 3")
    return pl.coalesce(
        requires_python.map_batches(_admit_python3, return_dtype=pl.Boolean),
        pl.when(classifiers.list.eval(python3).list.any()).then(pl.lit(True)),
    )


def _admit_python3(requires_python: pl.Series) -> pl.Series:
    """Whether each Requires-Python admits some 3.0 .. 3.14, null where it is empty or malformed. Each
    distinct text is parsed once: a catalogue's tens of thousands of projects share a few hundred."""
    verdicts = {}
    for text in requires_python.drop_nulls().unique().to_list():
        try:
            spec = SpecifierSet(text) if text else None
        except InvalidSpecifier:
            spec = None
        if spec is not None:
            verdicts[text] = any(spec.contains(f"3.{minor}", prereleases=True) for minor in range(15))
    return requires_python.replace_strict(verdicts, default=None, return_dtype=pl.Boolean)


def _django_versions(classifiers: pl.Expr) -> pl.Expr:
    """The Django versions of ``Framework :: Django :: X[.Y]`` classifiers, distinct, in version order."""
    version = pl.element().str.extract(r"^Framework :: Django :: (\d+(?:\.\d+)?)$", 1)
    parts = pl.element().str.split(".")
    major, minor = (parts.list.get(i, null_on_oob=True).cast(pl.Int64, strict=False) for i in (0, 1))
    return classifiers.list.eval(version.drop_nulls().unique()).list.eval(pl.element().sort_by(major, minor))


def _release_files(raw: pl.DataFrame, decoded: list[tuple[Any, str | None]]) -> Iterator[dict[str, Any]]:
    """One item per file of every release of every document (of ``raw``: ``_row``, ``record_key``)."""
    rows, names = raw.get_column("_row").to_list(), raw.get_column("record_key").to_list()
    for row, name, (doc, _) in zip(rows, names, decoded, strict=True):
        releases = doc.get("releases") if isinstance(doc, dict) else None
        if not isinstance(releases, dict):
            continue
        for version, files in releases.items():
            # No files: one row that says so; files that are not a list: one row whose "file" is unusable.
            entries = (files or [None]) if isinstance(files, list) else [files]
            for file in entries:
                yield {"_row": row, "pypi_name": name, "version": version, "file": file}


class _TypedFile(msgspec.Struct):
    upload_time_iso_8601: str | None = None
    yanked: bool | None = None
    requires_python: str | None = None


class _TypedProject(msgspec.Struct):
    # What PYPI_FIELDS read, as the JSON text it is (the cut-down document is built from these); UNSET: absent.
    info: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    last_serial: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    releases: dict[str, list[_TypedFile | None] | None] | None = None


# A document whose release files hold what _FILE_FIELDS expect (strings, booleans, nulls), decoded to exactly
# that: msgspec reads it as Python's json does (the last copy of a key wins, an escaped key is its text), and
# refuses any other document (NaN, a lone surrogate, a trailing comma, a value of another type), which goes
# to Python.
_TYPED_PROJECT = msgspec.json.Decoder(_TypedProject)


@dataclass(frozen=True)
class _DecodedProjects:
    """The documents msgspec decoded (the first of each name): their releases and every one of their release
    files, as columns; ``texts``: what each document's fields are read from (see ``_decode_projects``)."""

    python: list[int]  # rows of the first documents msgspec refused: Python reads their files
    rows: list[int]  # the decoded documents
    names: list[str]
    releases: list[int]  # per decoded document, its releases
    versions: list[str]
    entries: list[int]  # per release, its files (a release without any: one, None)
    files: list[_TypedFile | None]
    texts: pl.Series


def _decode_projects(documents: pl.DataFrame) -> _DecodedProjects:
    """Each project document decoded once: its release files, and for PYPI_FIELDS a cut-down document of
    ``info`` and ``last_serial`` as received and ``releases`` as an empty object (or null), which Python reads
    as it reads the whole document, at a tenth of its length (releases are most of it). A document msgspec
    refuses, or a later one of the same name, keeps its payload."""
    firsts = documents.get_column("record_key").is_first_distinct().to_list()
    python, rows, names, counts, versions, entries, files = [], [], [], [], [], [], []
    texts = documents.get_column("payload").to_list()
    with gc_paused():
        for row, (first, name, payload) in enumerate(
            zip(firsts, documents.get_column("record_key").to_list(), texts, strict=True)
        ):
            if not first:
                continue
            try:
                project = _TYPED_PROJECT.decode(payload)
            except (msgspec.DecodeError, ValueError, TypeError, RecursionError):
                python.append(row)
                continue
            releases = project.releases
            members = ['"releases":' + ("null" if releases is None else "{}")]
            for key in ("info", "last_serial"):
                value = getattr(project, key)
                if value is not msgspec.UNSET:
                    members.append(f'"{key}":' + bytes(value).decode())
            texts[row] = "{" + ",".join(members) + "}"
            # Per file only the file itself: its release and document are repeated from counts, in polars.
            rows.append(row)
            names.append(name)
            counts.append(len(releases or ()))
            for version, listed in (releases or {}).items():
                listed = listed or [None]  # no files (an empty list or null): one row without one
                versions.append(version)
                entries.append(len(listed))
                files.extend(listed)
    return _DecodedProjects(
        python, rows, names, counts, versions, entries, files, pl.Series("payload", texts, dtype=pl.String)
    )


def _release_file_cells(documents: pl.DataFrame, decoded: _DecodedProjects) -> pl.DataFrame:
    """``pypi_name``, ``_is_file`` and the cells of _FILE_FIELDS (``read_cells``) of every file of every
    release of every document (the first document of a name only), in document order: built column by
    column where msgspec decoded the document (``_decode_projects``), and from the objects Python's
    ``json`` reads otherwise (the rare document msgspec refuses)."""
    files = decoded.files
    per_release = pl.Series(decoded.entries, dtype=pl.UInt32)
    release_of_document = pl.DataFrame(
        {"_row": decoded.rows, "pypi_name": decoded.names},
        schema={"_row": pl.UInt32, "pypi_name": pl.String},
    ).select(pl.all().repeat_by(pl.Series(decoded.releases, dtype=pl.UInt32)).explode())
    typed = release_of_document.select(pl.all().repeat_by(per_release).explode()).with_columns(
        pl.Series("_is_file", [f is not None for f in files], dtype=pl.Boolean)
    )
    versions = pl.Series(decoded.versions, dtype=pl.String).repeat_by(per_release).explode()
    uploads, yanked, requires = (
        [None if f is None else getattr(f, key) for f in files]
        for key in ("upload_time_iso_8601", "yanked", "requires_python")
    )
    values: dict[str, Any] = {
        "version": versions,
        "uploaded_at": uploads,
        "yanked": yanked,
        "requires_python": requires,
    }
    cells = []
    for f in _FILE_FIELDS:
        value = pl.Series(values[f.column], dtype=pl.Boolean if f.kind == "bool" else pl.String)
        text = value.cast(pl.String).str.to_lowercase() if f.kind == "bool" else value
        cells += [
            pl.when(value.is_null())
            .then(pl.lit("null"))
            .otherwise(pl.lit("boolean" if f.kind == "bool" else "string"))
            .alias(f"_t_{f.column}"),
            pl.lit(text).alias(f"_x_{f.column}"),
            pl.lit(None, pl.List(pl.String)).alias(f"_i_{f.column}"),
            pl.lit(False).alias(f"_f_{f.column}"),
        ]
    bulk = typed.with_columns(cells)
    if not decoded.python:  # in document order already
        return bulk
    rest = documents.with_row_index("_row").filter(pl.col("_row").is_in(decoded.python))
    items = list(_release_files(rest, decode_all(rest.get_column("payload").to_list())))
    by_python = pl.DataFrame(
        {
            "_row": [i["_row"] for i in items],
            "pypi_name": [i["pypi_name"] for i in items],
            "_is_file": [isinstance(i["file"], dict) for i in items],
        },
        schema={"_row": pl.UInt32, "pypi_name": pl.String, "_is_file": pl.Boolean},
    )
    return pl.concat([bulk, pl.concat([by_python, read_cells(items, _FILE_FIELDS)], how="horizontal")]).sort(
        "_row", maintain_order=True
    )


@without_gc
def parse_pypi(raw: pl.DataFrame, snapshot_date: date) -> tuple[Parsed, pl.DataFrame]:
    """(pypi_projects rows with the rejected documents, source ``pypi/project``; release_snapshots rows of the
    accepted projects) from raw PyPI JSON documents.

    A release whose version is unusable is dropped, and a file's unusable field is null; both count as a
    repair of the project. Upload times after the snapshot date are unknown, so they never make a release
    look recent.
    """
    documents = raw.filter(pl.col("status").is_in(PYPI_DOCUMENTS))
    decoded = _decode_projects(documents)
    # The projects' fields are read by DuckDB and polars, which let go of the GIL, while the release files
    # become columns: on two cores the one hides most of the other.
    with ThreadPoolExecutor(max_workers=1) as beside:
        read = beside.submit(
            _read_by_status, raw, PYPI_FIELDS, snapshot_date, PYPI_DOCUMENTS, PYPI_OUTCOMES, decoded.texts
        )
        items = _release_file_cells(documents, decoded)
        projects_read = read.result()
    files = read_records(
        items.select("pypi_name", "_is_file", pl.lit(None, pl.String).alias("payload")),
        _FILE_FIELDS,
        snapshot_date,
        cells=items.drop("_row", "pypi_name", "_is_file"),
    )
    usable = pl.col("_reasons").list.len() == 0
    releases = (
        files.filter(usable)
        .group_by("pypi_name", "version", maintain_order=True)
        .agg(
            pl.col("uploaded_at").min(),
            (
                pl.col("_is_file").any() & pl.col("yanked").filter(pl.col("_is_file")).fill_null(False).all()
            ).alias("yanked"),
            pl.col("requires_python").drop_nulls().first(),
        )
        .with_columns(pl.lit(snapshot_date).alias("snapshot_date"))
    )
    per_project = releases.group_by("pypi_name").agg(
        pl.len().cast(pl.Int64).alias("_release_count"), pl.col("uploaded_at").max().alias("last_release_at")
    )
    repaired = files.group_by("pypi_name").agg(
        ((pl.col("repairs").list.len() > 0) | ~usable).any().alias("_files_repaired")
    )
    frame = (
        projects_read.with_columns(pl.col("record_key").alias("pypi_name"))
        .join(per_project, on="pypi_name", how="left", maintain_order="left")
        .join(repaired, on="pypi_name", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("status").is_in(PYPI_DOCUMENTS))
            .then(pl.lit("ok"))
            .otherwise("status")
            .alias("status"),
            pl.coalesce("_license_expression", "_license").alias("license"),
            _django_versions(pl.col("_classifiers")).alias("django_versions"),
            supports_python3(pl.col("requires_python"), pl.col("_classifiers")).alias("supports_python3"),
            # Releases that are not a map of versions are unknown, not none.
            pl.when(pl.col("_releases").is_not_null())
            .then(pl.col("_release_count").fill_null(0))
            .alias("release_count"),
            pl.when(pl.col("_files_repaired").fill_null(False))
            .then(pl.col("repairs").list.concat(pl.lit(["releases: entries repaired or dropped"])))
            .otherwise("repairs")
            .alias("repairs"),
        )
    )
    projects = quarantine(
        frame, snapshot_date=snapshot_date, source=PYPI_SOURCE, model=contracts.PypiProject, key="pypi_name"
    )
    kept = releases.join(projects.accepted.select("pypi_name"), on="pypi_name", how="semi")
    return projects, kept.select(list(contracts.ReleaseSnapshot.to_schema().columns)).sort(
        "pypi_name", "version"
    )
