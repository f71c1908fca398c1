import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Django ecosystem overview")


@app.cell
def _():
    from datetime import UTC, datetime

    import marimo as mo

    from notebooks import charts
    from warehouse import dashboards

    return UTC, charts, dashboards, datetime, mo


@app.cell
def _(mo):
    # `dpw dashboard` passes the warehouse it resolved from its settings: a notebook reads no environment.
    warehouse_path = mo.cli_args().get("warehouse")
    return (warehouse_path,)


@app.cell
def _(charts, dashboards, mo, warehouse_path):
    span = charts.read_or_stop(mo, dashboards.read_span, warehouse_path)
    _start, _end = span.window(90)
    dates = mo.ui.date_range(start=span.first, stop=span.last, value=(_start, _end), label="dates")
    mo.vstack(
        [
            mo.md(
                f"# Django ecosystem overview\n\n"
                f"Data of **{span.last}** · {span.dates} scored dates since {span.first} · "
                f"{span.packages} packages scored on the last date"
            ),
            dates,
        ]
    )
    return dates, span


@app.cell
def _(charts, dashboards, dates, mo, warehouse_path):
    view = charts.read_or_stop(
        mo, dashboards.overview, warehouse_path, start=dates.value[0], end=dates.value[1]
    )
    return (view,)


@app.cell
def _(charts, mo, view):
    _single = (
        mo.md(f"Only one date in this range ({view.end}): each chart over time shows that one day.")
        if view.start == view.end
        else mo.md("")
    )
    _last = view.status_mix.row(-1, named=True)
    mo.vstack(
        [
            mo.md(
                f"## Packages by status\n\nOn {view.end}: {_last['active']} active, {_last['dormant']} dormant "
                f"(inactive or abandoned, {_last['share_dormant']:.0%}) of {_last['packages']}."
            ),
            _single,
            charts.status_over_time(view.status_mix),
            charts.score_distribution(view.scores),
        ]
    )
    return


@app.cell
def _(charts, mo, view):
    # Most packages of every category are dormant, so a median sits near 0: the share active and the 75th
    # percentile are what move.
    mo.vstack(
        [
            mo.md(
                "## Categories\n\nThe share of each category's packages that are active, and the score that "
                "a quarter of them beat (75th percentile)."
            ),
            charts.health_lines(view.categories, "share_active", "category-share-active", "Share active"),
            charts.health_lines(view.categories, "p75_score", "category-p75", "75th-percentile score"),
        ]
    )
    return


@app.cell
def _(UTC, dashboards, datetime, mo, view):
    _runs = view.runs.select(
        "snapshot_date",
        "mode",
        "status",
        "started_at",
        "seconds",
        "records_fetched",
        "records_rejected",
        "guards_warn",
        "guards_fail",
        "guards_allowed",
        "message",
    )
    mo.vstack(
        [
            mo.md(f"## Recent runs\n\n{dashboards.freshness(view.runs, datetime.now(UTC))}"),
            mo.ui.table(_runs, selection=None, pagination=False, show_column_summaries=False),
        ]
    )
    return


if __name__ == "__main__":
    app.run()
