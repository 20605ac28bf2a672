"""Request-duration histograms in Prometheus' text format, as podinfo exposes them.

podinfo serves ``http_request_duration_seconds{method, path, status}`` (a histogram with
Prometheus' default buckets) and ``http_requests_total{status}`` on ``--port-metrics``; Flagger's
nginx e2e scenario queries the histogram with ``path="root"`` for ``/``.
"""

from __future__ import annotations

import threading
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def path_label(path: str) -> str:
    """podinfo's route label: slashes to underscores, `/` is `root`."""
    trimmed = path.strip("/")
    return trimmed.replace("/", "_") if trimmed else "root"


class Histograms:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str], list[int]] = {}
        self._sums: dict[tuple[str, str, str], float] = defaultdict(float)

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        key = (method.upper(), path_label(path), str(status))
        with self._lock:
            counts = self._counts.setdefault(key, [0] * (len(BUCKETS) + 1))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            counts[-1] += 1
            self._sums[key] += seconds

    def render(self) -> str:
        with self._lock:
            items = sorted((k, list(v), self._sums[k]) for k, v in self._counts.items())
        lines = ["# HELP http_request_duration_seconds Seconds spent serving HTTP requests.",
                 "# TYPE http_request_duration_seconds histogram"]
        totals: dict[str, int] = defaultdict(int)
        for (method, path, status), counts, total in items:
            labels = f'method="{method}",path="{path}",status="{status}"'
            for bound, n in zip(BUCKETS, counts, strict=False):
                lines.append(f'http_request_duration_seconds_bucket{{{labels},le="{bound}"}} {n}')
            lines.append(f'http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {counts[-1]}')
            lines.append(f"http_request_duration_seconds_sum{{{labels}}} {total}")
            lines.append(f"http_request_duration_seconds_count{{{labels}}} {counts[-1]}")
            totals[status] += counts[-1]
        lines += ["# HELP http_requests_total The total number of HTTP requests.",
                  "# TYPE http_requests_total counter"]
        lines += [f'http_requests_total{{status="{s}"}} {n}' for s, n in sorted(totals.items())]
        return "\n".join(lines) + "\n"
