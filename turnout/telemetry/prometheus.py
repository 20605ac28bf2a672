"""Istio's standard metrics, computed from request records, in Prometheus text format.

Why: Flagger's built-in checks and every Istio dashboard query `istio_requests_total` and
`istio_request_duration_milliseconds` with Istio's label names; serving the same names lets them
run unchanged against turnout. Each HTTP record counts once with `reporter="destination"` (what the
serving sidecar would report) and once with `reporter="source"` (the calling sidecar or gateway).
Counters live in memory since start, as in Envoy: Prometheus' `rate()` handles the restart reset.
Durations are observed in ms with microsecond resolution. Beside Istio's metrics, turnout's own
ingest counters say how many access-log lines were stored, malformed, or refused for a duration
that cannot be believed (`ingest_text`).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Mapping

from turnout.telemetry.identity import UNKNOWN
from turnout.telemetry.records import Record

DURATION_BUCKETS: tuple[float, ...] = (
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000,
    600000, 1800000, 3600000)
"""Istio's default buckets for `istio_request_duration_milliseconds`."""
BYTES_BUCKETS: tuple[float, ...] = tuple(float(10**i) for i in range(9))
"""Exponential, factor 10, 1 B to 100 MB (as Istio's size histograms)."""

LABELS = (
    "reporter", "source_workload", "source_workload_namespace", "source_app", "source_version",
    "destination_service", "destination_service_name", "destination_service_namespace",
    "destination_workload", "destination_workload_namespace", "destination_app",
    "destination_version", "request_protocol", "response_code", "response_flags",
    "connection_security_policy", "source_canonical_service", "source_canonical_revision",
    "destination_canonical_service", "destination_canonical_revision", "destination_revision")
"""Istio's labels, plus `destination_revision`: the pod template hash of the revision that
answered, the arm a rollout compares (Istio's canonical revision is a version label if any)."""

LabelValues = tuple[str, ...]


class _Hist:
    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, v: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, v)] += 1
        self.sum += v


def label_values(r: Record, reporter: str) -> LabelValues:
    fq = r.dest_k8s_service or UNKNOWN
    name = fq.split(".", 1)[0] if ".svc." in fq else fq
    return (
        reporter, r.source_workload or UNKNOWN, r.source_namespace or UNKNOWN,
        r.source_app or UNKNOWN, r.source_version or UNKNOWN,
        fq, name, r.dest_namespace or UNKNOWN, r.dest_workload or UNKNOWN,
        r.dest_namespace or UNKNOWN, r.dest_app or UNKNOWN, r.dest_version or UNKNOWN, "http",
        str(r.status), r.flags or "-",
        "none" if reporter == "destination" else "unknown",
        # Istio's canonical service/revision: the app and the version name (a version label,
        # else the revision's template hash, as turnout.kube.identity names it)
        r.source_app or UNKNOWN, r.source_version or UNKNOWN,
        r.dest_app or UNKNOWN, r.dest_version or UNKNOWN,
        r.dest_revision or UNKNOWN,
    )


class Registry:
    """istio_requests_total, istio_request_duration_milliseconds, istio_request_bytes and
    istio_response_bytes, keyed by Istio's label values."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[LabelValues, int] = {}
        self.duration: dict[LabelValues, _Hist] = {}
        self.req_bytes: dict[LabelValues, _Hist] = {}
        self.resp_bytes: dict[LabelValues, _Hist] = {}

    def observe(self, records: Iterable[Record]) -> None:
        with self._lock:
            for r in records:
                if r.protocol == "tcp":
                    continue
                for reporter in ("destination", "source"):
                    key = label_values(r, reporter)
                    self.requests[key] = self.requests.get(key, 0) + 1
                    h = self.duration.get(key)
                    if h is None:
                        h = self.duration[key] = _Hist(DURATION_BUCKETS)
                        self.req_bytes[key] = _Hist(BYTES_BUCKETS)
                        self.resp_bytes[key] = _Hist(BYTES_BUCKETS)
                    h.observe(r.duration_ms)
                    self.req_bytes[key].observe(r.bytes_in)
                    self.resp_bytes[key].observe(r.bytes_out)

    def render(self) -> str:
        with self._lock:
            out: list[str] = [
                "# HELP istio_requests_total Requests seen by the mesh.",
                "# TYPE istio_requests_total counter"]
            for key, n in self.requests.items():
                out.append(f"istio_requests_total{{{_labels(key)}}} {n}")
            for name, table, help_ in (
                    ("istio_request_duration_milliseconds", self.duration, "Request duration."),
                    ("istio_request_bytes", self.req_bytes, "Request body size."),
                    ("istio_response_bytes", self.resp_bytes, "Response body size.")):
                out.append(f"# HELP {name} {help_}")
                out.append(f"# TYPE {name} histogram")
                for key, h in table.items():
                    base = _labels(key)
                    acc = 0
                    for bound, c in zip(h.bounds, h.counts, strict=False):
                        acc += c
                        out.append(f'{name}_bucket{{{base},le="{_fmt(bound)}"}} {acc}')
                    total = acc + h.counts[-1]
                    out.append(f'{name}_bucket{{{base},le="+Inf"}} {total}')
                    out.append(f"{name}_sum{{{base}}} {_fmt(h.sum)}")
                    out.append(f"{name}_count{{{base}}} {total}")
        return "\n".join(out) + "\n"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(values: LabelValues) -> str:
    return ",".join(f'{k}="{_escape(v)}"' for k, v in zip(LABELS, values, strict=True))


def ingest_text(stored: int, malformed: int, refused: Mapping[str, int]) -> str:
    """turnout's own telemetry counters: access-log lines stored, malformed (not an access-log
    object), and refused by reason (a duration missing, unparsable, NaN, infinite or negative)."""
    out = ["# HELP turnout_telemetry_lines_stored_total Access-log lines stored as records.",
           "# TYPE turnout_telemetry_lines_stored_total counter",
           f"turnout_telemetry_lines_stored_total {stored}",
           "# HELP turnout_telemetry_lines_malformed_total Lines that are not access-log objects.",
           "# TYPE turnout_telemetry_lines_malformed_total counter",
           f"turnout_telemetry_lines_malformed_total {malformed}",
           "# HELP turnout_telemetry_lines_refused_total Access-log lines refused, not stored: "
           "their duration is missing, unparsable, NaN, infinite or negative.",
           "# TYPE turnout_telemetry_lines_refused_total counter"]
    out += [f'turnout_telemetry_lines_refused_total{{reason="{_escape(k)}"}} {n}'
            for k, n in sorted(refused.items())]
    return "\n".join(out) + "\n"
