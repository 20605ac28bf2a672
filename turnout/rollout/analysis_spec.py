"""The types of an AnalysisTemplate's or AnalysisRun's metrics, checked as the Argo CRDs' schema
would have the API server check them.

Why this exists: turnout serves Argo's kinds without their CRDs too, and then nothing stopped
`failureLimit: [1]` (read as 0), `interval: 5` (Argo wants a duration string), a misspelt
provider (`prometheus2`, an Error five times over before it said so) or `maxLatencyIncrease:
"ten percent"` (an Error only once the canary had traffic, without naming the field). These
checks run where a Rollout checks the templates it references (its `InvalidSpec` condition) and
where an AnalysisRun starts (phase Error, `Analysis spec invalid: ...`), and name the field:
`spec.metrics[0].failureLimit: Invalid value: [1]: must be an integer or a string`.

`count`, `failureLimit`, `inconclusiveLimit`, `consecutiveErrorLimit` and
`consecutiveSuccessLimit` are Kubernetes int-or-strings: an integer, or a string that is one
once `{{args.x}}` is resolved. Before resolution (``resolved=False``) a string holding a
placeholder is left for the run to check.

Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from turnout.analysis import Thresholds
from turnout.rollout.flagger import seconds
from turnout.types import JSON, Obj

INT_OR_STRING = ("count", "failureLimit", "inconclusiveLimit", "consecutiveErrorLimit",
                 "consecutiveSuccessLimit")
DURATIONS = ("interval", "initialDelay")
STRINGS = ("name", "successCondition", "failureCondition")
PROVIDERS = ("prometheus", "web", "job", "turnout")
"""The metric providers turnout runs (turnout/rollout/providers.py, job_provider.py); callers
that hold the provider registry pass its names instead."""
PROVIDER_FIELDS: dict[str, dict[str, str]] = {
    "prometheus": {"address": "string", "query": "string", "timeout": "integer"},
    "web": {"url": "string", "method": "string", "body": "string", "jsonPath": "string",
            "timeoutSeconds": "integer", "insecure": "boolean", "headers": "array"},
    "job": {"spec": "object", "metadata": "object"},
    "turnout": {"maxLatencyIncrease": "number", "minLatencyIncreaseMs": "number",
                "maxErrorRateIncrease": "number", "alpha": "number", "minSamples": "integer",
                "promoteOn": "string", "budgetEffect": "number", "budgetPower": "number",
                "latencyQuantiles": "array", "namespace": "string", "workload": "string",
                "service": "string",
                "stableRevision": "string", "canaryRevision": "string",
                "stableVersion": "string", "canaryVersion": "string"},
}
"""The typed fields of each provider; turnout's own provider allows no others."""
_STRICT = ("turnout",)


def _invalid(path: str, value: JSON, why: str) -> str:
    return f"{path}: Invalid value: {json.dumps(value, ensure_ascii=False)}: {why}"


def _placeholder(value: JSON, resolved: bool) -> bool:
    return not resolved and isinstance(value, str) and "{{" in value


def _is_int(v: JSON) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int_text(v: str) -> bool:
    try:
        int(v.strip())
    except ValueError:
        return False
    return True


def _number(v: JSON) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int | float):
        return True
    if not isinstance(v, str):
        return False
    try:
        float(v)
    except ValueError:
        return False
    return True


def _typed(path: str, v: JSON, want: str, resolved: bool) -> str:
    """The problem with ``v`` for a field of type ``want``; "" when it fits."""
    if v is None or _placeholder(v, resolved):
        return ""
    ok = {"string": isinstance(v, str), "boolean": isinstance(v, bool),
          "object": isinstance(v, dict), "array": isinstance(v, list),
          "integer": _is_int(v) or (isinstance(v, str) and _int_text(v)),
          "number": _number(v)}[want]
    article = "an" if want[0] in "aeiou" else "a"
    return "" if ok else _invalid(path, v, f"must be {article} {want}")


def metric_problems(metric: JSON, path: str, resolved: bool = True,
                    providers: Collection[str] = PROVIDERS) -> list[str]:
    """Every wrongly typed field of one metric at ``path`` (`spec.metrics[0]`), and a provider
    not among ``providers``."""
    if not isinstance(metric, dict):
        return [_invalid(path, metric, "must be an object")]
    out: list[str] = []
    for key in INT_OR_STRING:
        v = metric.get(key)
        if v is None or _is_int(v) or _placeholder(v, resolved):
            continue
        if not isinstance(v, str):
            out.append(_invalid(f"{path}.{key}", v, "must be an integer or a string"))
        elif not _int_text(v):
            out.append(_invalid(f"{path}.{key}", v, "must be an integer, or a string that "
                                                    "resolves to one"))
    for key in DURATIONS:
        v = metric.get(key)
        if v is None or _placeholder(v, resolved):
            continue
        try:
            if not isinstance(v, str):
                raise ValueError
            seconds(v, 0.0)
        except ValueError:
            out.append(_invalid(f"{path}.{key}", v, 'must be a duration string such as "30s", '
                                                    '"5m" or "1h30m"'))
    out += [p for key in STRINGS if (p := _typed(f"{path}.{key}", metric.get(key), "string",
                                                  resolved))]
    return out + _provider(metric.get("provider"), f"{path}.provider", resolved, providers)


def _provider(provider: JSON, path: str, resolved: bool, known: Collection[str]) -> list[str]:
    if provider is None:
        return []  # "no provider specified" is validate_metric's
    if not isinstance(provider, dict):
        return [_invalid(path, provider, "must be an object")]
    out: list[str] = []
    for name, cfg in provider.items():
        if name not in known:
            out.append(f"{path}: Unsupported value: {json.dumps(name)}: supported values: "
                       + ", ".join(f'"{p}"' for p in known))
            continue
        if cfg is None:
            continue
        if not isinstance(cfg, dict):
            out.append(_invalid(f"{path}.{name}", cfg, "must be an object"))
            continue
        fields = PROVIDER_FIELDS.get(name) or {}
        typed = len(out)
        for key, v in cfg.items():
            if key in fields:
                p = _typed(f"{path}.{name}.{key}", v, fields[key], resolved)
                if p:
                    out.append(p)
            elif name in _STRICT:
                out.append(f"{path}.{name}.{key}: Unsupported value: {json.dumps(key)}: "
                           "supported values: " + ", ".join(f'"{f}"' for f in fields))
        if name == "turnout" and len(out) == typed and not any(
                _placeholder(v, resolved) for v in cfg.values()):
            try:
                turnout_thresholds(cfg)
            except ValueError as e:
                out.append(threshold_problem(f"{path}.{name}", cfg, e))
    return out


_FIELD_OF = {"max_latency_increase": "maxLatencyIncrease",
             "min_latency_increase_ms": "minLatencyIncreaseMs",
             "max_error_rate_increase": "maxErrorRateIncrease", "alpha": "alpha",
             "min_samples": "minSamples", "promote_on": "promoteOn",
             "budget_effect": "budgetEffect", "budget_power": "budgetPower",
             "latency_quantiles": "latencyQuantiles", "latency limits": "maxLatencyIncrease"}


def threshold_problem(path: str, cfg: Obj, e: ValueError) -> str:
    """A Thresholds error as a field error of the provider: `...turnout.alpha: Invalid value`."""
    text = str(e)
    head, _, why = text.partition(": ")
    key = _FIELD_OF.get(head.split(" must")[0].strip())
    if key is None:
        return f"{path}: Invalid value: {text}"
    if head == "latency limits must be >= 0":
        key = "maxLatencyIncrease" if float(cfg.get("maxLatencyIncrease", 0)) < 0 \
            else "minLatencyIncreaseMs"
        why = "must be >= 0"
    return _invalid(f"{path}.{key}", cfg.get(key), why or text)


def turnout_thresholds(cfg: Obj) -> Thresholds:
    """The turnout provider's settings as Thresholds; ValueError (Thresholds' words) when a
    value is out of range."""
    quantiles = cfg.get("latencyQuantiles") or []
    if not isinstance(quantiles, list) or not all(_number(q) for q in quantiles):
        raise ValueError("latency_quantiles: must be a list of numbers in (0, 1)")
    try:
        return Thresholds(
            max_latency_increase=float(cfg.get("maxLatencyIncrease", 0.10)),
            min_latency_increase_ms=float(cfg.get("minLatencyIncreaseMs", 0.0)),
            max_error_rate_increase=float(cfg.get("maxErrorRateIncrease", 0.005)),
            alpha=float(cfg.get("alpha", 0.01)),
            min_samples=int(cfg.get("minSamples", 20)),
            promote_on=str(cfg.get("promoteOn", "evidence")),
            budget_effect=float(cfg.get("budgetEffect", 2.0)),
            budget_power=float(cfg.get("budgetPower", 0.95)),
            latency_quantiles=tuple(float(q) for q in quantiles))
    except TypeError as e:
        raise ValueError(str(e)) from e


def template_problems(template: Obj, providers: Collection[str] = PROVIDERS) -> list[str]:
    """Every wrongly typed metric field of an (Cluster)AnalysisTemplate, each prefixed with the
    template's kind and name: `AnalysisTemplate "ads": spec.metrics[0].interval: ...`."""
    kind = str(template.get("kind") or "AnalysisTemplate")
    name = str((template.get("metadata") or {}).get("name", ""))
    metrics = (template.get("spec") or {}).get("metrics") or []
    if not isinstance(metrics, list):
        return [f'{kind} "{name}": ' + _invalid("spec.metrics", metrics, "must be an array")]
    return [f'{kind} "{name}": {p}' for i, m in enumerate(metrics)
            for p in metric_problems(m, f"spec.metrics[{i}]", False, providers)]
