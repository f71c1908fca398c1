import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Django packages by category")


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
def _(charts, dashboards, mo, warehouse_path):
    groups = charts.read_or_stop(mo, dashboards.groups, warehouse_path)
    kind = mo.ui.radio(options=list(dashboards.GROUP_KINDS), value="category", inline=True, label="group by")
    mo.hstack([kind], justify="start")
    return groups, kind


@app.cell
def _(dashboards, groups, kind, mo):
    _choices = groups.filter(groups["kind"] == kind.value)
    mo.stop(
        _choices.is_empty(),
        mo.callout(mo.md(f"No {kind.value} has packages on the last date."), kind="warn"),
    )
    # The largest first: the group a reader most likely opens the dashboard for.
    _options = {f"{r['title']} ({r['packages']} packages)": r["slug"] for r in _choices.iter_rows(named=True)}
    group = mo.ui.dropdown(options=_options, value=next(iter(_options)), searchable=True, label=kind.value)
    days = mo.ui.dropdown(
        options={"30 days": 30, "90 days": 90, "365 days": 365}, value="90 days", label="window"
    )
    mover_days = mo.ui.dropdown(
        options={f"{d} days": d for d in dashboards.MOVER_DAYS}, value="7 days", label="movers over"
    )
    mo.hstack([group, days, mover_days], justify="start")
    return days, group, mover_days


@app.cell
def _(charts, dashboards, days, group, kind, mo, mover_days, warehouse_path):
    view = charts.read_or_stop(
        mo,
        dashboards.group,
        warehouse_path,
        kind.value,
        group.value,
        days=days.value,
        mover_days=mover_days.value,
    )
    return (view,)


@app.cell
def _(charts, mo, view):
    _title = view.health.row(-1, named=True)["title"] if view.health.height else view.group
    mo.vstack(
        [
            mo.md(
                f"# {view.kind.title()}: {_title}\n\nData of **{view.span.last}** · the {view.ranking.height} "
                f"most active packages, by activity score (0-100, from commits; stars never enter it)."
            ),
            mo.Html(f"<style>{charts.TABLE_STYLE}</style>" + charts.ranking_html(view.ranking)),
            charts.score_lines(view.ranking),
        ]
    )
    return


@app.cell
def _(charts, mo, view):
    mo.vstack(
        [
            mo.md(
                "## Health over time\n\nShare of its packages that are active, and its 75th-percentile score."
            ),
            charts.health_lines(view.health, "share_active", "group-share-active", "Share active"),
            charts.health_lines(view.health, "p75_score", "group-p75", "75th-percentile score"),
        ]
    )
    return


@app.cell
def _(charts, dashboards, mo, view):
    _note = dashboards.history_note(view.span, view.mover_days)
    if view.movers.height:
        _body = charts.mover_bars(view.movers, view.mover_days)
    else:
        _body = mo.md(_note or f"No package of this {view.kind} changed score over {view.mover_days} days.")
    mo.vstack([mo.md(f"## Movers in this {view.kind}"), _body])
    return


if __name__ == "__main__":
    app.run()
