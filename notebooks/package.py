import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="A Django package over time")


@app.cell
def _():
    import marimo as mo

    from notebooks import charts
    from warehouse import dashboards

    return charts, dashboards, mo


@app.cell
def _(mo):
    # `dpw dashboard` passes the warehouse it resolved from its settings: a notebook reads no environment.
    warehouse_path = mo.cli_args().get("warehouse")
    return (warehouse_path,)


@app.cell
def _(mo):
    text = mo.ui.text(placeholder="slug, title or PyPI name", label="search")
    mo.hstack([text], justify="start")
    return (text,)


@app.cell
def _(charts, dashboards, mo, text, warehouse_path):
    matches = charts.read_or_stop(mo, dashboards.search, warehouse_path, text.value)
    mo.stop(matches.is_empty(), mo.md(f"No package matches `{text.value}`."))
    # Exact matches first, then by stars: an empty search offers the most starred.
    _options = {
        f"{r['slug']} ({r['stars']} stars)": str(r["package_id"]) for r in matches.iter_rows(named=True)
    }
    picked = mo.ui.dropdown(options=_options, value=next(iter(_options)), label="package")
    days = mo.ui.dropdown(
        options={"90 days": 90, "365 days": 365, "730 days": 730}, value="365 days", label="history"
    )
    weeks = mo.ui.dropdown(
        options={"52 weeks": 52, "104 weeks": 104, "156 weeks": 156}, value="104 weeks", label="commits"
    )
    mo.hstack([picked, days, weeks], justify="start")
    return days, picked, weeks


@app.cell
def _(charts, dashboards, days, mo, picked, warehouse_path, weeks):
    view = charts.read_or_stop(
        mo, dashboards.package, warehouse_path, picked.value, days=days.value, weeks=weeks.value
    )
    mo.stop(view.history.is_empty(), mo.md("No score for this package in the window."))
    return (view,)


@app.cell
def _(charts, mo, view):
    _now = view.history.row(-1, named=True)
    mo.vstack(
        [
            mo.md(
                f"# {_now['slug']}\n\nData of **{view.span.last}** · activity {_now['activity_score']} "
                f"({_now['status']}, trend {_now['trend']}) · {_now['stars']} stars · "
                f"{view.history.height} dates since {view.history['snapshot_date'][0]}"
            ),
            charts.score_components(view.history),
            charts.djangopackages_line(view.history),
            mo.md(
                "djangopackages' own score is stars less a penalty for every three months without a commit, "
                "floored at -500: it is not bounded and follows stars, so it sits on its own axis."
            ),
            charts.stars_line(view.history),
        ]
    )
    return


@app.cell
def _(charts, mo, view):
    if view.weekly.is_empty():
        # No weekly data is "unknown", never zero activity.
        _commits = mo.md("No weekly commit data for this package (unknown, not zero).")
    else:
        _commits = charts.weekly_bars(view.weekly)
    if view.releases.is_empty():
        _releases = mo.md("No PyPI release known for this package on the last date.")
    else:
        _releases = charts.release_timeline(view.releases)
    mo.vstack([mo.md("## Commits and releases"), _commits, _releases])
    return


@app.cell
def _(mo, view):
    _body = (
        mo.ui.table(view.transitions, selection=None, pagination=False, show_column_summaries=False)
        if view.transitions.height
        else mo.md("No change of status in the window.")
    )
    mo.vstack([mo.md("## Status changes"), _body])
    return


if __name__ == "__main__":
    app.run()
