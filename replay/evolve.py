"""Deterministic day-by-day evolution of package records after the bundle's as-of date.

The bundle is the truth on its as-of date A. On a later date D, a package that djangopackages was still
refreshing at A (last_fetched within REFRESH_WINDOW before A) looks as if fetched on D - 1: commits generated
for the days A .. D - 1 land in its weekly array, stars and forks grow, and active packages may release.
Every draw comes from (package id, day), so any date can be computed alone, in any order, and the
commit history seen on D is a prefix of the one seen on D + 1.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from replay.stable import pick, poisson, unit, units4
from replay.times import api_time, at_utc, parse_time, week_index
from warehouse.identifiers import pypi_project_name

Record = dict[str, Any]

# djangopackages refreshes every package it still can; one not fetched for longer gave up (deprecated, or
# past its error limit). The window is wide because bundles are read from pages crawled months apart: the
# shipped sample's records were fetched upstream in February and May 2026.
REFRESH_WINDOW = timedelta(days=150)
WEEKS = 52
_HOUR = 3600.0
# Commits and uploads happen 05:00-19:00 UTC and fetches after 19:00 UTC, so a fetch on D - 1 sees
# that day's work and its New York date is D - 1 as well.
_WORK_START, _WORK_HOURS, _FETCH_START = 5 * _HOUR, 14 * _HOUR, 19 * _HOUR
# (factor, floor in commits a week): a rising package commits at least a few times a week, so that a
# two-week demo already shows momentum.
_TRENDS = ((3.0, 3.0), (0.2, 0.0), (1.0, 0.0))  # rising, declining, steady
_REVIVAL_SHARE = 0.02
_RELEASE_CHANCE = 0.05  # per day with commits
# Bounds of what evolution can compute with: counts stay exact as floats, times leave room for the
# years of history derived before them, versions are short enough for their numbers to be bumped.
_MAX_COUNT = 2**53
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_MAX_VERSION = 100


@dataclass(frozen=True)
class Release:
    version: str
    uploaded: datetime


@dataclass(frozen=True)
class Profile:
    """What evolution reads from a usable record; fixed for the bundle's lifetime."""

    pid: int
    weeks: tuple[int, ...]  # () when GitHub never computed the stats
    fetched: datetime
    refreshed: bool
    daily_rate: float
    start: date  # first day commits may appear (later for revived packages)
    stars: int
    forks: int
    version: str | None  # pypi_version on the as-of date
    released_before: datetime | None  # the bundle's releases precede the last commit (or creation)
    can_release: bool  # a PyPI project exists and its version has a number to bump


@dataclass(frozen=True)
class PackageState:
    """A package on one date: the record served and what GitHub and PyPI must agree with."""

    record: Any  # unusable records (no profile, maybe not even an object) are served verbatim
    window: tuple[int, ...] | None  # GitHub participation `all` on the date; None: never computed
    releases: tuple[Release, ...]  # releases evolution added before the date


def profile(record: object, as_of: date) -> Profile | None:
    """None for a record evolution cannot compute with: the server then serves it as received."""
    if not isinstance(record, dict):
        return None
    pid, weeks, version = record.get("id"), record.get("commits_over_52"), record.get("pypi_version")
    fetched, updated, created = (record.get(k) for k in ("last_fetched", "last_updated", "created"))
    counts = (record.get("repo_watchers"), record.get("repo_forks"))
    if (
        type(pid) is not int
        or not all(_count(v) for v in counts)
        or not isinstance(weeks, list)
        or len(weeks) not in (0, WEEKS)
        or not all(_count(w) for w in weeks)
        or not _plausible(fetched, as_of)
        or (updated is not None and not _plausible(updated, as_of))
        # An unreadable `created` is only unknown; a readable one anchors derived history.
        or (parse_time(created) is not None and not _plausible(created, as_of))
        or not (version is None or (isinstance(version, str) and len(version) <= _MAX_VERSION))
    ):
        return None
    fetched = parse_time(fetched)
    assert fetched is not None
    rate = sum(weeks[WEEKS // 2 :]) / (WEEKS // 2) / 7
    start = as_of
    if rate > 0:
        factor, floor = pick(_TRENDS, pid, "trend")
        rate = max(rate * factor, floor / 7)
    elif weeks and unit(pid, "revive") < _REVIVAL_SHARE:
        rate = (2 + 6 * unit(pid, "revive-rate")) / 7
        start = as_of + timedelta(days=int(unit(pid, "revive-day") * 10))
    return Profile(
        pid=pid,
        weeks=tuple(weeks),
        fetched=fetched,
        refreshed=as_of - REFRESH_WINDOW <= fetched.date() < as_of,
        daily_rate=rate if weeks else 0.0,
        start=start,
        stars=record["repo_watchers"],
        forks=record["repo_forks"],
        version=version,
        released_before=parse_time(updated) or parse_time(created),
        can_release=pypi_project_name(record.get("pypi_url")) is not None and _bump(version) is not None,
    )


def _count(value: object) -> bool:
    return type(value) is int and 0 <= value <= _MAX_COUNT


def _plausible(value: object, as_of: date) -> bool:
    """A time evolution can derive from: parseable, not before 2000, not after the as-of date."""
    moment = parse_time(value)
    return moment is not None and _EARLIEST <= moment and moment.date() <= as_of


def evolve(record: Any, prof: Profile | None, as_of: date, day: date) -> PackageState:
    if prof is None:
        return PackageState(record, None, ())
    day = max(day, as_of)  # before the as-of date the bundle is all there is
    elapsed = (day - as_of).days if prof.refreshed else 0
    commits: list[tuple[datetime, int]] = []
    releases: list[Release] = []
    version = prof.version
    for offset in range(elapsed if prof.daily_rate else 0):
        when = as_of + timedelta(days=offset)
        u_count, u_time, u_release, u_upload = units4(prof.pid, when.isoformat())
        count = poisson(prof.daily_rate, u_count) if when >= prof.start else 0
        if not count:
            continue
        commits.append((at_utc(when, _WORK_START + u_time * _WORK_HOURS), count))
        if prof.can_release and u_release < _RELEASE_CHANCE:
            version = _bump(version)
            upload_share = u_time + (1 - u_time) * u_upload
            releases.append(Release(str(version), at_utc(when, _WORK_START + upload_share * _WORK_HOURS)))
    window = _window(prof, day, commits) if prof.weeks else None
    if not elapsed:
        return PackageState(record, window, ())
    fetch_day = day - timedelta(days=1)
    fetched = at_utc(fetch_day, _FETCH_START + unit(prof.pid, day, "fetch") * (5 * _HOUR - 1))
    growth = 0.02 + prof.stars * 0.0008 + (0.3 if prof.daily_rate else 0.0)
    evolved = dict(record)
    evolved["last_fetched"] = api_time(fetched, micro=True)
    evolved["repo_watchers"] = prof.stars + math.floor(growth * elapsed + unit(prof.pid, "stars"))
    evolved["repo_forks"] = prof.forks + math.floor(growth / 6 * elapsed + unit(prof.pid, "forks"))
    if prof.weeks:
        evolved["commits_over_52"] = list(_window(prof, fetch_day, commits))
    if commits:
        evolved["last_updated"] = api_time(commits[-1][0], micro=False)
    if releases:
        evolved["pypi_version"] = releases[-1].version
    return PackageState(evolved, window, tuple(releases))


def _window(prof: Profile, day: date, commits: list[tuple[datetime, int]]) -> tuple[int, ...]:
    """The 52 weeks ending with the week of `day`: the bundle's array shifted, plus generated commits."""
    current = week_index(day)
    shift = min(WEEKS, max(0, current - week_index(prof.fetched.date())))
    weeks = list(prof.weeks[shift:]) + [0] * shift
    for when, count in commits:
        slot = WEEKS - 1 - (current - week_index(when.date()))
        if 0 <= slot < WEEKS:
            weeks[slot] += count
    return tuple(weeks)


def _bump(version: object) -> str | None:
    """The next version: the last number in the string plus one (`0.9.2` -> `0.9.3`, `1.0b1` -> `1.0b2`)."""
    if not isinstance(version, str):
        return None
    match = re.search(r"(\d+)(?!.*\d)", version)
    if match is None:
        return None
    return f"{version[: match.start()]}{int(match.group(1)) + 1}{version[match.end() :]}"
