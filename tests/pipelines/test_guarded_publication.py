"""Bad upstream days: the guards refuse to publish them, history stays byte-identical, and a person can
publish the kept capture later without a single request."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from assets import ALL_ASSETS
from assets.raw import raw_djangopackages, raw_enrichment
from pipelines.definitions import resources
from pipelines.runner import IngestRefused, kept_capture, plan, rescore, run_date
from pipelines.settings import Settings
from replay.bundle import Bundle, load_bundle, make_bundle
from replay.server import ReplayServer
from tests.conftest import SAMPLE_BUNDLE
from warehouse import guards
from warehouse.staging import PUBLISHED_TABLES
from warehouse.store import Warehouse, WarehouseError, migrations


def checksums(path: Path, before: date) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every published table's rows dated before ``before``."""
    with Warehouse(path, read_only=True) as wh:
        return {
            table: wh.row(
                f"SELECT count(*), md5(coalesce(string_agg(t::VARCHAR, chr(10) ORDER BY t::VARCHAR), '')) "
                f"FROM {table} AS t WHERE snapshot_date < ?",
                [before],
            )
            for table in PUBLISHED_TABLES
        }


def rows_on(path: Path, table: str, day: date) -> int:
    with Warehouse(path, read_only=True) as wh:
        return wh.row(f"SELECT count(*) FROM {table} WHERE snapshot_date = ?", [day])[0]


@pytest.fixture(scope="module")
def sample() -> Bundle:
    return load_bundle(SAMPLE_BUNDLE)


@pytest.fixture
def first_day(sample: Bundle, tmp_path: Path) -> tuple[Settings, date]:
    """A warehouse with one good day captured from the whole sample."""
    day = sample.as_of + timedelta(days=1)
    with ReplayServer(sample, date=day) as server:
        settings = Settings().with_replay(server.base_url).with_warehouse(tmp_path / "w.duckdb")
        assert run_date(settings, day, plan(settings, day)).summary["status"] == "ok"
    return settings, day


def bad_day(sample: Bundle, packages: list[dict]) -> Bundle:
    return make_bundle(packages, categories=sample.categories, grids=sample.grids, as_of=sample.as_of)


def refuse_then_allow(
    settings: Settings, server: ReplayServer, day: date, guard: str, also: tuple[str, ...] = ()
) -> str:
    """Capture ``day`` (refused naming ``guard``), then publish the kept capture with --allow and no
    request; returns the refusal's message."""
    good = settings.warehouse
    before = checksums(good, day)
    settings = settings.with_replay(server.base_url)
    with pytest.raises(IngestRefused) as refused:
        run_date(settings, day, plan(settings, day))
    message = str(refused.value)
    assert f"guard {guard} failed" in message and "\n" not in message
    assert checksums(good, day) == before
    assert all(rows_on(good, table, day) == 0 for table in PUBLISHED_TABLES)
    with Warehouse(good, read_only=True) as wh:
        ledger = wh.query("SELECT status, message FROM ingest_runs WHERE snapshot_date = $d", {"d": day})
        fired = wh.query(
            "SELECT guard FROM guard_results WHERE snapshot_date = $d AND level = 'fail'", {"d": day}
        )
    assert ledger.rows() == [("refused", message)]
    assert guard in fired.get_column("guard").to_list()
    assert kept_capture(settings, day) is not None

    allow = sorted(set(fired.get_column("guard")) | set(also))
    server.reset_counts()
    assert plan(settings, day, allow=allow) == "recompute"
    result = run_date(settings, day, "recompute", allow=allow)
    assert sum(server.request_counts().values()) == 0
    assert result.summary["status"] == "ok"
    assert checksums(good, day) == before
    assert rows_on(good, "raw_records", day) > 0
    assert {g["guard"] for g in result.guards if g["level"] == "allowed"} == set(allow)
    assert kept_capture(settings, day) is None
    return message


def test_a_day_where_most_packages_vanish_is_refused_and_can_be_allowed(sample, first_day):
    settings, first = first_day
    day = first + timedelta(days=1)
    survivors = list(sample.packages[: len(sample.packages) * 4 // 10])
    with ReplayServer(bad_day(sample, survivors), date=day) as server:
        message = refuse_then_allow(settings, server, day, "packages_vanished")
    assert f"{len(survivors)}" in message
    assert rows_on(settings.warehouse, "daily_package_metrics", day) == len(survivors)
    # A rescore of both dates is not refused again: the day was allowed once, and its raw is unchanged.
    before = checksums(settings.warehouse, day + timedelta(days=1))
    assert rescore(settings, first, day, None) == [first, day]
    assert checksums(settings.warehouse, day + timedelta(days=1)) == before


def refused_capture(sample: Bundle, settings: Settings, day: date) -> str | None:
    """Capture ``day`` with most packages gone: the guards refuse it, and the capture is kept."""
    with ReplayServer(bad_day(sample, list(sample.packages[:50])), date=day) as server:
        with pytest.raises(IngestRefused):
            run_date(settings.with_replay(server.base_url), day, "capture")
    return kept_capture(settings, day)


def test_a_refused_capture_is_kept_written_out_whole_and_let_go(sample, first_day):
    """The run held its staging file from its first step (its commits in the file's log); when the run
    ends the file is let go and written out whole, so it stands alone: copied or opened elsewhere."""
    settings, first = first_day
    day = first + timedelta(days=1)
    kept = Path(refused_capture(sample, settings, day) or "")
    assert kept.is_file()
    assert not kept.with_name(kept.name + ".wal").exists()
    with Warehouse(kept, read_only=True) as wh:  # refused while the run's process still held it
        assert wh.row("SELECT count(*) FROM raw_records WHERE source = 'djangopackages/packages'")[0] == 50


def test_recomputing_a_published_date_leaves_another_capture_of_it_kept(sample, first_day):
    settings, first = first_day
    day = first + timedelta(days=1)
    refused = refused_capture(sample, settings, day)
    run_date(settings, first, "recompute")
    assert kept_capture(settings, day) == refused


def test_materializing_the_tables_below_raw_recomputes_instead_of_publishing_an_empty_day(sample, first_day):
    """A materialization launched in the UI without the raw assets (no mode tag) is a recompute from the
    stored raw, never a capture that stages nothing and publishes the nothing over the day."""
    settings, first = first_day
    before = checksums(settings.warehouse, first + timedelta(days=1))
    below_raw = [a for a in ALL_ASSETS if a not in (raw_djangopackages, raw_enrichment)]
    result = dg.materialize(
        ALL_ASSETS, selection=below_raw, partition_key=first.isoformat(), resources=resources(settings)
    )
    assert result.success
    assert checksums(settings.warehouse, first + timedelta(days=1)) == before
    assert rows_on(settings.warehouse, "daily_package_metrics", first) == len(sample.packages)


def test_a_day_where_a_field_is_gone_from_every_record_is_refused(sample, first_day):
    settings, first = first_day
    day = first + timedelta(days=1)
    stripped = [{k: v for k, v in r.items() if k != "repo_watchers"} for r in sample.packages]
    with ReplayServer(bad_day(sample, stripped), date=day) as server:
        message = refuse_then_allow(settings, server, day, "field_vanished")
    assert "repo_watchers" in message
    # Every record lacks a required field: all are quarantined, none scored, every one accounted for.
    assert rows_on(settings.warehouse, "rejected_records", day) == len(sample.packages)
    assert rows_on(settings.warehouse, "daily_package_metrics", day) == 0


def test_a_list_page_that_stays_html_is_refused_naming_its_url(sample, first_day):
    settings, first = first_day
    day = first + timedelta(days=1)
    settings = dataclasses.replace(settings, djangopackages_page_size=100)
    with ReplayServer(sample, date=day) as server:
        # The second page of packages is a maintenance page, however often it is asked for.
        server.set_faults([{"path": r"^/api/v4/packages/\?limit=100&offset=100$", "html": True, "times": 50}])
        message = refuse_then_allow(settings, server, day, "invalid_page")
    assert "/api/v4/packages/?limit=100&offset=100" in message
    # The pages before and after the broken one were kept and published once a person allowed it.
    assert rows_on(settings.warehouse, "package_snapshots", day) == len(sample.packages) - 100


def guard_rows(wh: Warehouse, mode: str) -> list[tuple]:
    return wh.query(
        "SELECT guard, level, value, g.message FROM guard_results g JOIN ingest_runs USING (run_id) "
        "WHERE mode = $m ORDER BY guard",
        {"m": mode},
    ).rows()


def test_a_recompute_reads_the_raw_facts_its_dates_publications_kept(sample, first_day, monkeypatch):
    """Each publication keeps the guards' facts of its date's raw; a recompute reads them instead of every
    document, and a date published before they were kept gets them from the next date's publication."""
    settings, first = first_day
    with Warehouse(settings.warehouse, read_only=True) as wh:
        assert wh.query("SELECT snapshot_date, version FROM raw_facts").rows() == [
            (first, guards.RAW_FACTS_VERSION)
        ]
        captured = guard_rows(wh, "capture")

    def unread(wh, day):
        raise AssertionError(f"the raw of {day} was read for its facts")

    with monkeypatch.context() as patched:
        patched.setattr(guards, "raw_facts", unread)
        result = run_date(settings, first, "recompute")
    assert result.summary["status"] == "ok"
    with Warehouse(settings.warehouse, read_only=True) as wh:
        assert guard_rows(wh, "recompute") == captured

    # As a warehouse from before migration 012: the next capture reads the previous date's facts from its
    # raw and keeps them with its own.
    with Warehouse(settings.warehouse) as wh:
        wh.conn.execute("DELETE FROM raw_facts")
    day = first + timedelta(days=1)
    with ReplayServer(sample, date=day) as server:
        assert run_date(settings.with_replay(server.base_url), day, "capture").summary["status"] == "ok"
    with Warehouse(settings.warehouse, read_only=True) as wh:
        kept = wh.query("SELECT snapshot_date FROM raw_facts ORDER BY 1").get_column("snapshot_date")
        assert kept.to_list() == [first, day]
        assert all(guards.stored_raw_facts(wh, d) == guards.raw_facts(wh, d) for d in (first, day))


def test_the_first_run_after_an_upgrade_of_dpw_migrates_the_files_it_reads(sample, first_day):
    """The warehouse and a kept capture written by the dpw before migration 012: a user's reader is told to
    upgrade, but a run migrates them rather than fail on its first read (the daily run after an upgrade)."""
    settings, first = first_day
    day = first + timedelta(days=1)
    kept = refused_capture(sample, settings, day)
    assert kept is not None
    for path in (settings.warehouse, Path(kept)):
        with Warehouse(path) as wh:
            wh.conn.execute("DROP TABLE raw_facts")
            wh.conn.execute("DELETE FROM schema_migrations WHERE version = 12")
    with pytest.raises(WarehouseError, match="predates migrations 012_raw_facts"):
        Warehouse(settings.warehouse, read_only=True)
    assert kept_capture(settings, day) == kept
    assert plan(settings, first) == "recompute"
    assert run_date(settings, first, "recompute").summary["status"] == "ok"
    for path in (settings.warehouse, Path(kept)):
        with Warehouse(path, read_only=True) as wh:
            assert wh.row("SELECT max(version) FROM schema_migrations")[0] == migrations()[-1][0]
