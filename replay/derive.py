"""GitHub and PyPI documents derived from a package's state on the clock date.

They agree with the djangopackages record served on the same date (stars, forks, pushed_at, the weekly
array, the latest version); what the record does not say is drawn from stable hashes of the package id.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from replay.evolve import PackageState, Profile, Release
from replay.stable import pick, unit
from replay.times import github_time, parse_time
from warehouse.identifiers import normalize_name

Record = dict[str, Any]

# MIT twice: it is the most common licence among Django packages.
_LICENSES: tuple[dict[str, str] | None, ...] = (
    {"key": "mit", "spdx_id": "MIT", "name": "MIT License"},
    {"key": "mit", "spdx_id": "MIT", "name": "MIT License"},
    {"key": "bsd-3-clause", "spdx_id": "BSD-3-Clause", "name": 'BSD 3-Clause "New" or "Revised" License'},
    {"key": "bsd-2-clause", "spdx_id": "BSD-2-Clause", "name": 'BSD 2-Clause "Simplified" License'},
    {"key": "apache-2.0", "spdx_id": "Apache-2.0", "name": "Apache License 2.0"},
    {"key": "gpl-3.0", "spdx_id": "GPL-3.0", "name": "GNU General Public License v3.0"},
    None,
)
_TOPICS = ("python", "django-rest-framework", "django-admin", "api", "python3", "orm", "templates")
# Django feature releases and their dates: a package declares those released before its last upload.
_DJANGO = (
    ("3.2", datetime(2021, 4, 6, tzinfo=UTC)),
    ("4.2", datetime(2023, 4, 3, tzinfo=UTC)),
    ("5.0", datetime(2023, 12, 4, tzinfo=UTC)),
    ("5.1", datetime(2024, 8, 7, tzinfo=UTC)),
    ("5.2", datetime(2025, 4, 2, tzinfo=UTC)),
)
_SERIAL_EPOCH = datetime(2005, 1, 1, tzinfo=UTC)


def repo_id(full_name: str) -> int:
    return 10_000_000 + int(unit(full_name.lower(), "repo-id") * 900_000_000)


def repo_doc(state: PackageState, prof: Profile, full_name: str, rid: int) -> Record:
    """`GET /repos/{owner}/{repo}` for the package's repository, under its current `full_name`."""
    record, pid = state.record, prof.pid
    stars = record["repo_watchers"]
    pushed = parse_time(record.get("last_updated"))
    created = _repo_created(prof)
    dormant_for_years = prof.daily_rate == 0 and (
        pushed is None or prof.fetched - pushed > timedelta(days=730)
    )
    topics = sorted({"django", pick(_TOPICS, pid, "topic")}) if unit(pid, "topics") < 0.6 else []
    return {
        "id": rid,
        "node_id": "R_kgDO" + base64.urlsafe_b64encode(rid.to_bytes(6, "big")).decode(),
        "name": full_name.split("/")[1],
        "full_name": full_name,
        "html_url": f"https://github.com/{full_name}",
        "description": record.get("repo_description") or None,
        "stargazers_count": stars,
        "watchers_count": stars,
        "forks_count": record["repo_forks"],
        "open_issues_count": int(unit(pid, "issues") * (2 + stars**0.5)),
        "subscribers_count": 1 + stars // 25 + int(unit(pid, "subscribers") * 3),
        "pushed_at": github_time(pushed) if pushed else None,
        "created_at": github_time(created),
        "updated_at": github_time(max(t for t in (pushed, parse_time(record["last_fetched"]), created) if t)),
        "archived": dormant_for_years and unit(pid, "archived") < 0.25,
        "disabled": False,
        "license": _license(pid),
        "default_branch": "main" if created >= datetime(2020, 10, 1, tzinfo=UTC) else "master",
        "topics": topics,
    }


def participation(state: PackageState, prof: Profile) -> Record | None:
    """`stats/participation` on the date, or None while GitHub has never computed the stats."""
    if state.window is None:
        return None
    share = 0.3 + 0.7 * unit(prof.pid, "owner-share")
    return {"all": list(state.window), "owner": [int(w * share) for w in state.window]}


def graphql_node(doc: Record) -> Record:
    """The contract's `Repo` fragment, from a REST document (derived or shipped in the bundle)."""
    open_issues = doc.get("open_issues_count")
    # A shipped document may say anything; beyond 2**53 the float arithmetic below overflows.
    open_issues = open_issues if type(open_issues) is int and 0 <= open_issues <= 2**53 else 0
    # REST counts pull requests as issues; GraphQL reports them apart.
    pulls = int(open_issues * 0.4 * unit(str(doc.get("full_name")).lower(), "pulls"))
    license_ = doc.get("license")
    branch = doc.get("default_branch")
    topics = doc.get("topics")
    return {
        "databaseId": doc.get("id"),
        "nameWithOwner": doc.get("full_name"),
        "stargazerCount": doc.get("stargazers_count"),
        "forkCount": doc.get("forks_count"),
        "watchers": {"totalCount": doc.get("subscribers_count")},
        "issues": {"totalCount": open_issues - pulls},
        "pullRequests": {"totalCount": pulls},
        "pushedAt": doc.get("pushed_at"),
        "createdAt": doc.get("created_at"),
        "isArchived": bool(doc.get("archived")),
        "isDisabled": bool(doc.get("disabled")),
        "licenseInfo": {"spdxId": license_.get("spdx_id")} if isinstance(license_, dict) else None,
        "defaultBranchRef": {"name": branch} if branch else None,
        "repositoryTopics": {
            "nodes": [{"topic": {"name": t}} for t in topics[:20]] if isinstance(topics, list) else []
        },
    }


def release_history(state: PackageState, prof: Profile) -> list[Release]:
    """Oldest first, ending at the package's pypi_version on the date; empty without a version."""
    return [*_bundle_history(prof), *state.releases]


@lru_cache(maxsize=16_384)  # every date's PyPI view starts from the same bundle history
def _bundle_history(prof: Profile) -> tuple[Release, ...]:
    """Releases up to the bundle's pypi_version, all uploaded before the last commit (or creation)."""
    if prof.version is None:
        return ()
    anchor = prof.released_before or prof.fetched
    versions = [prof.version]
    numbers = _numbers(prof.version)
    wanted = 1 + int(unit(prof.pid, "release-count") * 12)
    while len(versions) < wanted and (numbers := _previous(numbers, prof.pid)):
        versions.append(".".join(map(str, numbers)))
    uploaded = anchor - timedelta(days=20 * unit(prof.pid, "latest-upload"))
    history = []
    for version in versions:
        history.append(Release(version, uploaded))
        uploaded -= timedelta(days=15 + 220 * unit(prof.pid, version, "gap"))
    return tuple(history[::-1])


def pypi_doc(state: PackageState, prof: Profile, name: str) -> Record:
    """`GET /pypi/{name}/json`; callers only ask for packages with a pypi_version."""
    history = release_history(state, prof)
    latest = history[-1]
    requires = _requires_python(latest.uploaded)
    releases = {r.version: _files(name, r, prof.pid, latest) for r in history}
    license_ = _license(prof.pid)
    repo_url = state.record.get("repo_url")
    return {
        "info": {
            "name": name,
            "version": latest.version,
            "summary": state.record.get("repo_description") or state.record.get("title"),
            "requires_python": requires,
            "classifiers": _classifiers(prof.pid, latest.uploaded),
            "license": license_["spdx_id"] if license_ else None,
            "project_urls": {"Source": repo_url} if isinstance(repo_url, str) and repo_url else None,
            "yanked": False,
            "yanked_reason": None,
        },
        "last_serial": last_serial(latest),
        "releases": releases,
        "urls": releases[latest.version],
        "vulnerabilities": [],
    }


def last_serial(latest: Release) -> int:
    """PyPI's serial only grows; here it moves exactly when a project uploads."""
    return 1_000_000 + int((latest.uploaded - _SERIAL_EPOCH).total_seconds() // 60)


def _license(pid: int) -> dict[str, str] | None:
    return pick(_LICENSES, pid, "license")


def _repo_created(prof: Profile) -> datetime:
    """Repositories exist before they are listed, and before their last push."""
    return (prof.released_before or prof.fetched) - timedelta(days=30 + 1500 * unit(prof.pid, "repo-age"))


def _numbers(version: str) -> list[int]:
    match = re.match(r"\d+(?:\.\d+)*", version)
    return [int(n) for n in match.group(0).split(".")] if match else []


def _previous(numbers: list[int], pid: int) -> list[int]:
    """A plausible earlier version: lower the last non-zero number, pick small ones after it."""
    positive = [i for i, n in enumerate(numbers) if n > 0]
    if not positive:
        return []
    i = positive[-1]
    tail = [int(unit(pid, *numbers, j) * 4) for j in range(len(numbers) - i - 1)]
    earlier = numbers[:i] + [numbers[i] - 1] + tail
    return earlier if any(earlier) else []


def _requires_python(uploaded: datetime) -> str | None:
    for year, spec in ((2024, ">=3.10"), (2022, ">=3.8"), (2019, ">=3.6")):
        if uploaded.year >= year:
            return spec
    return None


def _classifiers(pid: int, uploaded: datetime) -> list[str]:
    supported = [v for v, released in _DJANGO if released < uploaded]
    declared = supported[-1 - int(unit(pid, "django-span") * 3) :] if supported else []
    python = (
        "Programming Language :: Python :: 3"
        if uploaded.year >= 2014
        else "Programming Language :: Python :: 2.7"
    )
    return ["Framework :: Django", *(f"Framework :: Django :: {v}" for v in declared), python]


def _files(name: str, release: Release, pid: int, latest: Release) -> list[Record]:
    dist = normalize_name(name).replace("-", "_")
    kinds = [("sdist", "source", f"{dist}-{release.version}.tar.gz")]
    if release.uploaded.year >= 2016:
        kinds.append(("bdist_wheel", "py3", f"{dist}-{release.version}-py3-none-any.whl"))
    yanked = release is not latest and unit(pid, release.version, "yanked") < 0.03
    files = []
    for n, (packagetype, python_version, filename) in enumerate(kinds):
        at = release.uploaded + timedelta(seconds=7 * n)
        files.append(
            {
                "filename": filename,
                "packagetype": packagetype,
                "python_version": python_version,
                "requires_python": _requires_python(release.uploaded),
                "size": 8_000 + int(unit(pid, filename, "size") * 200_000),
                "upload_time": at.strftime("%Y-%m-%dT%H:%M:%S"),
                "upload_time_iso_8601": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "yanked": yanked,
                "yanked_reason": "Broken release" if yanked else None,
            }
        )
    return files
