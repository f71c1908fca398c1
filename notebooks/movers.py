import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Django package movers")


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
def _(dashboards, mo):
    days = mo.ui.radio(
        options={f"{d} days": d for d in dashboards.MOVER_DAYS}, value="7 days", inline=True, label="over"
    )
    min_stars = mo.ui.number(start=0, step=50, value=100, label="popular: at least this many stars")
    mo.hstack([days, min_stars], justify="start")
    return days, min_stars


@app.cell
def _(charts, dashboards, days, min_stars, mo, warehouse_path):
    view = charts.read_or_stop(
        mo, dashboards.movers, warehouse_path, days=days.value, min_stars=int(min_stars.value or 0)
    )
    return (view,)


@app.cell
def _(charts, dashboards, mo, view):
    _note = dashboards.history_note(view.span, view.days)
    if view.movers.height:
        _body = mo.vstack(
            [
                charts.mover_bars(view.movers, view.days),
                mo.ui.table(view.movers, selection=None, pagination=False, show_column_summaries=False),
            ]
        )
    else:
        _body = mo.md(_note or f"No package's score changed over {view.days} days.")
    mo.vstack(
        [
            mo.md(
                f"# Movers\n\nData of **{view.span.last}** · risers and fallers: the largest changes of the "
                f"activity score against each package's snapshot {view.days} days earlier."
            ),
            _body,
        ]
    )
    return


@app.cell
def _(mo, view):
    def _section(title, rows, empty):
        _body = (
            mo.ui.table(rows, selection=None, pagination=False, show_column_summaries=False)
            if rows.height
            else mo.md(empty)
        )
        return mo.vstack([mo.md(title), _body])

    mo.vstack(
        [
            _section(
                f"## Newly dormant in the last {view.days} days\n\nStatus crossed into inactive or abandoned "
                "(dormant) from any livelier status.",
                view.newly_dormant,
                "No package became dormant in the window.",
            ),
            _section(
                f"## Revived in the last {view.days} days\n\nFrom dormant back to active or slowing.",
                view.revived,
                "No package was revived in the window.",
            ),
        ]
    )
    return


@app.cell
def _(mo, view):
    _rows = view.popular_dormant
    _below = _rows.filter(_rows["djangopackages_score"] < 0).height
    # Said from the rows shown: djangopackages' score falls as months pass without a commit, so how it ranks
    # these packages differs from one to the next.
    _text = (
        f"## Popular but at risk\n\nDormant (inactive or abandoned) with at least {view.min_stars} stars, "
        f"most stars first. djangopackages' own score is beside ours: {_below} of these {_rows.height} score "
        "below zero there (its penalties for months without a commit outweigh their stars); the highest "
        f"scores {_rows['djangopackages_score'].max()}."
    )
    mo.vstack(
        [
            mo.md(
                _text
                if _rows.height
                else f"## Popular but at risk\n\nNo dormant package has {view.min_stars} stars or more."
            ),
            mo.ui.table(_rows, selection=None, pagination=False, show_column_summaries=False)
            if _rows.height
            else mo.md(""),
        ]
    )
    return


if __name__ == "__main__":
    app.run()
