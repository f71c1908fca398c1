"""The asset graph: raw landing -> validated core tables -> scores and marts."""

from assets.core import djangopackages_catalog, github_repositories, pypi_releases
from assets.marts import ingest_runs, package_scores
from assets.raw import raw_djangopackages, raw_github, raw_pypi

ALL_ASSETS = [
    raw_djangopackages,
    raw_github,
    raw_pypi,
    djangopackages_catalog,
    github_repositories,
    pypi_releases,
    package_scores,
    ingest_runs,
]
