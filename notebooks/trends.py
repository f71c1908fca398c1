import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Django package trends")


with app.setup:
    from pathlib import Path

    import polars as pl

    from warehouse.store import Warehouse


@app.function
def read_dashboard(path: Path) -> dict:
    """Everything the dashboard shows but one package's history, in one short read-only visit: DuckDB lets no
    reader in while the daily run writes, so the answers are copied into polars and the file is released at
    once. The history is aggregated in SQL (the latest date's rows, two dates' scores for the movers, the
    medians per date and category): a year of a large catalogue never crosses into Python whole."""
    with Warehouse(path, read_only=True) as wh:
        first, last, n_dates = wh.row(
            "SELECT min(snapshot_date), max(snapshot_date), count(DISTINCT snapshot_date) FROM daily_package_metrics"
        )
        # Every package's current slug and category: the open intervals of attribute_history (one row per
        # package and attribute), not the packages view, which reads every snapshot to find each one's last.
        wh.conn.execute(
            """
            CREATE OR REPLACE TEMP TABLE _current AS
            WITH now_ AS (
                SELECT package_id, any_value(value) FILTER (WHERE attribute = 'slug') AS slug,
                       TRY_CAST(any_value(value) FILTER (WHERE attribute = 'category_id') AS BIGINT) AS category_id
                FROM attribute_history
                WHERE valid_to IS NULL AND attribute IN ('slug', 'category_id')
                GROUP BY package_id
            )
            SELECT n.package_id, n.slug, coalesce(c.title, 'uncategorised') AS category
            FROM now_ n LEFT JOIN categories c ON c.category_id = n.category_id
            """
        )
        latest = wh.query(
            """
            SELECT m.package_id, p.slug, p.category, m.activity_score, m.status, m.trend, m.commits_52w,
                   m.stars, CAST(m.last_commit_at AS DATE) AS last_commit, m.baseline_djangopackages,
                   m.at_risk_popular, m.score_version
            FROM daily_package_metrics m JOIN _current p USING (package_id)
            WHERE m.snapshot_date = $last
            ORDER BY m.package_id
            """,
            {"last": last},
        )
        # Only packages scored on both ends: a package that appears or loses its data is not a mover.
        movers = wh.query(
            """
            WITH ends AS (
                SELECT package_id, snapshot_date, activity_score FROM daily_package_metrics
                WHERE snapshot_date IN ($first, $last) AND activity_score IS NOT NULL
            )
            SELECT p.slug, f.activity_score AS score_first, l.activity_score AS score_last,
                   l.activity_score - f.activity_score AS change
            FROM ends f JOIN ends l USING (package_id) JOIN _current p USING (package_id)
            WHERE f.snapshot_date = $first AND l.snapshot_date = $last
              AND round(l.activity_score - f.activity_score, 1) <> 0
            ORDER BY abs(change) DESC, p.slug
            LIMIT 15
            """,
            {"first": first, "last": last},
        )
        # The median, not the mean: most packages sit near zero and a few very active ones would drag a mean.
        # From the category_health mart (one row per date and category), not from every package's every score:
        # a package counts in the category it was in on each date, and packages without one are not charted.
        medians = wh.query(
            """
            SELECT h.snapshot_date, coalesce(c.title, CAST(h.category_id AS VARCHAR)) AS category,
                   round(h.median_score, 2) AS median_activity, h.packages - h.unknown AS packages
            FROM category_health h LEFT JOIN categories c USING (category_id)
            WHERE h.median_score IS NOT NULL
            ORDER BY h.snapshot_date, category
            """
        )
        # A slug two packages share is the older package's, as the packages view's first row would be.
        slugs = wh.query(
            "SELECT slug, min(package_id) AS package_id FROM _current GROUP BY slug ORDER BY slug"
        )
        listed = wh.row("SELECT count(*) FROM package_snapshots WHERE snapshot_date = ?", [last])[0]
    top = latest.filter(pl.col("activity_score").is_not_null()).sort(
        ["activity_score", "slug"], descending=[True, False]
    )
    return {
        "first_date": first,
        "last_date": last,
        "n_dates": n_dates,
        "listed": listed,
        "latest": latest,
        "movers": movers,
        "medians": medians,
        "slugs": slugs,
        "top_slug": top.get_column("slug")[0] if top.height else None,
    }


@app.function
def read_package(path: Path, package_id: int) -> dict:
    """One package's scores on every date and its stitched weekly commits: two reads of one package."""
    with Warehouse(path, read_only=True) as wh:
        history = wh.query(
            "SELECT snapshot_date, activity_score, status, trend FROM daily_package_metrics "
            "WHERE package_id = $p ORDER BY snapshot_date",
            {"p": package_id},
        )
        weeks = wh.query(
            "SELECT week_start, commits, source FROM weekly_commits WHERE package_id = $p ORDER BY week_start",
            {"p": package_id},
        )
    return {"history": history, "weeks": weeks}


@app.cell
def _():
    import altair as alt
    import marimo as mo

    from warehouse.scoring.vocabulary import STATUSES
    from warehouse.store import WarehouseError

    return STATUSES, WarehouseError, alt, mo


@app.cell
def _(mo):
    # Settings are read only by pipelines/, which notebooks do not import: the path comes as an argument,
    # with the CLI's default file.
    warehouse_path = Path(str(mo.cli_args().get("warehouse") or "data/warehouse.duckdb"))
    return (warehouse_path,)


@app.cell
def _(WarehouseError, mo, warehouse_path):
    _demo_hint = "Run `python3 dev.py demo` first (or `dpw ingest`), or pass `-- --warehouse PATH`."
    mo.stop(
        not warehouse_path.exists(),
        mo.callout(mo.md(f"**No warehouse at `{warehouse_path}`.** {_demo_hint}"), kind="warn"),
    )
    try:
        dashboard = read_dashboard(warehouse_path)
    except WarehouseError as _err:
        # Most often the daily run holding the write lock: worth a retry, not a traceback.
        mo.stop(
            True,
            mo.callout(
                mo.md(
                    f"**Cannot read the warehouse now**: the daily run may be writing; try again shortly.\n\n{_err}"
                ),
                kind="danger",
            ),
        )
    mo.stop(
        not dashboard["n_dates"],
        mo.callout(
            mo.md(f"**The warehouse at `{warehouse_path}` has no scored dates yet.** {_demo_hint}"),
            kind="warn",
        ),
    )
    first_date, last_date, latest = dashboard["first_date"], dashboard["last_date"], dashboard["latest"]
    listed_packages = dashboard["listed"]
    return dashboard, first_date, last_date, latest, listed_packages


@app.cell
def _(dashboard, first_date, last_date, latest, listed_packages, mo, warehouse_path):
    _n_dates = dashboard["n_dates"]
    _versions = ", ".join(sorted(latest.get_column("score_version").unique().to_list()))
    mo.md(
        f"""
        # Django package trends

        **{first_date} → {last_date}** ({_n_dates} snapshot dates) · **{listed_packages} packages**
        listed on the latest date, {latest.get_column("activity_score").is_not_null().sum()} of them scored
        (score version {_versions}) · warehouse `{warehouse_path}`
        """
    )
    return


@app.cell
def _(STATUSES, alt, last_date, latest, mo):
    # Every status gets a bar, zero or not, so the chart reads the same from one day to the next.
    _mix = (
        pl.DataFrame({"status": STATUSES})
        .join(latest.group_by("status").len("packages"), on="status", how="left")
        .with_columns(pl.col("packages").fill_null(0))
    )
    _chart = (
        alt.Chart(_mix)
        .mark_bar()
        .encode(
            x=alt.X("status:N", sort=STATUSES, title=None),
            y=alt.Y("packages:Q", title="packages"),
            color=alt.Color(
                "status:N",
                sort=STATUSES,
                scale=alt.Scale(
                    domain=STATUSES, range=["#2a9d8f", "#8ab17d", "#e9c46a", "#f4a261", "#e76f51", "#adb5bd"]
                ),
                legend=None,
            ),
            tooltip=["status", "packages"],
        )
        .properties(width=420, height=220)
    )
    mo.vstack([mo.md(f"## Status mix on {last_date}"), _chart])
    return


@app.cell
def _(last_date, latest, mo):
    top = (
        latest.filter(pl.col("activity_score").is_not_null())
        .sort(["activity_score", "slug"], descending=[True, False])
        .head(15)
        .with_row_index("rank", offset=1)
        .select(
            "rank",
            "slug",
            "category",
            pl.col("activity_score").round(1),
            "status",
            "trend",
            "commits_52w",
            "stars",
        )
    )
    mo.vstack(
        [
            mo.md(f"## Most active on {last_date}"),
            mo.ui.table(top, selection=None, pagination=False, show_column_summaries=False),
        ]
    )
    return (top,)


@app.cell
def _(dashboard, first_date, last_date, mo):
    # Only packages scored on both ends (read_dashboard): one that appears or loses its data is not a mover.
    _movers = dashboard["movers"].select(
        "slug", pl.col("score_first").round(1), pl.col("score_last").round(1), pl.col("change").round(1)
    )
    if first_date == last_date:
        _body = mo.md("Only one snapshot date so far: movers need at least two.")
    elif _movers.is_empty():
        _body = mo.md("No package's score moved by 0.1 or more over the range.")
    else:
        _body = mo.ui.table(_movers, selection=None, pagination=False, show_column_summaries=False)
    mo.vstack([mo.md(f"## Biggest movers, {first_date} → {last_date}"), _body])
    return


@app.cell
def _(alt, dashboard, mo):
    # From the category_health mart (read_dashboard): each package under its category of each date.
    _medians = dashboard["medians"]
    _chart = (
        alt.Chart(_medians)
        # Points as well as lines, so a warehouse with a single date still shows something.
        .mark_line(point=True)
        .encode(
            x=alt.X("snapshot_date:T", title=None),
            y=alt.Y("median_activity:Q", title="median activity score"),
            color=alt.Color("category:N"),
            tooltip=["snapshot_date:T", "category", "median_activity", "packages"],
        )
        .properties(width=620, height=260)
    )
    mo.vstack([mo.md("## Median activity by category"), _chart])
    return


@app.cell
def _(dashboard, mo, top):
    _slugs = dashboard["slugs"].get_column("slug").to_list()
    picker = mo.ui.dropdown(
        options=_slugs,
        # The leader is the most likely first question; the first slug alphabetically is an arbitrary one.
        value=top.get_column("slug")[0] if top.height else (_slugs[0] if _slugs else None),
        searchable=True,
        label="package",
    )
    mo.vstack([mo.md("## One package over time"), picker])
    return (picker,)


@app.cell
def _(WarehouseError, alt, dashboard, mo, picker, warehouse_path):
    mo.stop(picker.value is None, mo.md("Pick a package."))
    try:
        _ids = dashboard["slugs"].filter(pl.col("slug") == picker.value).get_column("package_id")
        _package = read_package(warehouse_path, _ids[0])
    except WarehouseError as _err:
        mo.stop(
            True,
            mo.callout(
                mo.md(f"**Cannot read the warehouse now**: try again shortly.\n\n{_err}"), kind="danger"
            ),
        )
    _history, _weeks = _package["history"], _package["weeks"]
    _score_chart = (
        alt.Chart(_history)
        .mark_line(point=True)
        .encode(
            x=alt.X("snapshot_date:T", title=None),
            # A fixed 0-100 scale: an autoscaled axis makes a 0.2-point wobble look like a collapse.
            y=alt.Y("activity_score:Q", title="activity score", scale=alt.Scale(domain=[0, 100])),
            tooltip=["snapshot_date:T", "activity_score", "status", "trend"],
        )
        .properties(width=620, height=180, title=f"{picker.value}: activity score")
    )
    _commit_chart = (
        alt.Chart(_weeks)
        .mark_bar()
        .encode(
            x=alt.X("week_start:T", title="week"),
            y=alt.Y("commits:Q", title="commits"),
            tooltip=["week_start:T", "commits", "source"],
        )
        .properties(width=620, height=180, title=f"{picker.value}: weekly commits (stitched)")
    )
    if _weeks.is_empty():
        # No weekly data is "unknown", never zero activity: say so rather than draw an empty axis.
        _commits = mo.md(f"No weekly commit data for `{picker.value}` (unknown, not zero).")
    else:
        _commits = _commit_chart
    mo.vstack(
        [
            _score_chart,
            _commits,
            mo.md(
                f"{_weeks.height} weeks stitched, {_weeks.get_column('commits').sum()} commits in all."
                if _weeks.height
                else ""
            ),
        ]
    )
    return


@app.cell
def _(last_date, latest, mo):
    _dormant = (
        latest.filter(pl.col("at_risk_popular").fill_null(False))
        .sort(["stars", "slug"], descending=[True, False])
        .select(
            "slug",
            "category",
            "stars",
            pl.col("activity_score").round(1),
            "status",
            "last_commit",
            pl.col("baseline_djangopackages").alias("djangopackages_score"),
        )
    )
    mo.vstack(
        [
            mo.md(
                f"## Popular but dormant on {last_date}\n\n"
                "Many stars, little activity: the packages djangopackages' own stars-based score still ranks high."
            ),
            mo.ui.table(_dormant, selection=None, page_size=15, show_column_summaries=False)
            if _dormant.height
            else mo.md("None on this date."),
        ]
    )
    return


if __name__ == "__main__":
    app.run()
