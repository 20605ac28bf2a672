"""Argo `AnalysisRun` semantics: condition expressions and measurement bookkeeping.

Why this exists: an AnalysisRun measures each metric every `interval` up to `count` times and
decides from `successCondition` / `failureCondition` and the limits `failureLimit`,
`inconclusiveLimit` and `consecutiveErrorLimit` whether the run is Successful, Failed,
Inconclusive or Error. Those rules, and a safe evaluator for Argo's expressions
(`result[0] >= 0.95 && len(result) > 0`), are pure and live here; the providers and the
controller that takes the measurements are elsewhere.

Pure: no I/O.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from typing import Any

from turnout.rollout.flagger import seconds
from turnout.types import Obj

TERMINAL = ("Successful", "Failed", "Error", "Inconclusive")

_FUNCS: dict[str, Callable[..., Any]] = {
    "len": len, "isNaN": lambda x: isinstance(x, float) and math.isnan(x),
    "isInf": lambda x: isinstance(x, float) and math.isinf(x), "all": all, "any": any,
    "float": float, "int": int, "abs": abs, "min": min, "max": max, "asFloat": float,
    "asInt": int, "default": lambda x, d: d if x is None else x,
}
_ALLOWED = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
            ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
            ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.Subscript, ast.Name,
            ast.Load, ast.Constant, ast.Call, ast.Attribute, ast.List, ast.Tuple, ast.Slice)


def _translate(expr: str) -> str:
    out = expr.replace("&&", " and ").replace("||", " or ")
    out = re.sub(r"!(?!=)", " not ", out)
    out = re.sub(r"\btrue\b", "True", out)
    out = re.sub(r"\bfalse\b", "False", out)
    out = re.sub(r"\bnil\b", "None", out)
    return out


def evaluate(expr: str, result: Any) -> bool:
    """Evaluate an Argo condition against ``result``; raises ValueError on a bad expression."""
    try:
        tree = ast.parse(_translate(expr).strip(), mode="eval")
    except SyntaxError as e:
        raise ValueError(f"invalid expression {expr!r}: {e.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ValueError(f"invalid expression {expr!r}: {type(node).__name__} not allowed")
        if isinstance(node, ast.Name) and node.id not in ("result", *_FUNCS, "True", "False",
                                                         "None"):
            raise ValueError(f"invalid expression {expr!r}: unknown name {node.id!r}")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ValueError(f"invalid expression {expr!r}")
    env = {"result": result, **_FUNCS, "__builtins__": {}}
    try:
        return bool(eval(compile(tree, "<condition>", "eval"), env))
    except Exception as e:
        raise ValueError(f"expression {expr!r} failed on {result!r}: {e}") from None


def judge(metric: Obj, result: Any) -> str:
    """The phase of one measurement with value ``result``."""
    ok, bad = metric.get("successCondition"), metric.get("failureCondition")
    if bad and evaluate(bad, result):
        return "Failed"
    if ok:
        return "Successful" if evaluate(ok, result) else "Failed"
    if bad:
        return "Successful"
    return "Successful"


def metric_phase(metric: Obj, res: Obj) -> str:
    """Phase of one metric from its counters (Argo's limits; limits count *exceeding*)."""
    failed, inconclusive = int(res.get("failed", 0)), int(res.get("inconclusive", 0))
    if failed > int(metric.get("failureLimit", 0) or 0):
        return "Failed"
    if int(res.get("consecutiveError", 0)) > int(metric.get("consecutiveErrorLimit", 4) or 4):
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
