"""package_inputs on three hand-built packages: where each value of the score's input row comes from."""

from datetime import UTC, date, datetime

import polars as pl

from warehouse.metrics import package_inputs

DAY = date(2026, 5, 4)
TAU = datetime(2026, 5, 4, tzinfo=UTC)
FETCHED = datetime(2026, 4, 20, tzinfo=UTC)
REUSED = datetime(2026, 4, 27, tzinfo=UTC)
ACTIVE = datetime(2026, 4, 30, 12, tzinfo=UTC)
BITBUCKET = "https://bitbucket.org/WS/five/src/default/"
COMMITTED = datetime(2026, 4, 1, tzinfo=UTC)
GH_WEEKS, DP_WEEKS = [2] * 52, [1] * 52


def test_package_inputs_prefers_github_and_pypi_and_falls_back_to_djangopackages():
    packages = pl.DataFrame(
        {
            "package_id": [1, 2, 3, 4, 5],
            "category_id": [7, 7, None, 7, 7],
            "stars": [10, 20, 30, 40, 50],
            "forks": [1, 2, 3, 4, 5],
            "last_updated_at": [COMMITTED, COMMITTED, None, COMMITTED, COMMITTED],
            "pypi_version": ["0.9", "2.0", None, None, None],
            # djangopackages counts no commits on Bitbucket: its array there is zeros, never a score.
            "commits_over_52": [DP_WEEKS, DP_WEEKS, None, DP_WEEKS, [0] * 52],
            "last_fetched_at": [FETCHED, FETCHED, FETCHED, FETCHED, FETCHED],
            "repo_url": [*(f"https://github.com/a/{n}" for n in ("one", "two", "three", "four")), BITBUCKET],
            "repo_host": ["github", "github", "github", "github", "bitbucket"],
            "repo_full_name": ["a/one", "a/two", "a/three", "a/four", None],
            "pypi_name": ["one", "two", None, None, None],
        }
    )
    repositories = pl.DataFrame(
        {
            "full_name": ["a/one", "a/two", "a/three", "a/four"],
            "status": ["ok", "ok", "missing", "ok"],
            "stars": [11, 21, None, 41],
            "forks": [4, 5, None, 6],
            "open_issues": [3, 0, None, 0],
            "watchers": [2, 1, None, 0],
            "archived": [False, True, None, False],
            # a/two's participation was pending: its weeks are djangopackages' array, not these. a/four was
            # not asked (nothing pushed since): its array fetched on REUSED is reused, not djangopackages'.
            "participation_status": ["ok", "pending", None, "unchanged"],
            "participation": [GH_WEEKS, [9] * 52, None, GH_WEEKS],
            "participation_fetched_on": [DAY, None, None, REUSED.date()],
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
    forges = pl.DataFrame(
        {
            "host": ["bitbucket"],
            "path": ["ws/five"],
            "last_activity_at": [ACTIVE],
            "stars": [None],
            "forks": [None],
            "archived": [None],
        },
        schema_overrides={"stars": pl.Int64, "forks": pl.Int64, "archived": pl.Boolean},
    )
    assert package_inputs(packages, repositories, pypi, DAY, forges).to_dicts() == [
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
        {
            "snapshot_date": DAY,
            "package_id": 4,
            "category_id": 7,
            "stars": 41,
            "forks": 6,
            "open_issues": 0,
            "watchers": 0,
            "last_commit_at": COMMITTED,
            "latest_version": None,
            "weeks_source": "github",
            "weeks": GH_WEEKS,
            "weeks_anchor_at": REUSED,  # the reused array ends on the date it was fetched
            "archived": False,
            "supports_python3": None,
        },
        {
            "snapshot_date": DAY,
            "package_id": 5,
            "category_id": 7,
            "stars": 50,
            "forks": 5,
            "open_issues": None,
            "watchers": None,
            "last_commit_at": ACTIVE,  # Bitbucket's updated_on, not djangopackages' date
            "latest_version": None,
            "weeks_source": "none",
            "weeks": None,
            "weeks_anchor_at": None,
            "archived": None,
            "supports_python3": None,
        },
    ]
