"""The asset graph: raw landing -> validated core tables -> scores and marts."""

from assets.core import core_tables_and_scores
from assets.marts import ingest_runs
from assets.raw import raw_djangopackages, raw_enrichment

ALL_ASSETS = [
    raw_djangopackages,
    raw_enrichment,
    core_tables_and_scores,
    ingest_runs,
]
