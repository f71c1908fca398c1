"""Fault injection: rules that make the next N matching requests fail in a chosen way, and faults drawn
at a rate, as a bad day on the internet looks.

Rates are written `5xx=0.1,timeout=0.02,truncate=0.01,html=0.01,stats202=0.3` (see `RateSpec`); which
request fails is a pure function of the seed and the request's position in the sequence.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from replay import SOURCES
from replay.stable import pick, unit

RATE_KINDS = ("5xx", "timeout", "truncate", "html", "stats202")
SERVER_ERRORS = (500, 502, 503)
# Longer than the longest read timeout the project's clients use (60 s), so a client sees its own timeout.
DEFAULT_HOLD = 65.0


@dataclass(frozen=True)
class FaultRule:
    """`path` is a regex searched in path+query; the rule fires on the first `times` matches."""

    path: str
    status: int | None = None
    times: int = 1
    retry_after: float | None = None
    delay: float = 0.0
    drop: bool = False
    truncate: bool = False
    html: bool = False  # a 200 maintenance page in place of the JSON, as a proxy in front of an API serves

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> FaultRule:
        if not isinstance(raw, Mapping):
            raise ValueError(f"a fault rule is a JSON object, not {raw!r}")
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault rule keys: {sorted(unknown)}")
        if "path" not in raw:
            raise ValueError(f"fault rule {dict(raw)}: path is required")
        rule = cls(**raw)
        checks = [
            (isinstance(rule.path, str), "path must be a regex string"),
            (
                rule.status is None or rule.status == 202 or _error_status(rule.status),
                "status: 202 or an error",
            ),
            (type(rule.times) is int and rule.times >= 1, "times must be an integer >= 1"),
            (rule.retry_after is None or _non_negative(rule.retry_after), "retry_after must be >= 0"),
            (_non_negative(rule.delay), "delay must be >= 0"),
            (
                all(isinstance(flag, bool) for flag in (rule.drop, rule.truncate, rule.html)),
                "drop/truncate/html are booleans",
            ),
            (not (rule.html and rule.status is not None), "html answers 200: give html or status, not both"),
            (
                rule.status is not None or rule.delay or rule.drop or rule.truncate or rule.html,
                "the rule does nothing",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"fault rule {dict(raw)}: {message}")
        try:
            re.compile(rule.path)
        except re.error as exc:
            raise ValueError(f"fault rule path {rule.path!r}: {exc}") from exc
        return rule


def _error_status(value: object) -> bool:
    return type(value) is int and 400 <= value <= 599


def _non_negative(value: object) -> bool:
    return type(value) in (int, float) and value >= 0  # type: ignore[operator]


@dataclass(frozen=True)
class RateSpec:
    """Parsed rate faults. Items are `[SOURCE:]KIND=RATE` and `timeout_s=SECONDS`, comma-separated:

    - 5xx: answer 500, 502 or 503;
    - timeout: hold the request `timeout_s` seconds (default 65), then hang up without an answer;
    - truncate: send half the body after headers that promise all of it;
    - html: answer 200 with an HTML maintenance page instead of JSON;
    - stats202: GitHub `stats/participation` answers 202 (statistics being computed).

    SOURCE (djangopackages, github, pypi) restricts an item to one service and overrides the unscoped
    rate of the same kind there. A request suffers at most one fault: the rates that apply to it are
    slices of one draw, so they must add up to 1 or less.
    """

    text: str = ""
    rates: Mapping[tuple[str | None, str], float] = field(default_factory=dict)
    timeout_s: float = DEFAULT_HOLD

    @classmethod
    def parse(cls, text: str) -> RateSpec:
        if not isinstance(text, str):
            raise ValueError(f"fault rates are a string like '5xx=0.1,timeout=0.02', not {text!r}")
        rates: dict[tuple[str | None, str], float] = {}
        hold = None
        for part in text.split(",") if text.strip() else []:
            item = part.strip()
            key, sep, value = (s.strip() for s in item.partition("="))
            scope, colon, kind = key.rpartition(":")
            if not item:
                raise ValueError(f"fault rates {text!r}: an empty item")
            if not sep or not kind:
                raise ValueError(f"fault rate {item!r}: expected [SOURCE:]KIND=RATE or timeout_s=SECONDS")
            if kind == "timeout_s":
                if colon:
                    raise ValueError(f"fault rate {item!r}: timeout_s applies to every source")
                if hold is not None:
                    raise ValueError(f"fault rate {item!r}: timeout_s is given twice")
                hold = _number(
                    item, value, "timeout_s must be a number of seconds from 0 to 3600", upper=3600
                )
                continue
            if kind not in RATE_KINDS:
                raise ValueError(
                    f"fault rate {item!r}: unknown kind {kind!r}; known: {', '.join(RATE_KINDS)}"
                )
            source = scope if colon else None
            if source is not None and source not in SOURCES:
                raise ValueError(
                    f"fault rate {item!r}: unknown source {scope!r}; known: {', '.join(SOURCES)}"
                )
            if kind == "stats202" and source not in (None, "github"):
                raise ValueError(f"fault rate {item!r}: stats202 is a GitHub answer")
            if (source, kind) in rates:
                raise ValueError(f"fault rate {item!r}: {key} is given twice")
            rates[(source, kind)] = _number(item, value, "the rate must be a number from 0 to 1", upper=1)
        spec = cls(text.strip(), rates, DEFAULT_HOLD if hold is None else hold)
        for source in (*SOURCES, None):
            shares = spec.shares(source, participation=source == "github")
            total = sum(rate for _, rate in shares)
            if total > 1 + 1e-9:  # 0.1 + 0.2 + 0.7 is 1.0000000000000002
                where = source or "paths outside the three services"
                raise ValueError(
                    f"fault rates {text!r}: a request fails at most once, but the rates for {where} add up "
                    f"to {total:g} ({', '.join(f'{k}={r:g}' for k, r in shares)})"
                )
        return spec

    def shares(self, source: str | None, *, participation: bool) -> list[tuple[str, float]]:
        """The kinds that can strike a request to `source`, with their rates, in a fixed order."""
        found = []
        for kind in RATE_KINDS:
            if kind == "stats202" and not participation:
                continue
            rate = self.rates.get((source, kind), self.rates.get((None, kind)))
            if rate:
                found.append((kind, rate))
        return found


def _number(item: str, text: str, message: str, *, upper: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= upper):
        raise ValueError(f"fault rate {item!r}: {message}")
    return value


@dataclass(frozen=True)
class RateFault:
    kind: str
    status: int | None = None  # 5xx only
    hold: float = 0.0  # timeout only


class Faults:
    """Count rules in order (the first unspent rule matching a request fires), then rate faults.

    A request that a count rule hits draws no rate fault: the rules target a scenario precisely.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[tuple[FaultRule, re.Pattern[str]]] = []
        self._left: list[int] = []
        self._spec = RateSpec()
        self._seed = 0
        self._drawn = 0
        self._fired: Counter[str] = Counter()

    def set(self, rules: Iterable[FaultRule | Mapping[str, Any]]) -> None:
        """Replace every rule; all are validated before any takes effect."""
        parsed = [r if isinstance(r, FaultRule) else FaultRule.parse(r) for r in rules]
        with self._lock:
            self._rules = [(r, re.compile(r.path)) for r in parsed]
            self._left = [r.times for r in parsed]

    def take(self, target: str) -> FaultRule | None:
        with self._lock:
            for i, (rule, pattern) in enumerate(self._rules):
                if self._left[i] and pattern.search(target):
                    self._left[i] -= 1
                    return rule
        return None

    def remaining(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"path": rule.path, "status": rule.status, "left": left}
                for (rule, _), left in zip(self._rules, self._left, strict=True)
                if left
            ]

    def set_rates(self, spec: RateSpec | str | None, seed: int | None = None) -> None:
        """Replace the rate faults (None or "" for none) and start their sequence again."""
        parsed = spec if isinstance(spec, RateSpec) else RateSpec.parse("" if spec is None else spec)
        if seed is not None and type(seed) is not int:
            raise ValueError(f"the fault seed is an integer, not {seed!r}")
        with self._lock:
            self._spec = parsed
            self._seed = self._seed if seed is None else seed
            self._drawn = 0
            self._fired.clear()

    def draw(self, source: str | None, *, participation: bool) -> RateFault | None:
        """The rate fault for the next request in the sequence, if one strikes it."""
        with self._lock:
            spec, seed, n = self._spec, self._seed, self._drawn
            self._drawn += 1
            shares = spec.shares(source, participation=participation)
            u = unit(seed, "rate-fault", n) if shares else 1.0
            edge = 0.0
            for kind, rate in shares:
                edge += rate
                if u < edge:
                    self._fired[kind] += 1
                    status = pick(SERVER_ERRORS, seed, "status", n) if kind == "5xx" else None
                    return RateFault(kind, status, spec.timeout_s if kind == "timeout" else 0.0)
        return None

    def rates(self) -> dict[str, Any]:
        """The spec, the seed, how many requests drew and how many faults of each kind struck."""
        with self._lock:
            return {
                "spec": self._spec.text,
                "seed": self._seed,
                "timeout_s": self._spec.timeout_s,
                "requests": self._drawn,
                "fired": {kind: self._fired[kind] for kind in RATE_KINDS},
            }
