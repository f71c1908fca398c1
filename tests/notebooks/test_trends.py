"""The trend dashboard, executed for real: `marimo export html` runs every cell against a three-day warehouse
the pipeline captured from the replay server, and the tests read back the data the cells rendered (tables and
chart datasets embedded in the export), compared with the same questions asked of the warehouse directly."""

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import ROOT, capture_days
from warehouse.store import Warehouse

NOTEBOOK = ROOT / "notebooks" / "trends.py"
DAYS = 3


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    path = tmp_path_factory.mktemp("trends") / "warehouse.duckdb"
    return path, capture_days(path, DAYS)


class _Elements(HTMLParser):
    """marimo's own elements in a cell's output; the parser unescapes attribute values."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        if tag.startswith("marimo-"):
            self.found.append((tag, dict(attrs)))


def _cell(outputs: list[dict]) -> dict:
    """A cell's rendered text, its tables' rows and its charts' Vega-Lite specs."""
    text = "".join(str(value) for out in outputs for value in out.get("data", {}).values())
    parser = _Elements()
    parser.feed(text)
    cell = {"text": text, "errors": [out for out in outputs if out.get("type") == "error"]}
    cell["tables"] = [
        {"rows": json.loads(json.loads(a["data-data"])), "total": int(a["data-total-rows"])}
        for tag, a in parser.found
        if tag == "marimo-table"
    ]
    cell["charts"] = [
        json.loads(json.loads(a["data-data"]))
        for tag, a in parser.found
        if tag == "marimo-mime-renderer" and "vegalite" in a["data-mime"]
    ]
    cell["dropdowns"] = [a for tag, a in parser.found if tag == "marimo-dropdown"]
    return cell


def export(
    tmp_path: Path, *args: str, code: str | None = None
) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """Run the notebook (or ``code`` in its place) through `marimo export html`; the process and every cell.

    A copy is run, not the file itself: marimo writes a session snapshot into `__marimo__/` beside the
    notebook, and a test leaves nothing in the project."""
    notebook = tmp_path / "trends.py"
    notebook.write_text(NOTEBOOK.read_text() if code is None else code)
    out = tmp_path / "trends.html"
    env = {k: v for k, v in os.environ.items() if k != "DPW_WAREHOUSE"} | {"PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "marimo", "export", "html", str(notebook), "-o", str(out)]
    proc = subprocess.run(
        [*command, "--no-sandbox", "-f", "--", *args],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if not out.exists():
        return proc, []
    mount = re.search(
        r'"__MARIMO_MOUNT_CONFIG__", \{\s*value: Object\.freeze\((.*?)\),\s*writable', out.read_text(), re.S
    )
    assert mount, "no session in the exported HTML"
    return proc, [_cell(c["outputs"]) for c in json.loads(mount.group(1))["session"]["cells"]]


def _only(cells: list[dict], needle: str) -> dict:
    matches = [c for c in cells if needle in c["text"]]
    assert len(matches) == 1, f"{len(matches)} cells mention {needle!r}"
    return matches[0]


def _dataset(chart: dict) -> list[dict]:
    (rows,) = chart["datasets"].values()
    return rows


def test_the_dashboard_shows_the_warehouse(history, tmp_path):
    path, dates = history
    with Warehouse(path, read_only=True) as wh:
        latest = wh.query(
            "SELECT p.slug, m.* FROM daily_package_metrics m JOIN packages p USING (package_id) "
            "WHERE snapshot_date = (SELECT max(snapshot_date) FROM daily_package_metrics)"
        )
        first = wh.query(
            "SELECT package_id, activity_score AS before FROM daily_package_metrics WHERE snapshot_date = $d",
            {"d": dates[0]},
        )
        listed = wh.row("SELECT count(*) FROM packages WHERE listed")[0]
        n_categories = wh.row("SELECT count(DISTINCT category_id) FROM packages")[0]
        top_slug = latest.sort(["activity_score", "slug"], descending=[True, False], nulls_last=True)["slug"][
            0
        ]
        top_id = latest.filter(pl.col("slug") == top_slug)["package_id"][0]
        weeks = wh.query(
            "SELECT CAST(week_start AS VARCHAR) AS week, commits FROM weekly_commits WHERE package_id = $p ORDER BY 1",
            {"p": top_id},
        )

    proc, cells = export(tmp_path, "--warehouse", str(path))
    assert proc.returncode == 0, proc.stderr
    assert not [c["errors"] for c in cells if c["errors"]]

    header = _only(cells, "Django package trends")["text"]
    assert f"{dates[0]} → {dates[-1]}" in header and f"{DAYS} snapshot dates" in header
    assert listed == 240 and f"{listed} packages" in header

    statuses = _dataset(_only(cells, "Status mix")["charts"][0])
    order = ["active", "slowing", "stale", "inactive", "abandoned", "unknown"]
    assert [s["status"] for s in statuses] == order
    counts = dict(latest.group_by("status").len().iter_rows())
    assert set(counts) <= set(order)
    assert [s["packages"] for s in statuses] == [counts.get(status, 0) for status in order]

    (top,) = _only(cells, "Most active on")["tables"]
    assert len(top["rows"]) == 15 and top["rows"][0]["slug"] == top_slug
    assert [r["rank"] for r in top["rows"]] == list(range(1, 16))
    scores = [r["activity_score"] for r in top["rows"]]
    assert scores == sorted(scores, reverse=True)

    (movers,) = _only(cells, "Biggest movers")["tables"]
    change = latest.join(first, on="package_id").select(
        "slug", (pl.col("activity_score") - pl.col("before")).alias("change")
    )
    biggest = change.drop_nulls().sort(pl.col("change").abs(), descending=True)["change"][0]
    assert movers["rows"] and movers["rows"][0]["change"] == pytest.approx(biggest, abs=0.05)

    medians = _dataset(_only(cells, "Median activity by category")["charts"][0])
    assert len(medians) == n_categories * DAYS
    assert {m["snapshot_date"][:10] for m in medians} == {str(d) for d in dates}

    (picker,) = _only(cells, "One package over time")["dropdowns"]
    assert json.loads(picker["data-initial-value"]) == [top_slug]
    assert len(json.loads(picker["data-options"])) == 240

    score_chart, commit_chart = _only(cells, f"{top_slug}: activity score")["charts"]
    assert [p["snapshot_date"][:10] for p in _dataset(score_chart)] == [str(d) for d in dates]
    bars = _dataset(commit_chart)
    assert [(b["week_start"][:10], b["commits"]) for b in bars] == list(weeks.iter_rows())

    (dormant,) = _only(cells, "Popular but dormant")["tables"]
    at_risk = latest.filter(pl.col("at_risk_popular"))
    assert 0 < dormant["total"] == at_risk.height
    assert dormant["rows"][0]["slug"] == at_risk.sort(["stars", "slug"], descending=[True, False])["slug"][0]


def test_a_missing_warehouse_says_what_to_run(tmp_path):
    proc, cells = export(tmp_path)  # the default path, data/warehouse.duckdb, does not exist here
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr + "".join(c["text"] for c in cells)
    message = _only(cells, "No warehouse at")["text"]
    assert "python3 dev.py demo" in message and "data/warehouse.duckdb" in message
    # Every later cell is held back by mo.stop, not failed.
    assert {e["ename"] for c in cells for e in c["errors"]} == {"ancestor-stopped"}


def test_a_warehouse_being_written_says_so(history, tmp_path):
    # A writer holds DuckDB's file lock, as the daily run does: the dashboard must wait, not crash.
    with Warehouse(history[0]):
        proc, cells = export(tmp_path, "--warehouse", str(history[0]))
    assert proc.returncode == 0, proc.stderr
    assert "the daily run may be writing" in _only(cells, "Cannot read the warehouse now")["text"]
    assert {e["ename"] for c in cells for e in c["errors"]} == {"ancestor-stopped"}


def test_a_cell_that_raises_fails_the_run(history, tmp_path):
    # The check the first test relies on: a cell error must surface as a failed export.
    cell = '@app.cell\ndef _(top):\n    raise RuntimeError("boom " + top["slug"][0])\n\n\nif __name__ == "__main__":'
    code = NOTEBOOK.read_text().replace('if __name__ == "__main__":', cell)
    proc, _ = export(tmp_path, "--warehouse", str(history[0]), code=code)
    assert proc.returncode != 0 and "boom" in proc.stderr
