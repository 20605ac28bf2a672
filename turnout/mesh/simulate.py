"""Send a request through a generated Envoy config without Envoy (Istio pilot's simulation style).

Pure. Follows Envoy's own order: listener by address → route table (by RDS name) → virtual host by
domain (exact, then `*.suffix`, then `prefix.*`, then `*`) → first route whose match holds → action
(cluster, weighted clusters, redirect, direct response, fault abort). Tests use it to assert the
cluster a request lands on; `explain` uses it to tell users why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from turnout.mesh import regex
from turnout.mesh.translate import EnvoyConfig
from turnout.mesh.translate.httproute import FAULT_FILTER
from turnout.types import Obj


@dataclass(frozen=True)
class Request:
    authority: str
    path: str = "/"
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Destination:
    cluster: str
    probability: float
    exists: bool
    endpoints: tuple[str, ...]
    """`ip:port (hostname)` of each endpoint."""


@dataclass(frozen=True)
class Outcome:
    listener: str | None
    route_config: str | None
    virtual_host: str | None
    route_name: str | None
    route: Obj | None
    destinations: tuple[Destination, ...]
    status: int | None
    """Status Envoy answers itself (404 NR, 503 NC/UH, redirect, direct response), else None."""
    flags: str
    fault_abort: tuple[int, float] | None
    """(status, probability) of an injected abort."""
    skipped: tuple[tuple[str, str], ...]
    """Routes tried before the match: (route name, why it did not match)."""


def find_listener(config: EnvoyConfig, ip: str, port: int) -> Obj | None:
    for lis in config.listeners.values():
        sa = lis["address"]["socket_address"]
        if sa["address"] == ip and int(sa["port_value"]) == port:
            return lis
    return None


def _route_config_name(lis: Obj) -> str | None:
    for fc in lis.get("filter_chains", []):
        for f in fc.get("filters", []):
            cfg = f.get("typed_config", {})
            if cfg.get("rds"):
                return str(cfg["rds"]["route_config_name"])
            if cfg.get("route_config"):
                return str(cfg["route_config"]["name"])
    return None


def _inline_table(lis: Obj) -> Obj | None:
    for fc in lis.get("filter_chains", []):
        for f in fc.get("filters", []):
            table = f.get("typed_config", {}).get("route_config")
            if table:
                return dict(table)
    return None


def select_vhost(table: Obj, authority: str) -> Obj | None:
    host = authority.lower()
    if table.get("ignore_port_in_host_matching") and ":" in host:
        host = host.rsplit(":", 1)[0]
    vhosts: list[Obj] = list(table.get("virtual_hosts", []))
    for vh in vhosts:
        if host in vh.get("domains", []):
            return vh
    best: tuple[int, Obj] | None = None
    for vh in vhosts:
        for d in vh.get("domains", []):
            suffix = d.startswith("*") and d != "*" and host.endswith(d[1:])
            if suffix and len(host) >= len(d) and (best is None or len(d) > best[0]):
                best = (len(d), vh)
    if best:
        return best[1]
    for vh in vhosts:
        for d in vh.get("domains", []):
            if d.endswith("*") and d != "*" and host.startswith(d[:-1]):
                return vh
    return next((vh for vh in vhosts if "*" in vh.get("domains", [])), None)


def _string_match(sm: Obj, value: str) -> bool:
    if sm.get("ignore_case"):
        value = value.lower()
        sm = {k: (v.lower() if isinstance(v, str) else v) for k, v in sm.items()}
    if "exact" in sm:
        return value == str(sm["exact"])
    if "prefix" in sm:
        return value.startswith(str(sm["prefix"]))
    if "suffix" in sm:
        return value.endswith(str(sm["suffix"]))
    if "contains" in sm:
        return str(sm["contains"]) in value
    if "safe_regex" in sm:
        return regex.fullmatch(str(sm["safe_regex"]["regex"]), value)
    return False


def _header_ok(hm: Obj, headers: Mapping[str, str]) -> bool:
    """Envoy HeaderMatcher semantics, including absent headers and invert_match."""
    value = headers.get(hm["name"])
    if value is None and hm.get("treat_missing_header_as_empty"):
        value = ""
    invert = bool(hm.get("invert_match"))
    if "present_match" in hm:
        return ((value is not None) == bool(hm["present_match"])) != invert
    if value is None:
        return False
    return _string_match(hm.get("string_match", {}), value) != invert


def route_matches(match: Obj, req: Request) -> tuple[bool, str]:
    """Whether an Envoy RouteMatch holds for `req`, and if not, the first reason why."""
    path, _, query = req.path.partition("?")
    cs = match.get("case_sensitive", True)
    p = path if cs else path.lower()

    def norm(s: str) -> str:
        return s if cs else s.lower()

    if "prefix" in match and not p.startswith(norm(match["prefix"])):
        return False, f"path {path} does not start with {match['prefix']}"
    if "path" in match and p != norm(match["path"]):
        return False, f"path {path} is not {match['path']}"
    if "safe_regex" in match and not regex.fullmatch(match["safe_regex"]["regex"], path):
        return False, f"path {path} does not match regex {match['safe_regex']['regex']}"
    if "path_separated_prefix" in match:
        pre = match["path_separated_prefix"]
        if not (path == pre or path.startswith(pre + "/")):
            return False, f"path {path} is not under {pre}"
    headers = {k.lower(): v for k, v in req.headers.items()}
    headers[":method"] = req.method.upper()
    headers[":authority"] = req.authority
    headers[":path"] = req.path
    headers.setdefault(":scheme", "http")
    for hm in match.get("headers", []):
        if not _header_ok(hm, headers):
            return False, f"header {hm['name']} does not satisfy {_describe_header(hm)}"
    params = dict(parse_qsl(query, keep_blank_values=True))
    for qm in match.get("query_parameters", []):
        value = params.get(qm["name"])
        if value is None:
            return False, f"query parameter {qm['name']} is absent"
        if "string_match" in qm and not _string_match(qm["string_match"], value):
            return False, f"query parameter {qm['name']}={value} does not match"
    return True, describe_match(match)


def _describe_header(hm: Obj) -> str:
    neg = "not " if hm.get("invert_match") else ""
    if "present_match" in hm:
        return f"{neg}present"
    sm = hm.get("string_match", {})
    kind = next((k for k in ("exact", "prefix", "suffix", "contains") if k in sm), "safe_regex")
    value = sm.get(kind) if kind != "safe_regex" else sm.get("safe_regex", {}).get("regex")
    return f"{neg}{kind.replace('safe_', '')} {value!r}"


def describe_match(match: Obj) -> str:
    parts = []
    for key, label in (("path", "path is"), ("prefix", "path starts with"),
                       ("path_separated_prefix", "path under")):
        if key in match and not (key == "prefix" and match[key] == "/"):
            parts.append(f"{label} {match[key]}")
    if "safe_regex" in match:
        parts.append(f"path matches {match['safe_regex']['regex']}")
    parts += [f"header {h['name']} {_describe_header(h)}" for h in match.get("headers", [])]
    parts += [f"query {q['name']}" for q in match.get("query_parameters", [])]
    return " and ".join(parts) or "catch-all (any request)"


def _destinations(config: EnvoyConfig, action: Obj) -> tuple[Destination, ...]:
    if "cluster" in action:
        pairs = [(str(action["cluster"]), 1.0)]
    else:
        cl = action.get("weighted_clusters", {}).get("clusters", [])
        total = sum(int(c.get("weight", 0)) for c in cl) or 1
        pairs = [(str(c["name"]), int(c.get("weight", 0)) / total) for c in cl]
    out = []
    for name, prob in pairs:
        cla = config.endpoints.get(name, {})
        eps = tuple(
            f"{e['endpoint']['address']['socket_address']['address']}:"
            f"{e['endpoint']['address']['socket_address']['port_value']}"
            + (f" ({e['endpoint']['hostname']})" if e["endpoint"].get("hostname") else "")
            for group in cla.get("endpoints", []) for e in group.get("lb_endpoints", []))
        out.append(Destination(name, prob, name in config.clusters, eps))
    return tuple(out)


def simulate(config: EnvoyConfig, ip: str, port: int, req: Request) -> Outcome:
    lis = find_listener(config, ip, port)
    if lis is None:
        return Outcome(None, None, None, None, None, (), None, "connection refused", None, ())
    rc_name = _route_config_name(lis)
    table = config.routes.get(rc_name or "") or _inline_table(lis)
    if table is None:
        return Outcome(lis["name"], rc_name, None, None, None, (), None, "tcp", None, ())
    vh = select_vhost(table, req.authority)
    if vh is None:
        return Outcome(lis["name"], rc_name, None, None, None, (), 404, "NR", None, ())
    skipped = []
    for route in vh.get("routes", []):
        ok, why = route_matches(route.get("match", {}), req)
        if not ok:
            skipped.append((str(route.get("name", "")), why))
            continue
        return _outcome(config, lis["name"], rc_name, vh, route, tuple(skipped))
    return Outcome(lis["name"], rc_name, vh["name"], None, None, (), 404, "NR", None,
                   tuple(skipped))


def _outcome(config: EnvoyConfig, lis: str, rc: str | None, vh: Obj, route: Obj,
             skipped: tuple[tuple[str, str], ...]) -> Outcome:
    fault = route.get("typed_per_filter_config", {}).get(FAULT_FILTER, {}).get("abort")
    abort = None
    if fault:
        pct = fault["percentage"]
        abort = (int(fault["http_status"]), int(pct["numerator"]) / 1_000_000)
    name = str(route.get("name", ""))
    if "redirect" in route:
        code = {"MOVED_PERMANENTLY": 301, "FOUND": 302, "SEE_OTHER": 303,
                "TEMPORARY_REDIRECT": 307, "PERMANENT_REDIRECT": 308}
        redirect = code.get(route["redirect"].get("response_code", "MOVED_PERMANENTLY"), 301)
        return Outcome(lis, rc, vh["name"], name, route, (), redirect, "-", abort, skipped)
    if "direct_response" in route:
        return Outcome(lis, rc, vh["name"], name, route, (),
                       int(route["direct_response"]["status"]), "-", abort, skipped)
    dests = _destinations(config, route.get("route", {}))
    status: int | None = None
    flags = "-"
    if len(dests) == 1 and not dests[0].exists:
        status, flags = 503, "NC"
    elif len(dests) == 1 and not dests[0].endpoints and dests[0].cluster in config.endpoints:
        status, flags = 503, "UH"
    if abort and abort[1] >= 1.0:
        status, flags = abort[0], "FI"
    return Outcome(lis, rc, vh["name"], name, route, dests, status, flags, abort, skipped)
