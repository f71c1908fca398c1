"""`dpw dashboard`: one of the marimo apps in `notebooks/`, served on loopback by `marimo run`.

The app is given the warehouse path as a notebook argument (`-- --warehouse PATH`): the settings stay in
`pipelines`, and the app opens the file read-only for each read, so an app left open never holds it.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from importlib import resources
from pathlib import Path

DASHBOARDS = ("overview", "category", "package", "movers")
HOST = "127.0.0.1"
# marimo starts in a few seconds; a machine under load (CI, a capture running) may take longer.
START_TIMEOUT = 60.0


class DashboardError(Exception):
    pass


def notebook(name: str) -> Path:
    """The installed notebook file of dashboard ``name``."""
    if name not in DASHBOARDS:
        raise DashboardError(f"no dashboard named {name!r}; there are {', '.join(DASHBOARDS)}")
    return Path(str(resources.files("notebooks").joinpath(f"{name}.py")))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def command(name: str, warehouse: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "marimo",
        "run",
        str(notebook(name)),
        "--headless",
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-token",
        # The notebooks declare no inline dependencies: never offer to make a sandbox for them.
        "--no-sandbox",
        "--",
        "--warehouse",
        str(warehouse.resolve()),
    ]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DashboardError(f"marimo stopped with exit code {proc.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise DashboardError(f"marimo did not answer on {url} within {timeout:.0f} s")


def serve(name: str, warehouse: Path, port: int | None, ready: Callable[[str], None]) -> int:
    """Serve dashboard ``name`` until marimo stops (or this process is interrupted); ``ready`` gets its URL
    once it answers. Returns marimo's exit code."""
    port = port or free_port()
    url = f"http://{HOST}:{port}/"
    # Stopped by a service manager (SIGTERM) as by Ctrl-C, marimo goes too, not left serving on its own.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    # marimo's own banner names localhost; the one URL printed is ours.
    proc = subprocess.Popen(
        command(name, warehouse, port), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    try:
        wait_until_up(url, proc)
        ready(url)
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)
