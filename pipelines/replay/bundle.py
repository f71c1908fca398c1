"""Bundles: the records the replay server serves, loaded from a directory of JSON lines."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.replay import SAMPLE_BUNDLE
from pipelines.replay.names import api_link
from pipelines.replay.times import parse_time
from warehouse.identifiers import normalize_name

Record = dict[str, Any]

_NEVER = datetime.min.replace(tzinfo=UTC)


__all__ = ["SAMPLE_BUNDLE", "Bundle", "BundleError", "load_bundle", "make_bundle"]


class BundleError(ValueError):
    """A bundle directory that cannot be served."""


@dataclass(frozen=True)
class Bundle:
    """Records as the APIs serve them (provenance keys dropped), one package record per id."""

    packages: tuple[Record, ...]
    categories: tuple[Record, ...]
    grids: tuple[Record, ...]
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
    packages: Iterable[Record],
    *,
    categories: Iterable[Record] = (),
    grids: Iterable[Record] = (),
    github: Iterable[Record] = (),
    pypi: Iterable[Record] = (),
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
        github=_keyed(github, lambda doc: str(doc["full_name"]).lower(), "full_name"),
        pypi=_keyed(pypi, lambda doc: normalize_name(str(doc["info"]["name"])), "info.name"),
        as_of=as_of or _default_as_of(latest),
        origin=origin,
    )


def _read_optional(root: Path, stem: str) -> list[Record] | None:
    candidates = [p for p in (root / f"{stem}.jsonl", root / f"{stem}.jsonl.gz") if p.is_file()]
    if len(candidates) > 1:
        raise BundleError(f"{root}: both {stem}.jsonl and {stem}.jsonl.gz; keep one")
    if not candidates:
        return None
    path = candidates[0]
    opener = gzip.open if path.suffix == ".gz" else open
    records = []
    with opener(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BundleError(f"{path}:{number}: {exc}") from exc
            if not isinstance(record, dict):
                raise BundleError(f"{path}:{number}: not a JSON object")
            records.append(record)
    return records


def _public(record: Record) -> Record:
    """Keys starting with `_` are provenance (where a record was read from), never API fields."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _fetched(record: Record) -> datetime:
    return parse_time(record.get("last_fetched")) or _NEVER


def _latest_per_id(records: list[Record]) -> list[Record]:
    """The API serves one record per id; a bundle may hold several snapshots of one package."""
    chosen: dict[str, Record] = {}
    for record in records:
        key = json.dumps(record.get("id"), sort_keys=True)
        if key not in chosen or _fetched(record) >= _fetched(chosen[key]):
            chosen[key] = record
    return list(chosen.values())


def _default_as_of(packages: list[Record]) -> date:
    fetched = [t for t in (parse_time(r.get("last_fetched")) for r in packages) if t is not None]
    if not fetched:
        raise BundleError('no package has a usable last_fetched: add bundle.json {"as_of": "YYYY-MM-DD"}')
    return max(fetched).date() + timedelta(days=1)


def _keyed(docs: Iterable[Record], key: Any, field: str) -> dict[str, Record]:
    keyed = {}
    for doc in docs:
        try:
            keyed[key(doc)] = _public(doc)
        except (KeyError, TypeError) as exc:
            raise BundleError(f"document without {field}: {str(doc)[:80]}") from exc
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


def _members(packages: list[Record], kind: str, field: str) -> dict[int, tuple[str, list[Record]]]:
    found: dict[int, tuple[str, list[Record]]] = {}
    for record in packages:
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


def _derived_categories(packages: list[Record], explicit: list[Record]) -> list[Record]:
    known = {r.get("id") for r in explicit}
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


def _derived_grids(packages: list[Record], explicit: list[Record]) -> list[Record]:
    known = {r.get("id") for r in explicit}
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
