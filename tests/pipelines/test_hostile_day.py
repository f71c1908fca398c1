"""The hostile corpus end to end: a real `dpw ingest` of a day that serves it publishes with exit 0, every
record ends where its ``_expect`` says, the counts add up per source, and no URL in any record is contacted.

The day is the replay bundle in tests/data/hostile (see tests/warehouse/test_hostile.py for the parser-level
test of the same records) plus:

- the shipped sample's 240 real records, re-dated to the corpus date. Why padding rather than
  ``--allow reject_share``: the Done-when asks that the run exits 0, and a day upstream is 5,300 records
  of which a hostile few are rejected. With only the corpus, about 26% of the packages are rejected and the
  reject-share guard refuses the day (as it should); an ``--allow`` would test the override, not that a
  hostile minority is quarantined while the day publishes by itself. With the padding the share is about
  10%: the guard warns, names the source, and does not stop the day.
- canary records: package, GitHub and PyPI records whose URL fields (repo, PyPI and documentation URLs,
  category and grid links, participants, a grid's package links, topics, a release's file URLs, project
  URLs) point at a canary HTTP server on another loopback address (127.0.0.2), in http and https forms.
- answers a bundle cannot express, made by wrapping the replay app's router (``_route_through``): every
  list page's ``next`` link points at the canary (the crawl must re-base it onto its configured host), a
  GitHub participation 301 and a PyPI 301 whose targets are at the canary.

After the run, and after a second run on the next date (a warm day with the same records upstream), the
canary must have received no connection at all.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.settings import REPLAY_TOKEN
from replay.app import Response
from replay.bundle import Bundle, load_bundle, make_bundle
from replay.server import ReplayServer
from tests.conftest import SAMPLE_BUNDLE, sample_packages
from tests.warehouse.test_hostile import DAY, HOSTILE, _corpus, _meets, _public
from warehouse.identifiers import normalize_name
from warehouse.raw import RAW_TEXT
from warehouse.store import Warehouse

DPW = Path(sys.executable).with_name("dpw")
NEXT = DAY + timedelta(days=1)
PACKAGES, REPOSITORIES, PROJECTS = "djangopackages/packages", "github/repository", "pypi/project"
LANDED = {
    PACKAGES: "package_snapshots",
    "djangopackages/categories": "category_snapshots",
    "djangopackages/grids": "grid_snapshots",
    REPOSITORIES: "repository_snapshots",
    PROJECTS: "pypi_projects",
    # Both hosts land in one table, told apart by its host column.
    "gitlab/project": "(SELECT * FROM forge_repository_snapshots WHERE host = 'gitlab')",
    "bitbucket/repository": "(SELECT * FROM forge_repository_snapshots WHERE host = 'bitbucket')",
}
# Padding ids are moved past every corpus id (the sample has ids 108, 123, 144 like the corpus).
PADDING_ID_OFFSET = 100_000
PAGE_SIZE = 100  # several list pages, so several `next` links to re-base
MOVED_REPOSITORY_ID = 4_242_000
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # anything but \n


# -- the canary ------------------------------------------------------------------------------------------


class _CanaryHandler(BaseHTTPRequestHandler):
    server: Canary

    def _answer(self) -> None:
        with self.server.lock:
            self.server.requests.append(f"{self.command} {self.path}")
        body = b'{"canary": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Canary(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.2 that counts every connection it accepts (a TLS hello from an https URL
    too) and every request it reads."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.2", 0), _CanaryHandler)
        self.lock = threading.Lock()
        self.connections = 0
        self.requests: list[str] = []

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self.lock:
            self.connections += 1
        return True

    @property
    def http(self) -> str:
        return f"http://127.0.0.2:{self.server_address[1]}"

    @property
    def https(self) -> str:
        return f"https://127.0.0.2:{self.server_address[1]}"

    def counts(self) -> tuple[int, list[str]]:
        with self.lock:
            return self.connections, list(self.requests)

    def reset(self) -> None:
        with self.lock:
            self.connections, self.requests = 0, []


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    server = Canary()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        # The canary sees what it must see: a request from this process is counted, then forgotten.
        with urllib.request.urlopen(f"{server.http}/self-check", timeout=5) as answer:
            assert answer.status == 200
        assert server.counts() == (1, ["GET /self-check"])
        server.reset()
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- the day ---------------------------------------------------------------------------------------------


def padding() -> list[dict]:
    """The sample's real records as if fetched on the corpus date: every time moved back by the distance
    between the bundles' dates (nothing after the snapshot date, last_fetched kept), ids moved apart."""
    shift = load_bundle(SAMPLE_BUNDLE).as_of - DAY
    records = []
    for record in sample_packages():
        moved = dict(record, id=record["id"] + PADDING_ID_OFFSET)
        for key in ("last_updated", "last_fetched", "created", "modified"):
            if isinstance(moved.get(key), str):
                moved[key] = (datetime.fromisoformat(moved[key]) - shift).isoformat()
        records.append(moved)
    return records


def _package(pid: int, slug: str, **fields: Any) -> dict:
    weeks = [0] * 49 + [1, 2, 3]
    return {
        "category": "https://djangopackages.org/api/v4/categories/1/",
        "grids": ["https://djangopackages.org/api/v4/grids/1/"],
        "id": pid,
        "title": f"Canary {slug}",
        "slug": f"canary-{slug}",
        "last_updated": "2026-02-04T09:50:50-05:00",
        "last_fetched": "2026-02-16T00:02:41.505591-05:00",
        "repo_url": f"https://github.com/canary/{slug}",
        "pypi_version": "1.0",
        "created": "2020-01-01T10:00:00-05:00",
        "modified": "2026-02-05T09:11:14-05:00",
        "repo_forks": 1,
        "repo_description": "A canary",
        "pypi_url": f"https://pypi.example/project/canary-{slug}/",
        "documentation_url": f"https://canary-{slug}.readthedocs.io/",
        "repo_watchers": 3,
        "commits_over_52": weeks,
        "participants": ["alice"],
        **fields,
    }


def canary_packages(c: Canary) -> list[dict]:
    """Accepted package records whose every URL field leads to the canary."""
    return [
        # First in the bundle: the grids derived from these links take their host (a grid's `packages`
        # links then point at the canary for every member).
        _package(
            7001,
            "links",
            category=f"{c.http}/api/v4/categories/1/?format=api",
            grids=[f"{c.http}/api/v4/grids/1/", f"{c.https}/api/v4/grids/3/?format=api"],
            repo_url=f"{c.http}/canary/repo",
            pypi_url=f"{c.http}/pypi/canary-links/json",
            documentation_url=f"{c.https}/docs/",
            repo_description=f"see {c.http}/readme and {c.https}/readme",
            participants=[f"{c.http}/users/alice", "bob"],
            homepage=f"{c.https}/home",  # an unknown field: kept in raw, never read
        ),
        _package(
            7002,
            "tls",
            repo_url=f"{c.https}/owner/name.git",
            pypi_url=f"{c.https}/project/canary-tls/",
            documentation_url=f"{c.http}/docs",
        ),
        _package(7003, "gh-links", pypi_url="https://pypi.example/project/canary-py-links/"),
        # GitHub saw a push after djangopackages' fetch: participation is asked for, and answers 301.
        _package(7004, "moved", last_updated="2026-02-14T12:00:00Z", last_fetched="2026-02-15T00:00:00Z"),
    ]


def canary_github(c: Canary) -> list[dict]:
    def repo(rid: int, full_name: str, **fields: Any) -> dict:
        return {
            "id": rid,
            "full_name": full_name,
            "stargazers_count": 3,
            "forks_count": 1,
            "subscribers_count": 1,
            "open_issues_count": 0,
            "pushed_at": "2026-02-03T12:00:00Z",
            "created_at": "2015-03-01T00:00:00Z",
            "archived": False,
            "disabled": False,
            "license": {"key": "mit", "spdx_id": "MIT"},
            "default_branch": "main",
            "topics": ["django"],
            **fields,
        }

    urls = {
        "html_url": f"{c.https}/canary/gh-links",
        "url": f"{c.http}/repos/canary/gh-links",
        "homepage": f"{c.http}/home",
        "mirror_url": f"{c.https}/mirror",
        "clone_url": f"{c.https}/canary/gh-links.git",
        "svn_url": f"{c.http}/svn",
        "hooks_url": f"{c.http}/hooks",
        "owner": {"login": "canary", "html_url": f"{c.https}/canary", "avatar_url": f"{c.http}/a.png"},
    }
    return [
        # What a GraphQL node carries of these (topics, branch, licence) leads to the canary as well.
        repo(
            4_241_000,
            "canary/gh-links",
            **urls,
            default_branch=f"{c.http}/branch",
            topics=[f"{c.https}/topic", "django"],
            license={"key": "other", "spdx_id": f"{c.http}/licence"},
        ),
        repo(MOVED_REPOSITORY_ID, "canary/moved", pushed_at="2026-02-15T12:00:00Z"),
    ]


def canary_pypi(c: Canary) -> list[dict]:
    files = [
        {
            "filename": "canary-1.0.tar.gz",
            "url": f"{c.https}/packages/canary-1.0.tar.gz",
            "upload_time_iso_8601": "2025-06-01T00:00:00Z",
            "yanked": False,
            "requires_python": ">=3.9",
        }
    ]
    return [
        {
            "info": {
                "name": "canary-py-links",
                "version": "1.0",
                "requires_python": ">=3.9",
                "license": "BSD",
                "classifiers": ["Framework :: Django :: 5.2"],
                "yanked": False,
                "home_page": f"{c.http}/home",
                "download_url": f"{c.https}/download",
                "project_url": f"{c.http}/project",
                "package_url": f"{c.http}/package",
                "release_url": f"{c.https}/release",
                "docs_url": f"{c.http}/docs",
                "bugtrack_url": f"{c.https}/bugs",
                "project_urls": {"Homepage": f"{c.https}/", "Source": f"{c.http}/src"},
            },
            "last_serial": 4321,
            "releases": {"1.0": files},
            "urls": files,
        }
    ]


def unnamed_pypi() -> dict[str, dict]:
    """Corpus PyPI documents without a usable ``info.name``, by the name they answer for (``_name``)."""
    return {
        normalize_name(doc["_name"]): _public(doc)
        for _, doc in _corpus("pypi.jsonl")
        if not isinstance(doc.get("info"), dict)
    }


def hostile_day(c: Canary) -> Bundle:
    """Canary records first, then the corpus, then the padding; the corpus's GitHub and PyPI documents."""
    packages = [*canary_packages(c), *(r for _, r in _corpus("packages.jsonl")), *padding()]
    github = [*canary_github(c), *(d for _, d in _corpus("github.jsonl"))]
    pypi = [*canary_pypi(c), *(d for _, d in _corpus("pypi.jsonl"))]
    bundle = make_bundle(packages, github=github, pypi=pypi, as_of=DAY, origin=str(HOSTILE))
    # A category derived from the corpus's link to `/categories/0/` would be a fifth category record, and
    # one reject in five categories is the reject-share guard's limit: djangopackages lists categories 1-4,
    # so the day does too. The package linking to 0 is still served, and still repaired.
    return dataclasses.replace(bundle, categories=tuple(r for r in bundle.categories if r["id"] >= 1))


def _encoded(value: object) -> bytes:
    # As the replay server encodes: a lone surrogate goes out as its escape.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace")


def _route_through(server: ReplayServer, c: Canary) -> Counter[str]:
    """Answers a bundle cannot express, wrapped around the replay app's router (an instance attribute, so
    only this server is affected); returns how often each was given."""
    app = server.app
    route = app._route
    moved_stats = f"{c.http}/repositories/{MOVED_REPOSITORY_ID}/stats/participation"
    given: Counter[str] = Counter()
    lock = threading.Lock()

    def count(what: str) -> None:
        with lock:
            given[what] += 1

    def routed(source: str | None, request: Any, day: Any, now: Any) -> Response:
        project = re.fullmatch(r"/pypi/([^/]+)/json/?", request.path)
        if source == "pypi" and project and project.group(1) == "canary-moved":
            count("pypi 301")
            target = f"{c.https}/pypi/canary-py-links/json"
            return Response(301, _encoded({"message": "Moved Permanently"}), (("Location", target),))
        if source == "github" and request.path == "/repos/canary/moved/stats/participation":
            count("participation 301")
            body = {"message": "Moved Permanently", "url": moved_stats}
            return Response(301, _encoded(body), (("Location", moved_stats),))
        response = route(source, request, day, now)
        if source == "djangopackages" and request.path.rstrip("/").count("/") == 3 and response.status == 200:
            # A list page (/api/v4/{list}/): its next and previous links lead to the canary. Records never
            # hold the replay server's own address, so only the links change.
            own = f'"http://{request.host}/'.encode()
            if b'"next":' + own in response.body:
                count("next link")
            response = dataclasses.replace(response, body=response.body.replace(own, f'"{c.http}/'.encode()))
        return response

    app._route = routed  # type: ignore[method-assign]
    return given


@dataclasses.dataclass(frozen=True)
class Run:
    returncode: int
    stdout: bytes
    stderr: bytes

    def output(self) -> tuple[str, str]:
        """stdout and stderr, decoded strictly (nothing undecodable reached the terminal), after checking
        that the command succeeded and printed nothing raw: no ESC, no other control byte, no C1 control."""
        out, err = self.stdout.decode("utf-8"), self.stderr.decode("utf-8")
        assert self.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
        assert b"\x1b" not in self.stdout + self.stderr
        assert not _CONTROL.search(out + err), repr(_CONTROL.search(out + err))
        return out, err


@dataclasses.dataclass(frozen=True)
class Day:
    warehouse: Path
    runs: dict[date, Run]  # the hostile date, and the warm day after it
    canary: tuple[int, list[str]]  # after both runs
    served: Bundle
    routed: Counter[str]  # answers _route_through gave


@pytest.fixture(scope="module")
def day(canary: Canary, tmp_path_factory: pytest.TempPathFactory) -> Day:
    """Real `dpw ingest --date D` runs, as the schedule makes them: the hostile date, then the next one, whose
    capture reads the first one's stored PyPI documents (a warm day) while the same records stay upstream."""
    path = tmp_path_factory.mktemp("hostile-day") / "warehouse.duckdb"
    bundle = hostile_day(canary)
    runs = {}
    with ReplayServer(bundle, date=DAY) as server:
        routed = _route_through(server, canary)
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "GITHUB_TOKEN")}
        env.update(
            DPW_DJANGOPACKAGES_URL=server.base_url,
            DPW_GITHUB_URL=server.base_url,
            GITHUB_TOKEN=REPLAY_TOKEN,  # the replay's GraphQL, like GitHub's, answers no one without
            DPW_PYPI_URL=server.base_url,
            DPW_GITLAB_URL=server.base_url,
            DPW_BITBUCKET_URL=server.base_url,
            DPW_WAREHOUSE=str(path),
            DPW_DJANGOPACKAGES_PAGE_SIZE=str(PAGE_SIZE),
        )
        for snapshot in (DAY, NEXT):
            server.set_date(snapshot)
            proc = subprocess.run(
                [str(DPW), "ingest", "--date", snapshot.isoformat()],
                env=env,
                cwd=path.parent,
                capture_output=True,
                timeout=600,
            )
            runs[snapshot] = Run(proc.returncode, proc.stdout, proc.stderr)
    return Day(path, runs, canary.counts(), bundle, routed)


def query(day: Day, sql: str, *, on: date = DAY, **params: Any) -> pl.DataFrame:
    with Warehouse(day.warehouse, read_only=True) as wh:
        return wh.query(sql, {"d": on, **params})


def _whole(value: object) -> int | None:
    """The id an accepted record is stored under ("9002", 9003.0 and 9003 are all 9003)."""
    try:
        return int(float(str(value).strip()))
    except (TypeError, ValueError, OverflowError):
        return None


def canonical(payload: str | None) -> str:
    return json.dumps(json.loads(payload) if payload is not None else None, sort_keys=True)


def counts_add_up(day: Day, on: date) -> dict[str, tuple[int, int, int]]:
    """(fetched, accepted, rejected) per source on ``on``, after checking that they add up, each source and
    in the ledger, whose one row for the date is ``ok``."""
    fetched = dict(
        query(
            day, "SELECT source, count(*) FROM raw_records WHERE snapshot_date = $d GROUP BY 1", on=on
        ).rows()
    )
    rejected = dict(
        query(
            day, "SELECT source, count(*) FROM rejected_records WHERE snapshot_date = $d GROUP BY 1", on=on
        ).rows()
    )
    assert set(rejected) <= set(LANDED)
    counts = {}
    for source, table in LANDED.items():
        accepted = query(day, f"SELECT count(*) FROM {table} WHERE snapshot_date = $d", on=on).item()
        counts[source] = (fetched.get(source, 0), accepted, rejected.get(source, 0))
        assert counts[source][0] == accepted + rejected.get(source, 0), (source, counts[source])

    ledger = query(day, "SELECT * FROM ingest_runs WHERE snapshot_date = $d", on=on).to_dicts()
    assert len(ledger) == 1 and ledger[0]["status"] == "ok" and ledger[0]["message"] is None, ledger
    run = ledger[0]
    assert run["records_fetched"] == sum(f for f, _, _ in counts.values())
    assert run["records_fetched"] == run["records_accepted"] + run["records_rejected"]
    assert run["records_rejected"] == sum(r for _, _, r in counts.values())
    assert run["packages_scored"] == counts[PACKAGES][1]
    return counts


# -- the tests -------------------------------------------------------------------------------------------


def test_the_hostile_day_publishes_with_exit_0_and_its_counts_add_up_per_source(day: Day):
    out, err = day.runs[DAY].output()
    assert "counts add up" in out

    counts = counts_add_up(day, DAY)
    print("fetched, accepted, rejected per source:", counts)  # shown with -s: the figures for the report
    run = query(day, "SELECT * FROM ingest_runs WHERE snapshot_date = $d").row(0, named=True)
    assert f"{run['records_fetched']} records fetched, {run['records_accepted']} accepted" in out

    # The hostile minority warns (naming the packages source); no guard stops the day or needs an --allow.
    guards = {
        g: (level, message)
        for g, level, message in query(
            day, "SELECT guard, level, message FROM guard_results WHERE snapshot_date = $d"
        ).rows()
    }
    assert guards["reject_share"][0] == "warn" and PACKAGES in guards["reject_share"][1]
    assert not [g for g, (level, _) in guards.items() if level not in ("ok", "warn")], guards
    assert f"guard reject_share warn: {PACKAGES}" in err


def test_every_hostile_package_record_ends_where_it_is_expected_end_to_end(day: Day):
    corpus = _corpus("packages.jsonl")
    raw = query(day, f"SELECT payload FROM {RAW_TEXT} r WHERE snapshot_date = $d AND source = $s", s=PACKAGES)
    # Served verbatim and captured whole: raw holds every corpus, padding and canary record as written.
    served = Counter(canonical(p) for p in raw.get_column("payload"))
    assert served == Counter(json.dumps(r, sort_keys=True) for r in day.served.packages)
    assert all(served[json.dumps(_public(r), sort_keys=True)] == 1 for _, r in corpus)

    rejected = {
        canonical(payload): fields
        for payload, fields in query(
            day,
            "SELECT payload, fields FROM rejected_records WHERE snapshot_date = $d AND source = $s",
            s=PACKAGES,
        ).rows()
    }
    rows = {
        r["package_id"]: r
        for r in query(day, "SELECT * FROM package_snapshots WHERE snapshot_date = $d").to_dicts()
    }
    wrong = []
    for expect, record in corpus:
        key = json.dumps(_public(record), sort_keys=True)
        if key in rejected:
            actual = "rejected:" + ",".join(rejected[key])
        else:
            row = rows.get(_whole(record.get("id")))
            keys = sorted({note.split(":")[0] for note in row["repairs"]}) if row else []
            actual = "missing" if row is None else "repaired:" + ",".join(keys) if keys else "accepted"
        if not _meets(expect, actual):
            wrong.append((record.get("id"), expect, actual, key[:120]))
    assert not wrong, "\n".join(map(str, wrong))
    # The padding and the canaries are all accepted.
    others = {7001, 7002, 7003, 7004} | {r["id"] for r in padding()}
    assert len(others) == 244 and others <= set(rows)

    # Every accepted package was enriched: its repository and its project were asked for, whatever else
    # the record holds (a lone surrogate in a title, 1 MB of text, controls).
    asked = query(day, "SELECT source, record_key FROM raw_records WHERE snapshot_date = $d")
    for source, column in ((REPOSITORIES, "repo_full_name"), (PROJECTS, "pypi_name")):
        keys = set(asked.filter(pl.col("source") == source).get_column("record_key"))
        linked = {r[column] for r in rows.values() if r[column] is not None}
        assert linked <= keys, (source, sorted(linked - keys)[:10])
    assert rows[122]["repo_full_name"] == "hostile/pkg-122"
    scored = query(day, "SELECT package_id FROM daily_package_metrics WHERE snapshot_date = $d").get_column(
        "package_id"
    )
    assert set(scored) == set(rows)


@pytest.mark.parametrize("source", [REPOSITORIES, PROJECTS])
def test_every_hostile_github_and_pypi_document_ends_where_it_is_expected_end_to_end(day: Day, source: str):
    if source == REPOSITORIES:
        expected = [(e, d["full_name"].lower()) for e, d in _corpus("github.jsonl")]
        table, key = "repository_snapshots", "full_name"
    else:
        expected = [
            (e, normalize_name(d.get("_name") or d["info"]["name"])) for e, d in _corpus("pypi.jsonl")
        ]
        table, key = "pypi_projects", "pypi_name"
    raw = dict(
        query(
            day,
            "SELECT record_key, status FROM raw_records WHERE snapshot_date = $d AND source = $s",
            s=source,
        ).rows()
    )
    accepted = {r[key]: r for r in query(day, f"SELECT * FROM {table} WHERE snapshot_date = $d").to_dicts()}
    rejected = dict(
        query(
            day,
            "SELECT record_key, fields FROM rejected_records WHERE snapshot_date = $d AND source = $s",
            s=source,
        ).rows()
    )
    wrong = []
    for expect, name in expected:
        ended, _, field = expect.partition(":")
        if raw.get(name) != "ok":
            ok = False
        elif ended == "rejected":
            ok = field in rejected.get(name, [])
        elif ended == "nulled":
            ok = name in accepted and accepted[name]["status"] == "ok" and accepted[name][field] is None
        else:
            ok = name in accepted and accepted[name]["status"] == "ok"
        if not ok:
            wrong.append((name, expect, raw.get(name), rejected.get(name), str(accepted.get(name))[:300]))
    assert not wrong, "\n".join(map(str, wrong))
    if source == PROJECTS:
        releases = query(day, "SELECT DISTINCT pypi_name FROM release_snapshots WHERE snapshot_date = $d")
        assert set(releases.get_column("pypi_name")) <= set(accepted)


def test_no_url_in_any_record_or_answer_is_contacted(day: Day):
    connections, requests = day.canary
    assert (connections, requests) == (0, [])

    # The canary's address was in front of the pipeline: in what it captured from every source.
    found = query(
        day,
        f"SELECT source, count(*) FROM {RAW_TEXT} r WHERE snapshot_date = $d AND contains(payload, $a) GROUP BY 1",
        a="127.0.0.2:",
    )
    assert set(dict(found.rows())) >= {PACKAGES, "djangopackages/grids", REPOSITORIES, PROJECTS}, found
    # And in answers: every list page but the last led on through the canary, and both 301s pointed there.
    served = (day.served.packages, day.served.categories, day.served.grids)
    per_run = sum(-(-len(records) // PAGE_SIZE) - 1 for records in served)
    assert day.routed["next link"] == len(day.runs) * per_run and per_run > 3
    assert day.routed["participation 301"] >= 1 and day.routed["pypi 301"] >= 1

    # What led to the canary was followed on the configured host instead: every list page (their `next`
    # links), the participation 301 and the PyPI 301 (PyPI's document of the project it points at).
    pages = query(
        day,
        "SELECT record_key, status FROM raw_records WHERE snapshot_date = $d AND source = 'djangopackages/pages'",
    )
    assert pages.height == sum(-(-len(records) // PAGE_SIZE) for records in served) > 3
    assert set(pages.get_column("status")) == {"ok"}
    assert not query(
        day,
        "SELECT * FROM guard_results WHERE snapshot_date = $d AND guard = 'count_mismatch' AND level <> 'ok'",
    ).height
    moved = query(
        day,
        "SELECT participation_status FROM repository_snapshots WHERE snapshot_date = $d AND full_name = 'canary/moved'",
    )
    assert moved.rows() == [("ok",)]
    project = query(
        day,
        "SELECT status, version, last_serial FROM pypi_projects WHERE snapshot_date = $d AND pypi_name = 'canary-moved'",
    )
    assert project.rows() == [("ok", "1.0", 4321)]
    # The links are data: the canary package is in its grids and category, its URLs stored as text.
    links = query(
        day,
        "SELECT category_id, grid_ids, repo_url FROM package_snapshots WHERE snapshot_date = $d AND package_id = 7001",
    )
    category, grids, repo_url = links.row(0)
    assert (category, sorted(grids)) == (1, [1, 3]) and repo_url.startswith("http://127.0.0.2:")
    # Every request went to a configured source, by a path relative to its base URL.
    paths = query(day, "SELECT DISTINCT path FROM raw_requests WHERE snapshot_date = $d").get_column("path")
    assert all(p.startswith("/") and "127.0.0.2" not in p for p in paths)


def test_the_replay_bundle_serves_every_hostile_pypi_document():
    # Those whose `info` cannot say their name answer under the provenance key `_name`.
    bundle = load_bundle(HOSTILE)
    assert set(unnamed_pypi()) <= set(bundle.pypi)
    assert all(bundle.pypi[name] == doc for name, doc in unnamed_pypi().items())


def test_the_next_day_with_the_same_records_upstream_publishes_too(day: Day):
    """A record that stays upstream must not cost the days after it either: the next capture is warm (PyPI
    by the simple index's serials, against the documents stored the day before, lone surrogates and all)."""
    out, err = day.runs[NEXT].output()
    assert "counts add up" in out
    counts = counts_add_up(day, NEXT)
    print("the next day, fetched, accepted, rejected per source:", counts)
    assert counts[PACKAGES][0] == len(day.served.packages)
    guards = dict(
        query(day, "SELECT guard, level FROM guard_results WHERE snapshot_date = $d", on=NEXT).rows()
    )
    assert set(guards.values()) <= {"ok", "warn"}, guards

    paths = query(day, "SELECT path FROM raw_requests WHERE snapshot_date = $d AND source = 'pypi'", on=NEXT)
    assert "/simple/" in set(paths.get_column("path"))
    projects = dict(
        query(
            day,
            "SELECT record_key, status FROM raw_records WHERE snapshot_date = $d AND source = $s",
            on=NEXT,
            s=PROJECTS,
        ).rows()
    )
    assert "unchanged" in projects.values()
    kept = set(
        query(day, "SELECT pypi_name FROM pypi_projects WHERE snapshot_date = $d", on=NEXT).get_column(
            "pypi_name"
        )
    )
    # Documents holding a lone surrogate's escape, stored the day before.
    assert {"hostile-py-unicode", "hostile-py-version-keys"} <= kept


# -- found end to end: which copy of a duplicated id is kept ---------------------------------------------


def test_of_an_id_in_several_forms_the_exact_readable_copy_is_kept_in_any_order():
    """Raw is read back in record_key order (" 9001 " before "9001"; 9001 and "9001" tie), so the copy kept
    must not depend on position: the id as sent wins over its converted forms, a readable copy over one
    with reasons to reject it; only among equals does the first win."""
    from warehouse.parsing import parse_packages
    from warehouse.raw import raw_frame, record_key

    base = next(_public(r) for _, r in _corpus("packages.jsonl") if r.get("id") == 9001)
    copies = [dict(base, id=form, title=f"as {form!r}") for form in (9001, " 9001 ", "9001", 9001.0)]
    # Each copy first once, and the order read_raw gives (record_key: " 9001 ", "9001", "9001", "9001.0").
    orders = [copies[i:] + copies[:i] for i in range(len(copies))]
    orders.append(sorted(copies, key=record_key))
    for order in orders:
        raw = raw_frame(DAY, PACKAGES, [(record_key(r), "ok", r) for r in order])
        parsed = parse_packages(raw, DAY)
        assert parsed.accepted.select("package_id", "title").rows() == [(9001, "as 9001")], order
        assert parsed.rejected.get_column("fields").to_list() == [["package_id"]] * 3

    # A copy that cannot be read never shadows one that can, whatever its form.
    broken, usable = dict(base, title=None), dict(base, id="9001", title="usable")
    for order in ([broken, usable], [usable, broken]):
        parsed = parse_packages(raw_frame(DAY, PACKAGES, [(record_key(r), "ok", r) for r in order]), DAY)
        assert parsed.accepted.get_column("title").to_list() == ["usable"]
        assert sorted(parsed.rejected.get_column("fields").to_list()[0]) == ["package_id", "title"]
