"""Argo `AnalysisRun` semantics: condition expressions and measurement bookkeeping.

Why this exists: an AnalysisRun measures each metric every `interval` up to `count` times and
decides from `successCondition` / `failureCondition` and the limits `failureLimit`,
`inconclusiveLimit` and `consecutiveErrorLimit` whether the run is Successful, Failed,
Inconclusive or Error. Those rules are pure and live here, with the entry points to Argo's
expression language (`result[0] >= 0.95 && len(result) > 0`, parsed and run by
`turnout.rollout.expr`); the providers and the controller that takes the measurements are
elsewhere.

Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from typing import Any

from turnout.rollout import expr as expr_lang
from turnout.rollout.flagger import seconds
from turnout.types import Obj

TERMINAL = ("Successful", "Failed", "Error", "Inconclusive")

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


def metric_phase(metric: Obj, res: Obj) -> str:
    """Phase of one metric from its counters (Argo's limits; limits count *exceeding*)."""
    failed, inconclusive = int(res.get("failed", 0)), int(res.get("inconclusive", 0))
    if failed > int(metric.get("failureLimit", 0) or 0):
        return "Failed"
    limit = metric.get("consecutiveErrorLimit")
    if int(res.get("consecutiveError", 0)) > (4 if limit is None else int(limit)):
        return "Error"
    if inconclusive > int(metric.get("inconclusiveLimit", 0) or 0):
        return "Inconclusive"
    count = metric.get("count")
    taken = int(res.get("count", 0))
    if count is not None and taken >= int(count):
        return "Successful"
    if count is None and not metric.get("interval") and taken >= 1:
        return "Successful"
    return "Running"


def run_phase(metrics: list[Obj], results: dict[str, Obj], dry: set[str]) -> str:
    phases = {m["name"]: metric_phase(m, results.get(m["name"], {})) for m in metrics}
    live = {n: p for n, p in phases.items() if n not in dry}
    if any(p in ("Failed", "Error") for p in live.values()):
        return "Failed" if "Failed" in live.values() else "Error"
    if all(p in TERMINAL for p in phases.values()):
        return "Inconclusive" if "Inconclusive" in live.values() else "Successful"
    return "Running"


def due(metric: Obj, res: Obj, started: float, now: float) -> bool:
    """Whether the next measurement of ``metric`` should be taken at ``now``."""
    if metric_phase(metric, res) != "Running":
        return False
    last = res.get("lastMeasuredAt")
    if last is None:
        return now >= started + seconds(metric.get("initialDelay"), 0.0)
    return now >= float(last) + seconds(metric.get("interval"), 0.0)


def record(res: Obj, phase: str, value: str, message: str, now: float, limit: int = 10) -> Obj:
    """``res`` with one more measurement."""
    out = dict(res)
    out["count"] = int(res.get("count", 0)) + 1
    key = {"Successful": "successful", "Failed": "failed", "Inconclusive": "inconclusive",
           "Error": "error"}[phase]
    out[key] = int(res.get(key, 0)) + 1
    out["consecutiveError"] = int(res.get("consecutiveError", 0)) + 1 if phase == "Error" else 0
    m: Obj = {"phase": phase, "value": value, "finishedAt": now}
    if message:
        m["message"] = message
    out["measurements"] = [*(res.get("measurements") or []), m][-limit:]
    out["lastMeasuredAt"] = now
    if message:
        out["message"] = message
    return out


def substitute(obj: Any, args: dict[str, str]) -> Any:
    """Replace `{{args.NAME}}` in every string of ``obj``."""
    if isinstance(obj, str):
        return re.sub(r"\{\{\s*args\.([\w-]+)\s*\}\}", lambda m: args.get(m.group(1), m.group(0)),
                      obj)
    if isinstance(obj, list):
        return [substitute(x, args) for x in obj]
    if isinstance(obj, dict):
        return {k: substitute(v, args) for k, v in obj.items()}
    return obj
