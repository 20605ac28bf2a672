"""Blocks: canary and baseline requests grouped so that each group is a two-sample experiment.

Why this exists: comparing arms request by request needs a unit in which, when the canary is no
worse, every member is exchangeable. A block holds k canary and r baseline requests taken in the
order they became known, with (k, r) set from the recent traffic split (1 canary and r = 9
baselines at a 10 % canary; 1 and 1 at an even split; k and 1 when the canary has most of the
traffic). Within a block, under "same distribution", the canary's errors are a hypergeometric
draw of the block's errors and its latencies' ranks are uniform, whatever the (unknown, possibly
drifting) error rate or latency level: the tests built on blocks need no nuisance parameter and
use nearly every observation at any split.

The composition (k, r) is chosen from arm labels alone, never from values, so it keeps the
exchangeability. Requests that wait too long for partners are dropped (counted).

Pure: no I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

MAX_RATIO = 50
"""Largest k or r in a block: beyond this the split is too lopsided to use every request."""
MAX_PENDING = 2000
"""Requests of one arm waiting for partners; older ones are dropped (and counted)."""
_SMOOTHING = 0.01
"""Weight of each new label in the moving canary share (about the last 100 requests)."""


@dataclass(frozen=True)
class Sample:
    latency_ms: float
    error: bool


@dataclass(frozen=True)
class Block:
    canary: tuple[Sample, ...]
    baseline: tuple[Sample, ...]


class Blocker:
    """Feed requests as they become known; complete blocks come out in order."""

    def __init__(self) -> None:
        self._pending: dict[bool, deque[Sample]] = {True: deque(), False: deque()}
        self._share = 0.5  # moving share of canary among labels
        self._seen = 0
        self.dropped = 0

    def shape(self) -> tuple[int, int]:
        """(k canary, r baseline) of the next block, from the labels seen so far."""
        w = min(max(self._share, 1e-6), 1 - 1e-6)
        if w <= 0.5:
            return 1, max(1, min(MAX_RATIO, round((1 - w) / w)))
        return max(1, min(MAX_RATIO, round(w / (1 - w)))), 1

    def add(self, canary: bool, sample: Sample) -> Block | None:
        self._seen += 1
        rate = max(_SMOOTHING, 1.0 / self._seen)  # a plain mean until 100 labels, then moving
        self._share += rate * ((1.0 if canary else 0.0) - self._share)
        queue = self._pending[canary]
        queue.append(sample)
        if len(queue) > MAX_PENDING:
            queue.popleft()
            self.dropped += 1
        k, r = self.shape()
        cq, bq = self._pending[True], self._pending[False]
        if len(cq) < k or len(bq) < r:
            return None
        return Block(tuple(cq.popleft() for _ in range(k)), tuple(bq.popleft() for _ in range(r)))
