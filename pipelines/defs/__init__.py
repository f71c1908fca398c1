"""The project's defs folder: Dagster loads every definition in it into the code location beside the
warehouse's assets and jobs (``pipelines.definitions``). ``dg scaffold defs dagster.asset NAME.py`` writes
here; ``dg list defs`` shows what it holds."""
