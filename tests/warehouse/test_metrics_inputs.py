"""package_inputs on three hand-built packages: where each value of the score's input row comes from."""

from datetime import UTC, date, datetime

import polars as pl

from warehouse.metrics import package_inputs

DAY = date(2026, 5, 4)
TAU = datetime(2026, 5, 4, tzinfo=UTC)
FETCHED = datetime(2026, 4, 20, tzinfo=UTC)
COMMITTED = datetime(2026, 4, 1, tzinfo=UTC)
GH_WEEKS, DP_WEEKS = [2] * 52, [1] * 52


def test_package_inputs_prefers_github_and_pypi_and_falls_back_to_djangopackages():
    packages = pl.DataFrame(
        {
            "package_id": [1, 2, 3],
            "category_id": [7, 7, None],
            "stars": [10, 20, 30],
            "forks": [1, 2, 3],
            "last_updated_at": [COMMITTED, COMMITTED, None],
            "pypi_version": ["0.9", "2.0", None],
            "commits_over_52": [DP_WEEKS, DP_WEEKS, None],
            "last_fetched_at": [FETCHED, FETCHED, FETCHED],
            "repo_full_name": ["a/one", "a/two", "a/three"],
            "pypi_name": ["one", "two", None],
        }
    )
    repositories = pl.DataFrame(
        {
            "full_name": ["a/one", "a/two", "a/three"],
            "status": ["ok", "ok", "missing"],
            "stars": [11, 21, None],
            "forks": [4, 5, None],
            "open_issues": [3, 0, None],
            "watchers": [2, 1, None],
            "archived": [False, True, None],
            # a/two's participation was pending: its weeks are djangopackages' array, not these.
            "participation_status": ["ok", "pending", None],
            "participation": [GH_WEEKS, [9] * 52, None],
        }
    )
    pypi = pl.DataFrame(
        {
            "pypi_name": ["one", "two"],
            "status": ["ok", "missing"],
            "version": ["1.0", None],
            "supports_python3": [True, None],
        }
    )
    assert package_inputs(packages, repositories, pypi, DAY).to_dicts() == [
        {
            "snapshot_date": DAY,
            "package_id": 1,
            "category_id": 7,
            "stars": 11,
            "forks": 4,
            "open_issues": 3,
            "watchers": 2,
            "last_commit_at": COMMITTED,
            "latest_version": "1.0",
            "weeks_source": "github",
            "weeks": GH_WEEKS,
            "weeks_anchor_at": TAU,  # fetched that day: the series ends at τ
            "archived": False,
            "supports_python3": True,
        },
        {
            "snapshot_date": DAY,
            "package_id": 2,
            "category_id": 7,
            "stars": 21,
            "forks": 5,
            "open_issues": 0,
            "watchers": 1,
            "last_commit_at": COMMITTED,
            "latest_version": "2.0",
            "weeks_source": "djangopackages",
            "weeks": DP_WEEKS,
            "weeks_anchor_at": FETCHED,  # djangopackages' array ends at its last fetch
            "archived": True,
            "supports_python3": None,
        },
        {
            "snapshot_date": DAY,
            "package_id": 3,
            "category_id": None,
            "stars": 30,
            "forks": 3,
            "open_issues": None,
            "watchers": None,
            "last_commit_at": None,
            "latest_version": None,
            "weeks_source": "none",
            "weeks": None,
            "weeks_anchor_at": None,
            "archived": None,
            "supports_python3": None,
        },
    ]
