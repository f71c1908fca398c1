"""Benchmarks, the backtest and the row-by-row reference of DPAS-1 (run as `python -m bench.<module>`)."""
