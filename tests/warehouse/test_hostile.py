"""The hostile corpus (tests/data/hostile) ends where its records say, and no record stops a day.

The corpus is a replay bundle (packages.jsonl with API records, github.jsonl with REST repository
documents, pypi.jsonl with PyPI documents, bundle.json with its date) plus graphql.jsonl: GraphQL nodes in
shapes no REST document can produce, for the parser alone. Each record's ``_expect`` says where it ends:

- ``accepted``: accepted with no repair;
- ``repaired:KEY``: accepted, with a repair of source field KEY (for GitHub and PyPI, whose tables keep no
  repair notes: accepted and counted as repaired);
- ``nulled:COLUMN`` (GitHub, PyPI): accepted with COLUMN null, counted as repaired;
- ``rejected:FIELD``: in rejected_records, FIELD among the fields named.

Keys starting with ``_`` are provenance, never served (``_name``: the project a PyPI document without a
usable ``info.name`` answers for).
"""

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from replay.derive import graphql_node
from warehouse import contracts
from warehouse.enrichment import parse_pypi, parse_repositories
from warehouse.identifiers import normalize_name
from warehouse.metrics import daily_metrics
from warehouse.parsing import Parsed, grid_memberships, parse_packages
from warehouse.raw import raw_frame, record_key

HOSTILE = Path(__file__).resolve().parent.parent / "data" / "hostile"
DAY = date.fromisoformat(json.loads((HOSTILE / "bundle.json").read_text())["as_of"])
SCORES = ["activity_score", "recency", "consistency", "volume", "gap_weeks", "status", "coverage"]


def _corpus(name: str) -> list[tuple[str, dict]]:
    # Only \n ends a line: U+2028 and NEL inside a string are data.
    lines = (HOSTILE / name).read_text(encoding="utf-8").split("\n")
    records = [json.loads(line) for line in lines if line.strip()]
    return [(r["_expect"], r) for r in records]


def _public(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _packages(records: list[dict]) -> tuple[pl.DataFrame, Parsed]:
    raw = raw_frame(DAY, "djangopackages/packages", [(record_key(r), "ok", r) for r in records])
    return raw, parse_packages(raw, DAY)


def _repositories() -> tuple[list[tuple[str, str]], Parsed]:
    """(expectation, key) per GitHub document (REST ones as the replay serves them, as GraphQL nodes)."""
    rest = [(e, doc["full_name"].lower(), graphql_node(_public(doc))) for e, doc in _corpus("github.jsonl")]
    nodes = [
        (e, doc["full_name"].lower(), {k: v for k, v in _public(doc).items() if k != "full_name"})
        for e, doc in _corpus("graphql.jsonl")
    ]
    items = [*rest, *nodes]
    raw = raw_frame(DAY, "github/repository", [(key, "ok", node) for _, key, node in items])
    parsed = parse_repositories(raw, raw_frame(DAY, "github/participation", []), DAY)
    return [(e, key) for e, key, _ in items], parsed


def _projects() -> tuple[list[tuple[str, str]], Parsed, pl.DataFrame]:
    docs = [
        (e, normalize_name(doc.get("_name") or doc["info"]["name"]), doc) for e, doc in _corpus("pypi.jsonl")
    ]
    raw = raw_frame(DAY, "pypi/project", [(name, "ok", _public(doc)) for _, name, doc in docs])
    projects, releases = parse_pypi(raw, DAY)
    return [(e, name) for e, name, _ in docs], projects, releases


def _package_outcomes(raw: pl.DataFrame, parsed: Parsed) -> list[tuple[str, dict | None]]:
    """Per raw record: ``rejected:FIELDS`` (and None), or ``accepted`` / ``repaired:KEYS`` and its row."""
    rejected = {r["payload"]: r["fields"] for r in parsed.rejected.iter_rows(named=True)}
    # Accepted rows keep the order of the records they come from.
    accepted = iter(parsed.accepted.iter_rows(named=True))
    outcomes = []
    for payload in raw.get_column("payload"):
        if payload in rejected:
            outcomes.append(("rejected:" + ",".join(rejected[payload]), None))
            continue
        row = next(accepted)
        keys = sorted({note.split(":")[0] for note in row["repairs"]})
        outcomes.append(("repaired:" + ",".join(keys) if keys else "accepted", row))
    assert next(accepted, None) is None
    return outcomes


def _meets(expect: str, actual: str) -> bool:
    wanted, _, name = expect.partition(":")
    ended, _, names = actual.partition(":")
    return wanted == ended and (not name or name in names.split(","))


def test_the_corpus_is_a_bundle_of_at_least_50_hostile_package_records():
    packages = _corpus("packages.jsonl")
    assert sum(expect != "accepted" for expect, _ in packages) >= 50
    for name in ("packages.jsonl", "github.jsonl", "graphql.jsonl", "pypi.jsonl"):
        for expect, _ in _corpus(name):
            assert expect == "accepted" or expect.split(":")[0] in ("repaired", "nulled", "rejected"), expect
    assert "\\ud800" in (HOSTILE / "packages.jsonl").read_text(encoding="utf-8")  # written as escapes


def test_every_hostile_package_record_ends_where_it_is_expected():
    corpus = _corpus("packages.jsonl")
    raw, parsed = _packages([_public(r) for _, r in corpus])
    assert parsed.counts["fetched"] == len(corpus) == parsed.accepted.height + parsed.rejected.height
    outcomes = _package_outcomes(raw, parsed)
    wrong = [
        (i, expect, actual, json.dumps(_public(record))[:160])
        for i, ((expect, record), (actual, _)) in enumerate(zip(corpus, outcomes, strict=True))
        if not _meets(expect, actual)
    ]
    assert not wrong, "\n".join(map(str, wrong))
    assert parsed.repaired == sum(actual.startswith("repaired") for actual, _ in outcomes)


def test_what_is_stored_is_clean_and_bounded():
    corpus = [_public(r) for _, r in _corpus("packages.jsonl")]
    raw, parsed = _packages(corpus)
    # Raw keeps every record as received (lone surrogates as their escapes), whatever became of it.
    assert [json.loads(p) for p in raw.get_column("payload")] == corpus
    accepted = parsed.accepted
    texts = ["slug", "title", "repo_url", "pypi_version", "documentation_url", "repo_description"]
    for column in texts:
        assert not accepted.get_column(column).str.contains(r"\x1b|\x00|[\x7f-\x9f]").any(), column
    assert accepted.get_column("title").str.len_chars().max() <= 500
    assert accepted.get_column("participants").list.eval(pl.element().str.len_chars()).explode().max() <= 200
    schemes = accepted.get_column("repo_url").drop_nulls().str.extract(r"^([a-zA-Z][a-zA-Z0-9+-]*):", 1)
    assert set(schemes.drop_nulls().str.to_lowercase()) <= {"http", "https"}
    assert not accepted.get_column("repo_url").str.contains("pass@").any()
    latest = pl.lit(DAY).cast(pl.Datetime("us", "UTC")) + pl.duration(days=1)
    for column in ("last_updated_at", "last_fetched_at", "created_at", "modified_at"):
        assert accepted.filter(pl.col(column) > latest).is_empty(), column
    assert parsed.rejected.get_column("record_key").str.len_chars().max() <= 200


@pytest.mark.parametrize("source", ["github", "pypi"])
def test_every_hostile_github_and_pypi_document_ends_where_it_is_expected(source):
    if source == "github":
        expected, parsed = _repositories()
        key = "full_name"
    else:
        expected, parsed, releases = _projects()
        key = "pypi_name"
        assert releases.join(parsed.accepted, on="pypi_name", how="anti").is_empty()
    accepted = {r[key]: r for r in parsed.accepted.iter_rows(named=True)}
    rejected = {r["record_key"]: r["fields"] for r in parsed.rejected.iter_rows(named=True)}
    assert parsed.counts["fetched"] == len(expected) == len(accepted) + len(rejected)
    wrong = []
    for expect, name in expected:
        ended, _, field = expect.partition(":")
        if ended == "rejected":
            ok = field in rejected.get(name, [])
        elif ended == "nulled":
            ok = name in accepted and accepted[name][field] is None
        else:
            ok = name in accepted
        if not ok:
            wrong.append((name, expect, rejected.get(name), accepted.get(name)))
    assert not wrong, "\n".join(map(str, wrong))
    assert parsed.repaired == sum(e.split(":")[0] in ("repaired", "nulled") for e, _ in expected)


def test_the_hostile_day_scores_and_no_future_timestamp_raises_a_score():
    corpus = [_public(r) for _, r in _corpus("packages.jsonl")]
    raw, packages = _packages(corpus)
    _, repositories = _repositories()
    _, projects, _ = _projects()
    memberships = grid_memberships(packages.accepted, raw_frame(DAY, "djangopackages/grids", []), DAY)
    metrics, _ = daily_metrics(packages.accepted, repositories.accepted, projects.accepted, memberships, DAY)
    assert metrics.height == packages.accepted.height
    assert contracts.validate(contracts.DailyPackageMetrics, metrics).failures.is_empty()

    # Every accepted record with a time after the date, scored again with those times absent: the same.
    future = {}
    for (_, row), record in zip(_package_outcomes(raw, packages), corpus, strict=True):
        keys = {n.split(":")[0] for n in (row or {}).get("repairs", []) if "after the snapshot date" in n}
        if keys:
            future[row["package_id"]] = {**record, **dict.fromkeys(keys)}
    assert len(future) >= 3
    _, unknown = _packages(list(future.values()))
    again, _ = daily_metrics(unknown.accepted, repositories.accepted, projects.accepted, memberships, DAY)
    scored = metrics.filter(pl.col("package_id").is_in(list(future))).sort("package_id")
    assert scored.select(SCORES).equals(again.sort("package_id").select(SCORES))

    # Believed, a commit after the date would have made these packages look active.
    trusted = [
        {**r, "last_updated": f"{DAY}T00:00:00Z"} for r in future.values() if r["last_updated"] is None
    ]
    _, believed = _packages(trusted)
    higher, _ = daily_metrics(believed.accepted, repositories.accepted, projects.accepted, memberships, DAY)
    pairs = higher.join(again, on="package_id", suffix="_unknown").select(
        "activity_score", "activity_score_unknown"
    )
    assert pairs.height == len(trusted) and pairs.null_count().sum_horizontal().item() == 0
    assert (pairs["activity_score"] > pairs["activity_score_unknown"] + 20).all()
