"""`dpw report`: the four dashboards as static HTML pages for sharing, readable offline.

The pages are built from the same reads (warehouse.dashboards) and charts (notebooks.charts) as the apps,
each chart drawn to inline SVG by vl-convert: no script, stylesheet or font is fetched from anywhere, so a
page opens from a mail attachment or a file share as it does here. (`marimo export html` would load its
JavaScript from a CDN.) Every page says the date of its data.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import vl_convert

from notebooks import charts
from warehouse import dashboards

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }}
nav a {{ margin-right: 1em; }} figure {{ margin: 1em 0; }} .note {{ color: #555; }}
{table_style}
</style></head>
<body>
<nav>{nav}</nav>
<h1>{title}</h1>
<p class="data-date">Data of <strong>{data_date}</strong> · {dates} scored dates since {first} · {packages} packages</p>
{body}
</body></html>
"""


def svg(chart: Any) -> str:
    """A chart as inline SVG, wrapped in a figure named like the apps' charts."""
    name = html.escape(chart.to_dict().get("description", ""))
    return f'<figure aria-label="{name}">{vl_convert.vegalite_to_svg(chart.to_dict())}</figure>'


def _p(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _table(frame: pl.DataFrame, empty: str) -> str:
    return charts.table_html(frame) if frame.height else _p(empty)


class Report:
    def __init__(self, out: Path, span: dashboards.Span) -> None:
        self.out = out
        self.span = span
        self.pages: list[tuple[str, str]] = []  # (file, title)

    def write(self, name: str, title: str, body: Sequence[str], nav: str) -> None:
        page = PAGE.format(
            title=html.escape(title),
            nav=nav,
            data_date=self.span.last,
            dates=self.span.dates,
            first=self.span.first,
            packages=self.span.packages,
            table_style=charts.TABLE_STYLE,
            body="\n".join(body),
        )
        (self.out / name).write_text(page, encoding="utf-8")
        self.pages.append((name, title))


def build(warehouse: Path, out: Path, *, packages: int = 5) -> list[Path]:
    """Write the report into ``out``: index.html and a page per dashboard view (the overview, each category,
    the ``packages`` most starred packages, the movers). Returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    overview = dashboards.overview(warehouse)
    report = Report(out, overview.span)
    categories = dashboards.groups(warehouse).filter(pl.col("kind") == "category")
    top = dashboards.search(warehouse, "", limit=packages)
    nav = '<a href="index.html">index</a><a href="overview.html">overview</a><a href="movers.html">movers</a>'

    last = overview.status_mix.row(-1, named=True)
    report.write(
        "overview.html",
        "Django ecosystem overview",
        [
            f"<p>On {overview.end}: {last['active']} active, {last['dormant']} dormant (inactive or abandoned) "
            f"of {last['packages']}.</p>",
            svg(charts.status_over_time(overview.status_mix)),
            svg(charts.score_distribution(overview.scores)),
            "<h2>Categories</h2>",
            svg(
                charts.health_lines(
                    overview.categories, "share_active", "category-share-active", "Share active"
                )
            ),
            svg(
                charts.health_lines(overview.categories, "p75_score", "category-p75", "75th-percentile score")
            ),
            "<h2>Recent runs</h2>",
            _p(dashboards.freshness(overview.runs, datetime.now(UTC))),
            _table(overview.runs.drop("run_id"), "No run recorded."),
        ],
        nav,
    )
    for row in categories.iter_rows(named=True):
        view = dashboards.group(warehouse, "category", row["slug"], days=90, mover_days=7)
        note = dashboards.history_note(view.span, 7)
        report.write(
            f"category-{_file(row['slug'])}.html",
            f"Category: {row['title']}",
            [
                charts.ranking_html(view.ranking),
                svg(charts.score_lines(view.ranking)),
                svg(charts.health_lines(view.health, "share_active", "group-share-active", "Share active")),
                svg(charts.health_lines(view.health, "p75_score", "group-p75", "75th-percentile score")),
                "<h2>Movers over 7 days</h2>",
                svg(charts.mover_bars(view.movers, 7))
                if view.movers.height
                else _p(note or "No package of this category changed score over 7 days."),
            ],
            nav,
        )
    for row in top.iter_rows(named=True):
        pview = dashboards.package(warehouse, row["package_id"])
        body = [
            svg(charts.score_components(pview.history)),
            svg(charts.djangopackages_line(pview.history)),
            svg(charts.stars_line(pview.history)),
            svg(charts.weekly_bars(pview.weekly))
            if pview.weekly.height
            else _p("No weekly commit data (unknown, not zero)."),
            svg(charts.release_timeline(pview.releases))
            if pview.releases.height
            else _p("No PyPI release known."),
            "<h2>Status changes</h2>",
            _table(pview.transitions, "No change of status in the window."),
        ]
        report.write(f"package-{_file(row['slug'])}.html", f"Package: {row['slug']}", body, nav)
    body = []
    for days in dashboards.MOVER_DAYS:
        mview = dashboards.movers(warehouse, days=days)
        note = dashboards.history_note(mview.span, days)
        body += [
            f"<h2>Over {days} days</h2>",
            svg(charts.mover_bars(mview.movers, days, name=f"movers-{days}"))
            if mview.movers.height
            else _p(note or f"No package's score changed over {days} days."),
            f"<h3>Newly dormant in the last {days} days</h3>",
            _table(mview.newly_dormant, "None."),
            f"<h3>Revived in the last {days} days</h3>",
            _table(mview.revived, "None."),
        ]
    body += [
        f"<h2>Popular but at risk</h2><p>Dormant (inactive or abandoned) with at least {mview.min_stars} stars; "
        "djangopackages' own score beside ours (below zero when its penalties for months without a commit "
        "outweigh the stars).</p>",
        _table(mview.popular_dormant, "No dormant package is that popular."),
    ]
    report.write("movers.html", "Movers", body, nav)

    links = "".join(f'<li><a href="{name}">{html.escape(title)}</a></li>' for name, title in report.pages)
    report.write("index.html", "Django Packages Warehouse report", [f"<ul>{links}</ul>"], nav)
    return [out / name for name, _ in report.pages]


def _file(slug: str) -> str:
    """A slug as a file name: a slug is the catalogue's, not ours to trust with a path."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", slug).lstrip(".") or "-"
