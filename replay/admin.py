"""The replay server's own endpoints under /_replay/: its clock, faults, latency and request counts."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING

from replay.protocol import Request, Response, answer

if TYPE_CHECKING:
    from replay.app import ReplayApp


def route(app: ReplayApp, request: Request) -> Response:
    path = request.path.rstrip("/")
    try:
        payload = json.loads(request.body) if request.method == "POST" else None
        if path == "/_replay/clock":
            if request.method == "POST":
                app.set_date(date.fromisoformat(payload["date"]))
            return answer(200, {"date": app.date.isoformat(), "as_of": app.bundle.as_of.isoformat()})
        if path == "/_replay/faults":
            if request.method == "POST":
                _set_faults(app, payload)
            return answer(200, {"faults": app.faults.remaining(), "rates": app.faults.rates()})
        if path == "/_replay/latency":
            if request.method == "POST":
                app.set_latency(float(payload["ms"]))
            return answer(200, {"ms": app.latency * 1000})
        if path == "/_replay/requests":
            # Per path (query left out), and how many of them were answered 304: tests and benchmarks
            # assert on what was asked, not only on how much.
            if request.method == "POST" and payload == {"reset": True}:
                app.reset_counts()
            return answer(200, app.path_counts())
        if path == "/_replay/stats" and request.method == "GET":
            return answer(200, app.stats())
    except (ValueError, KeyError, TypeError) as exc:
        return answer(400, {"detail": str(exc)})
    return answer(404, {"detail": "Not found."})


def _set_faults(app: ReplayApp, payload: object) -> None:
    """A list replaces the count rules; {"rates": SPEC, "seed": N} replaces the rate faults."""
    if isinstance(payload, list):
        app.faults.set(payload)
    elif isinstance(payload, dict) and "rates" in payload and set(payload) <= {"rates", "seed"}:
        app.faults.set_rates(payload["rates"], payload.get("seed"))
    else:
        raise ValueError('POST a JSON list of fault rules, or {"rates": "5xx=0.1,...", "seed": 7}')
