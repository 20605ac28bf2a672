"""The service model over stored records: services, their versions, endpoints, time series and
error types — the questions an APM service page answers.

A service is the destination's APM service (`DD_SERVICE` and friends) in a namespace; a caller may
also name it by its Kubernetes Service. Latency is Envoy's total request duration in ms, with
microsecond resolution. An error is a 5xx, no response, or an Envoy failure flag; an error type is
status + flags + method + endpoint.
The rows of a service are its arms, one per revision that answered (`turnout.telemetry.arms`),
labelled by their version name, ordered by when they were first seen; an arm's "new" error types
are those the arm before it never produced (over everything retained). Requests no pod answered
(`503 UH`) count in the service's totals and under `no_upstream`, never as an arm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from turnout.telemetry.arms import ANSWERED_SQL, ARM_SQL, Arm, arms_of, deployment_order, resolve
from turnout.telemetry.records import error_type
from turnout.telemetry.store import KNOWN_ORDER, Store
from turnout.types import Obj

QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99)
Q_NAMES = ("p50", "p75", "p90", "p95", "p99")

_ARM_COLUMNS = (f"{ARM_SQL}, arg_max(dest_version, ts), coalesce(max(dest_revision), ''), "
                "min(ts), max(ts)")
_STATS = (f"count(*), sum(CASE WHEN error THEN 1 ELSE 0 END), min(ts), max(ts), "
          f"quantile_disc(duration_ms, {list(QUANTILES)}), max(duration_ms)")


class _Query(Protocol):
    def query(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]: ...


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


def arms_by_service(store: _Query) -> dict[tuple[str, str], list[Arm]]:
    """Every service's arms, over everything retained, by (namespace, APM service)."""
    found: dict[tuple[str, str], list[tuple[str, str, str, float, float]]] = {}
    for ns, svc, k, n, rev, a, b in store.query(
            f"SELECT dest_namespace, dest_service, {_ARM_COLUMNS} FROM requests "
            f"WHERE {ANSWERED_SQL} GROUP BY 1, 2, 3 ORDER BY 6, 3", []):
        found.setdefault((str(ns), str(svc)), []).append(
            (str(k), str(n), str(rev), float(a), float(b)))
    return {key: arms_of(rows) for key, rows in found.items()}


class Model:
    """Read-only questions over a `Store` at a given time `now` (seconds since the epoch)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- naming ---------------------------------------------------------------------------------
    def resolve(self, namespace: str, service: str) -> str:
        """The APM service name a user means: itself if it has records, else the APM service
        behind the Kubernetes Service of that name (e.g. `frontend` → `storefront`); a name
        only requests no pod answered carry yields to the service whose pods answered."""
        rows = self.store.query(
            f"SELECT dest_service, count(*) FILTER (WHERE {ANSWERED_SQL}) AS a, count(*) AS n "
            "FROM requests WHERE dest_namespace = ? AND "
            "(dest_service = ? OR split_part(dest_k8s_service, '.', 1) = ?) GROUP BY 1 "
            "ORDER BY (dest_service = ? AND a > 0) DESC, a DESC, (dest_service = ?) DESC, "
            "n DESC LIMIT 1", [namespace, service, service, service, service])
        return str(rows[0][0]) if rows else service

    # -- services -------------------------------------------------------------------------------
    def services(self, now: float, since: float) -> list[Obj]:
        """Every service with requests since `now - since`; `versions` are the labels of its
        arms seen in the window, in alphabetical order."""
        start = now - since
        rows = self.store.query(
            f"SELECT dest_namespace, dest_service, {_STATS}, "
            "any_value(split_part(dest_k8s_service, '.', 1)) "
            "FROM requests WHERE ts >= ? GROUP BY 1, 2 ORDER BY 1, 2", [start])
        found = arms_by_service(self.store)
        out = []
        for r in rows:
            arms = found.get((str(r[0]), str(r[1])), [])
            o: Obj = {"namespace": r[0], "service": r[1], "kubernetes_service": r[8],
                      "versions": sorted(a.label for a in arms if a.last_seen >= start)}
            o.update(stats_obj(r[2:8], start, now))
            out.append(o)
        return out

    # -- arms -----------------------------------------------------------------------------------
    def arms(self, namespace: str, service: str) -> list[Arm]:
        """The revisions that answered the (APM) service, over everything retained, in the
        order of their first request."""
        return arms_of(
            (str(k), str(n), str(rev), float(a), float(b)) for k, n, rev, a, b in
            self.store.query(
                f"SELECT {_ARM_COLUMNS} FROM requests WHERE dest_namespace = ? AND "
                f"dest_service = ? AND {ANSWERED_SQL} GROUP BY 1 ORDER BY 4, 1",
                [namespace, service]))

    def arm(self, namespace: str, service: str, text: str) -> Arm:
        """The arm a user names (label, revision, or a version name one revision carries)."""
        return resolve(self.arms(namespace, self.resolve(namespace, service)), text)

    def error_types(self, namespace: str, service: str, arm: str | None,
                    start: float | None) -> dict[str, int]:
        """Error types of one arm (by key), or of the requests no pod answered (`arm=None`)."""
        where, params = (("dest_namespace = ? AND dest_service = ? AND "
                          f"{ARM_SQL} = ? AND {ANSWERED_SQL}", [namespace, service, arm])
                         if arm is not None else _lost(namespace, service))
        rows = self.store.query(
            "SELECT status, flags, method, endpoint, count(*) FROM requests WHERE error AND "
            f"{where} AND ts >= ? GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC",
            [*params, -math.inf if start is None else start])
        return {_error_key(s, f, m, e): int(n) for s, f, m, e, n in rows}

    def versions(self, namespace: str, service: str, now: float, since: float | None,
                 deployed: Mapping[str, float] | None = None) -> list[Obj]:
        """One item per arm, oldest first (by `deployed`, arm key -> when its newest pod was
        created, else by first request): `version` is its label, `name` its version name."""
        service = self.resolve(namespace, service)
        start = now - since if since is not None else -math.inf
        rows = {str(r[0]): r[1:] for r in self.store.query(
            f"SELECT {ARM_SQL}, {_STATS} FROM requests WHERE dest_namespace = ? AND "
            f"dest_service = ? AND {ANSWERED_SQL} AND ts >= ? GROUP BY 1",
            [namespace, service, start])}
        out = []
        prev: Arm | None = None
        for arm in deployment_order(self.arms(namespace, service), deployed or {}):
            first, last = arm.first_seen, arm.last_seen
            o: Obj = {"version": arm.label, "name": arm.name, "revision": arm.revision,
                      "first_seen": first, "last_seen": last,
                      "previous": prev.label if prev else None}
            stats = rows.get(arm.key)
            o.update(stats_obj(stats, start if since is not None else first, now) if stats
                     else stats_obj((0, 0, first, last, None, None), start, now))
            mine = self.error_types(namespace, service, arm.key,
                                    None if since is None else start)
            before = set(self.error_types(namespace, service, prev.key, None)) if prev else set()
            o["error_types"] = [{"type": k, "count": n} for k, n in mine.items()]
            o["new_error_types"] = ([{"type": k, "count": n} for k, n in mine.items()
                                     if k not in before] if prev else [])
            out.append(o)
            prev = arm
        return out

    def no_upstream(self, namespace: str, service: str, now: float,
                    since: float | None) -> Obj | None:
        """The requests to the service that no pod answered (e.g. `503 UH`), or None."""
        service = self.resolve(namespace, service)
        start = now - since if since is not None else -math.inf
        where, params = _lost(namespace, service)
        rows = self.store.query(f"SELECT {_STATS} FROM requests WHERE {where} AND ts >= ?",
                                [*params, start])
        if not rows or not rows[0][0]:
            return None
        r = rows[0]
        o = stats_obj(r, start if since is not None else float(r[2]), now)
        types = self.error_types(namespace, service, None, None if since is None else start)
        o["error_types"] = [{"type": k, "count": n} for k, n in types.items()]
        return o

    # -- per arm detail -------------------------------------------------------------------------
    def endpoints(self, namespace: str, service: str, arm: str, now: float,
                  since: float) -> list[Obj]:
        """Per-endpoint numbers of one arm (by key) of the (APM) service."""
        start = now - since
        rows = self.store.query(
            f"SELECT method, endpoint, {_STATS} FROM requests WHERE dest_namespace = ? AND "
            f"dest_service = ? AND {ARM_SQL} = ? AND {ANSWERED_SQL} AND ts >= ? "
            "GROUP BY 1, 2 ORDER BY 3 DESC", [namespace, service, arm, start])
        out = []
        for r in rows:
            o: Obj = {"method": r[0], "endpoint": r[1]}
            o.update(stats_obj(r[2:8], start, now))
            out.append(o)
        return out

    def timeseries(self, namespace: str, service: str, now: float, since: float,
                   points: int = 60) -> Obj:
        """Per-arm series keyed by label; the requests no pod answered under `no_upstream`."""
        start = now - since
        step = max(1.0, math.ceil(since / points))
        service = self.resolve(namespace, service)
        labels = {a.key: a.label for a in self.arms(namespace, service)}
        lost, lost_params = _lost(namespace, service)
        rows = self.store.query(
            f"SELECT CASE WHEN {ANSWERED_SQL} THEN {ARM_SQL} END, floor((ts - ?) / ?) AS b, "
            "count(*), sum(CASE WHEN error THEN 1 ELSE 0 END), "
            "quantile_disc(duration_ms, [0.5, 0.99]) "
            f"FROM requests WHERE ts >= ? AND ((dest_namespace = ? AND dest_service = ?) OR "
            f"({lost})) GROUP BY 1, 2 ORDER BY 1, 2",
            [start, step, start, namespace, service, *lost_params])
        series: dict[str, list[Obj]] = {}
        missing: list[Obj] = []
        for arm, b, n, errors, qs in rows:
            point = {"t": start + float(b) * step, "rps": _num(int(n) / step),
                     "errors": int(errors), "p50": _num(qs[0]), "p99": _num(qs[1])}
            if arm is None:
                missing.append(point)
            else:
                series.setdefault(labels.get(str(arm), str(arm)), []).append(point)
        return {"step_seconds": step, "start": start, "series": series, "no_upstream": missing}

    def samples(self, namespace: str, service: str, arm: str, start: float,
                limit: int | None = None) -> tuple[list[float], int]:
        """Latencies (ms) of one arm's (by key) requests since `start` (a uniform random sample
        of `limit` of them when given), and how many of all of them were errors."""
        where = (f"dest_namespace = ? AND dest_service = ? AND {ARM_SQL} = ? AND "
                 f"{ANSWERED_SQL} AND ts >= ?")
        params = [namespace, self.resolve(namespace, service), arm, start]
        sample = f" USING SAMPLE reservoir({int(limit)} ROWS) REPEATABLE (7)" if limit else ""
        lat = [float(r[0]) for r in self.store.query(
            f"SELECT duration_ms FROM (SELECT duration_ms FROM requests WHERE {where}){sample}",
            params)]
        row = self.store.query(
            f"SELECT sum(CASE WHEN error THEN 1 ELSE 0 END) FROM requests WHERE {where}", params)
        return lat, int(row[0][0] or 0) if row else 0

    def series(self, namespace: str, start: float, *, workload: str = "", revision: str = "",
               service: str = "", version: str = "") -> tuple[list[float], list[bool]]:
        """Latencies (ms, microsecond resolution) and error flags of the requests that started
        since `start`, of one workload (at one revision when given) or else one service
        version, in the order they became known (stored), not by start time: a later call over
        the same window returns an earlier call's answer as its prefix, then the newer requests
        (the sequential analysis pairs the i-th baseline request with the i-th canary one)."""
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


def _lost(namespace: str, service: str) -> tuple[str, list[Any]]:
    """The requests to an (APM) service that no pod answered: they carry the Kubernetes
    Service's name, which is the APM service's or one its pods are reached by."""
    return (f"dest_namespace = ? AND NOT {ANSWERED_SQL} AND (dest_service = ? OR "
            "split_part(dest_k8s_service, '.', 1) IN (SELECT split_part(dest_k8s_service, '.', 1) "
            f"FROM requests WHERE dest_namespace = ? AND dest_service = ? AND {ANSWERED_SQL}))",
            [namespace, service, namespace, service])


def _series_sql(where: str) -> str:
    return f"SELECT duration_ms, error FROM requests WHERE {where} ORDER BY {KNOWN_ORDER}"


def _error_key(status: int, flags: str, method: str, endpoint: str) -> str:
    return f"{error_type(int(status), str(flags))} {method} {endpoint}".replace("  ", " ").strip()
