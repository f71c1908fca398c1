"""Fault injection: rules that make the next N matching requests fail in a chosen way."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any


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
            (isinstance(rule.drop, bool) and isinstance(rule.truncate, bool), "drop/truncate are booleans"),
            (rule.status is not None or rule.delay or rule.drop or rule.truncate, "the rule does nothing"),
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


class Faults:
    """The active rules in order; the first unspent rule matching a request fires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[tuple[FaultRule, re.Pattern[str]]] = []
        self._left: list[int] = []

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
