"""`dpw doctor`: what the settings resolve to, whether each source answers, GitHub's quota left, and the
warehouse's dates and last run, with one line per problem found."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from assets.sources.http import HttpClient, RequestLog, SourceError
from pipelines.settings import Settings
from warehouse.store import Warehouse, WarehouseError

# One cheap request per source: what it answers matters less than that it answers at all.
_PROBES = {
    "djangopackages": ("djangopackages_url", "/api/v4/"),
    # GitHub's own quota endpoint costs no quota.
    "github": ("github_url", "/rate_limit"),
    "pypi": ("pypi_url", "/pypi/django/json"),
    # Any answer will do, a 404 included: each is one request of Bitbucket's anonymous 60 an hour.
    "gitlab": ("gitlab_url", "/api/v4/projects/gitlab-org%2Fgitlab"),
    "bitbucket": ("bitbucket_url", "/2.0/repositories/atlassian/python-bitbucket"),
}
# Runs that ended like this left their date unpublished or incomplete.
_BAD_RUNS = ("failed", "refused", "interrupted", "counts_mismatch")


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)  # what was found, in order
    problems: list[str] = field(default_factory=list)  # one line each; any makes doctor exit non-zero


def diagnose(settings: Settings, *, timeout: float = 10.0) -> Report:
    report = Report()
    _settings(settings, report)
    for source, (name, path) in _PROBES.items():
        base = getattr(settings, name)
        if base is not None:
            _probe(settings, source, base, path, timeout, report)
    _warehouse(settings.warehouse, report)
    return report


def _settings(settings: Settings, report: Report) -> None:
    report.lines += [
        f"DPW_DJANGOPACKAGES_URL = {settings.djangopackages_url}",
        f"DPW_GITHUB_URL = {settings.github_url}",
        f"DPW_PYPI_URL = {settings.pypi_url or '(not set: PyPI enrichment is skipped)'}",
        f"DPW_GITLAB_URL = {settings.gitlab_url}",
        f"DPW_BITBUCKET_URL = {settings.bitbucket_url}",
        f"GITHUB_TOKEN = {'set (redacted)' if settings.github_token else '(not set)'}",
        f"GITLAB_TOKEN = {'set (redacted)' if settings.gitlab_token else '(not set)'}",
        f"BITBUCKET_TOKEN = {'set (redacted: no hourly budget)' if settings.bitbucket_token else '(not set: 60 requests an hour)'}",
        f"DPW_WAREHOUSE = {settings.warehouse}",
        f"DPW_FIRST_DATE = {settings.first_date}",
        f"DPW_STORAGE_VERSION = {settings.storage_version}",
    ]
    report.problems += settings.skipped_sources().values()


def _probe(settings: Settings, source: str, base: str, path: str, timeout: float, report: Report) -> None:
    headers = (
        {"Authorization": f"Bearer {settings.github_token}"}
        if source == "github" and settings.github_token
        else {}
    )
    http = HttpClient(base, source=source, log=RequestLog(), headers=headers, timeout=timeout, max_attempts=1)
    try:
        response = http.get(path, expect_json=False, ok_statuses=range(200, 500))
    except SourceError as err:
        report.problems.append(f"{source}: {base} does not answer: {err.reason}")
        return
    finally:
        http.close()
    report.lines.append(f"{source}: {base} answers (HTTP {response.status} to {path})")
    if source == "github":
        remaining = response.headers.get("x-ratelimit-remaining")
        limit = response.headers.get("x-ratelimit-limit")
        if remaining is None:
            report.problems.append(f"github: {base}{path} tells no quota (no x-ratelimit-remaining header)")
        else:
            report.lines.append(f"github: {remaining} of {limit} requests left this hour")
            if remaining == "0":
                report.problems.append("github: no requests left this hour")


def _warehouse(path: Path, report: Report) -> None:
    if not path.exists():
        report.lines.append(f"warehouse: none yet at {path} (the first `dpw ingest` creates it)")
        return
    try:
        with Warehouse(path, read_only=True) as wh:
            first, last, days = wh.row(
                "SELECT min(snapshot_date), max(snapshot_date), count(DISTINCT snapshot_date) FROM package_snapshots"
            )
            runs = wh.query(
                "SELECT snapshot_date, mode, status, message FROM ingest_runs ORDER BY started_at DESC LIMIT 1"
            )
    except WarehouseError as err:
        report.problems.append(f"warehouse: {path} cannot be read: {err}")
        return
    report.lines.append(
        f"warehouse: {days} dates from {first} to {last}" if days else "warehouse: no date yet"
    )
    if runs.height:
        run = runs.row(0, named=True)
        report.lines.append(f"last run: {run['snapshot_date']} ({run['mode']}) {run['status']}")
        if run["status"] in _BAD_RUNS:
            report.problems.append(
                f"last run: {run['snapshot_date']} ended {run['status']}: {run['message'] or 'no message'}"
            )
