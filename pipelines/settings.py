"""Settings: the one place that reads the environment.

Sources are configured only here: ``DPW_DJANGOPACKAGES_URL``, ``DPW_GITHUB_URL``, ``DPW_PYPI_URL``,
``DPW_GITLAB_URL``, ``DPW_BITBUCKET_URL``, ``GITHUB_TOKEN`` and the optional ``GITLAB_TOKEN`` and
``BITBUCKET_TOKEN`` (without one, Bitbucket's 60 anonymous requests an hour bound what is asked), the warehouse file ``DPW_WAREHOUSE``, the per-response body cap
``DPW_MAX_BODY_BYTES``, a read timeout in seconds overriding each source's own ``DPW_HTTP_TIMEOUT``,
the djangopackages page size ``DPW_DJANGOPACKAGES_PAGE_SIZE``, PyPI requests in flight
``DPW_PYPI_CONCURRENCY``, the dataset
guards' thresholds ``DPW_GUARD_*`` (shares from 0 to 1, e.g. ``DPW_GUARD_VANISH_FAIL=0.3``) and the
storage format new warehouse files are created in, ``DPW_STORAGE_VERSION`` (the oldest DuckDB release that
must open them; ``from_env`` sets it for the process, see ``warehouse.fileformat``), and the first snapshot
date of the daily partitions, ``DPW_FIRST_DATE`` (YYYY-MM-DD). The PyPI JSON API has
no default: its address is the user's to give, and without it PyPI enrichment is skipped. Settings are checked when made, so a bad value stops a run at its start
with one line naming the variable, never in the middle of a capture.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from assets.partitions import DEFAULT_FIRST_DATE
from assets.sources.http import DEFAULT_MAX_BODY_BYTES
from warehouse import fileformat
from warehouse.guards import Thresholds

DEFAULT_DJANGOPACKAGES_URL = "https://djangopackages.org"
DEFAULT_GITHUB_URL = "https://api.github.com"
DEFAULT_GITLAB_URL = "https://gitlab.com"
DEFAULT_BITBUCKET_URL = "https://api.bitbucket.org"
DEFAULT_WAREHOUSE = Path("data") / "warehouse.duckdb"
# The replay server takes any token, as GitHub takes a valid one; this one is no secret, so it may be stored
# where a real token never is (Dagster's run storage).
REPLAY_TOKEN = "replay-token"

# The variable each URL setting is read from: errors name what the user has to fix.
URL_VARIABLES = {
    "djangopackages_url": "DPW_DJANGOPACKAGES_URL",
    "github_url": "DPW_GITHUB_URL",
    "pypi_url": "DPW_PYPI_URL",
    "gitlab_url": "DPW_GITLAB_URL",
    "bitbucket_url": "DPW_BITBUCKET_URL",
}


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable and never echoes a credential."""


@dataclass(frozen=True)
class Settings:
    djangopackages_url: str = DEFAULT_DJANGOPACKAGES_URL
    github_url: str = DEFAULT_GITHUB_URL
    pypi_url: str | None = None
    gitlab_url: str = DEFAULT_GITLAB_URL
    bitbucket_url: str = DEFAULT_BITBUCKET_URL
    github_token: str | None = field(default=None, repr=False)  # never printed
    gitlab_token: str | None = field(default=None, repr=False)
    bitbucket_token: str | None = field(default=None, repr=False)
    warehouse: Path = DEFAULT_WAREHOUSE
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    djangopackages_page_size: int = 1000
    pypi_concurrency: int = 10  # PyPI's JSON API is a CDN that tolerates about as many as mirrors use
    http_timeout: float | None = None  # None: each source's own (djangopackages 60 s, GitHub and PyPI 30 s)
    guards: Thresholds = field(default_factory=Thresholds)
    storage_version: str = fileformat.DEFAULT_STORAGE_VERSION
    first_date: date = DEFAULT_FIRST_DATE  # the first daily partition: no date before it can be ingested

    def __post_init__(self) -> None:
        for name, variable in URL_VARIABLES.items():
            url = getattr(self, name)
            if url is not None:
                _check_url(variable, url)
        if type(self.max_body_bytes) is not int or self.max_body_bytes < 1:
            raise SettingsError("DPW_MAX_BODY_BYTES must be a whole number of bytes, at least 1")
        if self.http_timeout is not None and not 0 < self.http_timeout <= 3600:
            raise SettingsError("DPW_HTTP_TIMEOUT must be a number of seconds, more than 0 and at most 3600")
        if type(self.djangopackages_page_size) is not int or self.djangopackages_page_size < 1:
            raise SettingsError("DPW_DJANGOPACKAGES_PAGE_SIZE must be a whole number, at least 1")
        if type(self.pypi_concurrency) is not int or not 1 <= self.pypi_concurrency <= 50:
            raise SettingsError("DPW_PYPI_CONCURRENCY must be a whole number from 1 to 50")
        try:
            fileformat.check(self.storage_version)
        except ValueError as exc:
            raise SettingsError(f"DPW_STORAGE_VERSION: {exc}") from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        settings = cls(
            djangopackages_url=env.get("DPW_DJANGOPACKAGES_URL") or DEFAULT_DJANGOPACKAGES_URL,
            github_url=env.get("DPW_GITHUB_URL") or DEFAULT_GITHUB_URL,
            pypi_url=env.get("DPW_PYPI_URL") or None,
            gitlab_url=env.get("DPW_GITLAB_URL") or DEFAULT_GITLAB_URL,
            bitbucket_url=env.get("DPW_BITBUCKET_URL") or DEFAULT_BITBUCKET_URL,
            github_token=env.get("GITHUB_TOKEN") or None,
            gitlab_token=env.get("GITLAB_TOKEN") or None,
            bitbucket_token=env.get("BITBUCKET_TOKEN") or None,
            warehouse=Path(env.get("DPW_WAREHOUSE") or DEFAULT_WAREHOUSE),
            max_body_bytes=_byte_count(env.get("DPW_MAX_BODY_BYTES")),
            djangopackages_page_size=_whole("DPW_DJANGOPACKAGES_PAGE_SIZE", env, 1000),
            pypi_concurrency=_whole("DPW_PYPI_CONCURRENCY", env, 10),
            http_timeout=_seconds("DPW_HTTP_TIMEOUT", env),
            guards=_thresholds(env),
            storage_version=env.get("DPW_STORAGE_VERSION") or fileformat.DEFAULT_STORAGE_VERSION,
            first_date=_date("DPW_FIRST_DATE", env, DEFAULT_FIRST_DATE),
        )
        # The warehouse code takes no settings: every file this process creates uses this format.
        fileformat.configure(settings.storage_version)
        return settings

    def with_replay(self, base_url: str) -> Settings:
        """Every source pointed at one replay server, with a stand-in GitHub token unless one is set (its
        GraphQL API, like GitHub's, answers no one without a token)."""
        return replace(
            self,
            djangopackages_url=base_url,
            github_url=base_url,
            pypi_url=base_url,
            gitlab_url=base_url,
            bitbucket_url=base_url,
            github_token=self.github_token or REPLAY_TOKEN,
        )

    def skipped_sources(self) -> dict[str, str]:
        """Sources a capture skips with these settings, and why: said at the start of a run."""
        skipped = {}
        if self.github_token is None:
            skipped["github"] = (
                "GITHUB_TOKEN is not set: the GitHub phase is skipped (GitHub's GraphQL API answers no one "
                "without a token), so scores rest on djangopackages' own fields"
            )
        if self.pypi_url is None:
            skipped["pypi"] = "DPW_PYPI_URL is not set: PyPI enrichment is skipped"
        return skipped

    def with_warehouse(self, path: str | Path | None) -> Settings:
        return self if path is None else replace(self, warehouse=Path(path))


def _check_url(variable: str, url: str) -> None:
    # A value with an "@" anywhere is never quoted: a URL that carries a password must not end up in a log
    # or a terminal. Any other is, so the user sees what was read (repr shows control characters escaped).
    shown = "the value" if "@" in url else repr(url)
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unbalanced IPv6 bracket
        raise SettingsError(f"{variable}: {shown} is not a URL ({exc})") from None
    # Without a scheme, "user:pass@host" parses as scheme "user": look for "@" before any path too.
    if "@" in parts.netloc or "@" in url.split("/", 1)[0]:
        raise SettingsError(
            f"{variable}: the URL carries credentials (user:password@host); give the base URL without them "
            "(a GitHub token goes in GITHUB_TOKEN), so they are never stored with a run"
        )
    if not parts.scheme or not parts.netloc:
        raise SettingsError(
            f"{variable}: {shown} is not a base URL with a scheme and a host, such as https://host or "
            "http://127.0.0.1:8000"
        )
    if parts.scheme not in ("http", "https"):
        raise SettingsError(f"{variable}: {shown} is not an http(s) URL")
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise SettingsError(f"{variable}: {shown} has an unusable port ({exc})") from None
    if not parts.hostname:
        raise SettingsError(f"{variable}: {shown} has no host; give a base URL such as https://host")


def _byte_count(value: str | None) -> int:
    if not value:
        return DEFAULT_MAX_BODY_BYTES
    try:
        return int(value)
    except ValueError:
        raise SettingsError("DPW_MAX_BODY_BYTES must be a whole number of bytes, e.g. 20971520") from None


def _whole(variable: str, env: Mapping[str, str], default: int) -> int:
    value = env.get(variable)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{variable} must be a whole number") from None


def _date(variable: str, env: Mapping[str, str], default: date) -> date:
    value = env.get(variable)
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"{variable} must be a date like {default.isoformat()}") from None


def _seconds(variable: str, env: Mapping[str, str]) -> float | None:
    value = env.get(variable)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise SettingsError(f"{variable} must be a number of seconds") from None


def _thresholds(env: Mapping[str, str]) -> Thresholds:
    """``DPW_GUARD_<NAME>`` for each threshold, e.g. ``DPW_GUARD_REJECT_FAIL=0.2``."""
    given: dict[str, float] = {}
    for name in Thresholds.__dataclass_fields__:
        variable = f"DPW_GUARD_{name.upper()}"
        if env.get(variable):
            try:
                given[name] = float(env[variable])
            except ValueError:
                raise SettingsError(f"{variable} must be a share from 0 to 1, e.g. 0.3") from None
    try:
        return Thresholds(**given)
    except ValueError as exc:
        # Thresholds names its fields (vanish_fail); the user set, or left unset, their variables.
        named = re.sub(
            r"\b(?:vanish|count|reject)_(?:warn|fail)\b", lambda m: f"DPW_GUARD_{m[0].upper()}", str(exc)
        )
        raise SettingsError(named.removeprefix("guard threshold ")) from None
