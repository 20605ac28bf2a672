"""Request records as OpenTelemetry spans over OTLP/HTTP JSON, to the endpoint the standard
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` variables name.

One span per record: the trace id and parent span id come from the request's W3C `traceparent`
(else the trace id is the `x-request-id` when it is a UUID); the span id is derived from the
record, so re-exporting a record yields the same span. The span is the serving side's view
(`SPAN_KIND_SERVER`) under a resource naming the destination service, version and namespace.
Export is best effort: a failing collector drops the batch and is retried after a pause, never
holding up ingestion.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Mapping, Sequence

import httpx

from turnout.telemetry.records import Record
from turnout.types import Obj

log = logging.getLogger("turnout.telemetry.otlp")

SPAN_KIND_SERVER = 2
STATUS_ERROR = 2


def traces_endpoint(env: Mapping[str, str]) -> str | None:
    """The URL to POST traces to, per the OpenTelemetry exporter specification."""
    url = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if url:
        return url
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if base:
        return base.rstrip("/") + "/v1/traces"
    return None


def headers_from(env: Mapping[str, str]) -> dict[str, str]:
    raw = env.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or env.get("OTEL_EXPORTER_OTLP_HEADERS", "")
    out = {}
    for part in raw.split(","):
        k, sep, v = part.partition("=")
        if sep and k.strip():
            out[k.strip()] = v.strip()
    return out


def _attr(key: str, value: str | int) -> Obj:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def ids(r: Record) -> tuple[str, str, str]:
    """(trace id, span id, parent span id), lowercase hex."""
    trace = r.trace_id
    if not trace:
        rid = r.request_id.replace("-", "").lower()
        if len(rid) == 32 and all(ch in "0123456789abcdef" for ch in rid):
            trace = rid
        else:
            trace = hashlib.sha256(f"{r.request_id}|{r.ts}|{r.dest_host}".encode()).hexdigest()[:32]
    span = hashlib.sha256(
        f"{trace}|{r.parent_span_id}|{r.request_id}|{r.ts}|{r.dest_host}|{r.listener_kind}"
        .encode()).hexdigest()[:16]
    return trace, span, r.parent_span_id


def span(r: Record) -> Obj:
    trace, span_id, parent = ids(r)
    start = int(r.ts * 1e9)
    attrs = [_attr("http.request.method", r.method), _attr("url.path", r.path),
             _attr("http.route", r.endpoint), _attr("http.response.status_code", r.status),
             _attr("server.address", r.authority), _attr("envoy.response_flags", r.flags),
             _attr("source.workload", r.source_workload),
             _attr("source.namespace", r.source_namespace),
             _attr("source.version", r.source_version),
             _attr("k8s.pod.name", r.dest_pod), _attr("istio.route", r.route)]
    if r.request_id:
        attrs.append(_attr("guid:x-request-id", r.request_id))
    out: Obj = {
        "traceId": trace, "spanId": span_id,
        "name": f"{r.method} {r.endpoint}".strip() or r.dest_service,
        "kind": SPAN_KIND_SERVER,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + int(r.duration_ms * 1e6)),
        "attributes": attrs,
        "status": {"code": STATUS_ERROR, "message": f"{r.status} {r.flags}"} if r.error else {},
    }
    if parent:
        out["parentSpanId"] = parent
    return out


def payload(records: Sequence[Record]) -> Obj:
    """An `ExportTraceServiceRequest` (JSON form) grouping spans by destination."""
    groups: dict[tuple[str, str, str], list[Obj]] = {}
    for r in records:
        groups.setdefault((r.dest_service, r.dest_version, r.dest_namespace), []).append(span(r))
    return {"resourceSpans": [
        {"resource": {"attributes": [_attr("service.name", svc), _attr("service.version", ver),
                                     _attr("k8s.namespace.name", ns)]},
         "scopeSpans": [{"scope": {"name": "turnout.telemetry"}, "spans": spans}]}
        for (svc, ver, ns), spans in groups.items()]}


class Exporter:
    """Posts batches synchronously (called from the ingest thread) with a short timeout."""

    def __init__(self, url: str, headers: Mapping[str, str] | None = None,
                 batch: int = 512, timeout: float = 2.0, pause: float = 5.0) -> None:
        self.url = url
        self.batch = batch
        self.pause = pause
        self.client = httpx.Client(timeout=timeout, headers={
            "Content-Type": "application/json", **(headers or {})})
        self.exported = 0
        self.dropped = 0
        self._down_until = 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Exporter | None:
        env = os.environ if env is None else env
        url = traces_endpoint(env)
        return cls(url, headers_from(env)) if url else None

    def export(self, records: Sequence[Record]) -> None:
        for i in range(0, len(records), self.batch):
            chunk = records[i:i + self.batch]
            if time.monotonic() < self._down_until:
                self.dropped += len(chunk)
                continue
            try:
                r = self.client.post(self.url, json=payload(chunk))
                r.raise_for_status()
                self.exported += len(chunk)
            except httpx.HTTPError as e:
                self.dropped += len(chunk)
                self._down_until = time.monotonic() + self.pause
                log.warning("OTLP export to %s failed (%s); dropping spans for %.0f s",
                            self.url, e, self.pause)

    def close(self) -> None:
        self.client.close()
