"""A log-bucketed latency histogram with O(log B) insert and order-statistic lookup.

Why this exists: the sequential test needs arbitrary order statistics of each arm after every
request. Keeping every sample sorted costs O(n) per insert and unbounded memory; a Fenwick tree
over fixed logarithmic buckets (0.5 % wide, 1 microsecond to ~3 hours) costs a dozen steps per
operation and a constant 64 KiB. Bounds taken from it stay valid: a lower confidence bound uses
the bucket's lower edge, an upper bound its upper edge, so quantisation only widens intervals,
by at most 0.5 %.

Pure: no I/O.
"""

from __future__ import annotations

import math

_GROWTH = 1.005
_LOG_GROWTH = math.log(_GROWTH)
_MIN_MS = 1e-3
_MAX_MS = 1e7
_BUCKETS = int(math.log(_MAX_MS / _MIN_MS) / _LOG_GROWTH) + 2  # bucket 0 holds values <= _MIN_MS
_SIZE = 1 << (_BUCKETS - 1).bit_length()


def bucket_of(value_ms: float) -> int:
    """Bucket index of a latency; bucket i >= 1 covers (MIN * g**(i-1), MIN * g**i]."""
    if not value_ms > _MIN_MS:  # also catches NaN
        return 0
    if value_ms >= _MAX_MS:
        return _BUCKETS - 1
    return min(_BUCKETS - 1, math.ceil(math.log(value_ms / _MIN_MS) / _LOG_GROWTH))


def bucket_lower(index: int) -> float:
    """Smallest value a bucket can hold (exclusive edge; 0 for bucket 0)."""
    return 0.0 if index <= 0 else _MIN_MS * _GROWTH ** (index - 1)


def bucket_upper(index: int) -> float:
    """Largest value a bucket can hold (the last bucket is unbounded)."""
    if index >= _BUCKETS - 1:
        return math.inf
    return _MIN_MS * _GROWTH**index


def bucket_mid(index: int) -> float:
    """Representative value of a bucket (geometric middle)."""
    if index <= 0:
        return 0.0
    if index >= _BUCKETS - 1:
        return _MAX_MS
    return float(_MIN_MS * _GROWTH ** (index - 0.5))


class Histogram:
    """Counts per bucket in a Fenwick tree; ``rank_bucket(k)`` finds the k-th smallest value."""

    __slots__ = ("_tree", "count")

    def __init__(self) -> None:
        self._tree = [0] * (_SIZE + 1)
        self.count = 0

    def add(self, value_ms: float) -> None:
        i = bucket_of(value_ms) + 1
        tree = self._tree
        while i <= _SIZE:
            tree[i] += 1
            i += i & -i
        self.count += 1

    def rank_bucket(self, k: int) -> int:
        """Bucket holding the k-th smallest value (1-based, 1 <= k <= count)."""
        if not 1 <= k <= self.count:
            raise IndexError(f"rank {k} outside 1..{self.count}")
        tree = self._tree
        pos = 0
        step = _SIZE
        while step:
            nxt = pos + step
            if nxt <= _SIZE and tree[nxt] < k:
                pos = nxt
                k -= tree[nxt]
            step >>= 1
        return pos  # 0-based bucket index (Fenwick position pos + 1)

    def lower_bound(self, k: int) -> float:
        """A value <= the k-th smallest observation (0 when k < 1: latencies are >= 0)."""
        if k < 1:
            return 0.0
        return bucket_lower(self.rank_bucket(k))

    def upper_bound(self, k: int) -> float:
        """A value >= the k-th smallest observation (inf when k > count)."""
        if k > self.count:
            return math.inf
        return bucket_upper(self.rank_bucket(k))

    def value(self, k: int) -> float:
        """Approximate k-th smallest observation (within 0.5 %)."""
        return bucket_mid(self.rank_bucket(min(max(k, 1), self.count)))
