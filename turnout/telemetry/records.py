"""One access-log line → one enriched request record (the row the telemetry store keeps).

The line format is the mesh's (`turnout.mesh.translate.accesslog`); enrichment names the caller
and the pod that answered (service, version, workload) through the pod `Directory`, collapses ids
in paths into an endpoint template, and decides whether the request is an error (5xx, no
response, or an Envoy failure flag).

Durations are milliseconds as floats with microsecond resolution: Envoy's `duration_us` when the
line has it, else its whole-millisecond `duration_ms` (TCP lines, lines from an older turnout). A
duration that is missing, unparsable, NaN, infinite or negative is never stored as 0 ms: the line
is refused (`BadDuration`), and the ingest loop counts it.

Pure: no I/O.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from typing import Any

from turnout.telemetry.identity import UNKNOWN, Directory, PodIdentity

# Envoy flags that do not mean the request failed: none, and an injected delay.
_HARMLESS_FLAGS = frozenset({"", "-", "DI"})
# Listeners whose `source_*` names the caller itself rather than the pod behind it.
_SELF_SOURCES = {"gateway", "ingress"}

_SEGMENT_ID = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{12,}|(?=[^/]*\d)[A-Za-z0-9_=-]{16,}|\d[\d.,:-]*)$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(slots=True)
class Record:
    ts: float
    """Request start, seconds since the epoch (UTC)."""
    listener_kind: str
    source_namespace: str
    source_workload: str
    source_pod: str
    source_service: str
    source_version: str
    source_app: str
    dest_namespace: str
    dest_service: str
    """The APM service (DD_SERVICE etc. of the pod that answered, else the Kubernetes Service)."""
    dest_workload: str
    dest_pod: str
    dest_version: str
    dest_app: str
    dest_k8s_service: str
    """The Kubernetes Service's FQDN, Istio's `destination_service`."""
    dest_host: str
    route: str
    rule: str
    subset: str
    upstream_cluster: str
    method: str
    path: str
    endpoint: str
    authority: str
    protocol: str
    status: int
    flags: str
    error: bool
    duration_ms: float
    """Total duration in ms, microsecond resolution (`duration_us` / 1000)."""
    upstream_ms: float | None
    bytes_in: int
    bytes_out: int
    request_id: str
    trace_id: str
    parent_span_id: str
    source_revision: str = ""
    dest_revision: str = ""
    """The pod template hash of the revision that answered (`turnout.kube.identity`): what a
    rollout's arms are."""

    def row(self) -> tuple[Any, ...]:
        return astuple(self)


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Record))


@functools.lru_cache(maxsize=65536)
def endpoint_template(path: str) -> str:
    """`/api/users/42/orders?x=1` → `/api/users/?/orders`: ids, numbers, uuids and long tokens
    become `?`, so requests group per endpoint."""
    path = path.split("?", 1)[0].split("#", 1)[0] or "/"
    if len(path) > 512:
        path = path[:512]
    parts = path.split("/")
    return "/".join("?" if p and _SEGMENT_ID.match(p) else p for p in parts)


def is_error(status: int, flags: str, tcp: bool = False) -> bool:
    if flags not in _HARMLESS_FLAGS:
        return True
    return False if tcp else (status >= 500 or status == 0)


def error_type(status: int, flags: str) -> str:
    """How a request failed, e.g. `500`, `503 UH`, `0 DC`."""
    return f"{status}" if flags in _HARMLESS_FLAGS else f"{status} {flags}"


def parse_traceparent(value: str) -> tuple[str, str]:
    """(trace id, parent span id) of a W3C `traceparent`, or empty strings."""
    m = _TRACEPARENT.match(value.strip().lower()) if value else None
    if not m or m.group(1) == "0" * 32 or m.group(2) == "0" * 16:
        return "", ""
    return m.group(1), m.group(2)


class BadDuration(ValueError):
    """An access-log line whose duration cannot be believed: refused, never stored as 0 ms."""

    REASONS = ("missing", "unparsable", "nan", "infinite", "negative")

    def __init__(self, reason: str, key: str, value: object) -> None:
        super().__init__(f"{key} is {reason}: {value!r}" if reason != "missing"
                         else "it has no duration_us or duration_ms")
        self.reason = reason
        self.key = key
        self.value = value


def _absent(v: object) -> bool:
    return v is None or v == "-" or v == ""


def _checked(key: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise BadDuration("unparsable", key, v)
    try:
        x = float(v)
    except (ValueError, OverflowError):
        raise BadDuration("unparsable", key, v) from None
    if math.isnan(x):
        raise BadDuration("nan", key, v)
    if math.isinf(x):
        raise BadDuration("infinite", key, v)
    if x < 0:
        raise BadDuration("negative", key, v)
    return x


def duration_ms(line: Mapping[str, Any]) -> float:
    """The request's duration in ms, from `duration_us` (Envoy's microseconds) when present,
    else `duration_ms`; `BadDuration` when the one used is missing, unparsable, NaN, infinite
    or negative. Absent is missing, `null` (Envoy's `duration_us` of a response never sent) or
    `-`."""
    us = line.get("duration_us")
    if not _absent(us):
        return _checked("duration_us", us) / 1000.0
    ms = line.get("duration_ms")
    if _absent(ms):
        raise BadDuration("missing", "duration_ms", ms)
    return _checked("duration_ms", ms)


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def _s(v: object) -> str:
    return "" if v is None or v == "-" else str(v)


def _int(v: object) -> int:
    if isinstance(v, int):
        return v
    try:
        return int(str(v))
    except ValueError:
        return 0


def _float(v: object) -> float | None:
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(str(v))
    except ValueError:
        return None


def _ip(addr: str) -> str:
    if addr.startswith("["):
        return addr[1:].split("]", 1)[0]
    return addr.rsplit(":", 1)[0] if ":" in addr else addr


def _service_of_fqdn(host: str) -> tuple[str, str]:
    """(`name`, `namespace`) of `name.namespace.svc.<domain>`, else (host, "")."""
    parts = host.split(".")
    if len(parts) >= 3 and parts[2] == "svc":
        return parts[0], parts[1]
    return host, ""


def _caller(line: Mapping[str, Any], directory: Directory) -> PodIdentity:
    kind = _s(line.get("listener_kind"))
    ns, name = _s(line.get("source_namespace")), _s(line.get("source_name"))
    if kind == "pod":
        found = directory.by_name(ns, name)
        return found or PodIdentity(ns or UNKNOWN, name, "", name or UNKNOWN, UNKNOWN,
                                    name or UNKNOWN, name or UNKNOWN)
    if kind in _SELF_SOURCES:
        return PodIdentity(ns or UNKNOWN, "", "", name or UNKNOWN, UNKNOWN, name or UNKNOWN,
                           name or UNKNOWN)
    found = directory.by_ip(_ip(_s(line.get("downstream_remote_address"))))
    return found or PodIdentity(UNKNOWN, "", "", UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN)


def enrich(line: Mapping[str, Any], directory: Directory) -> Record:
    """An access-log object (already decoded) → a `Record`. Raises KeyError/ValueError on a line
    that is not an access-log object, `BadDuration` on one whose duration is not believable."""
    ts = parse_time(str(line["start_time"]))
    duration = duration_ms(line)
    tcp = "method" not in line
    src = _caller(line, directory)
    host = _s(line.get("upstream_host"))
    dest = directory.by_ip(_ip(host)) if host else None
    cluster = _s(line.get("upstream_cluster"))
    cparts = cluster.split("|")
    subset, fq = (cparts[2], cparts[3]) if len(cparts) == 4 else ("", "")
    route = _s(line.get("route_name"))
    k8s_name, k8s_ns = _service_of_fqdn(fq) if fq else ("", "")
    if not k8s_ns and route.startswith("svc/"):
        rp = route.split("/")
        if len(rp) >= 3:
            k8s_name, k8s_ns = rp[2], rp[1]
            fq = f"{k8s_name}.{k8s_ns}.svc.cluster.local"
    authority = _s(line.get("authority"))
    if not fq:
        fq = authority.rsplit(":", 1)[0] if authority else UNKNOWN
        k8s_name = k8s_name or fq
    status = _int(line.get("response_code"))
    flags = _s(line.get("response_flags")) or "-"
    path = _s(line.get("path"))
    trace_id, parent = parse_traceparent(_s(line.get("traceparent")))
    upstream = _float(line.get("upstream_service_time_ms"))
    return Record(
        ts=ts,
        listener_kind=_s(line.get("listener_kind")),
        source_namespace=src.namespace, source_workload=src.workload, source_pod=src.name,
        source_service=src.service, source_version=src.version, source_app=src.app,
        dest_namespace=dest.namespace if dest else (k8s_ns or UNKNOWN),
        dest_service=dest.service if dest else (k8s_name or UNKNOWN),
        dest_workload=dest.workload if dest else UNKNOWN,
        dest_pod=dest.name if dest else "",
        dest_version=dest.version if dest else UNKNOWN,
        dest_app=dest.app if dest else UNKNOWN,
        dest_k8s_service=fq,
        dest_host=host,
        route=route,
        rule=route.rsplit("/", 1)[1] if route.startswith("vs/") else "",
        subset=subset,
        upstream_cluster=cluster,
        method="" if tcp else _s(line.get("method")),
        path=path,
        endpoint=endpoint_template(path) if path else "",
        authority=authority,
        protocol="tcp" if tcp else (_s(line.get("protocol")) or "HTTP/1.1"),
        status=status,
        flags=flags,
        error=is_error(status, flags, tcp),
        duration_ms=duration,
        upstream_ms=upstream,
        bytes_in=_int(line.get("bytes_received")),
        bytes_out=_int(line.get("bytes_sent")),
        request_id=_s(line.get("request_id")),
        trace_id=trace_id,
        parent_span_id=parent,
        source_revision=src.revision,
        dest_revision=dest.revision if dest else "",
    )


def parse_line(text: str | bytes, directory: Directory) -> Record | None:
    """One raw line → a record, or None for a blank or malformed line. Raises `BadDuration`
    for an access-log line whose duration is not believable (the caller counts it)."""
    try:
        obj = json.loads(text)
        if not isinstance(obj, dict):
            return None
        return enrich(obj, directory)
    except BadDuration:
        raise
    except (ValueError, KeyError, TypeError):
        return None
