"""The marimo dashboards (overview, category, package, movers), their charts, and the static report."""
