"""Debian's headless Chromium driven through the DevTools protocol: open a page, wait for its charts, count the
marks each drew, collect console errors and every request, take screenshots. Used by the browser tests and
by `python3 dev.py screenshots` (tests/screenshots.py), so the README's pictures come from the tested code.

The charts are vega-embed SVGs (notebooks/charts.py asks for the SVG renderer); a chart is named by its
`description`, which vega writes as the aria-label of the element it draws into.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

CHROMIUM = shutil.which("chromium")
# The charts each dashboard draws with its default choices (notebooks/charts.py names them), on a warehouse
# with a week of history.
DASHBOARD_CHARTS = {
    "overview": {"status-over-time", "score-distribution", "category-share-active", "category-p75"},
    "category": {"score-lines", "group-share-active", "group-p75", "movers"},
    "package": {"score-components", "djangopackages-score", "stars", "weekly-commits", "releases"},
    "movers": {"movers"},
}
MISSING = "Debian's chromium is not installed (.ci/run installs it: apt-get install -y chromium)"

# Every chart on the page, by name: how many data marks it drew (axes, legends and titles are not data).
# Elements inside shadow roots (marimo renders outputs in them) are searched too.
CHARTS_JS = """
(() => {
  const found = {};
  const visit = (root) => {
    for (const svg of root.querySelectorAll('svg.marks')) {
      const holder = svg.closest('[aria-label]');
      const name = (holder && holder !== svg ? holder.getAttribute('aria-label') : null)
        || svg.getAttribute('aria-label') || '?';
      const marks = [...svg.querySelectorAll('g.role-mark')]
        .reduce((n, g) => n + g.childElementCount, 0);
      found[name] = (found[name] || 0) + marks;
    }
    for (const el of root.querySelectorAll('*')) if (el.shadowRoot) visit(el.shadowRoot);
  };
  visit(document);
  return found;
})()
"""
# The page's visible text, shadow roots included.
TEXT_JS = """
(() => {
  const parts = [];
  const visit = (root) => {
    parts.push(root.body ? root.body.innerText : (root.textContent || ''));
    for (const el of root.querySelectorAll('*')) if (el.shadowRoot) visit(el.shadowRoot);
  };
  visit(document);
  return parts.join('\\n');
})()
"""


class BrowserError(Exception):
    pass


class Page:
    """One tab over its own websocket; events are kept as they arrive."""

    def __init__(self, ws_url: str) -> None:
        self._stack = ExitStack()
        self._ws = self._stack.enter_context(connect(ws_url, max_size=None, open_timeout=30))
        self._ids = itertools.count(1)
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.failed: list[str] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def close(self) -> None:
        self._stack.close()

    def send(self, method: str, timeout: float = 60, **params: Any) -> dict:
        call = next(self._ids)
        self._ws.send(json.dumps({"id": call, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == call:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", ""))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(
                " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            )
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(f"{params['entry'].get('url', '')}: {params['entry']['text']}")
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            self.failed.append(params.get("errorText", ""))

    def pump(self, seconds: float) -> None:
        """Take in the events of ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self._event(json.loads(self._ws.recv(timeout=left)))
            except TimeoutError:
                return

    def goto(self, url: str, timeout: float = 30) -> None:
        """Open ``url`` and wait until its document has loaded (a page's own scripts may still be drawing)."""
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while (
            self.evaluate("document.readyState") != "complete"
            or self.evaluate("location.href") == "about:blank"
        ):
            if time.monotonic() > deadline:
                raise BrowserError(f"{url} did not load within {timeout:.0f} s")
            self.pump(0.1)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:60]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def charts(self) -> dict[str, int]:
        return self.evaluate(CHARTS_JS)

    def text(self) -> str:
        return self.evaluate(TEXT_JS)

    def wait_for_charts(self, names: set[str], timeout: float = 60) -> dict[str, int]:
        """The charts once every one of ``names`` drew a mark and nothing changed for a second."""
        deadline = time.monotonic() + timeout
        previous: dict[str, int] | None = None
        while time.monotonic() < deadline:
            found = self.charts()
            if all(found.get(name, 0) > 0 for name in names) and found == previous:
                return found
            previous = found
            self.pump(1.0)
        raise BrowserError(
            f"charts {sorted(names)} not all drawn within {timeout:.0f} s; found {self.charts()}"
        )

    def screenshot(self, path: Path, width: int = 1280) -> None:
        """The whole page as a PNG. marimo scrolls an element of its own, not the document, so the window is
        made as tall as the tallest scrolling content first."""
        self.send(
            "Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=False
        )
        self.pump(0.5)
        height = int(
            self.evaluate("Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))")
        )
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.pump(1.0)
        shot = self.send("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))


class Browser:
    """Headless Chromium in its own profile; ``offline`` sends every request that would leave the machine
    to a closed port, so a page that needs the network shows it."""

    def __init__(self, *, offline: bool = False) -> None:
        if CHROMIUM is None:
            raise BrowserError(MISSING)
        # Chromium's helper processes may still write the profile for a moment after the browser has
        # exited: a leftover temporary directory must not fail a test that passed.
        self._profile = tempfile.TemporaryDirectory(prefix="dpw-chromium-", ignore_cleanup_errors=True)
        args = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--remote-debugging-port=0",
            f"--user-data-dir={self._profile.name}",
        ]
        if offline:
            args += [
                "--proxy-server=127.0.0.1:9",
                "--proxy-bypass-list=<-loopback>",
                "--host-resolver-rules=MAP * ~NOTFOUND",
            ]
        # A session of its own, so closing ends its helper processes too.
        self._proc = subprocess.Popen(
            [*args, "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.port = self._debugging_port()

    def _debugging_port(self) -> int:
        marker = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if marker.exists() and (lines := marker.read_text().splitlines()):
                return int(lines[0])
            if self._proc.poll() is not None:
                raise BrowserError(f"chromium exited with code {self._proc.returncode}")
            time.sleep(0.1)
        raise BrowserError("chromium did not open its debugging port within 30 s")

    def page(self) -> Page:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=30) as answer:
            return Page(json.load(answer)["webSocketDebuggerUrl"])

    def close(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def served(name: str, warehouse: Path) -> Iterator[str]:
    """`dpw dashboard NAME` on ``warehouse``, as a user starts it; its URL once it answers."""
    dpw = Path(sys.executable).with_name("dpw")
    proc = subprocess.Popen(
        [str(dpw), "dashboard", name, "--warehouse", str(warehouse)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if url is None:
            raise BrowserError(f"dpw dashboard {name} printed {line!r}, no URL (exit code {proc.poll()})")
        yield url.group(0)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
