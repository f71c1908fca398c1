"""A scripted HTTP server on loopback: each path answers a list of replies in order, the last repeating."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from assets.sources.http import HttpClient, RequestLog


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # bytes are sent as they are, anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False  # announce the full Content-Length, send half, hang up
    drop: bool = False  # hang up without answering
    delay: float = 0.0  # seconds to stall before answering


@dataclass(frozen=True)
class Seen:
    method: str
    path: str  # path + query
    headers: dict[str, str]  # keys lower-cased
    body: bytes

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def json(self) -> Any:
        return json.loads(self.body)


Script = Reply | Callable[[Seen], Reply]


class FakeServer:
    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self._routes: dict[tuple[str, str], list[Script]] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.block_on_close = False  # keep-alive handler threads must not stall teardown
        self._httpd.fake = self  # type: ignore[attr-defined]
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def on(self, method: str, path: str, *replies: Script) -> None:
        """Script the answers to ``method path`` (path without query), used in order, the last repeating."""
        with self._lock:
            self._routes[(method, path)] = list(replies)

    def seen(self, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if path is None or urlsplit(r.path).path == path]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _reply(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            script = self._routes.get((seen.method, urlsplit(seen.path).path))
            if not script:
                return Reply(404, {"detail": "Not found."})
            step = script.pop(0) if len(script) > 1 else script[0]
        return step(seen) if callable(step) else step


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        seen = Seen(
            self.command,
            self.path,
            {k.lower(): v for k, v in self.headers.items()},
            self.rfile.read(length) if length else b"",
        )
        reply = self.server.fake._reply(seen)  # type: ignore[attr-defined]
        time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            return
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        if "Date" in reply.headers:  # a scripted clock replaces the server's own Date header
            self.send_response_only(reply.status)
        else:
            self.send_response(reply.status)
        if not isinstance(reply.body, bytes):
            self.send_header("Content-Type", "application/json")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body[: len(body) // 2] if reply.truncate else body)
        except (BrokenPipeError, ConnectionResetError):
            # The client hung up first: it stops reading a body over its cap, or gave up waiting.
            self.close_connection = True
            return
        if reply.truncate:
            self.close_connection = True


@dataclass
class Harness:
    """HttpClients on one server sharing a RequestLog, whose waits are recorded instead of slept."""

    base_url: str
    log: RequestLog = field(default_factory=RequestLog)
    sleeps: list[float] = field(default_factory=list)
    clients: list[HttpClient] = field(default_factory=list)

    def client(self, source: str = "test", base_url: str | None = None, **options: Any) -> HttpClient:
        client = HttpClient(
            base_url or self.base_url, source=source, log=self.log, sleep=self.sleeps.append, **options
        )
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()
