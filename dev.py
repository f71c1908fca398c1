#!/usr/bin/env python3
"""Bootstrap and run: `python3 dev.py demo` runs the offline demo, `python3 dev.py test` the tests.

Creates `.venv` with the project installed when it is missing (or when pyproject.toml changed since),
so a fresh machine needs only Python 3.11+ and the package index.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
MARKER = VENV / ".dpw-installed"
COMMANDS = {
    "demo": [str(BIN / "dpw"), "demo"],
    "test": [str(BIN / "python"), "-m", "pytest", "-q"],
}


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs before the venv exists, on any python3
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    pyproject = ROOT / "pyproject.toml"
    if MARKER.exists() and MARKER.stat().st_mtime >= pyproject.stat().st_mtime:
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing the project and its dependencies into .venv", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True, cwd=ROOT)
    MARKER.touch()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ensure_venv()
    return subprocess.run([*COMMANDS[argv[0]], *argv[1:]], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
