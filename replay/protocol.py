"""What every replayed service shares: the parsed request, the answer, and JSON as the real APIs encode it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]

JSON = "application/json"
HTML = "text/html; charset=utf-8"
INT_DIGITS = 4300  # int() refuses longer decimal strings; no id that long can exist


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    host: str  # as the client addressed us: links must lead back the same way


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    conditional: bool = False  # honours If-None-Match (GitHub REST, PyPI, GitLab, Bitbucket)
    content_type: str = JSON


def encode(value: object) -> bytes:
    # A lone surrogate ("\ud800") has no UTF-8 form: it goes out as the escape a real API would send.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace")


def answer(status: int, value: object, *headers: tuple[str, str], conditional: bool = False) -> Response:
    return Response(status, encode(value), tuple(headers), conditional)


def moved(url: str) -> Response:
    return answer(301, {"message": "Moved Permanently", "url": url}, ("Location", url))


def is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
