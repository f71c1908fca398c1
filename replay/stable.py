"""Stable pseudo-randomness: every replay decision is a pure function of its inputs.

Python's hash() is salted per process, so two servers (or two runs of the demo) would disagree;
blake2b over the joined parts gives the same answer everywhere, forever.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def _digest(parts: tuple[object, ...]) -> bytes:
    # surrogatepass: a lone surrogate from a record (a version "1.0\ud800") still hashes, and nothing
    # else changes.
    text = "\x1f".join(map(str, parts)).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(text, digest_size=16).digest()


def unit(*parts: object) -> float:
    """A uniform number in [0, 1) determined by the parts."""
    return int.from_bytes(_digest(parts)[:8], "big") / 2**64


def units4(*parts: object) -> tuple[float, float, float, float]:
    """Four independent uniforms from one digest: evolution needs several per (package, day)."""
    d = _digest(parts)
    return tuple(int.from_bytes(d[i : i + 4], "big") / 2**32 for i in (0, 4, 8, 12))  # type: ignore[return-value]


def pick(options: Sequence[T], *parts: object) -> T:
    return options[int(unit(*parts) * len(options))]


def poisson(rate: float, u: float) -> int:
    """Inverse-CDF Poisson draw; the cap keeps a pathological rate from looping for long."""
    k, p = 0, math.exp(-rate)
    cdf = p
    while u > cdf and k < 100:
        k += 1
        p *= rate / k
        cdf += p
    return k
