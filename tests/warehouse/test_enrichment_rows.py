"""parse_repositories and parse_pypi on tiny hand-built documents: every column of every row, exactly, for a
document that passes and one that fails its checks."""

from datetime import UTC, date, datetime

from warehouse.enrichment import parse_pypi, parse_repositories
from warehouse.raw import raw_frame

DAY = date(2026, 2, 17)
NODE = {
    "databaseId": 5,
    "nameWithOwner": "Owner/Repo",
    "stargazerCount": 3,
    "forkCount": 1,
    "issues": {"totalCount": 2},
    "pullRequests": {"totalCount": 1},
    "pushedAt": "2026-02-01T00:00:00Z",
}
DOC = {
    "info": {
        "version": "1.1",
        "requires_python": ">=3.10",
        "license": "MIT",
        "classifiers": ["Framework :: Django :: 5.2"],
    },
    "last_serial": 7,
    "releases": {
        "1.0": [{"upload_time_iso_8601": "2025-01-01T00:00:00Z", "yanked": False}],
        "1.1": [
            {"upload_time_iso_8601": "2026-01-01T00:00:00Z", "yanked": True, "requires_python": ">=3.10"}
        ],
    },
}


def test_parse_repositories_gives_the_exact_row_and_folds_in_participation():
    parsed = parse_repositories(
        raw_frame(DAY, "github/repository", [("owner/repo", "ok", NODE), ("gone/repo", "missing", None)]),
        raw_frame(DAY, "github/participation", [("owner/repo", "ok", {"all": [1, 0, 2], "_etag": '"e1"'})]),
        DAY,
    )
    assert parsed.rejected.is_empty()
    assert parsed.accepted.to_dicts() == [
        {
            "snapshot_date": DAY,
            "full_name": "gone/repo",
            "status": "missing",
            **dict.fromkeys(
                ["github_id", "name_with_owner", "stars", "forks", "watchers", "open_issues"], None
            ),
            **dict.fromkeys(["open_pull_requests", "pushed_at", "created_at", "archived", "disabled"], None),
            **dict.fromkeys(
                ["license", "default_branch", "topics", "participation_status", "participation"], None
            ),
            "participation_etag": None,
            "participation_fetched_on": None,
        },
        {
            "snapshot_date": DAY,
            "full_name": "owner/repo",
            "status": "ok",
            "github_id": 5,
            "name_with_owner": "Owner/Repo",
            "stars": 3,
            "forks": 1,
            "watchers": None,
            "open_issues": 3,  # issues and pull requests, as djangopackages and the REST API count them
            "open_pull_requests": 1,
            "pushed_at": datetime(2026, 2, 1, tzinfo=UTC),
            "created_at": None,
            "archived": None,
            "disabled": None,
            "license": None,
            "default_branch": None,
            "topics": None,
            "participation_status": "ok",
            # Three weeks are the newest three of 52; the older ones are unknown, not zero.
            "participation": [None] * 49 + [1, 0, 2],
            "participation_etag": '"e1"',
            "participation_fetched_on": DAY,
        },
    ]
    assert parsed.repaired == 1  # the short series


def test_an_array_reused_from_an_earlier_date_keeps_its_etag_and_the_date_it_ends_on():
    reused = {"all": [0] * 51 + [4], "_etag": '"e0"', "_weeks_end": "2026-02-10T00:00:00Z"}
    parsed = parse_repositories(
        raw_frame(DAY, "github/repository", [("owner/repo", "ok", NODE)]),
        raw_frame(DAY, "github/participation", [("owner/repo", "unchanged", reused)]),
        DAY,
    )
    assert parsed.rejected.is_empty()
    assert parsed.accepted.select(
        "participation_status", "participation", "participation_etag", "participation_fetched_on"
    ).rows() == [("unchanged", [0] * 51 + [4], '"e0"', date(2026, 2, 10))]


def test_parse_repositories_rejects_a_negative_star_count_with_its_payload():
    parsed = parse_repositories(
        raw_frame(DAY, "github/repository", [("owner/bad", "ok", {"stargazerCount": -1, "forkCount": 1})]),
        raw_frame(DAY, "github/participation", []),
        DAY,
    )
    assert parsed.accepted.is_empty()
    assert parsed.rejected.to_dicts() == [
        {
            "snapshot_date": DAY,
            "source": "github/repository",
            "record_key": "owner/bad",
            "fields": ["stargazerCount"],
            "reasons": "stargazerCount: below 0 (-1)",
            "payload": '{"stargazerCount":-1,"forkCount":1}',
        }
    ]


def test_parse_pypi_gives_the_exact_project_and_release_rows_and_rejects_an_info_that_is_no_object():
    projects, releases = parse_pypi(
        raw_frame(
            DAY,
            "pypi/project",
            [("django-a", "ok", DOC), ("django-b", "ok", {"info": [1]}), ("gone", "missing", None)],
        ),
        DAY,
    )
    assert projects.accepted.to_dicts() == [
        {
            "snapshot_date": DAY,
            "pypi_name": "django-a",
            "status": "ok",
            "version": "1.1",
            "requires_python": ">=3.10",
            "license": "MIT",
            "django_versions": ["5.2"],
            "supports_python3": True,
            "release_count": 2,
            "last_release_at": datetime(2026, 1, 1, tzinfo=UTC),
            "last_serial": 7,
        },
        {
            "snapshot_date": DAY,
            "pypi_name": "gone",
            "status": "missing",
            **dict.fromkeys(["version", "requires_python", "license", "django_versions"], None),
            **dict.fromkeys(["supports_python3", "release_count", "last_release_at", "last_serial"], None),
        },
    ]
    assert projects.rejected.to_dicts() == [
        {
            "snapshot_date": DAY,
            "source": "pypi/project",
            "record_key": "django-b",
            "fields": ["info"],
            "reasons": "info: not an object ([1])",
            "payload": '{"info":[1]}',
        }
    ]
    assert projects.repaired == 0
    assert releases.to_dicts() == [  # the rejected project's releases are not kept
        {
            "snapshot_date": DAY,
            "pypi_name": "django-a",
            "version": "1.0",
            "uploaded_at": datetime(2025, 1, 1, tzinfo=UTC),
            "yanked": False,
            "requires_python": None,
        },
        {
            "snapshot_date": DAY,
            "pypi_name": "django-a",
            "version": "1.1",
            "uploaded_at": datetime(2026, 1, 1, tzinfo=UTC),
            "yanked": True,
            "requires_python": ">=3.10",
        },
    ]
