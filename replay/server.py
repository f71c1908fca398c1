"""The replay server: every replayed API on one loopback port, from a bundle.

with ReplayServer(bundle_dir, port=0, faults="5xx=0.1,timeout=0.02", seed=7) as srv:
    requests.get(f"{srv.base_url}/api/v4/packages/?limit=1000")
"""

from __future__ import annotations

import signal
import socket
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from replay.app import ReplayApp, Request, Response
from replay.bundle import SAMPLE_BUNDLE, Bundle, load_bundle
from replay.faults import FaultRule, RateSpec
from replay.synthetic import synthetic_bundle

__all__ = ["SAMPLE_BUNDLE", "ReplayServer", "serve"]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: ReplayApp) -> None:
        super().__init__(address, _Handler)
        self.app = app
        # Set on stop: a request held by a delay or a timeout fault lets go at once.
        self.stopping = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive: clients crawling thousands of documents reuse them.
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; with Nagle's algorithm and delayed ACKs every
        # keep-alive request would stall for 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a crawl makes thousands of requests; the counters and /_replay/stats tell the story."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        split = urlsplit(self.path)
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, split.path, split.query, headers, body, host)
        outcome = self.server.app.dispatch(request)
        if outcome.delay:
            self.server.stopping.wait(outcome.delay)
        if outcome.response is None:
            self.close_connection = True
            return
        self._write(outcome.response, outcome.truncate)

    def _write(self, response: Response, truncate: bool) -> None:
        self.send_response_only(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if truncate:
            # The headers promise the whole body: the client sees the connection close mid-body.
            self.wfile.write(response.body[: len(response.body) // 2])
            self.close_connection = True
        else:
            self.wfile.write(response.body)


class ReplayServer:
    """An in-process server on a background thread; `port=0` picks a free port.

    `faults` are rate faults (`RateSpec`: "5xx=0.1,timeout=0.02,timeout_s=0.5"); `seed` seeds them and a
    synthetic bundle. A bad spec raises ValueError naming the bad item, before anything is loaded.
    """

    def __init__(
        self,
        bundle_dir: str | Path | Bundle | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        date: date | str | None = None,
        *,
        synthetic: int | None = None,
        seed: int = 0,
        faults: str | None = None,
        latency_ms: float = 0.0,
    ) -> None:
        rates = RateSpec.parse(faults or "")
        self.app = ReplayApp(_bundle(bundle_dir, synthetic, seed), _as_date(date))
        self.app.set_latency(latency_ms)
        self.app.faults.set_rates(rates, seed)
        self._address = (host, port)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def bundle(self) -> Bundle:
        return self.app.bundle

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the replay server is not running: use start() or a with block")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def date(self) -> date:
        return self.app.date

    def set_date(self, day: date | str) -> None:
        self.app.set_date(_as_date(day) or self.bundle.as_of)

    def set_faults(self, rules: list[dict[str, Any] | FaultRule]) -> None:
        """Replace the count rules; rate faults stay."""
        self.app.faults.set(rules)

    def set_rate_faults(self, spec: str | None, seed: int | None = None) -> None:
        """Replace the rate faults (None for none) and restart their sequence; the seed stays if not given."""
        self.app.faults.set_rates(spec, seed)

    def rate_faults(self) -> dict[str, Any]:
        """{"spec", "seed", "timeout_s", "requests": drawn so far, "fired": {kind: count}}."""
        return self.app.faults.rates()

    def set_latency(self, ms: float) -> None:
        """Milliseconds added before every answer of a replayed API (not the /_replay/ endpoints)."""
        self.app.set_latency(ms)

    def request_counts(self) -> dict[str, int]:
        return self.app.request_counts()

    def path_counts(self) -> dict[str, dict[str, int]]:
        """{"paths": {path: requests}, "not_modified": {path: 304 answers}} since the last reset."""
        return self.app.path_counts()

    def reset_counts(self) -> None:
        self.app.reset_counts()

    def start(self) -> ReplayServer:
        if self._httpd is None:
            self._httpd = _HTTPServer(self._address, self.app)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="replay-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None and self._thread is not None:
            self._httpd.stopping.set()
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
        self._httpd, self._thread = None, None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def serve(
    bundle_dir: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    date: date | str | None = None,
    *,
    synthetic: int | None = None,
    seed: int = 0,
    faults: str | None = None,
    latency_ms: float = 0.0,
) -> None:
    """Serve until SIGINT or SIGTERM, then return normally (exit code 0)."""
    stopping = threading.Event()
    server = ReplayServer(
        bundle_dir, host, port, date, synthetic=synthetic, seed=seed, faults=faults, latency_ms=latency_ms
    )
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with server:
            injected = f", faults {faults} seed {seed}" if faults else ""
            print(
                f"Replay server listening on {server.base_url} (date {server.date.isoformat()}{injected})",
                flush=True,
            )
            while not stopping.wait(0.2):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _bundle(source: str | Path | Bundle | None, synthetic: int | None, seed: int) -> Bundle:
    # synthetic=N replaces the bundle: a CLI passes its default bundle along with --synthetic.
    if synthetic is not None:
        return synthetic_bundle(synthetic, seed)
    if source is None:
        raise ValueError("a bundle directory (or synthetic=N) is required")
    return source if isinstance(source, Bundle) else load_bundle(source)


def _as_date(value: date | str | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value
