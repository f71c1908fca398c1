"""Each dashboard served by `dpw dashboard` on a warehouse the pipeline captured, opened in headless Chromium:
every expected chart draws marks, the console stays free of errors, nothing is fetched from anywhere but the
dashboard's own server, and a capture publishes while a dashboard is open."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from pipelines.runner import run_date
from pipelines.settings import Settings
from replay.server import ReplayServer
from tests.browser import CHROMIUM, MISSING, Browser, served
from tests.browser import DASHBOARD_CHARTS as EXPECTED
from warehouse.store import Warehouse

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=MISSING)
DPW = Path(sys.executable).with_name("dpw")


@pytest.fixture(scope="module")
def browser():
    with Browser() as chromium:
        yield chromium


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_dashboard_draws_its_charts_in_a_browser(dashboard_history, browser, tmp_path, name):
    path, dates, _ = dashboard_history
    started = time.monotonic()
    with served(name, path) as url:
        # `dpw dashboard` prints its URL once marimo answers on it.
        ready = time.monotonic() - started
        page = browser.page()
        try:
            page.goto(url)
            charts = page.wait_for_charts(EXPECTED[name])
            page.screenshot(tmp_path / f"{name}.png")
            text = page.text()
        finally:
            page.close()
    # Stopping `dpw dashboard` stops the marimo server it started.
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=5)
    assert ready < 20, ready
    assert set(charts) == EXPECTED[name], charts
    assert all(marks > 0 for marks in charts.values()), charts
    assert f"Data of {dates[-1]}" in text
    assert page.errors == []
    port = url.split(":")[2].rstrip("/")
    assert {u.split("/")[2] for u in page.requests if u.startswith("http")} == {f"127.0.0.1:{port}"}
    assert (tmp_path / f"{name}.png").stat().st_size > 20_000


def test_a_page_without_its_charts_is_caught(dashboard_history, browser):
    # The check above on a page that draws no chart: waiting for one fails, naming it.
    page = browser.page()
    try:
        page.goto("data:text/html,<p>no charts</p>")
        with pytest.raises(Exception, match="not all drawn"):
            page.wait_for_charts({"status-over-time"}, timeout=3)
    finally:
        page.close()


def test_an_open_dashboard_never_blocks_a_capture(dashboard_history, browser, tmp_path):
    source, dates, bundle = dashboard_history
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(source, path)
    day = dates[-1] + timedelta(days=1)
    with served("overview", path) as url:
        page = browser.page()
        try:
            page.goto(url)
            page.wait_for_charts(EXPECTED["overview"])
            with ReplayServer(bundle, port=0) as server:
                server.set_date(day)
                settings = Settings().with_replay(server.base_url).with_warehouse(path)
                result = run_date(settings, day, "capture")
            # The same open app, reloaded, reads the published date.
            page.send("Page.reload")
            page.wait_for_charts(EXPECTED["overview"])
            text = page.text()
        finally:
            page.close()
    assert result.summary["status"] == "ok"
    with Warehouse(path, read_only=True) as wh:
        assert wh.row("SELECT max(snapshot_date) FROM ingest_runs WHERE status = 'ok'")[0] == day
    assert f"Data of {day}" in text


def test_the_report_shows_every_chart_with_networking_off(dashboard_history, tmp_path):
    path, dates, _ = dashboard_history
    out = tmp_path / "report"
    proc = subprocess.run(
        [str(DPW), "report", "--out", str(out), "--packages", "2", "--warehouse", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    pages = sorted(out.glob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "overview.html", "movers.html", "category-apps.html"}
    with Browser(offline=True) as offline:
        for page_file in pages:
            html = page_file.read_text()
            # Every chart in the file, by the name its figure carries.
            names = set(re.findall(r'<figure aria-label="([^"]+)">', html))
            page = offline.page()
            try:
                page.goto(page_file.as_uri())
                charts = page.wait_for_charts(names, timeout=20) if names else {}
                text = page.text()
            finally:
                page.close()
            assert set(charts) == names and all(n > 0 for n in charts.values()), (page_file.name, charts)
            assert f"Data of {dates[-1]}" in text, page_file.name
            assert page.errors == [], page_file.name
            assert all(u.startswith(("file:", "data:")) for u in page.requests), (
                page_file.name,
                page.requests,
            )
            assert "<script" not in html and "<link" not in html
    overview = (out / "overview.html").read_text()
    assert {"status-over-time", "score-distribution", "category-share-active", "category-p75"} <= set(
        re.findall(r'<figure aria-label="([^"]+)">', overview)
    )
