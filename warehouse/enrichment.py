"""Typed rows from the raw GitHub and PyPI documents of a snapshot date."""

from __future__ import annotations

import json
import re
from datetime import date

import polars as pl
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from warehouse import contracts
from warehouse.parsing import parse_timestamp

_REPO_NODE = pl.Struct(
    {
        "databaseId": pl.Int64,
        "nameWithOwner": pl.String,
        "stargazerCount": pl.Int64,
        "forkCount": pl.Int64,
        "watchers": pl.Struct({"totalCount": pl.Int64}),
        "issues": pl.Struct({"totalCount": pl.Int64}),
        "pullRequests": pl.Struct({"totalCount": pl.Int64}),
        "pushedAt": pl.String,
        "createdAt": pl.String,
        "isArchived": pl.Boolean,
        "isDisabled": pl.Boolean,
        "licenseInfo": pl.Struct({"spdxId": pl.String}),
        "defaultBranchRef": pl.Struct({"name": pl.String}),
        "repositoryTopics": pl.Struct(
            {"nodes": pl.List(pl.Struct({"topic": pl.Struct({"name": pl.String})}))}
        ),
    }
)
_PARTICIPATION = pl.Struct({"all": pl.List(pl.Int64), "owner": pl.List(pl.Int64)})


def parse_repositories(
    raw_repos: pl.DataFrame, raw_participation: pl.DataFrame, snapshot_date: date
) -> pl.DataFrame:
    """Repository snapshot rows: the GraphQL node per repository plus its participation, if asked for."""
    # A blocked repository's payload is GitHub's explanation, not a repository.
    node = pl.when(pl.col("status") == "ok").then(pl.col("payload")).str.json_decode(_REPO_NODE)
    repos = raw_repos.select(
        pl.col("record_key").alias("full_name"),
        pl.col("status"),
        node.struct.field("databaseId").alias("github_id"),
        node.struct.field("nameWithOwner").alias("name_with_owner"),
        node.struct.field("stargazerCount").alias("stars"),
        node.struct.field("forkCount").alias("forks"),
        node.struct.field("watchers").struct.field("totalCount").alias("watchers"),
        (
            node.struct.field("issues").struct.field("totalCount")
            + node.struct.field("pullRequests").struct.field("totalCount")
        ).alias("open_issues"),
        node.struct.field("pullRequests").struct.field("totalCount").alias("open_pull_requests"),
        parse_timestamp(node.struct.field("pushedAt")).alias("pushed_at"),
        parse_timestamp(node.struct.field("createdAt")).alias("created_at"),
        node.struct.field("isArchived").alias("archived"),
        node.struct.field("isDisabled").alias("disabled"),
        node.struct.field("licenseInfo").struct.field("spdxId").alias("license"),
        node.struct.field("defaultBranchRef").struct.field("name").alias("default_branch"),
        node.struct.field("repositoryTopics")
        .struct.field("nodes")
        .list.eval(pl.element().struct.field("topic").struct.field("name"))
        .alias("topics"),
    )
    participation = raw_participation.select(
        pl.col("record_key").alias("full_name"),
        pl.col("status").alias("participation_status"),
        pl.col("payload").str.json_decode(_PARTICIPATION).struct.field("all").alias("participation"),
    )
    frame = repos.join(participation, on="full_name", how="left").with_columns(
        pl.lit(snapshot_date).alias("snapshot_date")
    )
    return frame.select(list(contracts.RepositorySnapshot.to_schema().columns)).sort("full_name")


_DJANGO_CLASSIFIER = re.compile(r"^Framework :: Django :: (\d+(?:\.\d+)?)$")
_PY3_CLASSIFIER = "Programming Language :: Python :: 3"


def _supports_python3(requires_python: str | None, classifiers: list[str]) -> bool | None:
    """djangopackages' rule: a Requires-Python that admits some 3.0 .. 3.14, else a Python 3 classifier,
    else unknown; a malformed Requires-Python falls back to the classifiers, as upstream does."""
    if requires_python:
        try:
            spec = SpecifierSet(requires_python)
        except InvalidSpecifier:
            spec = None
        if spec is not None:
            return any(spec.contains(f"3.{minor}", prereleases=True) for minor in range(15))
    if any(c.startswith(_PY3_CLASSIFIER) for c in classifiers):
        return True
    return None


def parse_pypi(raw: pl.DataFrame, snapshot_date: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(pypi_projects rows, release_snapshots rows) from raw PyPI JSON documents.

    The documents' ``releases`` map is keyed by version, a shape polars cannot type column-wise, so this
    walks the documents in Python; it runs once per project per day, not in any scoring path.
    """
    projects, releases = [], []
    for name, status, payload in raw.select("record_key", "status", "payload").iter_rows():
        doc = json.loads(payload) if payload else None
        # "unchanged": the serial had not moved, so the document stored earlier is today's too.
        if status not in ("ok", "unchanged") or not isinstance(doc, dict):
            projects.append({"pypi_name": name, "status": "missing"})
            continue
        info = doc.get("info") or {}
        classifiers = [c for c in info.get("classifiers") or [] if isinstance(c, str)]
        project_releases = []
        for version, files in (doc.get("releases") or {}).items():
            files = [f for f in files or [] if isinstance(f, dict)]
            uploads = sorted(
                str(f.get("upload_time_iso_8601") or "") for f in files if f.get("upload_time_iso_8601")
            )
            project_releases.append(
                {
                    "pypi_name": name,
                    "version": version,
                    "uploaded_at": uploads[0] if uploads else None,
                    "yanked": bool(files) and all(bool(f.get("yanked")) for f in files),
                    "requires_python": next(
                        (f.get("requires_python") for f in files if f.get("requires_python")), None
                    ),
                }
            )
        releases.extend(project_releases)
        uploads = [r["uploaded_at"] for r in project_releases if r["uploaded_at"]]
        projects.append(
            {
                "pypi_name": name,
                "status": "ok",
                "version": info.get("version"),
                "requires_python": info.get("requires_python") or None,
                "license": info.get("license_expression") or info.get("license") or None,
                "django_versions": sorted(
                    {m.group(1) for c in classifiers if (m := _DJANGO_CLASSIFIER.match(c))},
                    key=lambda v: tuple(int(p) for p in v.split(".")),
                ),
                "supports_python3": _supports_python3(info.get("requires_python"), classifiers),
                "release_count": len(project_releases),
                "last_release_at": max(uploads) if uploads else None,
                "last_serial": doc.get("last_serial"),
            }
        )
    project_schema = {
        "pypi_name": pl.String,
        "status": pl.String,
        "version": pl.String,
        "requires_python": pl.String,
        "license": pl.String,
        "django_versions": pl.List(pl.String),
        "supports_python3": pl.Boolean,
        "release_count": pl.Int64,
        "last_release_at": pl.String,
        "last_serial": pl.Int64,
    }
    release_schema = {
        "pypi_name": pl.String,
        "version": pl.String,
        "uploaded_at": pl.String,
        "yanked": pl.Boolean,
        "requires_python": pl.String,
    }
    stamp = pl.lit(snapshot_date).alias("snapshot_date")
    project_frame = pl.DataFrame(projects, schema=project_schema).with_columns(
        stamp, parse_timestamp(pl.col("last_release_at")).alias("last_release_at")
    )
    release_frame = pl.DataFrame(releases, schema=release_schema).with_columns(
        stamp, parse_timestamp(pl.col("uploaded_at")).alias("uploaded_at")
    )
    return (
        project_frame.select(list(contracts.PypiProject.to_schema().columns)).sort("pypi_name"),
        release_frame.select(list(contracts.ReleaseSnapshot.to_schema().columns)).sort(
            "pypi_name", "version"
        ),
    )
