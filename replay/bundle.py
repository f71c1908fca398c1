"""Bundles: the records the replay server serves, loaded from a directory of JSON lines.

A record is whatever JSON value a line holds, served as received: upstream is not ours, and the server
exists to show the pipeline what upstream can send. Only a line that is not JSON at all is skipped.
"""

from __future__ import annotations

import gzip
import json
import math
import warnings
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from replay import SAMPLE_BUNDLE
from replay.names import api_link
from replay.times import parse_time
from warehouse.identifiers import normalize_name

Record = dict[str, Any]

_NEVER = datetime.min.replace(tzinfo=UTC)


__all__ = ["SAMPLE_BUNDLE", "Bundle", "BundleError", "BundleWarning", "load_bundle", "make_bundle"]


class BundleError(ValueError):
    """A bundle directory that cannot be served."""


class BundleWarning(UserWarning):
    """A line or document the server cannot serve, skipped; the message names the file and line."""


@dataclass(frozen=True)
class Bundle:
    """Records as the APIs serve them (provenance keys dropped), one package record per id.

    Records are usually objects, but any JSON value a line holds is kept and served.
    """

    packages: tuple[Any, ...]
    categories: tuple[Any, ...]
    grids: tuple[Any, ...]
    github: Mapping[str, Record]  # lower-cased full_name -> repository document
    pypi: Mapping[str, Record]  # PEP 503 name -> JSON API document
    as_of: date
    origin: str


def load_bundle(directory: str | Path) -> Bundle:
    root = Path(directory)
    packages = _read_optional(root, "packages")
    if packages is None:
        raise BundleError(f"{root}: no packages.jsonl or packages.jsonl.gz")
    meta = root / "bundle.json"
    as_of = None
    if meta.is_file():
        try:
            as_of = date.fromisoformat(json.loads(meta.read_text())["as_of"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BundleError(f'{meta}: expected {{"as_of": "YYYY-MM-DD"}}') from exc
    return make_bundle(
        packages,
        categories=_read_optional(root, "categories") or (),
        grids=_read_optional(root, "grids") or (),
        github=_read_optional(root, "github") or (),
        pypi=_read_optional(root, "pypi") or (),
        as_of=as_of,
        origin=str(root),
    )


def make_bundle(
    packages: Iterable[Any],
    *,
    categories: Iterable[Any] = (),
    grids: Iterable[Any] = (),
    github: Iterable[Any] = (),
    pypi: Iterable[Any] = (),
    as_of: date | None = None,
    origin: str = "",
) -> Bundle:
    """Complete a bundle: newest snapshot per package id, categories and grids the records link to."""
    latest = _latest_per_id([_public(r) for r in packages])
    explicit_categories = [_public(r) for r in categories]
    explicit_grids = [_public(r) for r in grids]
    return Bundle(
        packages=tuple(latest),
        categories=tuple(explicit_categories + _derived_categories(latest, explicit_categories)),
        grids=tuple(explicit_grids + _derived_grids(latest, explicit_grids)),
        github=_keyed(github, _full_name, "full_name", str.lower),
        pypi=_keyed(pypi, _project_name, "info.name", normalize_name),
        as_of=as_of or _default_as_of(latest),
        origin=origin,
    )


def _read_optional(root: Path, stem: str) -> list[Any] | None:
    candidates = [p for p in (root / f"{stem}.jsonl", root / f"{stem}.jsonl.gz") if p.is_file()]
    if len(candidates) > 1:
        raise BundleError(f"{root}: both {stem}.jsonl and {stem}.jsonl.gz; keep one")
    if not candidates:
        return None
    path = candidates[0]
    opener = gzip.open if path.suffix == ".gz" else open
    records = []
    # Binary lines: only b"\n" ends one, where text mode would also split at a bare \r inside a string.
    try:
        with opener(path, "rb") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    records.append(_decode(line))
                except (ValueError, RecursionError) as exc:
                    warnings.warn(BundleWarning(f"{path}:{number}: skipped, not JSON: {exc}"), stacklevel=2)
    except (OSError, EOFError, zlib.error) as exc:
        raise BundleError(f"{path}: unreadable: {exc}") from exc
    return records


def _decode(line: bytes) -> Any:
    # utf-8-sig: an editor's byte order mark is not part of the record.
    return json.loads(line.decode("utf-8-sig"), parse_float=_finite, parse_constant=_not_json)


def _finite(text: str) -> float:
    """A number beyond a double (1e400) would go out as `Infinity`, which is not JSON."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of a double's range")
    return value


def _not_json(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _public(record: Any) -> Any:
    """Keys starting with `_` are provenance (where a record was read from), never API fields."""
    if not isinstance(record, dict):
        return record
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _fetched(record: Any) -> datetime:
    return parse_time(record.get("last_fetched")) or _NEVER


def _latest_per_id(records: list[Any]) -> list[Any]:
    """The API serves one record per id; a bundle may hold several snapshots of one package.

    Only records with an id are snapshots of something: the others are all kept.
    """
    chosen: dict[str, Any] = {}
    for position, record in enumerate(records):
        pid = record.get("id") if isinstance(record, dict) else None
        key = f"#{position}" if pid is None else json.dumps(pid, sort_keys=True)
        if key not in chosen or _fetched(record) >= _fetched(chosen[key]):
            chosen[key] = record
    return list(chosen.values())


def _default_as_of(packages: list[Any]) -> date:
    """The day after the newest fetch that is not in the future: a record fetched in 2099 is garbage, not
    the day the bundle was taken (one day of slack for time zones)."""
    fetched = [t for t in (parse_time(r.get("last_fetched")) for r in packages if isinstance(r, dict)) if t]
    today = datetime.now(UTC) + timedelta(days=1)
    past = [t for t in fetched if t <= today]
    if not past:
        raise BundleError('no package has a usable last_fetched: add bundle.json {"as_of": "YYYY-MM-DD"}')
    return max(past).date() + timedelta(days=1)


def _full_name(doc: Record) -> object:
    return doc.get("full_name")


def _project_name(doc: Record) -> object:
    """``info.name``; a document too broken to say it (``info`` not an object) names itself in the
    provenance key ``_name``, so a bundle can still serve it as received."""
    info = doc.get("info")
    name = info.get("name") if isinstance(info, dict) else None
    return name if isinstance(name, str) else doc.get("_name")


def _keyed(
    docs: Iterable[Any], name: Callable[[Record], object], field: str, key: Callable[[str], str]
) -> dict[str, Record]:
    """Documents by the name they answer under; one without a name cannot be asked for, so it is skipped."""
    keyed = {}
    for doc in docs:
        found = name(doc) if isinstance(doc, dict) else None
        if isinstance(found, str):
            keyed[key(found)] = _public(doc)
        else:
            warnings.warn(BundleWarning(f"document without a string {field}: {str(doc)[:80]}"), stacklevel=3)
    return keyed


# The four categories djangopackages has had since 2010; unknown ids get a neutral name.
_CATEGORIES = {
    1: (
        "App",
        "apps",
        "Apps",
        True,
        "Small components used to build projects. An app is anything that is installed by placing in "
        "settings.INSTALLED_APPS.",
    ),
    2: (
        "Framework",
        "frameworks",
        "Frameworks",
        True,
        "Large efforts that combine many python modules or apps. Examples include Django, Pinax, and "
        "Satchmo. Most CMS falls into this category.",
    ),
    3: ("Other", "other", "Other", True, "Anything that is not an app, framework or project."),
    4: ("Project", "projects", "Projects", False, "Complete Django sites whose source code is public."),
}


def _members(packages: list[Any], kind: str, field: str) -> dict[int, tuple[str, list[Record]]]:
    found: dict[int, tuple[str, list[Record]]] = {}
    for record in packages:
        if not isinstance(record, dict):
            continue
        links = record.get(field)
        for url in links if isinstance(links, list) else [links]:
            link = api_link(url, kind)
            if link is not None:
                found.setdefault(link[1], (link[0], []))[1].append(record)
    return found


def _span(members: list[Record]) -> dict[str, str | None]:
    """Derived groups are as old as their oldest member and as fresh as their newest edit."""

    def extreme(field: str, newest: bool) -> str | None:
        dated = [(t, r[field]) for r in members if (t := parse_time(r.get(field))) is not None]
        return (max if newest else min)(dated)[1] if dated else None

    return {"created": extreme("created", newest=False), "modified": extreme("modified", newest=True)}


def _known_ids(explicit: list[Any]) -> set[int]:
    return {r["id"] for r in explicit if isinstance(r, dict) and type(r.get("id")) is int}


def _derived_categories(packages: list[Any], explicit: list[Any]) -> list[Record]:
    known = _known_ids(explicit)
    derived = []
    for cid, (_, members) in sorted(_members(packages, "categories", "category").items()):
        if cid in known:
            continue
        title, slug, plural, show_pypi, description = _CATEGORIES.get(
            cid, (f"Category {cid}", f"category-{cid}", f"Category {cid}", True, "")
        )
        derived.append(
            {
                "id": cid,
                "title": title,
                "slug": slug,
                "description": description,
                "title_plural": plural,
                "show_pypi": show_pypi,
                **_span(members),
            }
        )
    return derived


def _derived_grids(packages: list[Any], explicit: list[Any]) -> list[Record]:
    known = _known_ids(explicit)
    derived = []
    for gid, (base, members) in sorted(_members(packages, "grids", "grids").items()):
        if gid in known:
            continue
        ids = sorted({r["id"] for r in members if type(r.get("id")) is int})
        derived.append(
            {
                "id": gid,
                "title": f"Grid {gid}",
                "slug": f"grid-{gid}",
                "description": "",
                "is_locked": False,
                "packages": [f"{base}/api/v4/packages/{pid}/" for pid in ids],
                "header": False,
                **_span(members),
            }
        )
    return derived
