"""The README's pictures: each dashboard served by `dpw dashboard` on a warehouse (default: the demo's,
data/warehouse.duckdb) and photographed in headless Chromium by the browser tests' own code.

    python3 dev.py screenshots [--warehouse PATH] [--out docs/img]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tests.browser import DASHBOARD_CHARTS, Browser, served

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=ROOT / "data" / "warehouse.duckdb")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args(argv)
    if not args.warehouse.exists():
        print(f"no warehouse at {args.warehouse}: run `python3 dev.py demo` first", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with Browser() as browser:
        for name, expected in DASHBOARD_CHARTS.items():
            with served(name, args.warehouse) as url:
                page = browser.page()
                try:
                    page.goto(url)
                    page.wait_for_charts(expected)
                    page.screenshot(args.out / f"{name}.png")
                finally:
                    page.close()
            if page.errors:
                print(f"{name}: console errors: {page.errors}", file=sys.stderr)
                return 1
            print(f"{args.out / name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
