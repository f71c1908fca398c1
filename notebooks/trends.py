import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Django package trends")


@app.cell
def _():
    from pathlib import Path

    import altair as alt
    import marimo as mo
    import polars as pl

    from warehouse.scoring.vocabulary import STATUSES
    from warehouse.store import Warehouse, WarehouseError

    return STATUSES, Path, Warehouse, WarehouseError, alt, mo, pl


@app.cell
def _(Path, mo):
    # Settings are read only by pipelines/, which notebooks do not import: the path comes as an argument,
    # with the CLI's default file.
    warehouse_path = Path(str(mo.cli_args().get("warehouse") or "data/warehouse.duckdb"))
    return (warehouse_path,)


@app.cell
def _(Warehouse, WarehouseError, mo, pl, warehouse_path):
    def _read(path):
        # One short read-only visit: DuckDB lets no reader in while the daily run writes, so everything the
        # dashboard needs (the picker included) is copied into polars and the file is released at once.
        with Warehouse(path, read_only=True) as wh:
            metrics = wh.query(
                """
                SELECT m.snapshot_date, m.package_id, p.slug,
                       coalesce(c.title, 'uncategorised') AS category,
                       m.activity_score, m.status, m.trend, m.commits_52w, m.stars,
                       CAST(m.last_commit_at AS DATE) AS last_commit, m.baseline_djangopackages,
                       m.at_risk_popular, m.score_version
                FROM daily_package_metrics m
                JOIN packages p USING (package_id)
                LEFT JOIN categories c ON c.category_id = p.category_id
                ORDER BY m.snapshot_date, m.package_id
                """
            )
            weekly = wh.query(
                "SELECT package_id, week_start, commits, source FROM weekly_commits ORDER BY package_id, week_start"
            )
            listed = wh.row("SELECT count(*) FROM packages WHERE listed")[0]
        return metrics, weekly, listed

    _demo_hint = "Run `python3 dev.py demo` first (or `dpw ingest`), or pass `-- --warehouse PATH`."
    mo.stop(
        not warehouse_path.exists(),
        mo.callout(mo.md(f"**No warehouse at `{warehouse_path}`.** {_demo_hint}"), kind="warn"),
    )
    try:
        metrics, weekly, listed_packages = _read(warehouse_path)
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
        metrics.is_empty(),
        mo.callout(
            mo.md(f"**The warehouse at `{warehouse_path}` has no scored dates yet.** {_demo_hint}"),
            kind="warn",
        ),
    )

    dates = metrics.get_column("snapshot_date").unique().sort()
    first_date, last_date = dates[0], dates[-1]
    latest = metrics.filter(pl.col("snapshot_date") == last_date)
    return first_date, last_date, latest, listed_packages, metrics, weekly


@app.cell
def _(first_date, last_date, latest, listed_packages, metrics, mo, warehouse_path):
    _n_dates = metrics.get_column("snapshot_date").n_unique()
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
def _(STATUSES, alt, last_date, latest, mo, pl):
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
def _(last_date, latest, mo, pl):
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
def _(first_date, last_date, metrics, mo, pl):
    def _scores(day, name):
        return metrics.filter(
            (pl.col("snapshot_date") == day) & pl.col("activity_score").is_not_null()
        ).select("package_id", "slug", pl.col("activity_score").alias(name))

    # Only packages scored on both ends: a package that appears or loses its data is not a mover.
    _movers = (
        _scores(first_date, "score_first")
        .join(_scores(last_date, "score_last").drop("slug"), on="package_id")
        .with_columns((pl.col("score_last") - pl.col("score_first")).alias("change"))
        .filter(pl.col("change").round(1) != 0)
        .sort([pl.col("change").abs(), pl.col("slug")], descending=[True, False])
        .head(15)
        .select(
            "slug", pl.col("score_first").round(1), pl.col("score_last").round(1), pl.col("change").round(1)
        )
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
def _(alt, metrics, mo, pl):
    # The median, not the mean: most packages sit near zero and a few very active ones would drag a mean.
    # Packages are charted under their current category, so each line follows one set of packages.
    _medians = (
        metrics.filter(pl.col("activity_score").is_not_null())
        .group_by("snapshot_date", "category")
        .agg(pl.col("activity_score").median().round(2).alias("median_activity"), pl.len().alias("packages"))
        .sort("snapshot_date", "category")
    )
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
def _(metrics, mo, top):
    _slugs = metrics.get_column("slug").unique().sort().to_list()
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
def _(alt, metrics, mo, pl, picker, weekly):
    mo.stop(picker.value is None, mo.md("Pick a package."))
    _history = metrics.filter(pl.col("slug") == picker.value).select(
        "snapshot_date", "activity_score", "status", "trend", "package_id"
    )
    _package_id = _history.get_column("package_id")[0]
    _weeks = weekly.filter(pl.col("package_id") == _package_id).select("week_start", "commits", "source")
    _score_chart = (
        alt.Chart(_history.drop("package_id"))
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
def _(last_date, latest, mo, pl):
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
