"""Semantic validation of the kinds turnout acts on, with kube-apiserver's field paths and words.

A user who applies a broken manifest must get the error a real cluster would give
(`Deployment.apps "x" is invalid: spec.template.spec.containers[0].image: Required value`), so
the checks, paths and messages follow k8s.io/kubernetes/pkg/apis/*/validation. The API calls
`check()` (decode errors → 400, then semantic errors → 422) or the two halves separately.
Objects are validated as the server sees them after defaulting: a missing field that has a
default (restartPolicy, protocol, service type...) counts as its default. Pure, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from collections.abc import Callable, Mapping
from typing import Any

from turnout.kube import selectors as sel
from turnout.kube.errors import ApiError, Cause, invalid
from turnout.kube.resources import BUILTIN
from turnout.kube.schema import decode_errors
from turnout.types import JSON, Obj

__all__ = ["check", "decode_errors", "go_value", "validate"]

# --- field errors (k8s.io/apimachinery/pkg/util/validation/field) ---------------------------


def go_value(v: JSON) -> str:
    """A bad value as field.Error prints it: strings quoted, maps/lists in Go %#v syntax."""
    if isinstance(v, GoRepr):
        return v.text
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if v is None:
        return "null"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dict):
        return _go_string_map(v)
    return "[]string{" + ", ".join(json.dumps(str(x)) for x in v) + "}"


class GoRepr:
    """A value whose Go rendering is precomputed (structs)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _go_string_map(m: Mapping[str, Any] | None) -> str:
    if m is None:
        return "map[string]string(nil)"
    inner = ", ".join(f"{json.dumps(k)}:{json.dumps(str(v))}" for k, v in sorted(m.items()))
    return "map[string]string{" + inner + "}"


def _go_intstr(v: JSON) -> GoRepr:
    if isinstance(v, str):
        return GoRepr(f'intstr.IntOrString{{Type:1, IntVal:0, StrVal:{json.dumps(v)}}}')
    return GoRepr(f'intstr.IntOrString{{Type:0, IntVal:{int(v or 0)}, StrVal:""}}')


def _go_label_selector(s: Obj | None) -> GoRepr:
    s = s or {}
    exprs = s.get("matchExpressions")
    if exprs is None:
        ex = "[]v1.LabelSelectorRequirement(nil)"
    else:
        items = []
        for e in exprs:
            vals = e.get("values")
            vs = "[]string(nil)" if vals is None else go_value([str(x) for x in vals])
            items.append(f'v1.LabelSelectorRequirement{{Key:{json.dumps(e.get("key", ""))}, '
                         f'Operator:{json.dumps(e.get("operator", ""))}, Values:{vs}}}')
        ex = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    ml = s.get("matchLabels")
    return GoRepr(f"v1.LabelSelector{{MatchLabels:{_go_string_map(ml)}, MatchExpressions:{ex}}}")


def required(path: str, detail: str = "") -> Cause:
    return Cause(path, "Required value" + (f": {detail}" if detail else ""), "FieldValueRequired")


def invalid_value(path: str, value: JSON, detail: str) -> Cause:
    return Cause(path, f"Invalid value: {go_value(value)}: {detail}", "FieldValueInvalid")


def not_supported(path: str, value: JSON, supported: list[str]) -> Cause:
    listed = ", ".join(json.dumps(s) for s in supported)
    return Cause(path, f"Unsupported value: {go_value(value)}: supported values: {listed}",
                 "FieldValueNotSupported")


def duplicate(path: str, value: JSON) -> Cause:
    return Cause(path, f"Duplicate value: {go_value(value)}", "FieldValueDuplicate")


def forbidden(path: str, detail: str) -> Cause:
    return Cause(path, f"Forbidden: {detail}", "FieldValueForbidden")


def not_found(path: str, value: JSON) -> Cause:
    return Cause(path, f"Not found: {go_value(value)}", "FieldValueNotFound")


def too_long(path: str, limit: int) -> Cause:
    return Cause(path, f"Too long: may not be more than {limit} bytes", "FieldValueTooLong")


IMMUTABLE = "field is immutable"
NEGATIVE = "must be greater than or equal to 0"


def _nonneg(v: JSON, path: str) -> list[Cause]:
    return [invalid_value(path, v, NEGATIVE)] if isinstance(v, int) and v < 0 else []


def _msgs(path: str, value: str, msgs: list[str]) -> list[Cause]:
    return [invalid_value(path, value, m) for m in msgs]


# --- names, labels, metadata ----------------------------------------------------------------

NameFn = Callable[[str], list[str]]


def _path_segment_name(name: str) -> list[str]:
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in "/%" if c in name]


_NAME_RULES: dict[tuple[str, str], NameFn] = {
    ("", "Namespace"): sel.is_dns1123_label,
    ("", "Service"): sel.is_dns1035_label,
    **{("rbac.authorization.k8s.io", k): _path_segment_name
       for k in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")},
}
_NAMESPACED = {(rt.group, rt.kind): rt.namespaced for rt in BUILTIN}


def validate_labels(labels: JSON, path: str) -> list[Cause]:
    out: list[Cause] = []
    for k, v in (labels or {}).items():
        out += _msgs(path, k, sel.is_qualified_name(k))
        out += _msgs(path, str(v), sel.is_valid_label_value(str(v)))
    return out


def validate_metadata(meta: Obj, group: str, kind: str, path: str = "metadata") -> list[Cause]:
    name_fn = _NAME_RULES.get((group, kind), sel.is_dns1123_subdomain)
    out: list[Cause] = []
    name, gen = meta.get("name") or "", meta.get("generateName") or ""
    if gen:
        out += _msgs(f"{path}.generateName", gen, name_fn(gen[:-1] if gen.endswith("-") else gen))
    if not name and not gen:
        out.append(required(f"{path}.name", "name or generateName is required"))
    elif name:
        out += _msgs(f"{path}.name", name, name_fn(name))
    ns = meta.get("namespace")
    if _NAMESPACED.get((group, kind), True):
        if not ns:
            out.append(required(f"{path}.namespace"))
        else:
            out += _msgs(f"{path}.namespace", ns, sel.is_dns1123_label(ns))
    out += _nonneg(meta.get("generation"), f"{path}.generation")
    out += validate_labels(meta.get("labels"), f"{path}.labels")
    annotations = meta.get("annotations") or {}
    for k in annotations:
        out += _msgs(f"{path}.annotations", k, sel.is_qualified_name(k.lower()))
    if sum(len(k) + len(str(v)) for k, v in annotations.items()) > 256 * 1024:
        out.append(too_long(f"{path}.annotations", 256 * 1024))
    return out


def validate_selector(s: Obj, path: str) -> list[Cause]:
    """metav1.LabelSelector syntax (ValidateLabelSelector)."""
    out = validate_labels(s.get("matchLabels"), f"{path}.matchLabels")
    for i, e in enumerate(s.get("matchExpressions") or ()):
        p = f"{path}.matchExpressions[{i}]"
        op, vals = e.get("operator"), e.get("values") or []
        if op in ("In", "NotIn") and not vals:
            out.append(required(f"{p}.values",
                                "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist") and vals:
            out.append(forbidden(f"{p}.values",
                                 "may not be specified when `operator` is 'Exists' or "
                                 "'DoesNotExist'"))
        elif op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            out.append(invalid_value(f"{p}.operator", op, "not a valid selector operator"))
        out += _msgs(f"{p}.key", e.get("key", ""), sel.is_qualified_name(e.get("key", "")))
        for v in vals:
            out += _msgs(f"{p}.values", str(v), sel.is_valid_label_value(str(v)))
    return out


# --- pods -----------------------------------------------------------------------------------

PORT_RANGE = "must be between 1 and 65535, inclusive"
PROTOCOLS = ["SCTP", "TCP", "UDP"]
_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


def is_valid_port_name(name: str) -> list[str]:
    errs = []
    if len(name) > 15:
        errs.append(sel.max_len_error(15))
    if not all(c.islower() or c.isdigit() or c == "-" for c in name) or not name.isascii():
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if not any(c.isalpha() for c in name):
        errs.append("must contain at least one letter (a-z)")
    if name.startswith("-") or name.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _port_num(v: JSON, path: str) -> list[Cause]:
    return [] if isinstance(v, int) and 1 <= v <= 65535 else [invalid_value(path, v, PORT_RANGE)]


def _probe(probe: JSON, path: str) -> list[Cause]:
    if not isinstance(probe, dict):
        return []
    handlers = [h for h in _HANDLERS if probe.get(h) is not None]
    out: list[Cause] = []
    if not handlers:
        out.append(required(path, "must specify a handler type"))
    for h in handlers[1:]:
        out.append(forbidden(f"{path}.{h}", "may not specify more than 1 handler type"))
    for f in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
              "failureThreshold"):
        out += _nonneg(probe.get(f), f"{path}.{f}")
    return out


def _container(c: Obj, path: str, volumes: set[str], names: set[str]) -> list[Cause]:
    out: list[Cause] = []
    name = c.get("name") or ""
    if not name:
        out.append(required(f"{path}.name"))
    else:
        out += _msgs(f"{path}.name", name, sel.is_dns1123_label(name))
        if name in names:
            out.append(duplicate(f"{path}.name", name))
        names.add(name)
    if not c.get("image"):
        out.append(required(f"{path}.image"))
    pull = c.get("imagePullPolicy")
    if pull is not None and pull not in ("Always", "IfNotPresent", "Never"):
        out.append(not_supported(f"{path}.imagePullPolicy", pull,
                                 ["Always", "IfNotPresent", "Never"]))
    port_names: set[str] = set()
    for i, p in enumerate(c.get("ports") or ()):
        pp = f"{path}.ports[{i}]"
        if p.get("name"):
            errs = is_valid_port_name(p["name"])
            out += _msgs(f"{pp}.name", p["name"], errs)
            if not errs and p["name"] in port_names:
                out.append(duplicate(f"{pp}.name", p["name"]))
            port_names.add(p["name"])
        if not p.get("containerPort"):
            out.append(required(f"{pp}.containerPort"))
        else:
            out += _port_num(p["containerPort"], f"{pp}.containerPort")
        if p.get("hostPort"):
            out += _port_num(p["hostPort"], f"{pp}.hostPort")
        proto = p.get("protocol", "TCP")
        if proto not in PROTOCOLS:
            out.append(not_supported(f"{pp}.protocol", proto, PROTOCOLS))
    for i, e in enumerate(c.get("env") or ()):
        if not e.get("name"):
            out.append(required(f"{path}.env[{i}].name"))
        if e.get("value") and e.get("valueFrom") is not None:
            out.append(invalid_value(f"{path}.env[{i}].valueFrom", "",
                                     "may not be specified when `value` is not empty"))
    for i, m in enumerate(c.get("volumeMounts") or ()):
        mp = f"{path}.volumeMounts[{i}]"
        if not m.get("name"):
            out.append(required(f"{mp}.name"))
        elif m["name"] not in volumes:
            out.append(not_found(f"{mp}.name", m["name"]))
        if not m.get("mountPath"):
            out.append(required(f"{mp}.mountPath"))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        out += _probe(c.get(probe), f"{path}.{probe}")
    return out


def validate_pod_spec(spec: Obj, path: str) -> list[Cause]:
    out: list[Cause] = []
    volumes: set[str] = set()
    for i, v in enumerate(spec.get("volumes") or ()):
        vp = f"{path}.volumes[{i}]"
        name = v.get("name") or ""
        if not name:
            out.append(required(f"{vp}.name"))
        else:
            out += _msgs(f"{vp}.name", name, sel.is_dns1123_label(name))
            if name in volumes:
                out.append(duplicate(f"{vp}.name", name))
        volumes.add(name)
        sources = [k for k, x in v.items() if k != "name" and x is not None]
        if not sources:
            out.append(required(vp, "must specify a volume type"))
        for extra in sources[1:]:
            out.append(forbidden(f"{vp}.{extra}", "may not specify more than 1 volume type"))
    names: set[str] = set()
    for i, c in enumerate(spec.get("initContainers") or ()):
        out += _container(c, f"{path}.initContainers[{i}]", volumes, names)
    containers = spec.get("containers") or []
    if not containers:
        out.append(required(f"{path}.containers"))
    for i, c in enumerate(containers):
        out += _container(c, f"{path}.containers[{i}]", volumes, names)
    policy = spec.get("restartPolicy", "Always")
    if policy not in ("Always", "OnFailure", "Never"):
        out.append(not_supported(f"{path}.restartPolicy", policy,
                                 ["Always", "OnFailure", "Never"]))
    dns = spec.get("dnsPolicy", "ClusterFirst")
    dns_ok = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
    if dns not in dns_ok:
        out.append(not_supported(f"{path}.dnsPolicy", dns, dns_ok))
    out += _nonneg(spec.get("terminationGracePeriodSeconds"),
                   f"{path}.terminationGracePeriodSeconds")
    ads = spec.get("activeDeadlineSeconds")
    if isinstance(ads, int) and ads <= 0:
        out.append(invalid_value(f"{path}.activeDeadlineSeconds", ads,
                                 "must be between 1 and 2147483647, inclusive"))
    return out


def validate_template(tpl: JSON, path: str, selector: sel.LabelSelector | None,
                      restart: list[str] | None = None) -> list[Cause]:
    if not isinstance(tpl, dict):
        return [required(path)]
    meta = tpl.get("metadata") or {}
    out: list[Cause] = []
    labels = meta.get("labels") or {}
    if selector is not None and not selector.empty() and not selector.matches(labels):
        out.append(invalid_value(f"{path}.metadata.labels", labels,
                                 "`selector` does not match template `labels`"))
    out += validate_labels(labels, f"{path}.metadata.labels")
    spec = tpl.get("spec") or {}
    out += validate_pod_spec(spec, f"{path}.spec")
    allowed = restart or ["Always"]
    policy = spec.get("restartPolicy", "Always")
    if policy in ("Always", "OnFailure", "Never") and policy not in allowed:
        out.append(not_supported(f"{path}.spec.restartPolicy", policy, allowed))
    if restart is None and spec.get("activeDeadlineSeconds") is not None:
        out.append(forbidden(f"{path}.spec.activeDeadlineSeconds",
                             "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return out


# --- workloads ------------------------------------------------------------------------------


def _int_or_percent(v: JSON, path: str) -> list[Cause]:
    if isinstance(v, str):
        ok = v.endswith("%") and v[:-1].isdigit()
        return [] if ok else [invalid_value(path, _go_intstr(v), sel.regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'",
            "[0-9]+%", "1%", "93%"))]
    return [invalid_value(path, v, NEGATIVE)] if isinstance(v, int) and v < 0 else []


def _intstr_value(v: JSON) -> int:
    if isinstance(v, str):
        return int(v[:-1]) if v.endswith("%") and v[:-1].isdigit() else -1
    return v if isinstance(v, int) else -1


def _selector_and_template(spec: Obj, restart: list[str] | None = None,
                           empty_ok: bool = False) -> list[Cause]:
    out: list[Cause] = []
    s = spec.get("selector")
    selector: sel.LabelSelector | None = None
    if s is None:
        out.append(required("spec.selector"))
    else:
        out += validate_selector(s, "spec.selector")
        if not empty_ok and not (s.get("matchLabels") or s.get("matchExpressions")):
            out.append(invalid_value("spec.selector", _go_label_selector(s),
                                     "empty selector is invalid for deployment"))
        try:
            selector = sel.from_label_selector_obj(s)
        except ApiError:
            out.append(invalid_value("spec.selector", _go_label_selector(s),
                                     "invalid label selector"))
    return out + validate_template(spec.get("template"), "spec.template", selector, restart)


def validate_deployment(obj: Obj) -> list[Cause]:
    spec = obj.get("spec") or {}
    out = _nonneg(spec.get("replicas"), "spec.replicas") + _selector_and_template(spec)
    strategy = spec.get("strategy") or {}
    stype = strategy.get("type", "RollingUpdate")
    ru = strategy.get("rollingUpdate")
    if stype == "Recreate":
        if ru is not None:
            out.append(forbidden("spec.strategy.rollingUpdate",
                                 "may not be specified when strategy `type` is 'Recreate'"))
    elif stype == "RollingUpdate":
        ru = ru or {}
        mu, ms = ru.get("maxUnavailable", "25%"), ru.get("maxSurge", "25%")
        p = "spec.strategy.rollingUpdate"
        out += _int_or_percent(mu, f"{p}.maxUnavailable") + _int_or_percent(ms, f"{p}.maxSurge")
        if _intstr_value(mu) == 0 and _intstr_value(ms) == 0:
            out.append(invalid_value(f"{p}.maxUnavailable", _go_intstr(mu),
                                     "may not be 0 when `maxSurge` is 0"))
        if isinstance(mu, str) and _intstr_value(mu) > 100:
            out.append(invalid_value(f"{p}.maxUnavailable", _go_intstr(mu),
                                     "must not be greater than 100%"))
    else:
        out.append(not_supported("spec.strategy.type", stype, ["Recreate", "RollingUpdate"]))
    out += _nonneg(spec.get("minReadySeconds"), "spec.minReadySeconds")
    out += _nonneg(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    pds = spec.get("progressDeadlineSeconds")
    if isinstance(pds, int):
        out += _nonneg(pds, "spec.progressDeadlineSeconds")
        if pds <= (spec.get("minReadySeconds") or 0):
            out.append(invalid_value("spec.progressDeadlineSeconds", pds,
                                     "must be greater than minReadySeconds"))
    return out


def validate_replicaset(obj: Obj) -> list[Cause]:
    spec = obj.get("spec") or {}
    return (_nonneg(spec.get("replicas"), "spec.replicas") + _selector_and_template(spec)
            + _nonneg(spec.get("minReadySeconds"), "spec.minReadySeconds"))


def validate_job(obj: Obj) -> list[Cause]:
    spec = obj.get("spec") or {}
    tpl = spec.get("template")
    labels = ((tpl or {}).get("metadata") or {}).get("labels")
    s = spec.get("selector") or {"matchLabels": labels or {}}
    out = validate_selector(s, "spec.selector")
    out += validate_template(tpl, "spec.template", sel.from_label_selector_obj(s),
                             ["OnFailure", "Never"])
    for f in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit"):
        out += _nonneg(spec.get(f), f"spec.{f}")
    return out


# --- services -------------------------------------------------------------------------------

SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
NODE_PORT_RANGE = (30000, 32767)


def validate_service(obj: Obj) -> list[Cause]:
    spec = obj.get("spec") or {}
    out: list[Cause] = []
    stype = spec.get("type", "ClusterIP")
    if stype not in SERVICE_TYPES:
        out.append(not_supported("spec.type", stype, SERVICE_TYPES))
    headless = spec.get("clusterIP") == "None"
    ports = spec.get("ports") or []
    if not ports and not headless and stype != "ExternalName":
        out.append(required("spec.ports"))
    if stype == "ExternalName":
        ext = spec.get("externalName") or ""
        if not ext:
            out.append(required("spec.externalName"))
        else:
            out += _msgs("spec.externalName", ext, sel.is_dns1123_subdomain(ext.rstrip(".")))
    for i, ip in enumerate(spec.get("clusterIPs") or ([spec["clusterIP"]]
                                                      if spec.get("clusterIP") else [])):
        if ip != "None":
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                out.append(invalid_value(f"spec.clusterIPs[{i}]", ip,
                                         "must be a valid IP address, (e.g. 10.9.8.7 or "
                                         "2001:db8::ffff)"))
    names: set[str] = set()
    seen: set[tuple[str, int]] = set()
    node_ports: set[tuple[str, int]] = set()
    for i, p in enumerate(ports):
        pp = f"spec.ports[{i}]"
        name = p.get("name") or ""
        if len(ports) > 1 and not name:
            out.append(required(f"{pp}.name"))
        elif name:
            out += _msgs(f"{pp}.name", name, sel.is_dns1123_label(name))
            if name in names:
                out.append(duplicate(f"{pp}.name", name))
            names.add(name)
        port = p.get("port")
        out += _port_num(port, f"{pp}.port")
        proto = p.get("protocol", "TCP")
        if proto not in PROTOCOLS:
            out.append(not_supported(f"{pp}.protocol", proto, PROTOCOLS))
        tp = p.get("targetPort")
        if isinstance(tp, str):
            out += _msgs(f"{pp}.targetPort", tp, is_valid_port_name(tp))
        elif isinstance(tp, int) and tp != 0:
            out += _port_num(tp, f"{pp}.targetPort")
        np = p.get("nodePort")
        if np:
            if stype in ("ClusterIP", "ExternalName"):
                out.append(forbidden(f"{pp}.nodePort",
                                     f"may not be used when `type` is '{stype}'"))
            elif not NODE_PORT_RANGE[0] <= np <= NODE_PORT_RANGE[1]:
                out.append(invalid_value(
                    f"{pp}.nodePort", np, "provided port is not in the valid range. The range "
                    f"of valid ports is {NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}"))
            if (proto, np) in node_ports:
                out.append(duplicate(f"{pp}.nodePort", np))
            node_ports.add((proto, np))
        if isinstance(port, int):
            if (proto, port) in seen:
                out.append(duplicate(pp, GoRepr(_go_service_port(p))))
            seen.add((proto, port))
    out += validate_labels(spec.get("selector"), "spec.selector")
    aff = spec.get("sessionAffinity", "None")
    if aff not in ("ClientIP", "None"):
        out.append(not_supported("spec.sessionAffinity", aff, ["ClientIP", "None"]))
    return out


def _go_service_port(p: Obj) -> str:
    return (f'core.ServicePort{{Name:{json.dumps(p.get("name", ""))}, '
            f'Protocol:{json.dumps(p.get("protocol", "TCP"))}, AppProtocol:(*string)(nil), '
            f'Port:{p.get("port")}, TargetPort:{_go_intstr(p.get("targetPort", 0)).text}, '
            f'NodePort:{p.get("nodePort", 0)}}}')


# --- config ---------------------------------------------------------------------------------

MAX_SECRET_SIZE = 1024 * 1024


def is_config_map_key(key: str) -> list[str]:
    errs = []
    if len(key) > 253:
        errs.append(sel.max_len_error(253))
    if not key or any(not (c.isascii() and (c.isalnum() or c in "-._")) for c in key):
        errs.append(sel.regex_error("a valid config key must consist of alphanumeric "
                                    "characters, '-', '_' or '.'", "[-._a-zA-Z0-9]+",
                                    "key.name", "KEY_NAME", "key-name"))
    if key == ".":
        errs.append("must not be '.'")
    elif key == "..":
        errs.append("must not be '..'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _decoded_len(v: JSON) -> int:
    try:
        return len(base64.b64decode(str(v)))
    except (binascii.Error, ValueError):
        return len(str(v))


def validate_secret(obj: Obj) -> list[Cause]:
    out: list[Cause] = []
    data, string_data = obj.get("data") or {}, obj.get("stringData") or {}
    keys = list(data) + [k for k in string_data if k not in data]
    for k in keys:
        out += _msgs(f"data[{k}]", k, is_config_map_key(k))
    size = sum(_decoded_len(v) for v in data.values()) + sum(
        len(str(v).encode()) for v in string_data.values())
    if size > MAX_SECRET_SIZE:
        out.append(too_long("data", MAX_SECRET_SIZE))
    stype = obj.get("type", "Opaque")
    need = {"kubernetes.io/tls": ["tls.crt", "tls.key"],
            "kubernetes.io/dockerconfigjson": [".dockerconfigjson"],
            "kubernetes.io/dockercfg": [".dockercfg"]}.get(stype, [])
    for k in need:
        if k not in keys:
            out.append(required(f"data[{k}]"))
    if stype == "kubernetes.io/service-account-token":
        ann = (obj.get("metadata") or {}).get("annotations") or {}
        if not ann.get("kubernetes.io/service-account.name"):
            out.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    return out


def validate_configmap(obj: Obj) -> list[Cause]:
    out: list[Cause] = []
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    for k in data:
        out += _msgs(f"data[{k}]", k, is_config_map_key(k))
    for k in binary:
        out += _msgs(f"binaryData[{k}]", k, is_config_map_key(k))
        if k in data:
            out.append(invalid_value(f"data[{k}]", k, "duplicate of key present in binaryData"))
    return out


# --- networking -----------------------------------------------------------------------------

PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]


def _ingress_backend(b: Obj, path: str) -> list[Cause]:
    svc, res = b.get("service"), b.get("resource")
    if svc is not None and res is not None:
        return [invalid_value(path, "", "cannot set both `service` and `resource` backends")]
    if svc is None:
        return [] if res is not None else [
            invalid_value(path, "", "one of `service` or `resource` must be specified")]
    out: list[Cause] = []
    name = svc.get("name") or ""
    if not name:
        out.append(required(f"{path}.service.name"))
    else:
        out += _msgs(f"{path}.service.name", name, sel.is_dns1035_label(name))
    port = svc.get("port") or {}
    if port.get("name") and port.get("number"):
        out.append(invalid_value(path, "", "cannot set both port name & port number"))
    elif port.get("name"):
        out += _msgs(f"{path}.service.port.name", port["name"], is_valid_port_name(port["name"]))
    elif port.get("number"):
        out += _port_num(port["number"], f"{path}.service.port.number")
    else:
        out.append(required(path, "port name or number is required"))
    return out


def validate_ingress(obj: Obj) -> list[Cause]:
    spec = obj.get("spec") or {}
    out: list[Cause] = []
    if spec.get("defaultBackend") is not None:
        out += _ingress_backend(spec["defaultBackend"], "spec.defaultBackend")
    for i, rule in enumerate(spec.get("rules") or ()):
        rp = f"spec.rules[{i}]"
        host = rule.get("host") or ""
        if host:
            bare = host[2:] if host.startswith("*.") else host
            out += _msgs(f"{rp}.host", host, sel.is_dns1123_subdomain(bare))
        http = rule.get("http")
        if http is None:
            continue
        paths = http.get("paths") or []
        if not paths:
            out.append(required(f"{rp}.http.paths"))
        for j, p in enumerate(paths):
            pp = f"{rp}.http.paths[{j}]"
            ptype = p.get("pathType")
            if ptype is None:
                out.append(required(f"{pp}.pathType", "pathType must be specified"))
            elif ptype not in PATH_TYPES:
                out.append(not_supported(f"{pp}.pathType", ptype, PATH_TYPES))
            elif ptype in ("Exact", "Prefix") and not str(p.get("path", "")).startswith("/"):
                out.append(invalid_value(f"{pp}.path", p.get("path", ""),
                                         "must be an absolute path"))
            out += _ingress_backend(p.get("backend") or {}, f"{pp}.backend")
    return out


# --- updates --------------------------------------------------------------------------------


def validate_update(obj: Obj, old: Obj, group: str, kind: str) -> list[Cause]:
    out: list[Cause] = []
    if (group, kind) == ("", "Service"):
        spec, ospec = obj.get("spec") or {}, old.get("spec") or {}
        old_ips = ospec.get("clusterIPs") or ([ospec["clusterIP"]] if ospec.get("clusterIP")
                                              else [])
        new_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP")
                                             else [])
        changing_type = "ExternalName" in (spec.get("type"), ospec.get("type"))
        if old_ips and new_ips and old_ips[0] != new_ips[0] and not changing_type:
            out.append(invalid_value("spec.clusterIPs[0]", new_ips, "may not change once set"))
    if group in ("apps", "batch") and kind in ("Deployment", "ReplicaSet", "StatefulSet",
                                               "DaemonSet", "Job"):
        new_sel = (obj.get("spec") or {}).get("selector")
        old_sel = (old.get("spec") or {}).get("selector")
        if old_sel is not None and new_sel != old_sel:
            out.append(invalid_value("spec.selector", _go_label_selector(new_sel), IMMUTABLE))
    if group == "" and kind in ("Secret", "ConfigMap") and old.get("immutable") is True:
        msg = "field is immutable when `immutable` is set"
        if obj.get("immutable") is not True:
            out.append(forbidden("immutable", msg))
        fields = ["data"] if kind == "Secret" else ["data", "binaryData"]
        for f in fields:
            if (obj.get(f) or {}) != (old.get(f) or {}):
                out.append(forbidden(f, msg))
    if (group, kind) == ("", "Secret") and obj.get("type", "Opaque") != old.get("type", "Opaque"):
        out.append(invalid_value("type", obj.get("type", "Opaque"), IMMUTABLE))
    return out


# --- entry points ---------------------------------------------------------------------------

_VALIDATORS: dict[tuple[str, str], Callable[[Obj], list[Cause]]] = {
    ("", "Pod"): lambda o: validate_pod_spec(o.get("spec") or {}, "spec"),
    ("", "Service"): validate_service,
    ("", "Secret"): validate_secret,
    ("", "ConfigMap"): validate_configmap,
    ("apps", "Deployment"): validate_deployment,
    ("apps", "ReplicaSet"): validate_replicaset,
    ("apps", "StatefulSet"): lambda o: _selector_and_template(o.get("spec") or {}),
    ("apps", "DaemonSet"): lambda o: _selector_and_template(o.get("spec") or {}),
    ("batch", "Job"): validate_job,
    ("networking.k8s.io", "Ingress"): validate_ingress,
}


def validate(obj: Obj, group: str, kind: str, *, strict: bool = False,
             old: Obj | None = None) -> list[Cause]:
    """Field errors of `obj` (after defaulting), plus immutability errors against `old`.

    `strict` does not change semantic validation (unknown fields are a decoding matter: see
    `decode_errors` / `check`); it is accepted so callers can pass their fieldValidation mode.
    """
    del strict
    out = validate_metadata(obj.get("metadata") or {}, group, kind)
    fn = _VALIDATORS.get((group, kind))
    if fn is not None:
        out += fn(obj)
    if old is not None:
        out += validate_update(obj, old, group, kind)
    return out


def check(obj: Obj, group: str, kind: str, *, strict: bool, old: Obj | None = None) -> None:
    """Raise what kube-apiserver would answer for `obj`: the 400 decode error first (type
    errors; unknown fields when `strict`), then 422 Invalid with every field error."""
    err = decode_errors(obj, group, kind, strict)
    if err is not None:
        raise err
    causes = validate(obj, group, kind, old=old)
    if causes:
        name = (obj.get("metadata") or {}).get("name") or ""
        raise invalid(kind, group, name, causes)
