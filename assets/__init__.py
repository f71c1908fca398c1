"""The asset graph: raw landing -> validated core tables -> scores and marts."""

from assets.core import djangopackages_catalog, forge_repositories, github_repositories, pypi_releases
from assets.marts import ingest_runs, package_scores
from assets.raw import raw_djangopackages, raw_enrichment

ALL_ASSETS = [
    raw_djangopackages,
    raw_enrichment,
    djangopackages_catalog,
    github_repositories,
    forge_repositories,
    pypi_releases,
    package_scores,
    ingest_runs,
]
