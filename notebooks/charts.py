"""The dashboards' charts and tables, made once for both the marimo apps and the static report.

Every chart is drawn as SVG (vega-embed's renderer option in the spec's usermeta), so a browser test can count
the marks each chart drew, and carries a `description` naming it (vega puts it in the SVG's aria-label).
Scores keep a fixed 0-100 axis: an autoscaled axis makes a 0.2-point wobble look like a collapse.
"""

from __future__ import annotations

import html
from typing import Any

import altair as alt
import polars as pl

from warehouse.dashboards import Unavailable
from warehouse.scoring.vocabulary import STATUSES

STATUS_COLORS = ["#2a9d8f", "#8ab17d", "#e9c46a", "#f4a261", "#e76f51", "#adb5bd"]
SCORE_SCALE = alt.Scale(domain=[0, 100])
WIDTH = 640
_STATUS_COLOR = alt.Color(
    "status:N", sort=list(STATUSES), scale=alt.Scale(domain=list(STATUSES), range=STATUS_COLORS)
)


def _finish(chart: Any, name: str, title: str, height: int = 220, width: int = WIDTH) -> Any:
    return chart.properties(
        width=width,
        height=height,
        title=title,
        description=name,
        usermeta={"embedOptions": {"renderer": "svg", "actions": False}},
    )


def status_over_time(mix: pl.DataFrame) -> Any:
    """Packages by status on each date (status_mix)."""
    long = mix.select("snapshot_date", *STATUSES).unpivot(
        index="snapshot_date", variable_name="status", value_name="packages"
    )
    chart = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("snapshot_date:T", title=None),
            y=alt.Y("packages:Q", stack=True, title="packages"),
            color=_STATUS_COLOR,
            order=alt.Order("status_order:Q"),
            tooltip=["snapshot_date:T", "status:N", "packages:Q"],
        )
        .transform_calculate(status_order=f"indexof({list(STATUSES)}, datum.status)")
    )
    return _finish(chart, "status-over-time", "Packages by status, each day")


def score_distribution(scores: pl.DataFrame) -> Any:
    """Packages by score band and status on one date (score_distribution); unscored packages left out."""
    chart = (
        alt.Chart(scores.filter(pl.col("band_start").is_not_null()))
        .mark_bar()
        .encode(
            x=alt.X(
                "band_start:Q", bin=alt.Bin(binned=True, step=10), scale=SCORE_SCALE, title="activity score"
            ),
            x2="band_end:Q",
            y=alt.Y("packages:Q", stack=True, title="packages"),
            color=_STATUS_COLOR,
            tooltip=["band_start:Q", "band_end:Q", "status:N", "packages:Q"],
        )
    )
    return _finish(chart, "score-distribution", "Activity scores on the last date")


def health_lines(health: pl.DataFrame, measure: str, name: str, title: str) -> Any:
    """One line per category or grid (health_over_time): share_active (0-1) or a score (0-100)."""
    share = measure == "share_active"
    y = alt.Y(
        f"{measure}:Q",
        title="share active" if share else measure.replace("_", " "),
        scale=alt.Scale(domain=[0, 1]) if share else SCORE_SCALE,
        axis=alt.Axis(format="%") if share else alt.Axis(),
    )
    chart = (
        alt.Chart(health)
        # Points as well as lines, so a single date still draws.
        .mark_line(point=True)
        .encode(
            x=alt.X("snapshot_date:T", title=None),
            y=y,
            color=alt.Color("title:N", title=None),
            tooltip=["snapshot_date:T", "title:N", "packages:Q", f"{measure}:Q"],
        )
    )
    return _finish(chart, name, title, height=200)


def score_lines(ranking: pl.DataFrame, top: int = 10) -> Any:
    """The score of a group's leading packages on each date of the window (group_ranking's history)."""
    points = (
        ranking.head(top).select("slug", "history").explode("history").drop_nulls("history").unnest("history")
    )
    chart = (
        alt.Chart(points)
        .mark_line(point=True)
        .encode(
            x=alt.X("snapshot_date:T", title=None),
            y=alt.Y("activity_score:Q", scale=SCORE_SCALE, title="activity score"),
            color=alt.Color("slug:N", title=None),
            tooltip=["snapshot_date:T", "slug:N", "activity_score:Q"],
        )
    )
    return _finish(chart, "score-lines", f"Scores of the top {min(top, ranking.height)}", height=240)


def mover_bars(movers: pl.DataFrame, days: int, name: str = "movers") -> Any:
    """Risers and fallers as bars of their change (risers_and_fallers)."""
    chart = (
        alt.Chart(movers)
        .mark_bar()
        .encode(
            y=alt.Y("slug:N", sort=alt.EncodingSortField("change", order="descending"), title=None),
            x=alt.X("change:Q", title=f"score change over {days} days"),
            color=alt.Color(
                "direction:N", scale=alt.Scale(domain=["riser", "faller"], range=["#2a9d8f", "#e76f51"])
            ),
            tooltip=["slug:N", "score_now:Q", "change:Q", "stars:Q", "stars_change:Q"],
        )
    )
    return _finish(
        chart, "movers", f"Risers and fallers over {days} days", height=max(120, 18 * movers.height)
    )


def stars_line(history: pl.DataFrame) -> Any:
    chart = (
        alt.Chart(history)
        .mark_line(point=True)
        .encode(
            x=alt.X("snapshot_date:T", title=None),
            y=alt.Y("stars:Q", scale=alt.Scale(zero=False), title="stars"),
            tooltip=["snapshot_date:T", "stars:Q"],
        )
    )
    return _finish(chart, "stars", "Stars", height=160)


def weekly_bars(weekly: pl.DataFrame) -> Any:
    """Stitched weekly commits (weekly_commits_of)."""
    chart = (
        alt.Chart(weekly)
        .mark_bar()
        .encode(
            x=alt.X("week_start:T", title="week"),
            y=alt.Y("commits:Q", title="commits"),
            tooltip=["week_start:T", "commits:Q", "source:N", "observed_on:T"],
        )
    )
    return _finish(chart, "weekly-commits", f"Weekly commits, {weekly.height} weeks stitched", height=160)


def score_components(history: pl.DataFrame) -> Any:
    """The score and its components scaled to 0-100 (each component is 0 to 1)."""
    parts = ("recency", "consistency", "volume")
    long = history.select(
        "snapshot_date",
        pl.col("activity_score").alias("score"),
        *(pl.col(p) * 100 for p in parts),
    ).unpivot(index="snapshot_date", variable_name="measure", value_name="value")
    chart = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("snapshot_date:T", title=None),
            y=alt.Y("value:Q", scale=SCORE_SCALE, title="score; components × 100"),
            color=alt.Color("measure:N", sort=["score", *parts], title=None),
            strokeDash=alt.condition("datum.measure == 'score'", alt.value([1, 0]), alt.value([4, 3])),
            tooltip=["snapshot_date:T", "measure:N", alt.Tooltip("value:Q", format=".1f")],
        )
    )
    return _finish(chart, "score-components", "Activity score and its components", height=200)


def djangopackages_line(history: pl.DataFrame) -> Any:
    """djangopackages' own score (stars less penalties, floored at -500) on its own axis, zero marked."""
    base = alt.Chart(history).encode(x=alt.X("snapshot_date:T", title=None))
    line = base.mark_line(point=True, color="#6c757d").encode(
        y=alt.Y("djangopackages_score:Q", title="djangopackages score"),
        tooltip=["snapshot_date:T", "djangopackages_score:Q", "activity_score:Q"],
    )
    zero = alt.Chart(pl.DataFrame({"y": [0]})).mark_rule(strokeDash=[2, 2]).encode(y="y:Q")
    return _finish(
        line + zero, "djangopackages-score", "djangopackages' score (stars less penalties)", height=160
    )


def release_timeline(releases: pl.DataFrame) -> Any:
    chart = (
        alt.Chart(releases.filter(pl.col("uploaded_at").is_not_null()))
        .mark_tick(thickness=2, size=28)
        .encode(
            x=alt.X("uploaded_at:T", title=None),
            color=alt.Color("yanked:N", scale=alt.Scale(domain=[False, True], range=["#264653", "#e76f51"])),
            tooltip=["version:N", "uploaded_at:T", "yanked:N", "requires_python:N"],
        )
    )
    return _finish(chart, "releases", f"Releases ({releases.height})", height=50)


def sparkline(values: list[float | None], width: int = 120, height: int = 24) -> str:
    """A score history (0-100) as a small inline SVG polyline; gaps (no score) break the line."""
    if not values:
        return ""
    step = width / max(len(values) - 1, 1)
    runs: list[list[str]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            runs.append([])
            continue
        runs[-1].append(f"{i * step:.1f},{height - value / 100 * height:.1f}")
    lines = "".join(
        f'<polyline points="{" ".join(run)}" fill="none" stroke="#264653" stroke-width="1.5"/>'
        if len(run) > 1
        else f'<circle cx="{run[0].split(",")[0]}" cy="{run[0].split(",")[1]}" r="1.5" fill="#264653"/>'
        for run in runs
        if run
    )
    return (
        f'<svg class="sparkline" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="score over the window">{lines}</svg>'
    )


def table_html(frame: pl.DataFrame, *, html_columns: tuple[str, ...] = ()) -> str:
    """A plain HTML table of ``frame``; the columns in ``html_columns`` hold markup made here."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = []
    for row in frame.iter_rows(named=True):
        cells = []
        for column, value in row.items():
            shown = "" if value is None else value if column in html_columns else html.escape(str(value))
            cells.append(
                f'<td class="num">{shown}</td>' if isinstance(value, int | float) else f"<td>{shown}</td>"
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table class="dpw"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def ranking_html(ranking: pl.DataFrame) -> str:
    """group_ranking as a table with a sparkline of each package's scores."""
    shown = ranking.select(
        "rank",
        "slug",
        "activity_score",
        pl.col("change_30d").alias("30-day change"),
        "status",
        "trend",
        "stars",
        pl.col("history")
        .map_elements(lambda h: sparkline([point["activity_score"] for point in h]), return_dtype=pl.String)
        .alias("scores"),
    )
    return table_html(shown, html_columns=("scores",))


TABLE_STYLE = """
table.dpw { border-collapse: collapse; font: 13px system-ui, sans-serif; }
table.dpw th, table.dpw td { padding: 3px 8px; border-bottom: 1px solid #e5e5e5; text-align: left; }
table.dpw td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.dpw th { background: #f5f5f5; }
"""


def read_or_stop(mo: Any, read: Any, *args: Any, **kwargs: Any) -> Any:
    """``read(*args, **kwargs)``, or the cell stopped with the reason the dashboard has nothing to show
    (no warehouse, an empty one, a run publishing): later cells wait instead of failing."""
    try:
        return read(*args, **kwargs)
    except Unavailable as err:
        mo.stop(True, mo.callout(mo.md(str(err)), kind="warn"))
