"""Metric providers for AnalysisRuns: `prometheus`, `web` and turnout's built-in `turnout`.

Why this exists: each provider turns one metric spec into one measurement (phase, value,
message). `prometheus` and `web` are Argo's (an HTTP query whose result is held to the metric's
conditions); `turnout` judges canary against stable from turnout's own telemetry with the
sequential statistical verdict, so the measurement carries numbers and a reason. An unknown
provider is an Error measurement naming it, never a silent fallback.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Protocol

from turnout.analysis import Outcome
from turnout.rollout import analysis_run, analysis_spec, metrics
from turnout.types import Obj

ARMS = "turnout.dev/arms"
log = logging.getLogger("turnout.rollout.providers")
FAILURES: Counter[str] = Counter()
"""Queries that could not be made or read, by provider (each also an Error measurement or a
failed check naming the address)."""

Measurement = tuple[str, str, str]  # phase, value, message


class Provider(Protocol):
    def measure(self, metric: Obj, run: Obj, now: float) -> Measurement: ...


def _http_json(url: str, timeout: float, method: str = "GET", body: str | None = None,
               headers: dict[str, str] | None = None) -> Any:
    req = urllib.request.Request(url, method=method, headers=headers or {},
                                 data=body.encode() if body else None)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def failed(provider: str, what: str, e: Exception) -> str:
    """Count and log a query that failed; the sentence names the address: `prometheus query to
    http://127.0.0.1:9 failed: [Errno 111] Connection refused`."""
    FAILURES[provider] += 1
    reason = e.reason if isinstance(e, urllib.error.URLError) else e
    text = f"{what} failed: {reason}"
    log.warning("%s", text)
    return text


def prometheus_query(address: str, query: str, timeout: float,
                     headers: dict[str, str] | None = None) -> Any:
    """GET `<address>/api/v1/query?query=...`: the decoded answer (shared with Flagger's
    MetricTemplates)."""
    url = f"{address.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    return _http_json(url, timeout, headers=headers)


class Prometheus:
    def measure(self, metric: Obj, run: Obj, now: float) -> Measurement:
        cfg = (metric.get("provider") or {}).get("prometheus") or {}
        address, query = str(cfg.get("address", "")).rstrip("/"), cfg.get("query", "")
        if not address or not query:
            return "Error", "", "prometheus provider needs address and query"
        url = f"{address}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
        try:
            doc = _http_json(url, float(cfg.get("timeout", 10)))
        except (OSError, ValueError) as e:
            return "Error", "", failed("prometheus", f"prometheus query to {address}", e)
        data = (doc or {}).get("data") or {}
        if (doc or {}).get("status") != "success":
            return "Error", "", f"prometheus: {(doc or {}).get('error', 'query failed')}"
        result: Any
        if data.get("resultType") == "vector":
            result = [float(s["value"][1]) for s in data.get("result") or []]
        elif data.get("resultType") == "scalar":
            result = float(data["result"][1])
        else:
            return "Error", "", f"prometheus: unsupported result type {data.get('resultType')}"
        return _judged(metric, result)


def json_path(doc: Any, path: str) -> Any:
    """A `{$.a.b[0]}`-style path (the subset Argo's web provider examples use)."""
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1]
    p = p.lstrip("$").lstrip(".")
    cur = doc
    for part in filter(None, p.replace("[", ".").replace("]", "").split(".")):
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur


class Web:
    def measure(self, metric: Obj, run: Obj, now: float) -> Measurement:
        cfg = (metric.get("provider") or {}).get("web") or {}
        if not cfg.get("url"):
            return "Error", "", "web provider needs url"
        headers = {str(h.get("key")): str(h.get("value")) for h in cfg.get("headers") or []}
        try:
            doc = _http_json(str(cfg["url"]), float(cfg.get("timeoutSeconds", 10)),
                             str(cfg.get("method", "GET")), cfg.get("body"), headers)
            result = json_path(doc, str(cfg.get("jsonPath", "{$}")))
        except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
            return "Error", "", failed("web", f"web provider request to {cfg['url']}", e)
        return _judged(metric, result)


class Builtin:
    """`provider: {turnout: {...}}`: the sequential canary-vs-stable verdict."""

    def __init__(self, source: metrics.MetricSource) -> None:
        self.source = source

    def measure(self, metric: Obj, run: Obj, now: float) -> Measurement:
        cfg = (metric.get("provider") or {}).get("turnout") or {}
        arms_raw: Obj = {}
        try:
            arms_raw = json.loads(
                (run["metadata"].get("annotations") or {}).get(ARMS) or "{}")
        except ValueError:
            pass
        arms = _arms(cfg, arms_raw, run)
        missing = [side for side, arm in (("stable", arms.stable), ("canary", arms.canary))
                   if not arm.selects]
        if missing:
            return "Error", "", (
                f"turnout provider: no {' and no '.join(missing)} arm to compare: run the "
                "analysis from a Rollout (it names its stable and canary ReplicaSets), or set "
                "provider.turnout.workload with stableRevision/canaryRevision, or service with "
                "stableVersion/canaryVersion")
        # the window opens when the rollout step (or, run alone, the run) started and only grows
        st = run.get("status") or {}
        started = float(arms_raw.get("started") or st.get("startedAtEpoch") or
                        _created(run) or now)
        since = timedelta(seconds=max(1.0, now - started))
        try:  # a value out of range is the spec's error, before any data is read
            th = analysis_spec.turnout_thresholds(cfg)
        except ValueError as e:
            return "Error", "", analysis_spec.threshold_problem(
                f"metric {metric.get('name')!r}: provider.turnout", cfg, e)
        if not self.source.samples(arms.namespace, arms.canary, since, started)[0]:
            # as Argo treats a query with no data: Inconclusive (inconclusiveLimit pauses)
            return "Inconclusive", "[]", (
                f"no data: the canary {arms.canary.describe()} in {arms.namespace} served 0 "
                f"requests in the last {since.total_seconds():.0f} s (no traffic reaches it)")
        key = f"{run['metadata'].get('uid') or run['metadata'].get('name')}/{metric.get('name')}"
        gate = metrics.verdict_gate(self.source, arms, since, th, key=key, start=started)
        phase = {Outcome.PASS: "Successful", Outcome.FAIL: "Failed",
                 Outcome.INCONCLUSIVE: "Inconclusive"}[gate.outcome]
        return phase, json.dumps(list(gate.metrics))[:4000], gate.reason


def _created(run: Obj) -> float | None:
    stamp = str(run["metadata"].get("creationTimestamp") or "")
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _arms(cfg: Obj, arms_raw: Obj, run: Obj) -> metrics.Arms:
    """The arms from the provider's settings, else from the Rollout that made the run."""
    ns = str(cfg.get("namespace") or arms_raw.get("namespace") or run["metadata"]["namespace"])
    for key, by, field in (("workload", "workload", "Revision"), ("service", "service",
                                                                      "Version")):
        if cfg.get(key):
            sides = [metrics.Arm(**{by: str(cfg[key]), field.lower(): str(
                cfg.get(side + field) or "")}) for side in ("stable", "canary")]
            return metrics.Arms(ns, sides[0], sides[1])
    return metrics.Arms(ns, metrics.Arm.from_json(arms_raw.get("stable")),
                        metrics.Arm.from_json(arms_raw.get("canary")))


def _judged(metric: Obj, result: Any) -> Measurement:
    value = json.dumps(result)
    try:
        phase = analysis_run.judge(metric, result)
    except ValueError as e:
        return "Error", value, str(e)
    cond = metric.get("failureCondition") if phase == "Failed" and \
        metric.get("failureCondition") else metric.get("successCondition") or ""
    return phase, value, f"result {value}: {'met' if phase == 'Successful' else 'failed'} " \
                         f"{cond}".strip()


class Providers:
    """Picks the provider a metric names; raises on none or several."""

    def __init__(self, source: metrics.MetricSource) -> None:
        self.by_name: dict[str, Provider] = {"prometheus": Prometheus(), "web": Web(),
                                             "turnout": Builtin(source)}

    def measure(self, metric: Obj, run: Obj, now: float | None = None) -> Measurement:
        names = list((metric.get("provider") or {}).keys())
        if len(names) != 1 or names[0] not in self.by_name:
            return "Error", "", (f"metric {metric.get('name')!r}: provider {names or 'missing'} "
                                 f"is not supported (one of: {', '.join(self.by_name)})")
        return self.by_name[names[0]].measure(metric, run, time.time() if now is None else now)
