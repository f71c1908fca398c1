"""Synthetic bundles: N package records shaped like the real sample, for benchmarks.

Shares follow the sample: four in five packages dormant (all-zero weekly arrays), a few `[]` arrays
and null `last_updated`, mostly GitHub repositories, pypi_url in every form the sample shows.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from replay.bundle import SAMPLE_BUNDLE, Bundle, load_bundle, make_bundle
from replay.stable import pick, poisson, unit, units4
from replay.times import api_time
from warehouse.identifiers import pypi_project_name

SYNTHETIC_AS_OF = date(2026, 5, 28)
_CATALOGUE = "https://djangopackages.org"
_FIRST_PACKAGE = datetime(2010, 8, 17, tzinfo=UTC)
_WORDS = (
    "admin", "api", "audit", "auth", "cache", "celery", "cms", "comments", "cors", "crispy", "cron",
    "csv", "debug", "email", "extensions", "filters", "forms", "graphql", "guardian", "health", "history",
    "htmx", "import", "json", "ldap", "locale", "mail", "markdown", "money", "oauth", "orm", "otp", "pdf",
    "permissions", "polymorphic", "queue", "redis", "rest", "rq", "search", "seo", "session", "settings",
    "shop", "sitemap", "storages", "tables", "tagging", "tasks", "tenants", "thumbnails", "tree", "upload",
    "webhooks", "widgets",
)  # fmt: skip
_CATEGORY_SHARES = ((0.84, 1), (0.97, 4), (0.99, 2), (1.0, 3))


def synthetic_bundle(n: int, seed: int = 0, as_of: date = SYNTHETIC_AS_OF) -> Bundle:
    if n < 0:
        raise ValueError("a synthetic bundle needs n >= 0 packages")
    forms = _pypi_url_forms()
    seen: set[str] = set()
    packages = []
    for i in range(n):
        base = "-".join(dict.fromkeys(("django", pick(_WORDS, seed, i, "w1"), pick(_WORDS, seed, i, "w2"))))
        slug = base if base not in seen else f"{base}-{i}"
        seen.add(slug)
        packages.append(_package(i, n, seed, as_of, slug, forms))
    return make_bundle(packages, as_of=as_of, origin=f"synthetic n={n} seed={seed}")


@lru_cache(maxsize=1)
def _pypi_url_forms() -> tuple[str, ...]:
    """The sample's pypi_url shapes with the project name as a `{}` slot, in the sample's proportions."""
    forms = []
    for record in load_bundle(SAMPLE_BUNDLE).packages:
        url, name = record.get("pypi_url"), pypi_project_name(record.get("pypi_url"))
        if isinstance(url, str) and name:
            cut = url.rindex(name)
            forms.append(url[:cut].replace("{", "{{").replace("}", "}}") + "{}" + url[cut + len(name) :])
    return tuple(forms) or ("{}",)


def _package(i: int, n: int, seed: int, as_of: date, slug: str, forms: tuple[str, ...]) -> dict[str, Any]:
    def u(*salt: object) -> float:
        return unit(seed, i, *salt)

    pid = 1 + i + math.floor(i * 0.18)  # ids have gaps where packages were deleted
    now = datetime.combine(as_of, datetime.min.time(), UTC)
    span = (now - timedelta(days=10) - _FIRST_PACKAGE).total_seconds()
    created = _FIRST_PACKAGE + timedelta(seconds=span * (i + u("created")) / max(n, 1))
    stale = u("stale") < 0.08
    if stale:  # djangopackages stopped refreshing some packages years ago
        fetched = max(created + timedelta(days=1), now - timedelta(days=200 + 3000 * u("fetched")))
    else:
        fetched = now - timedelta(seconds=3600 + 36 * 3600 * u("fetched"))

    host = u("host")
    owner = f"{pick(_WORDS, seed, i, 'owner')}{int(u('owner-n') * 900)}"
    if host < 0.87:
        repo_url = f"https://github.com/{owner}/{slug}"
    elif host < 0.98:
        repo_url = f"https://bitbucket.org/{owner}/{slug}"
    elif host < 0.99:
        repo_url = f"https://gitlab.com/{owner}/{slug}"
    else:
        repo_url = f"http://code.google.com/p/{slug}/"
    dead = host >= 0.99

    kind = u("kind")
    # djangopackages only counts commits for GitHub repositories; elsewhere the weeks stay zero.
    active = not stale and host < 0.87 and kind < 0.2
    weeks: list[int] = []
    if not dead and kind < 0.98:
        rate = math.expm1(3 * u("rate")) if active else 0.0
        draws = (units4(seed, i, "week", w) for w in range(52)) if rate else ()
        weeks = [poisson(rate * (0.3 + 1.4 * busy), draw) for busy, draw, _, _ in draws] or [0] * 52
    recent = [w for w, count in enumerate(weeks) if count]
    if recent:
        updated: datetime | None = fetched - timedelta(days=7 * (51 - recent[-1]) + 3 * u("updated"))
    elif dead or u("no-commit") < 0.02:
        updated = None
    else:  # an all-zero array: the last commit is older than the 52 weeks (or as old as the listing)
        updated = created + (max(created, fetched - timedelta(days=365)) - created) * u("updated")
    if updated is not None:
        updated = max(updated, created)

    stars = int(math.expm1((6.5 if active else 5.0) * u("stars") ** 1.5))
    version = None if u("unreleased") < 0.14 else f"{int(u('v1') * 4)}.{int(u('v2') * 12)}.{int(u('v3') * 9)}"
    pypi_url = "" if version is None or u("no-url") < 0.03 else pick(forms, seed, i, "form").format(slug)
    fmt = "?format=api" if u("format") < 0.5 else ""
    grid_count = 1 + (u("grids") > 0.75) + (u("grids") > 0.96)
    grids = sorted({1 + int(u("grid", g) * 150) for g in range(grid_count)})
    category = next(c for share, c in _CATEGORY_SHARES if u("category") < share)
    docs = u("docs")
    topic = pick(_WORDS, seed, i, "topic")
    return {
        "category": f"{_CATALOGUE}/api/v4/categories/{category}/{fmt}",
        "grids": [f"{_CATALOGUE}/api/v4/grids/{g}/{fmt}" for g in grids],
        "id": pid,
        "title": slug if u("title") < 0.7 else slug.removeprefix("django-").replace("-", " ").title(),
        "slug": slug,
        "last_updated": api_time(updated, micro=False) if updated else None,
        "last_fetched": api_time(fetched, micro=True),
        "repo_url": repo_url,
        "pypi_version": version,
        "created": api_time(created, micro=True),
        "modified": api_time(created + (fetched - created) * u("modified"), micro=True),
        "repo_forks": int(stars * 0.3 * u("forks")),
        "repo_description": f"{topic.title()} {pick(_WORDS, seed, i, 'topic-2')} for Django.",
        "pypi_url": pypi_url,
        "documentation_url": None if docs < 0.3 else "" if docs < 0.4 else f"https://{slug}.readthedocs.io/",
        "repo_watchers": stars,
        "commits_over_52": weeks,
        "participants": [
            f"{pick(_WORDS, seed, i, 'login', k)}-dev{k}" for k in range(1 + int(u("people") * 6))
        ],
    }
