#!/usr/bin/env python3
"""Bootstrap and run:

  python3 dev.py demo    the offline demo
  python3 dev.py test    the tests (what CI runs after lint)
  python3 dev.py lint    ruff check, ruff format --check and mypy; fails if any of them does
  python3 dev.py lock    rewrite requirements.lock from .venv (after changing pyproject.toml's dependencies)
  python3 dev.py screenshots [--warehouse PATH]    the README's pictures of the dashboards, in docs/img/

Creates `.venv` with the project installed when it is missing, or reinstalls when pyproject.toml or
requirements.lock changed since, every distribution at its version in requirements.lock: a fresh machine
needs only Python 3.11+ and the package index, and gets the same versions every time.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = str(BIN / "python")
# Holds a digest of what the installed environment was made from.
MARKER = VENV / ".dpw-installed"
LOCK = ROOT / "requirements.lock"
PROJECT = "django-packages-warehouse"
LOCK_HEADER = """\
# Every distribution in .venv at its version. `python3 dev.py` installs with this as pip's constraints file
# (-c), so two installs get the same versions. Regenerate it with `python3 dev.py lock` after changing the
# dependencies in pyproject.toml; to move a pin, change its line here first.
"""
# A pin as pip freeze writes one for a distribution from the package index: name==version, nothing else.
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")
COMMANDS = {
    "demo": [[str(BIN / "dpw"), "demo"]],
    "test": [[PYTHON, "-m", "pytest", "-q"]],
    # Needs Debian's chromium, as the browser tests do.
    "screenshots": [[PYTHON, "-m", "tests.screenshots"]],
    # mypy checks the paths its [tool.mypy] section in pyproject.toml names.
    "lint": [
        [PYTHON, "-m", "ruff", "check", "."],
        [PYTHON, "-m", "ruff", "format", "--check", "."],
        [PYTHON, "-m", "mypy"],
    ],
}


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs before the venv exists, on any python3
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    wanted = installed_from()
    if MARKER.exists() and MARKER.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print(
        f"installing the project and its dependencies into .venv at the versions in {LOCK.name}", flush=True
    )
    # Without a lock (a project making its first) the versions are pip's choice, for `dev.py lock` to pin.
    constraints = ["-c", str(LOCK)] if LOCK.exists() else []
    pip = [PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q", *constraints]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True, cwd=ROOT)
    MARKER.write_text(wanted)


def installed_from() -> str:
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", LOCK):
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def lock() -> int:
    """Pin every distribution in .venv but the project itself, or refuse one that did not come from the
    package index (a local path or a URL would make the lock depend on this machine)."""
    frozen = subprocess.run(
        [PYTHON, "-m", "pip", "freeze", "--all", "--exclude-editable", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    pins = []
    for line in frozen:
        pin = _PIN.match(line)
        if pin is None:
            print(
                f"{LOCK.name} not written: pip freeze gave {line!r}, not a name==version pin", file=sys.stderr
            )
            return 1
        if canonical(pin[1]) != PROJECT:
            pins.append(line)
    LOCK.write_text(LOCK_HEADER + "".join(f"{pin}\n" for pin in sorted(pins, key=str.lower)))
    MARKER.write_text(installed_from())
    print(f"wrote {len(pins)} pins to {LOCK.name}")
    return 0


def canonical(name: str) -> str:
    """PEP 503: runs of -, _ and . are one -, in lower case."""
    return re.sub(r"[-_.]+", "-", name).lower()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {*COMMANDS, "lock"}:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ensure_venv()
    if argv[0] == "lock":
        return lock()
    steps = COMMANDS[argv[0]]
    if argv[1:] and len(steps) > 1:
        print(f"dev.py {argv[0]} takes no arguments", file=sys.stderr)
        return 2
    # Every step runs, so one lint run reports every kind of problem; the first failure's code is returned.
    codes = [subprocess.run([*step, *argv[1:]], cwd=ROOT).returncode for step in steps]
    return next((code for code in codes if code), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
