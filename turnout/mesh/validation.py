"""Admission validation of VirtualService and DestinationRule, like Istio's webhook (pure).

Returns `Cause`s with field paths (`spec.http[0].route[1].weight`) so the API can answer 422 Invalid
exactly where the mistake is. Messages follow Istio's wording where users know it.
"""

from __future__ import annotations

from turnout.kube.errors import Cause
from turnout.mesh import regex
from turnout.mesh.translate import units
from turnout.types import Obj

REDIRECT_CODES = {301, 302, 303, 307, 308}
SIMPLE_LB = {"UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"}
STRING_MATCH_KEYS = ("exact", "prefix", "regex")


def _bad(path: str, msg: str, reason: str = "FieldValueInvalid") -> Cause:
    return Cause(field=path, message=msg, reason=reason)


def _string_match(m: object, path: str, out: list[Cause]) -> None:
    if not isinstance(m, dict):
        out.append(_bad(path, "must be an object with exact, prefix or regex"))
        return
    keys = [k for k in STRING_MATCH_KEYS if k in m]
    if len(keys) > 1:
        out.append(_bad(path, "only one of exact, prefix or regex may be set"))
    if "regex" in m:
        err = regex.error(str(m["regex"]))
        if err:
            out.append(_bad(f"{path}.regex", f'"{m["regex"]}": {err}'))


def _duration(value: object, path: str, out: list[Cause]) -> None:
    if not units.is_duration(value):
        out.append(_bad(path, f'invalid duration "{value}"'))


def _percent(pct: object, path: str, out: list[Cause]) -> None:
    if pct is None:
        return
    value = pct.get("value") if isinstance(pct, dict) else None
    try:
        ok = value is not None and 0.0 <= float(value) <= 100.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        out.append(_bad(f"{path}.value", "percentage must be in range 0..100"))


def _destination(d: object, path: str, out: list[Cause]) -> None:
    if not isinstance(d, dict) or not d.get("host"):
        out.append(_bad(f"{path}.host", "destination.host is required", "FieldValueRequired"))
        return
    port = (d.get("port") or {}).get("number")
    if port is not None and not (isinstance(port, int) and 0 < port <= 65535):
        out.append(_bad(f"{path}.port.number", f"port number {port} must be in 1..65535"))


def _match(m: Obj, path: str, out: list[Cause]) -> None:
    for key in ("uri", "scheme", "method", "authority"):
        if key in m:
            _string_match(m[key], f"{path}.{key}", out)
    if m.get("ignoreUriCase") and "regex" in (m.get("uri") or {}):
        out.append(_bad(f"{path}.ignoreUriCase", "ignoreUriCase applies to exact and prefix "
                                                  "only"))
    for key in ("headers", "withoutHeaders", "queryParams"):
        for name, hm in (m.get(key) or {}).items():
            if key != "queryParams" and name != name.lower():
                out.append(_bad(f"{path}.{key}.{name}", "header name must be lowercase"))
            if hm:
                _string_match(hm, f"{path}.{key}.{name}", out)


def _delegate(rule: Obj, path: str, is_delegate: bool, out: list[Cause]) -> None:
    """A root rule handing its traffic to a delegate VirtualService (Istio's rules)."""
    ref = rule["delegate"]
    if is_delegate:
        out.append(_bad(f"{path}.delegate", "http delegate only applies to root virtual service"))
    if not isinstance(ref, dict) or not ref.get("name"):
        out.append(_bad(f"{path}.delegate.name", "delegate name can not be empty",
                        "FieldValueRequired"))
    for key in ("route", "redirect", "directResponse"):
        if rule.get(key):
            out.append(_bad(path, f"HTTP {key} and delegate can not exist at the same time"))
    for i, m in enumerate(rule.get("match") or []):
        _match(m, f"{path}.match[{i}]", out)


def _http_route(rule: Obj, path: str, out: list[Cause], is_delegate: bool = False) -> None:
    if "delegate" in rule:
        _delegate(rule, path, is_delegate, out)
        return
    route, redirect, direct = rule.get("route"), rule.get("redirect"), rule.get("directResponse")
    if not route and not redirect and not direct:
        out.append(_bad(path, "HTTP route, redirect or direct_response is required",
                        "FieldValueRequired"))
    if route and redirect:
        out.append(_bad(path, "HTTP route cannot contain both route and redirect"))
    if route and direct:
        out.append(_bad(path, "HTTP route cannot contain both route and direct_response"))
    if redirect and direct:
        out.append(_bad(path, "HTTP route cannot contain both redirect and direct_response"))
    if redirect and rule.get("rewrite"):
        out.append(_bad(path, "HTTP route rule cannot contain both rewrite and redirect"))
    for i, m in enumerate(rule.get("match") or []):
        _match(m, f"{path}.match[{i}]", out)
    dests = list(route or [])
    total = 0
    for j, d in enumerate(dests):
        _destination(d.get("destination"), f"{path}.route[{j}].destination", out)
        weight = d.get("weight", 0)
        if not isinstance(weight, int) or isinstance(weight, bool):
            # what the CRD's schema answers (type: integer); Istio's own check is only "< 0"
            out.append(_bad(f"{path}.route[{j}].weight", "must be an integer"))
        elif weight < 0:
            out.append(_bad(f"{path}.route[{j}].weight", f"weight {weight} < 0"))
        else:
            total += weight
    if len(dests) > 1 and total == 0 and not any(
            c.field.startswith(f"{path}.route[") and c.field.endswith(".weight") for c in out):
        out.append(_bad(f"{path}.route", "total destination weight = 0"))
    if isinstance(redirect, dict) and redirect.get("redirectCode") is not None \
            and redirect["redirectCode"] not in REDIRECT_CODES:
        out.append(_bad(f"{path}.redirect.redirectCode",
                        f"{redirect['redirectCode']} is not a redirect code"))
    if isinstance(direct, dict):
        status = direct.get("status")
        if not isinstance(status, int) or not 200 <= status <= 599:
            out.append(_bad(f"{path}.directResponse.status", "status must be in 200..599"))
    if rule.get("timeout") is not None:
        _duration(rule["timeout"], f"{path}.timeout", out)
    retries = rule.get("retries")
    if isinstance(retries, dict):
        attempts = retries.get("attempts") or 0
        if not isinstance(attempts, int) or isinstance(attempts, bool):
            out.append(_bad(f"{path}.retries.attempts", "must be an integer"))
        elif attempts < 0:
            out.append(_bad(f"{path}.retries.attempts", "attempts cannot be negative"))
        if retries.get("perTryTimeout") is not None:
            _duration(retries["perTryTimeout"], f"{path}.retries.perTryTimeout", out)
    fault = rule.get("fault") or {}
    if isinstance(fault.get("delay"), dict):
        d = fault["delay"]
        if not d.get("fixedDelay"):
            out.append(_bad(f"{path}.fault.delay.fixedDelay", "delay duration is required",
                            "FieldValueRequired"))
        else:
            _duration(d["fixedDelay"], f"{path}.fault.delay.fixedDelay", out)
        _percent(d.get("percentage"), f"{path}.fault.delay.percentage", out)
    if isinstance(fault.get("abort"), dict):
        a = fault["abort"]
        status = a.get("httpStatus")
        if "grpcStatus" not in a and (not isinstance(status, int) or not 200 <= status <= 599):
            out.append(_bad(f"{path}.fault.abort.httpStatus", "httpStatus must be in 200..599"))
        _percent(a.get("percentage"), f"{path}.fault.abort.percentage", out)
    if rule.get("mirror") is not None:
        _destination(rule["mirror"], f"{path}.mirror", out)
    _percent(rule.get("mirrorPercentage"), f"{path}.mirrorPercentage", out)
    rw = rule.get("rewrite") or {}
    if isinstance(rw.get("uriRegexRewrite"), dict):
        err = regex.error(str(rw["uriRegexRewrite"].get("match") or ""))
        if err:
            out.append(_bad(f"{path}.rewrite.uriRegexRewrite.match", err))


def validate_virtual_service(obj: Obj) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [_bad("spec", "spec is required", "FieldValueRequired")]
    out: list[Cause] = []
    hosts = spec.get("hosts") or []
    # no hosts = a delegate VirtualService (Istio ≥ 1.6), used only through a root's `delegate`
    is_delegate = not hosts
    if is_delegate:
        for key in ("gateways", "tcp", "tls"):
            if spec.get(key):
                what = "gateways" if key == "gateways" else f"{key} route"
                out.append(_bad(f"spec.{key}",
                                f"delegate virtual service must have no {what} specified"))
    for i, h in enumerate(hosts):
        if not isinstance(h, str) or not h or " " in h:
            out.append(_bad(f"spec.hosts[{i}]", f'invalid host "{h}"'))
    for i, rule in enumerate(spec.get("http") or []):
        if not isinstance(rule, dict):
            out.append(_bad(f"spec.http[{i}]", "must be an object"))
            continue
        _http_route(rule, f"spec.http[{i}]", out, is_delegate)
    if not (spec.get("http") or spec.get("tcp") or spec.get("tls")):
        out.append(_bad("spec", "http, tcp or tls must be provided in virtual service",
                        "FieldValueRequired"))
    return out


def _traffic_policy(tp: object, path: str, out: list[Cause]) -> None:
    if not isinstance(tp, dict):
        return
    lb = tp.get("loadBalancer") or {}
    if not isinstance(lb, dict):
        out.append(_bad(f"{path}.loadBalancer", "must be an object such as {simple: "
                                                "ROUND_ROBIN}"))
        lb = {}
    if "simple" in lb and "consistentHash" in lb:
        out.append(_bad(f"{path}.loadBalancer", "only one of simple or consistentHash may be "
                                                "set"))
    if "simple" in lb and str(lb["simple"]) not in SIMPLE_LB:
        out.append(_bad(f"{path}.loadBalancer.simple", f'unknown load balancer "{lb["simple"]}"',
                        "FieldValueNotSupported"))
    ch = lb.get("consistentHash")
    if isinstance(ch, dict):
        keys = [k for k in ("httpHeaderName", "httpCookie", "useSourceIp",
                            "httpQueryParameterName") if ch.get(k)]
        if len(keys) != 1:
            out.append(_bad(f"{path}.loadBalancer.consistentHash",
                            "exactly one of httpHeaderName, httpCookie, useSourceIp or "
                            "httpQueryParameterName is required"))
    od = tp.get("outlierDetection")
    if isinstance(od, dict):
        for key in ("interval", "baseEjectionTime"):
            if key in od:
                _duration(od[key], f"{path}.outlierDetection.{key}", out)
        for key in ("maxEjectionPercent", "minHealthPercent"):
            if key in od and not (isinstance(od[key], int) and 0 <= od[key] <= 100):
                out.append(_bad(f"{path}.outlierDetection.{key}", f"{key} must be in 0..100"))
        for key in ("consecutive5xxErrors", "consecutiveGatewayErrors", "consecutiveErrors"):
            if key in od and (not isinstance(od[key], int) or od[key] < 0):
                out.append(_bad(f"{path}.outlierDetection.{key}", f"{key} cannot be negative"))
    pool = tp.get("connectionPool") or {}
    for section in ("tcp", "http"):
        for key, value in (pool.get(section) or {}).items():
            p = f"{path}.connectionPool.{section}.{key}"
            if key in ("connectTimeout", "idleTimeout"):
                _duration(value, p, out)
            elif isinstance(value, int) and value < 0:
                out.append(_bad(p, f"{key} cannot be negative"))
    for i, pls in enumerate(tp.get("portLevelSettings") or []):
        if not (pls.get("port") or {}).get("number"):
            out.append(_bad(f"{path}.portLevelSettings[{i}].port", "port number is required",
                            "FieldValueRequired"))
        _traffic_policy(pls, f"{path}.portLevelSettings[{i}]", out)


def validate_destination_rule(obj: Obj) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [_bad("spec", "spec is required", "FieldValueRequired")]
    out: list[Cause] = []
    if not spec.get("host"):
        out.append(_bad("spec.host", "host is required", "FieldValueRequired"))
    _traffic_policy(spec.get("trafficPolicy"), "spec.trafficPolicy", out)
    seen: set[str] = set()
    for i, s in enumerate(spec.get("subsets") or []):
        name = s.get("name") if isinstance(s, dict) else None
        if not name:
            out.append(_bad(f"spec.subsets[{i}].name", "subset name is required",
                            "FieldValueRequired"))
            continue
        if name in seen:
            out.append(_bad(f"spec.subsets[{i}].name", f"duplicate subset names: {name}",
                            "FieldValueDuplicate"))
        seen.add(name)
        if not isinstance(s.get("labels") or {}, dict):
            out.append(_bad(f"spec.subsets[{i}].labels", "labels must be a map"))
        _traffic_policy(s.get("trafficPolicy"), f"spec.subsets[{i}].trafficPolicy", out)
    return out
