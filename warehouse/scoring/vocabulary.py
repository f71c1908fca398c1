"""The words a score row uses for status, trend and coverage: the one copy the contracts and notebooks import."""

from __future__ import annotations

# The order users read statuses in (most to least alive), with unknown apart: it is not a level of activity.
# "Dormant", wherever a query, dashboard or command says it, means inactive or abandoned.
STATUSES: tuple[str, ...] = ("active", "slowing", "stale", "inactive", "abandoned", "unknown")
TRENDS: tuple[str, ...] = ("rising", "declining", "steady", "n/a")
# From most to least weekly data: every week, some weeks, only a last commit date, nothing.
COVERAGES: tuple[str, ...] = ("full", "partial", "recency_only", "unknown")
