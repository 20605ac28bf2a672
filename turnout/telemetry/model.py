"""The service model over stored records: services, their versions, endpoints, time series and
error types — the questions an APM service page answers.

A service is the destination's APM service (`DD_SERVICE` and friends) in a namespace; a caller may
also name it by its Kubernetes Service. Latency is Envoy's total request duration. An error is a
5xx, no response, or an Envoy failure flag; an error type is status + flags + method + endpoint.
Versions are ordered by when they were first seen; a version's "new" error types are those the
version before it never produced (over everything retained).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from turnout.telemetry.records import error_type
from turnout.telemetry.store import Store
from turnout.types import Obj

QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99)
Q_NAMES = ("p50", "p75", "p90", "p95", "p99")

_STATS = (f"count(*), sum(CASE WHEN error THEN 1 ELSE 0 END), min(ts), max(ts), "
          f"quantile_disc(duration_ms, {list(QUANTILES)}), max(duration_ms)")


def _num(x: float | None, digits: int = 3) -> float | None:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return round(float(x), digits)


def stats_obj(row: Sequence[Any], start: float, now: float) -> Obj:
    """count, errors, first, last, quantiles, max → the numbers of one group."""
    n, errors, first, last, qs, mx = row[:6]
    n = int(n or 0)
    out: Obj = {"requests": n, "errors": int(errors or 0),
                "error_rate": _num((errors or 0) / n, 6) if n else None}
    span = max(1.0, min(now, float(last)) - max(start, float(first))) if n else 0.0
    out["rps"] = _num(n / span, 3) if n else 0.0
    for name, v in zip(Q_NAMES, qs or [None] * len(Q_NAMES), strict=True):
        out[name] = _num(v)
    out["max"] = _num(mx)
    return out


class Model:
    """Read-only questions over a `Store` at a given time `now` (seconds since the epoch)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- naming ---------------------------------------------------------------------------------
    def resolve(self, namespace: str, service: str) -> str:
        """The APM service name a user means: itself if it has records, else the APM service
        behind the Kubernetes Service of that name (e.g. `frontend` → `storefront`)."""
        rows = self.store.query(
            "SELECT dest_service, count(*) AS n FROM requests WHERE dest_namespace = ? AND "
            "(dest_service = ? OR split_part(dest_k8s_service, '.', 1) = ?) GROUP BY 1 "
            "ORDER BY (dest_service = ?) DESC, n DESC LIMIT 1",
            [namespace, service, service, service])
        return str(rows[0][0]) if rows else service

    # -- services -------------------------------------------------------------------------------
    def services(self, now: float, since: float) -> list[Obj]:
        start = now - since
        rows = self.store.query(
            f"SELECT dest_namespace, dest_service, {_STATS}, "
            "list(DISTINCT dest_version ORDER BY dest_version), "
            "any_value(split_part(dest_k8s_service, '.', 1)) "
            "FROM requests WHERE ts >= ? GROUP BY 1, 2 ORDER BY 1, 2", [start])
        out = []
        for r in rows:
            o: Obj = {"namespace": r[0], "service": r[1], "kubernetes_service": r[9],
                      "versions": list(r[8])}
            o.update(stats_obj(r[2:8], start, now))
            out.append(o)
        return out

    # -- versions -------------------------------------------------------------------------------
    def version_order(self, namespace: str, service: str) -> list[tuple[str, float, float]]:
        """(version, first seen, last seen) over everything retained, oldest first."""
        rows = self.store.query(
            "SELECT dest_version, min(ts), max(ts) FROM requests WHERE dest_namespace = ? AND "
            "dest_service = ? GROUP BY 1 ORDER BY 2, 1", [namespace, service])
        return [(str(v), float(a), float(b)) for v, a, b in rows]

    def error_types(self, namespace: str, service: str, version: str,
                    start: float | None) -> dict[str, int]:
        rows = self.store.query(
            "SELECT status, flags, method, endpoint, count(*) FROM requests WHERE error AND "
            "dest_namespace = ? AND dest_service = ? AND dest_version = ? AND ts >= ? "
            "GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC",
            [namespace, service, version, -math.inf if start is None else start])
        return {_error_key(s, f, m, e): int(n) for s, f, m, e, n in rows}

    def versions(self, namespace: str, service: str, now: float,
                 since: float | None) -> list[Obj]:
        service = self.resolve(namespace, service)
        order = self.version_order(namespace, service)
        start = now - since if since is not None else -math.inf
        rows = {str(r[0]): r[1:] for r in self.store.query(
            f"SELECT dest_version, {_STATS} FROM requests WHERE dest_namespace = ? AND "
            "dest_service = ? AND ts >= ? GROUP BY 1", [namespace, service, start])}
        out = []
        prev: str | None = None
        for version, first, last in order:
            o: Obj = {"version": version, "first_seen": first, "last_seen": last,
                      "previous": prev}
            stats = rows.get(version)
            o.update(stats_obj(stats, start if since is not None else first, now) if stats
                     else stats_obj((0, 0, first, last, None, None), start, now))
            mine = self.error_types(namespace, service, version,
                                    None if since is None else start)
            before = set(self.error_types(namespace, service, prev, None)) if prev else set()
            o["error_types"] = [{"type": k, "count": n} for k, n in mine.items()]
            o["new_error_types"] = ([{"type": k, "count": n} for k, n in mine.items()
                                     if k not in before] if prev else [])
            out.append(o)
            prev = version
        return out

    # -- per version detail ---------------------------------------------------------------------
    def endpoints(self, namespace: str, service: str, version: str, now: float,
                  since: float) -> list[Obj]:
        start = now - since
        rows = self.store.query(
            f"SELECT method, endpoint, {_STATS} FROM requests WHERE dest_namespace = ? AND "
            "dest_service = ? AND dest_version = ? AND ts >= ? GROUP BY 1, 2 ORDER BY 3 DESC",
            [namespace, service, version, start])
        out = []
        for r in rows:
            o: Obj = {"method": r[0], "endpoint": r[1]}
            o.update(stats_obj(r[2:8], start, now))
            out.append(o)
        return out

    def timeseries(self, namespace: str, service: str, now: float, since: float,
                   points: int = 60) -> Obj:
        start = now - since
        step = max(1.0, math.ceil(since / points))
        rows = self.store.query(
            "SELECT dest_version, floor((ts - ?) / ?) AS b, count(*), "
            "sum(CASE WHEN error THEN 1 ELSE 0 END), quantile_disc(duration_ms, [0.5, 0.99]) "
            "FROM requests WHERE dest_namespace = ? AND dest_service = ? AND ts >= ? "
            "GROUP BY 1, 2 ORDER BY 1, 2",
            [start, step, namespace, self.resolve(namespace, service), start])
        series: dict[str, list[Obj]] = {}
        for version, b, n, errors, qs in rows:
            series.setdefault(str(version), []).append({
                "t": start + float(b) * step, "rps": _num(int(n) / step), "errors": int(errors),
                "p50": _num(qs[0]), "p99": _num(qs[1])})
        return {"step_seconds": step, "start": start, "series": series}

    def samples(self, namespace: str, service: str, version: str, start: float,
                limit: int | None = None) -> tuple[list[float], int]:
        """Latencies (ms) of a version's requests since `start` (a uniform random sample of
        `limit` of them when given), and how many of all of them were errors."""
        where = "dest_namespace = ? AND dest_service = ? AND dest_version = ? AND ts >= ?"
        params = [namespace, self.resolve(namespace, service), version, start]
        sample = f" USING SAMPLE reservoir({int(limit)} ROWS) REPEATABLE (7)" if limit else ""
        lat = [float(r[0]) for r in self.store.query(
            f"SELECT duration_ms FROM (SELECT duration_ms FROM requests WHERE {where}){sample}",
            params)]
        row = self.store.query(
            f"SELECT sum(CASE WHEN error THEN 1 ELSE 0 END) FROM requests WHERE {where}", params)
        return lat, int(row[0][0] or 0) if row else 0

    def series(self, namespace: str, start: float, *, workload: str = "", revision: str = "",
               service: str = "", version: str = "") -> tuple[list[float], list[bool]]:
        """Latencies (ms) and error flags since `start`, in time order (the sequential analysis
        pairs the i-th baseline request with the i-th canary one), of the requests one workload
        served (at one revision when given), or else one service version."""
        where, params = ["dest_namespace = ?", "ts >= ?"], [namespace, start]
        if workload:
            where.append("dest_workload = ?")
            params.append(workload)
            if revision:
                where.append("dest_revision = ?")
                params.append(revision)
        else:
            where += ["dest_service = ?", "dest_version = ?"]
            params += [self.resolve(namespace, service), version]
        rows = self.store.query(_series_sql(" AND ".join(where)), params)
        return [float(r[0]) for r in rows], [bool(r[1]) for r in rows]


def _series_sql(where: str) -> str:
    return f"SELECT duration_ms, error FROM requests WHERE {where} ORDER BY ts"


def _error_key(status: int, flags: str, method: str, endpoint: str) -> str:
    return f"{error_type(int(status), str(flags))} {method} {endpoint}".replace("  ", " ").strip()
