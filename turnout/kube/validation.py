"""Semantic validation of the kinds turnout acts on, with kube-apiserver's field paths and words.

A user who applies a broken manifest must get the error a real cluster would give
(`Deployment.apps "x" is invalid: spec.template.spec.containers[0].image: Required value`), so
the checks, paths and messages follow k8s.io/kubernetes/pkg/apis/*/validation. The API calls
`check()` (decode errors → 400, then semantic errors → 422) or the two halves separately.
Objects are validated as the server sees them after defaulting: a missing field that has a
default (restartPolicy, protocol, service type...) counts as its default. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable

from turnout.kube import cron
from turnout.kube import selectors as sel
from turnout.kube.errors import ApiError, Cause, invalid
from turnout.kube.fielderrors import (
    IMMUTABLE,
    NEGATIVE,
    PROTOCOLS,
    _go_intstr,
    _go_label_selector,
    _msgs,
    _nonneg,
    _port_num,
    duplicate,
    forbidden,
    go_value,
    invalid_value,
    is_valid_port_name,
    not_found,
    not_supported,
    required,
    too_long,
    validate_labels,
)
from turnout.kube.resources import BUILTIN
from turnout.kube.schema import decode_errors
from turnout.kube.validation_crd import validate_crd
from turnout.kube.validation_objects import (
    validate_configmap,
    validate_ingress,
    validate_secret,
    validate_service,
)
from turnout.types import JSON, Obj

__all__ = ["check", "decode_errors", "go_value", "validate"]
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

_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")






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


def validate_pod_spec(spec: Obj, path: str, claims: frozenset[str] = frozenset()) -> list[Cause]:
    """`claims`: a StatefulSet's volumeClaimTemplates, which mounts may name like volumes."""
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
    volumes |= claims
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
                      restart: list[str] | None = None,
                      claims: frozenset[str] = frozenset()) -> list[Cause]:
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
    out += validate_pod_spec(spec, f"{path}.spec", claims)
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


def workload_selector(s: Obj, empty_ok: bool = False
                      ) -> tuple[list[Cause], sel.LabelSelector | None]:
    """A workload's `spec.selector`: its errors, and the parsed selector when it parses."""
    out = validate_selector(s, "spec.selector")
    if not empty_ok and not (s.get("matchLabels") or s.get("matchExpressions")):
        out.append(invalid_value("spec.selector", _go_label_selector(s),
                                 "empty selector is invalid for deployment"))
    try:
        return out, sel.from_label_selector_obj(s)
    except ApiError:
        out.append(invalid_value("spec.selector", _go_label_selector(s),
                                 "invalid label selector"))
        return out, None


def _selector_and_template(spec: Obj, restart: list[str] | None = None,
                           empty_ok: bool = False,
                           claims: frozenset[str] = frozenset()) -> list[Cause]:
    out: list[Cause] = []
    s = spec.get("selector")
    selector: sel.LabelSelector | None = None
    if s is None:
        out.append(required("spec.selector"))
    else:
        causes, selector = workload_selector(s, empty_ok)
        out += causes
    return out + validate_template(spec.get("template"), "spec.template", selector, restart,
                                   claims)


def validate_statefulset(obj: Obj) -> list[Cause]:
    """Mounts may name a volumeClaimTemplate: each pod gets a claim of that name."""
    spec = obj.get("spec") or {}
    claims = frozenset(str((t.get("metadata") or {}).get("name") or "")
                       for t in spec.get("volumeClaimTemplates") or () if isinstance(t, dict))
    return _selector_and_template(spec, claims=claims - {""})


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
    ("apps", "StatefulSet"): validate_statefulset,
    ("apps", "DaemonSet"): lambda o: _selector_and_template(o.get("spec") or {}),
    ("batch", "Job"): validate_job,
    ("batch", "CronJob"): cron.validate_cronjob,
    ("networking.k8s.io", "Ingress"): validate_ingress,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): validate_crd,
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
