"""The public views, one query per file named after its view; ``warehouse.store`` (re)creates them."""
