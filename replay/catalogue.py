"""The packages every replayed service derives its answers from, evolved to the clock date."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from replay.bundle import Bundle
from replay.evolve import PackageState, Profile, evolve, profile
from replay.protocol import INT_DIGITS, encode, is_digits

_VIEWS_KEPT = 4  # a demo walks dates in order; a 5,000-package view weighs a few tens of MB


def field(record: object, name: str) -> Any:
    """A record's field, None for a record that is not an object."""
    return record.get(name) if isinstance(record, dict) else None


def _api_order(record: object) -> tuple[int, int]:
    """Newest first (-id); records whose id is not an integer follow, in bundle order."""
    pid = field(record, "id")
    return (0, -pid) if type(pid) is int else (1, 0)


@dataclass(frozen=True)
class Listing:
    """Records in API order, their JSON, and detail lookups (the newest record wins a shared slug)."""

    noun: str  # for DRF's "No Package matches the given query."
    records: list[Any]
    encoded: list[bytes]
    by_id: dict[int, int]
    by_slug: dict[str, int]

    @classmethod
    def of(cls, noun: str, records: Sequence[Any], *, slugs: bool = True) -> Listing:
        ordered = sorted(records, key=_api_order)
        by_id: dict[int, int] = {}
        by_slug: dict[str, int] = {}
        for i, record in enumerate(ordered):
            if type(pid := field(record, "id")) is int:
                by_id.setdefault(pid, i)
            if slugs and isinstance(slug := field(record, "slug"), str):
                by_slug.setdefault(slug, i)
        return cls(noun, ordered, [encode(r) for r in ordered], by_id, by_slug)

    def find(self, key: str) -> int | None:
        if is_digits(key):
            return self.by_id.get(int(key)) if len(key) <= INT_DIGITS else None
        return self.by_slug.get(key)


@dataclass
class View:
    """Packages on one date, in API order, with each record's JSON ready to splice into pages."""

    states: list[PackageState]
    encoded: list[bytes]
    cached: dict[str, Any]  # per-date answers a service builds once (the PyPI simple index)


class Catalogue:
    """The bundle's packages in API order with their profiles, and their state on any date (thread-safe)."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.listing = Listing.of("Package", bundle.packages)
        self.packages = self.listing.records
        self.profiles = [profile(r, bundle.as_of) for r in self.packages]
        self._views: OrderedDict[date, View] = OrderedDict()
        self._lock = threading.Lock()

    def usable(self) -> list[int]:
        """Positions of the packages documents can derive from, oldest package first: the oldest owns a
        repository or project that several packages share."""
        usable = [i for i, p in enumerate(self.profiles) if p is not None]
        return sorted(usable, key=lambda i: self.packages[i]["id"])

    def view(self, day: date) -> View:
        with self._lock:
            view = self._views.get(day)
            if view is not None:
                self._views.move_to_end(day)
                return view
            states = [
                evolve(r, p, self.bundle.as_of, day)
                for r, p in zip(self.packages, self.profiles, strict=True)
            ]
            encoded = [
                self.listing.encoded[i] if s.record is self.packages[i] else encode(s.record)
                for i, s in enumerate(states)
            ]
            view = self._views[day] = View(states, encoded, {})
            while len(self._views) > _VIEWS_KEPT:
                self._views.popitem(last=False)
            return view

    def derived(self, day: date, package: int | None) -> tuple[PackageState, Profile]:
        """A usable package's state on ``day`` and its profile: what its documents derive from."""
        prof = None if package is None else self.profiles[package]
        assert package is not None and prof is not None, "documents derive from usable packages only"
        return self.view(day).states[package], prof
