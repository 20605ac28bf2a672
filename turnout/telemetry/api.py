"""The telemetry queries as a JSON API, mounted by the API server under `/turnout/v1/telemetry/`.

Paths (query parameters in brackets; durations like `30s`, `10m`, `2h`, `1d`, `1h30m`):

- `services` [since=1h]
- `services/<ns>/<svc>/versions` [since]  (no `since`: everything retained): one item per
  revision, `version` its label; `no_upstream`: the requests no pod answered, or null
- `services/<ns>/<svc>/compare` [baseline, candidate, since=1h]
- `services/<ns>/<svc>/endpoints` version [since=1h]

A version parameter names a revision by its label, its hash, or a version name only one revision
carries (`turnout.telemetry.arms`).
- `services/<ns>/<svc>/timeseries` [since=1h]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta

from turnout.kube.errors import ApiError, bad_request
from turnout.telemetry.service import Telemetry
from turnout.types import Obj

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> timedelta:
    """`90`, `30s`, `10m`, `1h30m`, `2d` → timedelta; a clear error otherwise."""
    t = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", t):
        return timedelta(seconds=float(t))
    pos, total = 0, 0.0
    for m in _PART.finditer(t):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(t) or not t or total <= 0:
        raise bad_request(f"invalid duration {text!r}: use e.g. 30s, 10m, 2h, 1d or 1h30m")
    return timedelta(seconds=total)


def _since(query: Mapping[str, str], default: str | None) -> timedelta | None:
    raw = query.get("since") or default
    return parse_duration(raw) if raw else None


def json_api(tel: Telemetry, path: str, query: Mapping[str, str]) -> Obj:
    parts = [p for p in path.strip("/").split("/") if p]
    if parts == ["services"]:
        since = _since(query, "1h")
        assert since is not None
        return {"kind": "ServiceList", "since_seconds": since.total_seconds(),
                "items": tel.services(since)}
    if len(parts) == 4 and parts[0] == "services":
        _, ns, svc, what = parts
        if what == "versions":
            since = _since(query, None)
            return {"kind": "VersionList", "namespace": ns, "service": svc,
                    "since_seconds": since.total_seconds() if since else None,
                    "items": tel.versions(ns, svc, since),
                    "no_upstream": tel.no_upstream(ns, svc, since)}
        since = _since(query, "1h")
        assert since is not None
        if what == "compare":
            return {"kind": "Comparison",
                    **tel.compare(ns, svc, query.get("baseline") or None,
                                  query.get("candidate") or None, since)}
        if what == "endpoints":
            version = query.get("version")
            if not version:
                raise bad_request("endpoints needs ?version=")
            return {"kind": "EndpointList", "namespace": ns, "service": svc, "version": version,
                    "items": tel.endpoints(ns, svc, version, since)}
        if what == "timeseries":
            return {"kind": "TimeSeries", "namespace": ns, "service": svc,
                    **tel.timeseries(ns, svc, since)}
    raise ApiError(404, "NotFound", f"no telemetry resource {path!r}: try services, "
                   "services/<ns>/<svc>/versions, .../compare, .../endpoints, .../timeseries")
