"""Restart back-off like the kubelet's CrashLoopBackOff (pure, no I/O).

The first restart is immediate; later ones wait ``initial`` seconds doubling up to ``maximum``;
a container that ran for ``reset_after`` seconds starts the schedule again.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_INITIAL = 10.0
DEFAULT_MAX = 300.0
DEFAULT_RESET = 600.0


@dataclass
class BackOff:
    initial: float = DEFAULT_INITIAL
    maximum: float = DEFAULT_MAX
    reset_after: float = DEFAULT_RESET
    failures: int = 0

    def next_delay(self, ran_for: float) -> float:
        """The wait before restarting a container that just exited after ``ran_for`` seconds."""
        if ran_for >= self.reset_after:
            self.failures = 0
        self.failures += 1
        return delay_for(self.failures, self.initial, self.maximum)


def delay_for(failure: int, initial: float = DEFAULT_INITIAL, maximum: float = DEFAULT_MAX
              ) -> float:
    """Wait before the restart that follows the ``failure``-th exit (1-based)."""
    if failure <= 1:
        return 0.0
    return float(min(initial * 2 ** (failure - 2), maximum))


def go_duration(seconds: float) -> str:
    """Format like Go's time.Duration.String(): ``10s``, ``1m20s``, ``5m0s``, ``200ms``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:g}ms" if ms >= 1 else f"{seconds * 1e6:g}µs"
    whole_min, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(whole_min), 60)
    secs = f"{rest:.9f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
