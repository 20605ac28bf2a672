"""Binomial bounds for statistical assertions, sized to the number of runs."""

from __future__ import annotations

import math


def binom_upper(n: int, p: float, tail: float = 1e-3) -> int:
    """Smallest c with P(Bin(n, p) > c) <= tail."""
    acc = 0.0
    for c in range(n + 1):
        acc += math.comb(n, c) * p**c * (1 - p) ** (n - c)
        if 1.0 - acc <= tail:
            return c
    return n


def binom_lower(n: int, p: float, tail: float = 1e-3) -> int:
    """Largest c with P(Bin(n, p) < c) <= tail."""
    return n - binom_upper(n, 1.0 - p, tail)
