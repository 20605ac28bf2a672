"""One VirtualService HTTP rule → Envoy routes (Istio pilot semantics), for one virtual host.

Each match block becomes one Envoy route (blocks are OR, fields inside a block AND); a rule without
`match` is a catch-all. Blocks that cannot apply where this table is used (another `port`, another
gateway, `sourceLabels`/`sourceNamespace` of another workload) are dropped at translation time —
that is what a per-workload route table buys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from turnout.mesh.translate import delegate, naming, policy, units
from turnout.mesh.translate.registry import Registry
from turnout.types import Obj

FAULT_FILTER = "envoy.filters.http.fault"
FAULT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"
DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
REDIRECT_CODES = {301: "MOVED_PERMANENTLY", 302: "FOUND", 303: "SEE_OTHER",
                  307: "TEMPORARY_REDIRECT", 308: "PERMANENT_REDIRECT"}
MESH = "mesh"


@dataclass(frozen=True)
class RouteContext:
    """Where the routes are used: which port, which workload, which gateway ('mesh' = sidecar)."""

    port: int
    source_labels: Mapping[str, str]
    source_namespace: str
    gateway: str = MESH
    """`mesh` for sidecar tables, else `<namespace>/<gateway name>`."""


def qualified_gateway(g: str, namespace: str) -> str:
    """Istio's gateway reference forms: `mesh`, `ns/name`, `name` (the VirtualService's own
    namespace) and the older `name.ns.svc.<domain>` that Flagger's tutorials still use."""
    if g == MESH or "/" in g:
        return g
    parts = g.split(".")
    if len(parts) >= 3 and parts[2] == "svc":
        return f"{parts[1]}/{parts[0]}"
    return f"{namespace}/{g}"


def qualified_gateways(names: list[str], namespace: str) -> set[str]:
    return {qualified_gateway(g, namespace) for g in names}


def _string_match(m: Obj, ignore_case: bool = False) -> Obj | None:
    out: Obj
    if "exact" in m:
        out = {"exact": str(m["exact"])}
    elif "prefix" in m:
        out = {"prefix": str(m["prefix"])}
    elif "regex" in m:
        out = {"safe_regex": {"regex": str(m["regex"])}}
    else:
        return None
    if ignore_case and "safe_regex" not in out:
        out["ignore_case"] = True
    return out


def _header(name: str, m: Obj | None, invert: bool = False) -> Obj:
    sm = _string_match(m or {})
    h: Obj = {"name": name}
    if sm is None:
        h["present_match"] = True
    else:
        h["string_match"] = sm
    if invert:
        h["invert_match"] = True
        if sm is not None:
            h["treat_missing_header_as_empty"] = True
    return h


def match_block(block: Obj, vs_ns: str, vs_gateways: set[str], ctx: RouteContext) -> Obj | None:
    """Envoy RouteMatch for one Istio match block, or None when it cannot apply here."""
    if block.get("port") and int(block["port"]) != ctx.port:
        return None
    gws = (qualified_gateways(block["gateways"], vs_ns) if block.get("gateways") else vs_gateways)
    if ctx.gateway not in gws:
        return None
    src = block.get("sourceLabels") or {}
    if any(ctx.source_labels.get(k) != str(v) for k, v in src.items()):
        return None
    if block.get("sourceNamespace") and block["sourceNamespace"] != ctx.source_namespace:
        return None
    out: Obj = {}
    uri = block.get("uri") or {}
    if "exact" in uri:
        out["path"] = str(uri["exact"])
    elif "prefix" in uri:
        out["prefix"] = str(uri["prefix"])
    elif "regex" in uri:
        out["safe_regex"] = {"regex": str(uri["regex"])}
    else:
        out["prefix"] = "/"
    if block.get("ignoreUriCase"):
        out["case_sensitive"] = False
    headers = [_header(str(k).lower(), v) for k, v in (block.get("headers") or {}).items()]
    headers += [_header(str(k).lower(), v, invert=True)
                for k, v in (block.get("withoutHeaders") or {}).items()]
    for field, pseudo in (("method", ":method"), ("authority", ":authority"),
                          ("scheme", ":scheme")):
        if isinstance(block.get(field), dict) and block[field]:
            headers.append(_header(pseudo, block[field]))
    if headers:
        out["headers"] = headers
    qps = []
    for k, v in (block.get("queryParams") or {}).items():
        sm = _string_match(v or {})
        qps.append({"name": str(k), **({"string_match": sm} if sm else {"present_match": True})})
    if qps:
        out["query_parameters"] = qps
    return out


def destination_cluster(reg: Registry, dest: Obj, vs_ns: str, ctx_port: int) -> str:
    host = reg.qualify(str(dest.get("host") or ""), vs_ns)
    subset = str(dest.get("subset") or "")
    number = int((dest.get("port") or {}).get("number") or 0)
    if not number:
        svc = reg.services.get(host)
        if svc and svc.ports and (len(svc.ports) == 1 or svc.port(ctx_port) is None):
            number = svc.ports[0].port
        else:
            number = ctx_port
    return naming.cluster_name(number, subset, host)


def _header_ops(spec: Obj | None, prefix: str) -> Obj:
    out: Obj = {}
    if not spec:
        return out
    for direction in ("request", "response"):
        ops = spec.get(direction) or {}
        adds = [{"header": {"key": str(k), "value": str(v)},
                 "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
                for k, v in (ops.get("set") or {}).items()]
        adds += [{"header": {"key": str(k), "value": str(v)},
                  "append_action": "APPEND_IF_EXISTS_OR_ADD"}
                 for k, v in (ops.get("add") or {}).items()]
        if adds:
            out[f"{prefix}{direction}_headers_to_add"] = adds
        if ops.get("remove"):
            out[f"{prefix}{direction}_headers_to_remove"] = [str(h) for h in ops["remove"]]
    return out


def retry_policy(retries: Obj | None) -> Obj | None:
    """Istio's default (2 attempts) when absent; None when attempts is 0."""
    if retries is None:
        return {"retry_on": DEFAULT_RETRY_ON, "num_retries": 2, "retriable_status_codes": [503],
                "retry_host_predicate": [{
                    "name": "envoy.retry_host_predicates.previous_hosts",
                    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.host."
                                              "previous_hosts.v3.PreviousHostsPredicate"}}],
                "host_selection_retry_max_attempts": 5}
    attempts = int(retries.get("attempts") or 0)
    if attempts <= 0:
        return None
    on = [s.strip() for s in str(retries.get("retryOn") or DEFAULT_RETRY_ON).split(",")
          if s.strip()]
    codes = [int(s) for s in on if s.isdigit()]
    words = [s for s in on if not s.isdigit()]
    if codes and "retriable-status-codes" not in words:
        words.append("retriable-status-codes")
    out: Obj = {"retry_on": ",".join(words), "num_retries": attempts}
    if codes:
        out["retriable_status_codes"] = codes
    if retries.get("perTryTimeout"):
        out["per_try_timeout"] = units.duration(retries["perTryTimeout"])
    return out


def fault_config(fault: Obj | None) -> Obj | None:
    if not fault:
        return None
    out: Obj = {"@type": FAULT_TYPE}
    delay, abort = fault.get("delay"), fault.get("abort")
    if isinstance(delay, dict) and (delay.get("fixedDelay") or delay.get("fixed_delay")):
        pct = units.istio_percent(delay.get("percentage"))
        pct = float(delay.get("percent", 0)) if pct is None else pct
        out["delay"] = {"fixed_delay": units.duration(delay.get("fixedDelay")
                                                      or delay.get("fixed_delay")),
                        "percentage": units.fraction(pct)}
    if isinstance(abort, dict) and abort.get("httpStatus"):
        pct = units.istio_percent(abort.get("percentage"))
        pct = float(abort.get("percent", 0)) if pct is None else pct
        out["abort"] = {"http_status": int(abort["httpStatus"]),
                        "percentage": units.fraction(pct)}
    return out if len(out) > 1 else None


def _mirrors(reg: Registry, rule: Obj, vs_ns: str, port: int) -> list[Obj]:
    items: list[tuple[Obj, Obj | None]] = []
    if isinstance(rule.get("mirror"), dict):
        items.append((rule["mirror"], rule.get("mirrorPercentage")))
    for m in rule.get("mirrors") or []:
        if isinstance(m.get("destination"), dict):
            items.append((m["destination"], m.get("percentage")))
    out = []
    for dest, pct in items:
        value = units.istio_percent(pct)
        out.append({"cluster": destination_cluster(reg, dest, vs_ns, port),
                    "runtime_fraction": {"default_value": units.fraction(
                        100.0 if value is None else value)}})
    return out


def route_action(reg: Registry, rule: Obj, vs_ns: str, ctx: RouteContext) -> Obj:
    """The action part of an Envoy Route: route / redirect / direct_response, plus decorations."""
    out: Obj = {}
    if isinstance(rule.get("redirect"), dict):
        r = rule["redirect"]
        red: Obj = {"response_code": REDIRECT_CODES.get(int(r.get("redirectCode") or 301),
                                                        "MOVED_PERMANENTLY")}
        if r.get("uri"):
            red["path_redirect"] = str(r["uri"])
        if r.get("authority"):
            red["host_redirect"] = str(r["authority"])
        if r.get("port"):
            red["port_redirect"] = int(r["port"])
        if r.get("scheme"):
            red["scheme_redirect"] = str(r["scheme"])
        out["redirect"] = red
    elif isinstance(rule.get("directResponse"), dict):
        d = rule["directResponse"]
        dr: Obj = {"status": int(d.get("status") or 200)}
        body = d.get("body") or {}
        if "string" in body:
            dr["body"] = {"inline_string": str(body["string"])}
        out["direct_response"] = dr
    else:
        out["route"] = _forward(reg, rule, vs_ns, ctx)
    out.update(_header_ops(rule.get("headers"), ""))
    fault = fault_config(rule.get("fault"))
    if fault:
        out["typed_per_filter_config"] = {FAULT_FILTER: fault}
    return out


def _forward(reg: Registry, rule: Obj, vs_ns: str, ctx: RouteContext) -> Obj:
    dests = [d for d in rule.get("route") or [] if isinstance(d.get("destination"), dict)]
    entries = []
    for d in dests:
        weight = int(d.get("weight", 0 if len(dests) > 1 else 100) or 0)
        if len(dests) > 1 and weight == 0:
            continue
        entry: Obj = {"name": destination_cluster(reg, d["destination"], vs_ns, ctx.port),
                      "weight": max(weight, 1) if len(dests) == 1 else weight}
        entry.update(_header_ops(d.get("headers"), ""))
        entries.append(entry)
    action: Obj = {"timeout": units.duration(rule["timeout"]) if rule.get("timeout") else "0s"}
    if len(entries) == 1:
        only = entries[0]
        action["cluster"] = only.pop("name")
        only.pop("weight")
        extra = only
    else:
        action["weighted_clusters"] = {"clusters": entries}
        extra = {}
    retry = retry_policy(rule.get("retries"))
    if retry:
        action["retry_policy"] = retry
    mirrors = _mirrors(reg, rule, vs_ns, ctx.port)
    if mirrors:
        action["request_mirror_policies"] = mirrors
    rw = rule.get("rewrite") or {}
    if rw.get("uri") is not None and "uri" in rw:
        action["prefix_rewrite"] = str(rw["uri"])
    if isinstance(rw.get("uriRegexRewrite"), dict):
        action["regex_rewrite"] = {"pattern": {"regex": str(rw["uriRegexRewrite"].get("match"))},
                                   "substitution": str(rw["uriRegexRewrite"].get("rewrite", ""))}
    if rw.get("authority"):
        action["host_rewrite_literal"] = str(rw["authority"])
    if dests:
        first = dests[0]["destination"]
        host = reg.qualify(str(first.get("host") or ""), vs_ns)
        cluster = destination_cluster(reg, first, vs_ns, ctx.port)
        hp = policy.hash_policy(policy.effective(reg.destination_rule(host),
                                                 str(first.get("subset") or ""),
                                                 int(cluster.split("|")[1])))
        if hp:
            action["hash_policy"] = hp
    # Destination-level header ops of a single destination move to the route itself.
    action["_route_level"] = extra
    return action


def vs_routes(reg: Registry, vs: Obj, ctx: RouteContext) -> list[Obj]:
    """Envoy routes for every HTTP rule of a VirtualService that applies in `ctx`, in order."""
    from turnout.mesh import snapshot as sn

    ns, name = sn.namespace_of(vs), sn.name_of(vs)
    spec = vs.get("spec") or {}
    vs_gateways = qualified_gateways(list(spec.get("gateways") or [MESH]), ns)
    out: list[Obj] = []
    for i, rule in enumerate(spec.get("http") or []):
        if isinstance(rule.get("delegate"), dict):
            target = delegate.find(reg.snap.virtual_services, rule["delegate"], ns)
            if target is None:
                continue  # Istio leaves the rule out until the delegate exists
            for j, merged in enumerate(delegate.expand(rule, target)):
                out += _rule_routes(reg, merged, ns, vs_gateways, ctx,
                                    f"{naming.vs_route_name(ns, name, i)}/{j}",
                                    sn.namespace_of(target))
            continue
        out += _rule_routes(reg, rule, ns, vs_gateways, ctx, naming.vs_route_name(ns, name, i),
                            ns)
    return out


def _rule_routes(reg: Registry, rule: Obj, ns: str, vs_gateways: set[str], ctx: RouteContext,
                 route_name: str, dest_ns: str) -> list[Obj]:
    blocks = rule.get("match") or [{}]
    matches = [m for m in (match_block(b, ns, vs_gateways, ctx) for b in blocks)
               if m is not None]
    if not matches:
        return []
    action = route_action(reg, rule, dest_ns, ctx)
    route_part = action.get("route")
    if isinstance(route_part, dict):
        action.update(route_part.pop("_route_level", {}))
    return [{"name": route_name, "match": m, **action} for m in matches]
