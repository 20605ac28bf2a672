"""Argo `AnalysisRun` semantics: condition expressions and measurement bookkeeping.

Why this exists: an AnalysisRun measures each metric every `interval` up to `count` times and
decides from `successCondition` / `failureCondition` and the limits `failureLimit`,
`inconclusiveLimit`, `consecutiveErrorLimit` and `consecutiveSuccessLimit` whether the run is
Successful, Failed, Inconclusive or Error; `dryRun` metrics are measured but never decide,
`measurementRetention` trims the history (10 by default), `{{args.x}}` placeholders are resolved
at each measurement. Those rules are pure and live here, as Argo's analysis/analysis.go has them,
with the entry points to Argo's expression language (`result[0] >= 0.95 && len(result) > 0`,
parsed and run by `turnout.rollout.expr`); the providers and the controller that takes the
measurements are elsewhere.

Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from turnout.rollout import expr as expr_lang
from turnout.rollout.flagger import seconds
from turnout.types import Obj

TERMINAL = ("Successful", "Failed", "Error", "Inconclusive")
ERROR_RETRY = 10.0
"""Seconds before a metric whose last measurement was an Error is measured again."""
RETENTION = 10
"""Measurements kept per metric unless `measurementRetention` says otherwise."""
WORSE = ("Successful", "Running", "Pending", "Inconclusive", "Error", "Failed")
"""Phases from best to worst (Argo's analysisStatusOrder)."""

def evaluate(expr: str, result: Any) -> bool:
    """Evaluate an Argo condition against ``result``; raises ValueError on a bad expression."""
    return expr_lang.evaluate(expr, result)


def judge(metric: Obj, result: Any) -> str:
    """The phase of one measurement with value ``result``, as Argo's evaluate.EvaluateResult.

    Both conditions are evaluated, so an error in either is an Error (ValueError) whatever the
    other says. Only success given: false is Failed. Only failure given: false is Successful.
    Both given: failure true is Failed, success true is Successful, both false is Inconclusive.
    """
    ok, bad = metric.get("successCondition") or "", metric.get("failureCondition") or ""
    succeeded = bool(ok) and _condition("successCondition", ok, result)
    failed = bool(bad) and _condition("failureCondition", bad, result)
    if ok and not bad:
        failed = not succeeded
    if bad and not ok:
        succeeded = not failed
    if failed:
        return "Failed"
    return "Successful" if succeeded or not (ok or bad) else "Inconclusive"


def _condition(field: str, expr: str, result: Any) -> bool:
    try:
        return expr_lang.evaluate(expr, result)
    except expr_lang.ExprError as e:
        reason = "metric result is nil or empty: no data returned from the metric provider" \
            if result is None or result == [] else e.reason
        raise ValueError(f"could not evaluate {field} {json.dumps(expr, ensure_ascii=False)}: "
                         f"{reason}") from None


# --- arguments ----------------------------------------------------------------------------------

_TAG = re.compile(r"\{\{(.*?)\}\}", re.S)


def resolve_text(text: str, values: dict[str, str]) -> str:
    """``text`` with every `{{args.NAME}}` replaced; any other or unknown tag is an error
    (`failed to resolve {{args.x}}`), as Argo's template resolution."""
    def sub(m: re.Match[str]) -> str:
        tag = m.group(1).strip()
        if tag.startswith("args.") and tag[5:] in values:
            return values[tag[5:]]
        raise ValueError(f"failed to resolve {{{{{m.group(1)}}}}}")
    return _TAG.sub(sub, text)


def resolve(metric: Obj, values: dict[str, str]) -> Obj:
    """``metric`` with its placeholders resolved in every string (values JSON-escaped)."""
    escaped = {k: json.dumps(v, ensure_ascii=False)[1:-1] for k, v in values.items()}
    out: Obj = json.loads(resolve_text(json.dumps(metric, ensure_ascii=False), escaped))
    return out


def arg_values(args: list[Obj], secret: Any = None) -> dict[str, str]:
    """The run's `spec.args` as a name → value map. ``secret(name, key)`` returns a Secret's
    value (or raises ValueError); an arg without a value raises `argument "x" was not supplied`."""
    out: dict[str, str] = {}
    for a in args or []:
        ref = (a.get("valueFrom") or {}).get("secretKeyRef")
        if ref and secret is not None:
            out[str(a["name"])] = str(secret(str(ref.get("name", "")), str(ref.get("key", ""))))
        elif a.get("value") is not None:
            out[str(a["name"])] = str(a["value"])
        else:
            raise ValueError(f'argument "{a.get("name")}" was not supplied')
    return out


def substitute(obj: Any, args: dict[str, str]) -> Any:
    """Replace the `{{args.NAME}}` placeholders ``args`` knows in every string of ``obj``,
    leaving others as they are (for display)."""
    if isinstance(obj, str):
        return re.sub(r"\{\{\s*args\.([\w.-]+)\s*\}\}",
                      lambda m: args.get(m.group(1), m.group(0)), obj)
    if isinstance(obj, list):
        return [substitute(x, args) for x in obj]
    if isinstance(obj, dict):
        return {k: substitute(v, args) for k, v in obj.items()}
    return obj


# --- metric settings ----------------------------------------------------------------------------


def _int(value: Any, default: int = 0) -> int:
    """An int-or-string setting as Go's IntOrString.IntValue() reads it."""
    if value is None:
        return default
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        return 0


def effective_count(metric: Obj) -> int | None:
    """How many measurements the metric takes: `count`; with no count, 1 when there is no
    `interval` either, else None (it runs until the run is terminated)."""
    count = _int(metric.get("count"))
    if count:
        return count
    return None if metric.get("interval") else 1


def validate_metric(metric: Obj) -> str:
    """What is wrong with one (resolved) metric, in Argo's words; "" when nothing."""
    count = _int(metric.get("count"))
    failure = _int(metric.get("failureLimit"))
    success = _int(metric.get("consecutiveSuccessLimit"))
    inconclusive = _int(metric.get("inconclusiveLimit"))
    if success < 0:
        return "consecutiveSuccessLimit must be >= 0"
    if failure < -1:
        return "failureLimit must be >= 0, or -1 to be disabled"
    if success == 0 and failure == -1:
        return "failureLimit and consecutiveSuccessLimit cannot both be disabled"
    if inconclusive < 0:
        return "inconclusiveLimit must be >= 0"
    if metric.get("consecutiveErrorLimit") is not None and \
            _int(metric["consecutiveErrorLimit"]) < 0:
        return "consecutiveErrorLimit must be >= 0"
    if count > 0:
        if failure >= 0 and count < failure + success:
            return (f"count ({count}) must be >= failureLimit + consecutiveSuccessLimit "
                    f"({failure} + {success}) if both >= 0")
        if failure < 0 and count < success:
            return "count must be >= consecutiveSuccessLimit"
        if count < inconclusive:
            return "count must be >= inconclusiveLimit"
    if count > 1 and not metric.get("interval"):
        return "interval must be specified when count > 1"
    for key, word in (("interval", "interval"), ("initialDelay", "startDelay")):
        try:
            seconds(metric.get(key), 0.0)
        except ValueError as e:
            return f"invalid {word} string: {e}"
    providers = [k for k, v in (metric.get("provider") or {}).items() if v is not None]
    if not providers:
        return "no provider specified"
    if len(providers) > 1:
        return "multiple providers specified"
    return ""


def _matching(rules: list[Obj], metrics: list[Obj], what: str) -> dict[str, Obj]:
    out: dict[str, Obj] = {}
    for i, rule in enumerate(rules or []):
        pattern = str(rule.get("metricName", ""))
        hits = 0
        for m in metrics:
            name = str(m.get("name", ""))
            try:
                hit = pattern == "*" or re.search(pattern, name) is not None
            except re.error:
                hit = False
            if hit:
                out[name] = rule
                hits += 1
        if not hits:
            raise ValueError(f"{what}[{i}]: Rule didn't match any metric name(s)")
    return out


def dry_run_names(rules: list[Obj], metrics: list[Obj]) -> set[str]:
    """Metrics in dry-run mode: `metricName` is a regular expression (`.*` for all; turnout
    also takes `*`). A rule that matches no metric raises ValueError, as in Argo."""
    return set(_matching(rules, metrics, "dryRun"))


def retention_limits(rules: list[Obj], metrics: list[Obj]) -> dict[str, int]:
    """Measurements to keep per metric name (`measurementRetention`, default 10)."""
    return {n: _int(r.get("limit")) or RETENTION
            for n, r in _matching(rules, metrics, "measurementRetention").items()}


# --- one metric ---------------------------------------------------------------------------------


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


POLL = 1.0
"""Seconds between looks at an in-flight measurement (a `job` provider's pod still running)."""


def in_flight(res: Obj) -> bool:
    ms = res.get("measurements") or []
    return bool(ms) and ms[-1].get("phase") == "Running"


def record(res: Obj, phase: str, value: str, message: str, now: float,
           started: float | None = None) -> Obj:
    """``res`` with one more measurement; an Error does not count toward `count`. A "Running"
    measurement is in flight (a provider that takes time, as the `job` one): it counts once it
    ends, measured again every ``POLL`` seconds until then."""
    out = dict(res)
    ms = list(res.get("measurements") or [])
    resumed = in_flight(res)
    if phase == "Running":
        m: Obj = ms.pop() if resumed else {"phase": "Running", "startedAt": iso(now)}
        if message:
            m["message"] = message
        out["measurements"] = [*ms, m]
        out["polledAt"] = now
        return out
    key = {"Successful": "successful", "Failed": "failed", "Inconclusive": "inconclusive",
           "Error": "error"}[phase]
    out[key] = int(res.get(key, 0)) + 1
    if phase != "Error":
        out["count"] = int(res.get("count", 0)) + 1
    out["consecutiveError"] = int(res.get("consecutiveError", 0)) + 1 if phase == "Error" else 0
    out["consecutiveSuccess"] = int(res.get("consecutiveSuccess", 0)) + 1 \
        if phase == "Successful" else 0
    start = ms.pop()["startedAt"] if resumed else iso(now if started is None else started)
    m = {"phase": phase, "startedAt": start, "finishedAt": iso(now)}
    if value:
        m["value"] = value
    if message:
        m["message"] = message
    out["measurements"] = [*ms, m]
    out["lastMeasuredAt"] = now
    out["lastPhase"] = phase
    out.pop("polledAt", None)
    return out


def trim(res: Obj, limit: int) -> Obj:
    ms = res.get("measurements") or []
    return {**res, "measurements": ms[-limit:]} if len(ms) > limit else res


def limits_exceeded(metric: Obj, res: Obj) -> tuple[str, str]:
    """(phase, reason) when a limit is exceeded: Failed, Inconclusive, then Error win in that
    order of checking (the last one found stands, as in Argo); ("", "") otherwise."""
    phase = reason = ""
    failure = _int(metric.get("failureLimit"))
    failed = int(res.get("failed", 0))
    if failure >= 0 and failed > failure:
        phase, reason = "Failed", f"failed ({failed}) > failureLimit ({failure})"
    inc_limit, inc = _int(metric.get("inconclusiveLimit")), int(res.get("inconclusive", 0))
    if inc > inc_limit:
        phase, reason = "Inconclusive", f"inconclusive ({inc}) > inconclusiveLimit ({inc_limit})"
    err_limit = _int(metric.get("consecutiveErrorLimit"), 4)
    errs = int(res.get("consecutiveError", 0))
    if errs > err_limit:
        phase, reason = "Error", f"consecutiveErrors ({errs}) > consecutiveErrorLimit ({err_limit})"
    return phase, reason


def metric_phase(metric: Obj, res: Obj, terminating: bool = False) -> str:
    """The phase of one metric from its counters (Argo's assessMetricStatus)."""
    if res.get("phase") in TERMINAL:
        return str(res["phase"])
    if in_flight(res):
        return "Running"
    if not res.get("lastPhase") and not res.get("measurements"):
        return "Successful" if terminating else "Pending"
    phase, _ = limits_exceeded(metric, res)
    if phase:
        return phase
    if "turnout" in (metric.get("provider") or {}):
        # turnout's verdict is anytime-valid both ways: Successful means shown within every
        # limit, so it ends the metric at once; a count that runs out without that evidence is
        # Inconclusive (the rollout pauses), never Successful by default
        last = (res.get("measurements") or [{}])[-1].get("phase")
        if last == "Successful":
            return "Successful"
        eff = effective_count(metric)
        if eff is not None and int(res.get("count", 0)) >= eff:
            return "Inconclusive"
        return "Successful" if terminating else "Running"
    success = _int(metric.get("consecutiveSuccessLimit"))
    if success > 0 and int(res.get("consecutiveSuccess", 0)) >= success:
        return "Successful"
    eff = effective_count(metric)
    if eff is not None and int(res.get("count", 0)) >= eff:
        if success > 0:  # the count ran out before the successes it asked for
            return "Inconclusive" if _int(metric.get("failureLimit")) >= 0 else "Failed"
        return "Successful"
    return "Successful" if terminating else "Running"


def due(metric: Obj, res: Obj, started: float, now: float, terminating: bool = False) -> bool:
    """Whether the next measurement of ``metric`` should be taken at ``now``."""
    at = next_at(metric, res, started, terminating)
    return at is not None and now >= at


def next_at(metric: Obj, res: Obj, started: float, terminating: bool = False) -> float | None:
    """When ``metric`` is next measured: `initialDelay` after the run started for the first
    measurement, then every `interval` (10 s after an Error); None when it is done."""
    if in_flight(res):
        polled = res.get("polledAt")
        return float(started if polled is None else polled) + POLL
    if terminating or res.get("phase") in TERMINAL:
        return None
    last = res.get("lastMeasuredAt")
    if last is None:
        return started + seconds(metric.get("initialDelay"), 0.0)
    eff = effective_count(metric)
    if eff is not None and int(res.get("count", 0)) >= eff:
        return None
    if res.get("lastPhase") == "Error" or not metric.get("interval"):
        return float(last) + ERROR_RETRY
    return float(last) + seconds(metric.get("interval"), 0.0)


# --- the run ------------------------------------------------------------------------------------


@dataclass
class Assessment:
    phase: str
    message: str
    summary: dict[str, int] = field(default_factory=dict)
    dry_summary: dict[str, int] = field(default_factory=dict)


def terminating(spec: Obj, results: dict[str, Obj]) -> bool:
    """A run stops measuring once terminated, or once a metric (not dry-run) has failed."""
    if spec.get("terminate"):
        return True
    return any(r.get("phase") in ("Failed", "Error", "Inconclusive") and not r.get("dryRun")
               for r in results.values())


def assess(metrics: list[Obj], results: dict[str, Obj], dry: set[str],
           ending: bool, terminated: bool = False) -> Assessment:
    """The run's phase and message from its metric results (Argo's assessRunStatus); sets each
    result's `phase` (and the message of a dry-run one)."""
    worst, message = "", "Run Terminated" if terminated else ""
    done = True
    summary = {"count": 0, "successful": 0, "failed": 0, "inconclusive": 0, "error": 0}
    dry_summary = dict(summary)
    for m in metrics:
        name = str(m["name"])
        is_dry = name in dry
        (dry_summary if is_dry else summary)["count"] += 1
        res = results.get(name)
        if res is None:
            done = False
            continue
        phase = metric_phase(m, res, ending)
        if phase != res.get("phase") and res.get("measurements"):
            res["message"] = res["measurements"][-1].get("message", "")
        res["phase"] = phase
        if phase not in TERMINAL:
            done = False
            continue
        lim_phase, reason = limits_exceeded(m, res)
        turnout = "turnout" in (m.get("provider") or {})
        if not reason and phase == "Inconclusive" and turnout:
            reason = (f"not shown within every limit after {res.get('count', 0)} measurements "
                      f"(count {_int(m.get('count'))})")
        elif not reason and phase == "Successful" and turnout:
            # turnout's verdict says why it promoted (Argo leaves a Successful run's message
            # empty; the numbers belong where people look)
            reason = f"shown within every limit after {res.get('count', 0)} measurements"
        elif not reason and phase in ("Failed", "Inconclusive"):
            reason = (f"consecutiveSuccessLimit ({_int(m.get('consecutiveSuccessLimit'))}) not "
                      f"reached in {res.get('count', 0)} measurements")
        bucket = (lim_phase or phase).lower()
        if is_dry:
            worst = worst or "Successful"
            if reason:
                res["message"] = f"Metric assessed {phase} due to {reason}"
            dry_summary[bucket] += 1
            continue
        if not worst or WORSE.index(phase) > WORSE.index(worst):
            worst = phase
            if reason:
                message = f'Metric "{name}" assessed {phase} due to {reason}'
                if res.get("message"):
                    # Argo prefixes the provider's message so; its providers only write one
                    # for an Error measurement, turnout's also say why one Failed
                    error = res.get("lastPhase") == "Error"
                    message += f': "{"Error Message: " if error else ""}{res["message"]}"'
        summary[bucket] += 1
    if ending:
        return Assessment(worst or "Successful", message.strip(), summary, dry_summary)
    if not done or not worst:
        return Assessment("Running", "", summary, dry_summary)
    return Assessment(worst, message.strip(), summary, dry_summary)


def run_phase(metrics: list[Obj], results: dict[str, Obj], dry: set[str]) -> str:
    return assess(metrics, {k: dict(v) for k, v in results.items()}, dry, False).phase
