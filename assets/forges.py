"""Which GitLab projects and Bitbucket repositories a capture asks for, and what it records for the others.

Each repository is asked at most once a day (a second capture of a date reuses the first one's answers), one
that answered 404 (most often a Mercurial repository Bitbucket removed) is not asked again for 30 days, and
the rest are asked stalest first: when Bitbucket's anonymous budget runs out, those not asked are carried to
a later day as ``deferred`` rows holding the state last fetched, so their packages keep a score.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from assets.sources.forges import ForgeRepo
from warehouse.raw import RAW_TEXT
from warehouse.store import Warehouse, WarehouseError

GONE_FOR = timedelta(days=30)
# Older states are of little use to a score; the bound keeps the look-back query small.
KEPT_FOR = timedelta(days=365)
DEFERRED = "not asked: the request budget was spent on staler repositories; carried to a later day"


@dataclass(frozen=True)
class Known:
    """A repository's latest raw row on a published date: its status, document and the date it was asked."""

    status: str  # ok | missing | deferred
    doc: dict[str, Any] | None
    asked_on: date | None  # None: never asked (deferred since it was first linked)


def known(warehouse: Path, day: date, source: str) -> dict[str, Known]:
    """Each repository's latest ok, missing or deferred raw row of ``source`` up to ``day``. Empty when none
    can be read: every repository is due, a dearer capture, never a wrong one."""
    if not warehouse.exists():
        return {}
    try:
        with Warehouse.current(warehouse) as wh:
            rows = wh.query(
                f"SELECT record_key, status, payload, snapshot_date FROM {RAW_TEXT} r WHERE source = $s "
                "AND status IN ('ok', 'missing', 'deferred') AND snapshot_date <= $d AND snapshot_date >= $since "
                "QUALIFY row_number() OVER (PARTITION BY record_key ORDER BY snapshot_date DESC) = 1",
                {"s": source, "d": day, "since": day - KEPT_FOR},
            )
    except WarehouseError:
        return {}
    found = {}
    for key, status, payload, on in rows.iter_rows():
        doc = json.loads(payload) if payload else None
        doc = doc if isinstance(doc, dict) else None
        if doc is not None:
            doc.pop("_deferred", None)
        asked = doc.pop("_asked_on", on.isoformat()) if doc is not None else on.isoformat()
        asked_on = date.fromisoformat(asked[:10]) if isinstance(asked, str) else None
        found[key] = Known(status, doc or None, asked_on)
    return found


@dataclass(frozen=True)
class Plan:
    due: list[str]  # to ask, stalest first
    kept: list[tuple[str, str, dict[str, Any] | None]]  # raw rows of the others (key, status, payload)


def plan(paths: list[str], previous: dict[str, Known], day: date) -> Plan:
    due: list[tuple[date, str]] = []
    kept = []
    for path in sorted(set(paths)):
        k = previous.get(path)
        if k is not None and k.asked_on == day and k.status != "deferred":
            kept.append((path, k.status, k.doc))  # asked today already: once a day
        elif k is not None and k.status == "missing" and k.asked_on and day - k.asked_on < GONE_FOR:
            kept.append((path, "missing", {"_asked_on": k.asked_on.isoformat()}))
        else:
            due.append((k.asked_on or date.min if k else date.min, path))
    return Plan([path for _, path in sorted(due)], kept)


def rows(
    todo: Plan, answers: dict[str, ForgeRepo], previous: dict[str, Known]
) -> Iterator[tuple[str, str, dict[str, Any] | None]]:
    """Raw rows of every linked repository: today's answers, the rows ``plan`` kept, and a ``deferred`` row
    with the last state fetched (if any) for each due repository the budget left unasked."""
    yield from todo.kept
    for path in todo.due:
        answer = answers.get(path)
        if answer is None:
            k = previous.get(path)
            carried = k.doc if k is not None and k.status != "missing" else None
            asked = k.asked_on.isoformat() if k is not None and k.asked_on and carried else None
            yield path, "deferred", {**(carried or {}), "_asked_on": asked, "_deferred": DEFERRED}
        elif answer.status == "failed":
            yield path, "failed", {"error": answer.error or "no usable answer"}
        else:
            yield path, answer.status, answer.doc
