"""The one HTTP path every source request takes: retries, politeness, re-basing and the request log.

Principles 5 and 6 of docs/ARCHITECTURE.md live here: bounded retries whose waits honour ``Retry-After``
and the rate-limit reset headers, and only the configured base URL is ever contacted, whatever URL a response
body points at. Every call leaves exactly one ``RequestRecord`` so a run can account for its requests.
Bodies are read streamed and capped, and a token is scrubbed (in any letter case) from everything a
response carries before anyone sees it.
"""

from __future__ import annotations

import concurrent.futures
import json
import queue
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import requests

DEFAULT_USER_AGENT = "django-packages-warehouse/0.1 (+offline-first analytics)"
# The largest real answer (a 1,000-package list page) is a few MB; anything this large is a broken or
# hostile source, and reading it whole would only cost memory.
DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024

# A host that has not accepted a connection within this many seconds is down; reads of a
# 1,000-record page may legitimately take longer, so only the read timeout is the caller's.
_MAX_CONNECT_TIMEOUT = 10.0
# GitHub asks for at least a minute when a limit answers without saying how long to wait.
_UNTOLD_LIMIT_WAIT = 60.0
_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_SNIPPET_CHARS = 200
_CHUNK_BYTES = 64 * 1024
_BLANKS = re.compile(r"[\s\x00-\x1f\x7f]+")

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class RequestRecord:
    source: str
    method: str
    path: str  # path + query relative to the base URL; never a token
    status: int | None  # of the last attempt; None when it got no answer
    attempts: int
    ok: bool  # False exactly when the call raised
    error: str | None
    elapsed_ms: float  # wall time of the whole call, waits included
    started_at: datetime


class RequestLog:
    """Thread-safe, append-only; shared by every client of a run. Stopping it makes every client that logs
    here refuse its next request (``Stopped``): a capture interrupted while other threads fetch ends them
    at their next request instead of letting them go on asking."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def count(self, source: str | None = None) -> int:
        return sum(1 for r in self.records if source is None or r.source == source)

    def failed(self) -> list[RequestRecord]:
        return [r for r in self.records if not r.ok]


class Stopped(Exception):
    """A request not made: its log was stopped (the capture was interrupted). Not a source's failure, so no
    client turns it into one item's result."""


class SourceError(Exception):
    """A source did not give a usable answer; the message names what, where and how often.

    ``answered`` tells a source that answered badly (a status, a broken body) from one that could not be
    reached at all: only the latter means "cannot be reached". It defaults to whether a status is known.
    """

    def __init__(
        self,
        source: str,
        path: str,
        reason: str,
        method: str = "GET",
        status: int | None = None,
        attempts: int | None = None,
        answered: bool | None = None,
    ) -> None:
        self.source = source
        self.method = method
        self.path = path
        self.status = status
        self.attempts = attempts
        self.reason = reason
        self.answered = status is not None if answered is None else answered
        details = []
        if status is not None:
            details.append(f"status {status}")
        if attempts is not None:
            details.append(f"{attempts} attempt{'s' if attempts != 1 else ''}")
        suffix = f" ({', '.join(details)})" if details else ""
        super().__init__(f"{source}: {method} {path} failed{suffix}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (executors, multiprocessing); keep every field.
        return type(self), (
            self.source,
            self.path,
            self.reason,
            self.method,
            self.status,
            self.attempts,
            self.answered,
        )


def _number_text(text: str) -> int | str:
    # Python refuses to read integers of more than 4,300 digits (a guard against quadratic parsing), and
    # one such value in one record would fail its whole page: it is kept as its digits, a string, which
    # the parser then rejects as out of range for that record alone.
    return int(text) if len(text) <= 4300 else text


def load_json(body: bytes | str) -> Any:
    """JSON as the sources send it, hostile numbers included."""
    return json.loads(body, parse_int=_number_text)


_UNPARSED: Any = object()


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes
    path: str  # path + query relative to the base URL
    # The retry loop already parsed a 200 JSON body to validate it; keep the result.
    parsed: Any = field(default=_UNPARSED, repr=False, compare=False)

    def json(self) -> Any:
        return load_json(self.body) if self.parsed is _UNPARSED else self.parsed

    def summary(self) -> str:
        """One line for messages: status, content type and the start of the body."""
        return _summary(self.status, self.headers, self.body)


class _Failure(Exception):
    """One attempt failed; carries whether another try is worth it and what its wait depends on."""

    def __init__(
        self,
        reason: str,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        retryable: bool = True,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.headers = headers or {}
        self.retryable = retryable


@dataclass(frozen=True)
class _Expect:
    """What a call accepts as a usable 200: JSON or any body, the JSON's shape, and the body's size."""

    json: bool
    shape: Callable[[Any], bool] | None
    max_body_bytes: int


class HttpClient:
    def __init__(
        self,
        base_url: str,
        *,
        source: str,
        log: RequestLog,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        max_attempts: int = 4,
        backoff: float = 0.5,
        max_wait: float = 120.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        user_agent: str = DEFAULT_USER_AGENT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{source}: base URL must be an http(s) URL, got {base_url!r}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be at least 1")
        self.base_url = base_url.rstrip("/")
        self._base_path = parts.path.rstrip("/")
        self.source = source
        self.log = log
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.max_body_bytes = max_body_bytes
        self.sleep = sleep
        self._headers = {"User-Agent": user_agent, "Accept": "application/json", **(headers or {})}
        self._secrets = _secrets_pattern(self._headers)
        self._secret_bytes = (
            None if self._secrets is None else re.compile(self._secrets.pattern.encode(), re.I)
        )
        self._random = random.Random()
        # requests.Session is not documented as thread-safe: each request borrows an idle session,
        # so a thread pool reuses at most as many sessions (and connection pools) as it has threads.
        self._idle: queue.SimpleQueue[requests.Session] = queue.SimpleQueue()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def get(
        self,
        path_or_url: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        ok_statuses: Collection[int] = (),
        etag: str | None = None,
        *,
        expect_json: bool = True,
        shape: Callable[[Any], bool] | None = None,
        max_body_bytes: int | None = None,
    ) -> Response:
        """GET a path, or an absolute URL re-based onto the base URL.

        200 and 404 are returned; so are the ``ok_statuses`` and, when ``etag`` is given, 304.
        Redirects are returned (if listed) rather than followed: the caller decides. With ``expect_json``
        a 200 whose body is not JSON (a maintenance page, a cut body), or fails ``shape``, is retried
        like a 503: proxies and CDNs serve such pages for a moment. ``max_body_bytes`` replaces the
        client's cap for a document known to be larger.
        """
        extra = dict(headers or {})
        expected = {*ok_statuses}
        if etag is not None:
            extra["If-None-Match"] = etag
            expected.add(304)
        path = self.relative(path_or_url, params)
        cap = self.max_body_bytes if max_body_bytes is None else max_body_bytes
        return self._call("GET", path, extra, None, expected, _Expect(expect_json, shape, cap))

    def post_json(
        self,
        path: str,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        ok_statuses: Collection[int] = (),
        *,
        expect_json: bool = True,
    ) -> Response:
        """POST a JSON body. Only used for read queries (GraphQL), so retrying it is safe."""
        extra = {"Content-Type": "application/json", **(headers or {})}
        body = json.dumps(payload).encode()
        expect = _Expect(expect_json, None, self.max_body_bytes)
        return self._call("POST", self.relative(path, None), extra, body, {*ok_statuses}, expect)

    def relative(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> str:
        """The path + query, relative to the base URL, that a path or absolute URL asks for.

        Only the path and query of an absolute URL survive, so a link in a response body can never send
        us to a host nobody configured.
        """
        try:
            parts = urlsplit(path_or_url)
        except ValueError as exc:  # e.g. an unbalanced IPv6 bracket in a Location header
            shown = _snippet(path_or_url.encode())
            raise SourceError(self.source, self._scrub(shown), f"not a URL: {exc}", answered=True) from None
        path = parts.path
        if (parts.scheme or parts.netloc) and self._base_path:
            if path == self._base_path or path.startswith(self._base_path + "/"):
                path = path[len(self._base_path) :]
        if not path.startswith("/"):
            path = "/" + path
        query = parts.query
        if params:
            encoded = urlencode(params, doseq=True)
            query = f"{query}&{encoded}" if query else encoded
        return f"{path}?{query}" if query else path

    def _call(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None,
        expected: set[int],
        expect: _Expect,
    ) -> Response:
        if self.log.stopped:  # before the record: a request never made is not logged
            raise Stopped(f"{self.source}: {method} {self._scrub(path)} not asked: the capture was stopped")
        started_at = datetime.now(UTC)
        clock = time.perf_counter()
        attempts = 0
        answered = False
        status: int | None = None
        error: str | None = None
        try:
            while True:
                attempts += 1
                try:
                    response = self._attempt(method, path, headers, body, expect)
                    status = response.status
                    if status in (200, 404) or status in expected:
                        return response
                    reason = f"unexpected {response.summary()}"
                    raise _Failure(reason, status, retryable=False)
                except _Failure as failure:
                    status = failure.status
                    answered = answered or status is not None
                    if not failure.retryable or attempts >= self.max_attempts:
                        raise self._error(method, path, failure.reason, status, attempts, answered) from None
                    wait = self._wait_before_retry(attempts, failure)
                    if wait > self.max_wait:
                        reason = (
                            f"{failure.reason}; asked to wait {wait:.0f} s, "
                            f"more than max_wait {self.max_wait:.0f} s"
                        )
                        raise self._error(method, path, reason, status, attempts, answered) from None
                    self.sleep(wait)
                    if self.log.stopped:
                        raise Stopped(
                            f"{self.source}: {method} {self._scrub(path)} stopped while retrying"
                        ) from None
        except SourceError as exc:
            error = exc.reason
            raise
        except BaseException as exc:
            error = self._scrub(f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self.log.append(
                RequestRecord(
                    source=self.source,
                    method=method,
                    path=self._scrub(path),
                    status=status,
                    attempts=attempts,
                    ok=error is None,
                    error=error,
                    elapsed_ms=(time.perf_counter() - clock) * 1000.0,
                    started_at=started_at,
                )
            )

    def _attempt(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None,
        expect: _Expect,
    ) -> Response:
        session = self._acquire()
        received: int | None = None  # the status, once the answer's head is in
        try:
            raw = session.request(
                method,
                self.base_url + path,
                headers=headers,
                data=body,
                timeout=(min(self.timeout, _MAX_CONNECT_TIMEOUT), self.timeout),
                allow_redirects=False,
                stream=True,
            )
            received = raw.status_code
            with closing(raw):  # an unread rest (over the cap) closes the connection instead of pooling it
                lowered = {k.lower(): self._scrub(v) for k, v in raw.headers.items()}
                content = self._scrub_bytes(_read(raw, lowered, expect.max_body_bytes))
        except _TRANSIENT as exc:
            # Refused and dropped connections, timeouts, and bodies shorter than their
            # Content-Length (urllib3 enforces it, so a truncated answer surfaces here). A status
            # already read means the source did answer, only not in full.
            raise _Failure(f"{type(exc).__name__}: {exc}", received) from None
        except (requests.RequestException, ValueError) as exc:
            # Malformed requests (a URL requests or http.client refuses): asking again cannot help.
            raise _Failure(f"{type(exc).__name__}: {exc}", received, retryable=False) from None
        finally:
            self._idle.put(session)

        status = raw.status_code
        if status >= 500 or status == 429 or (status == 403 and _rate_limited(lowered, content)):
            raise _Failure(_summary(status, lowered, content), status, lowered)
        if status != 200 or not expect.json:
            return Response(status, lowered, content, path)
        try:
            parsed = load_json(content)
        except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the parser goes
            raise _Failure(
                _summary(status, lowered, content, f"is not JSON ({exc})"), status, lowered
            ) from None
        if expect.shape is not None and not expect.shape(parsed):
            problem = "is not the expected document"
            raise _Failure(_summary(status, lowered, content, problem), status, lowered) from None
        return Response(status, lowered, content, path, parsed)

    def _error(
        self, method: str, path: str, reason: str, status: int | None, attempts: int, answered: bool
    ) -> SourceError:
        return SourceError(
            self.source,
            self._scrub(path),
            self._scrub(reason),
            method=method,
            status=status,
            attempts=attempts,
            answered=answered,
        )

    def _wait_before_retry(self, attempts: int, failure: _Failure) -> float:
        told = _told_wait(failure.headers)
        if told is not None:
            return told
        delay = self.backoff * 2 ** (attempts - 1)
        # Jitter spreads the retries of parallel workers so they do not hit the source in step.
        delay = self._random.uniform(delay / 2, delay)
        if failure.status in (403, 429):
            return max(delay, _UNTOLD_LIMIT_WAIT)
        return delay

    def _acquire(self) -> requests.Session:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            session = requests.Session()
            session.headers.update(self._headers)
            with self._sessions_lock:
                self._sessions.append(session)
            return session

    def _scrub(self, text: str) -> str:
        return text if self._secrets is None else self._secrets.sub("***", text)

    def _scrub_bytes(self, body: bytes) -> bytes:
        # A server may echo the credential into a document; it must not reach raw storage either.
        return body if self._secret_bytes is None else self._secret_bytes.sub(b"***", body)


def _read(raw: requests.Response, headers: Mapping[str, str], cap: int) -> bytes:
    """The body, decoded (gzip included), refused as soon as it passes the cap."""
    # Retrying would read the same oversized body again: the failure is final.
    over = f"response body larger than the cap of {cap:,} bytes (DPW_MAX_BODY_BYTES)"
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _Failure(over, raw.status_code, retryable=False)
    chunks: list[bytes] = []
    size = 0
    for chunk in raw.iter_content(_CHUNK_BYTES):
        size += len(chunk)
        if size > cap:
            raise _Failure(over, raw.status_code, retryable=False)
        chunks.append(chunk)
    return b"".join(chunks)


def _secrets_pattern(headers: Mapping[str, str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern for every credential: servers echo them upper-cased too."""
    secrets: set[str] = set()
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _SENSITIVE_HEADERS or "token" in lowered or "secret" in lowered:
            secrets.add(value)
            # "Bearer abc" and "token abc": the bare credential must not leak either.
            secrets.update(part for part in value.split()[1:] if len(part) >= 4)
    # Longest first, so a full header value is replaced before the credential inside it.
    ordered = sorted((s for s in secrets if s), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE) if ordered else None


def _rate_limited(headers: Mapping[str, str], body: bytes) -> bool:
    # A 403 is a limit (worth waiting for) only if the source says so; otherwise it is a refusal.
    return (
        "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
        or b"rate limit" in body[:2000].lower()
    )


def _told_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds the source asked us to wait, from Retry-After or an exhausted rate-limit window."""
    now = _server_now(headers)
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now)
            except (TypeError, ValueError):
                pass
    if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
        try:
            return max(0.0, float(headers["x-ratelimit-reset"]) - now)
        except ValueError:
            return None
    return None


def _server_now(headers: Mapping[str, str]) -> float:
    # Reset times and Retry-After dates are on the server's clock (the replay server's runs on its
    # simulated date); measuring against its Date header also makes waits immune to local clock skew.
    # Date is truncated to the second, which only adds margin.
    try:
        return parsedate_to_datetime(headers["date"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return time.time()


def _summary(status: int, headers: Mapping[str, str], body: bytes, problem: str = "") -> str:
    content_type = _snippet((headers.get("content-type") or "no content type").encode())
    answer = f"HTTP {status} ({content_type})"
    return f"{answer} {problem}: {_snippet(body)}" if problem else f"{answer}: {_snippet(body)}"


def _snippet(body: bytes) -> str:
    # One line, whatever the body holds: messages end up in logs and terminals.
    text = _BLANKS.sub(" ", body[:_SNIPPET_CHARS].decode("utf-8", "replace")).strip()
    return text + ("…" if len(body) > _SNIPPET_CHARS else "") if text else "(empty body)"


def server_date(response: Response) -> date:
    """The UTC day of the response's ``Date`` header: the sources' notion of today."""
    value = response.headers.get("date")
    if value is None:
        raise ValueError(f"response to {response.path} has no Date header")
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise ValueError(f"response to {response.path} has an unreadable Date header {value!r}") from None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT even when the zone is spelled "-0000"
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date()


def bounded_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """``[fn(x) for x in items]`` on at most ``workers`` threads.

    ``fn`` turns an item's own failure into that item's result (the clients answer "failed" for it), so
    one item never costs the others. What escapes ``fn`` is not one item's problem (Ctrl-C, a bug): it
    propagates at once, the items not yet started are dropped, and those in flight end within their
    timeout without being waited for.
    """
    todo: Sequence[T] = list(items)
    if workers <= 1 or len(todo) <= 1:
        return [fn(item) for item in todo]
    pool = ThreadPoolExecutor(max_workers=min(workers, len(todo)))
    try:
        futures = [pool.submit(fn, item) for item in todo]
        # Not in item order: an error in any item surfaces now, not after the items before it end.
        concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
        for future in futures:
            if future.done() and (error := future.exception()) is not None:
                raise error
        results = [future.result() for future in futures]
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results


def together(tasks: Mapping[str, Callable[[], R]], stop: Callable[[], None]) -> dict[str, R | BaseException]:
    """Each task in a thread of its own, all at the same time; by name, what each returned or the exception
    it raised, once every one has ended. One task's failure never stops the others.

    Each task keeps its own service's rules (GitHub serial, PyPI bounded): only different services overlap.
    An interrupt of the caller (Ctrl-C, Dagster's termination) calls ``stop`` (stop the tasks' request logs,
    so each ends at its next request) and propagates at once: the threads are daemons, so a process that
    exits does not wait for the request each may still have in flight.
    """
    results: dict[str, R | BaseException] = {}
    lock = threading.Lock()

    def run(name: str, task: Callable[[], R]) -> None:
        try:
            outcome: R | BaseException = task()
        except BaseException as error:  # handed to the caller, which names the task
            outcome = error
        with lock:
            results[name] = outcome

    threads = [
        threading.Thread(target=run, args=(name, task), name=f"capture-{name}", daemon=True)
        for name, task in tasks.items()
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)  # short joins: an interrupt reaches this thread at once
    except BaseException:
        stop()
        raise
    return {name: results[name] for name in tasks}
