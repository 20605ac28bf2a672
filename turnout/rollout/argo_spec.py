"""What is wrong with a Rollout spec, in Argo's words, and `workloadRef` resolution.

Why this exists: served without its CRD, a Rollout reaches turnout with whatever a user typed
(`replicas: -2`, `setWeight: "abc"`, a misspelt step, a selector its template does not match).
Argo's controller checks the spec on every reconcile (pkg/apis/rollouts/validation) and reports
the first problem as the `InvalidSpec` condition (`The Rollout "x" is invalid: spec.replicas:
Invalid value: -2: must be greater than or equal to 0`) instead of acting on it; this module
returns those field errors so the controller can do the same and raise an Event. Paths are the
fields' real paths (`spec.strategy.canary.steps[1].setWeight`; Argo's own messages drop the
`canary`), and a step key turnout does not know is named as such (without the CRD nothing prunes
it, so Argo's "Step must have one of ..." would hide the typo). It also resolves
`spec.workloadRef` (the pod template and selector of an existing Deployment), because the
checks and everything after them work on the resolved spec.

Pure: no I/O.
"""

from __future__ import annotations

import copy
from typing import TypeGuard

from turnout.kube import selectors as sel
from turnout.kube import validation
from turnout.kube.errors import Cause
from turnout.kube.fielderrors import (
    NEGATIVE,
    GoRepr,
    forbidden,
    invalid_value,
    not_supported,
    required,
)
from turnout.rollout.flagger import seconds
from turnout.types import JSON, Obj

MISSING = "Rollout has missing field '{}'"
STEP_KEYS = ("setWeight", "pause", "analysis", "experiment", "setCanaryScale", "setHeaderRoute",
             "setMirrorRoute", "plugin")
STEP_MESSAGE = ("Step must have one of the following set: experiment, setWeight, "
                "setCanaryScale, plugin or pause")
WORKLOAD_KINDS = {("apps", "Deployment"): "deployments.apps",
                  ("apps", "ReplicaSet"): "replicasets.apps",
                  ("", "PodTemplate"): "podtemplates"}
SCALE_DOWN = ("never", "onsuccess", "progressively")
ROUTERS_NEEDING_SERVICES = ("alb", "smi", "apisix", "ambassador", "nginx", "appMesh", "traefik")
TURNOUT_ROUTERS = ("istio", "nginx")
"""The traffic routers turnout runs; Argo's others (alb, smi, ambassador, apisix, appMesh,
traefik, plugins) are InvalidSpec here, naming them, rather than a Rollout that never splits."""
ROUTING_KEYS = (*TURNOUT_ROUTERS, "managedRoutes", "maxTrafficWeight")


def message(rollout: Obj, cause: Cause) -> str:
    """The InvalidSpec condition message, as Argo writes it."""
    return f'The Rollout "{rollout["metadata"]["name"]}" is invalid: {cause.field}: ' \
           f"{cause.message}"


def _int(v: JSON) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


# --- workloadRef --------------------------------------------------------------------------------


def workload_key(ref: Obj) -> str:
    """Storage key of the kind `workloadRef` names; raises ValueError for other kinds."""
    api = str(ref.get("apiVersion") or "")
    group = api.split("/")[0] if "/" in api else ""
    key = WORKLOAD_KINDS.get((group, str(ref.get("kind") or "")))
    if key is None:
        raise ValueError(f"workload of type {group}/{ref.get('kind')} is not supported")
    return key


def resolve_workload(rollout: Obj, workload: Obj) -> Obj:
    """``rollout`` with the template (and, when it has none, the selector) of ``workload``."""
    out = copy.deepcopy(rollout)
    spec = out.setdefault("spec", {})
    wspec = workload.get("spec") or {}
    tmpl = copy.deepcopy(wspec.get("template") if workload.get("kind") != "PodTemplate"
                         else workload.get("template"))
    spec["template"] = tmpl or {}
    if not spec.get("selector") and wspec.get("selector"):
        spec["selector"] = copy.deepcopy(wspec["selector"])
    return out


# --- the checks ---------------------------------------------------------------------------------


def validate(rollout: Obj, resolved: bool = False) -> list[Cause]:
    """Field errors of a Rollout (first one first); ``resolved``: spec.template came from
    `workloadRef`."""
    spec = rollout.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    out: list[Cause] = []
    replicas = spec.get("replicas", 1)
    if replicas is not None and not _int(replicas):
        out.append(invalid_value("spec.replicas", replicas, "must be an integer"))
    elif _int(replicas) and replicas < 0:
        out.append(invalid_value("spec.replicas", replicas, NEGATIVE))
    ref = spec.get("workloadRef")
    selector: sel.LabelSelector | None = None
    s = spec.get("selector")
    if ref is None and not isinstance(s, dict):
        out.append(required("spec.selector", MISSING.format(".spec.selector")))
    if ref is not None:
        out += _workload_ref(ref)
        if not resolved and (spec.get("template") or {}) not in ({}, None):
            out.append(Cause("spec.template", "Internal error: template must be empty for "
                                              "workload reference rollout", "InternalError"))
    if isinstance(s, dict):
        causes, selector = validation.workload_selector(s)
        out += causes
    if ref is None or resolved:
        out += validation.validate_template(spec.get("template"), "spec.template", selector)
    for key in ("minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"):
        v = spec.get(key)
        if v is not None and not _int(v):
            out.append(invalid_value(f"spec.{key}", v, "must be an integer"))
        elif _int(v) and v < 0:
            out.append(invalid_value(f"spec.{key}", v, NEGATIVE))
    pds, mrs = spec.get("progressDeadlineSeconds", 600), spec.get("minReadySeconds", 0)
    if _int(pds) and _int(mrs) and pds <= mrs:
        out.append(invalid_value("spec.progressDeadlineSeconds", pds,
                                 "must be greater than minReadySeconds"))
    return out + _strategy(spec)


def _workload_ref(ref: JSON) -> list[Cause]:
    if not isinstance(ref, dict) or not ref.get("name"):
        return [required("spec.workloadRef.name")]
    out: list[Cause] = []
    try:
        workload_key(ref)
    except ValueError as e:
        out.append(invalid_value("spec.workloadRef", GoRepr(str(ref)), str(e)))
    if ref.get("scaleDown") not in (None, "", *SCALE_DOWN):
        out.append(not_supported("spec.workloadRef.scaleDown", ref["scaleDown"],
                                 list(SCALE_DOWN)))
    return out


def _strategy(spec: Obj) -> list[Cause]:
    st = spec.get("strategy")
    path = "spec.strategy"
    if not isinstance(st, dict) or not (st.get("canary") is not None or
                                        st.get("blueGreen") is not None):
        return [required(path, MISSING.format(
            ".spec.strategy.canary or .spec.strategy.blueGreen"))]
    if st.get("canary") is not None and st.get("blueGreen") is not None:
        return [invalid_value(path, "blueGreen: true canary: true",
                              "Multiple Strategies can not be listed")]
    if st.get("blueGreen") is not None:
        bg = st["blueGreen"]
        if not isinstance(bg, dict) or not bg.get("activeService"):
            return [required(f"{path}.blueGreen.activeService")]
        if bg.get("activeService") == bg.get("previewService"):
            return [invalid_value(f"{path}.blueGreen.activeService", bg["activeService"],
                                  "This rollout uses the same service for the active and "
                                  "preview services, but two different services are required.")]
        return _delays(bg, f"{path}.blueGreen")
    canary = st["canary"]
    if not isinstance(canary, dict):
        return [invalid_value(f"{path}.canary", GoRepr(repr(canary)), "must be an object")]
    return _canary(canary, path)


def _delays(st: Obj, path: str) -> list[Cause]:
    out: list[Cause] = []
    for key in ("scaleDownDelaySeconds", "abortScaleDownDelaySeconds", "autoPromotionSeconds"):
        v = st.get(key)
        if v is not None and (not _int(v) or v < 0):
            out.append(invalid_value(f"{path}.{key}", v,
                                     "must be an integer greater than or equal to 0"))
    return out


def _canary(c: Obj, path: str) -> list[Cause]:
    path = f"{path}.canary"
    out: list[Cause] = _delays(c, path)
    tr = c.get("trafficRouting")
    if c.get("canaryService") and c.get("canaryService") == c.get("stableService"):
        out.append(invalid_value(f"{path}.stableService", c["stableService"],
                                 "This rollout uses the same service for the stable and canary "
                                 "services, but two different services are required."))
    if isinstance(tr, dict):
        for k in tr:
            if k not in ROUTING_KEYS:
                out.append(not_supported(f"{path}.trafficRouting", k, list(TURNOUT_ROUTERS)))
        needs = any(k in tr for k in ROUTERS_NEEDING_SERVICES) or \
            ("istio" in tr and not (tr.get("istio") or {}).get("destinationRule"))
        for key in ("stableService", "canaryService"):
            if needs and not c.get(key):
                out.append(invalid_value(f"{path}.{key}", "", "Canary service and Stable "
                                         "service must to be set to use Traffic Routing"))
    elif c.get("scaleDownDelaySeconds") is not None:
        out.append(invalid_value(f"{path}.scaleDownDelaySeconds", c["scaleDownDelaySeconds"],
                                 "Canary scaleDownDelaySeconds can only be used with traffic "
                                 "routing"))
    steps = c.get("steps")
    if steps is not None and not isinstance(steps, list):
        return [*out, invalid_value(f"{path}.steps", GoRepr(repr(steps)), "must be a list")]
    bg = c.get("analysis")
    if isinstance(bg, dict) and bg.get("startingStep") is not None and \
            not _int(bg["startingStep"]):
        out.append(invalid_value(f"{path}.analysis.startingStep", bg["startingStep"],
                                 "must be an integer"))
    managed = {str(r.get("name")) for r in ((tr or {}).get("managedRoutes") or [])
               if isinstance(r, dict)} if isinstance(tr, dict) else set()
    for i, step in enumerate(steps or []):
        out += _step(step, f"{path}.steps[{i}]", tr if isinstance(tr, dict) else None,
                     managed, f"{path}")
    return out


def _step(step: JSON, p: str, tr: Obj | None, managed: set[str], path: str) -> list[Cause]:
    if not isinstance(step, dict):
        return [invalid_value(p, GoRepr(repr(step)), STEP_MESSAGE)]
    unknown = sorted(k for k in step if k not in STEP_KEYS)
    if unknown:
        return [invalid_value(f"{p}.{unknown[0]}", unknown[0], "unknown step field; a step sets "
                              "one of " + ", ".join(STEP_KEYS))]
    if not step:
        return [invalid_value(p, "step.Experiment: true step.Pause: true step.SetWeight: true "
                              "step.Analysis: true step.SetCanaryScale: true step.SetHeaderRoute: "
                              "true step.SetMirrorRoute: true step.Plugin: true", STEP_MESSAGE)]
    kinds = [k for k in ("setWeight", "pause", "experiment", "analysis") if k in step]
    if len(kinds) > 1:
        flags = " ".join(f"step.{k[0].upper() + k[1:]}: {str(k in step).lower()}"
                         for k in ("experiment", "pause", "setWeight", "analysis"))
        return [invalid_value(p, flags, STEP_MESSAGE)]
    out: list[Cause] = []
    if "setWeight" in step:
        w = step["setWeight"]
        if not _int(w):
            out.append(invalid_value(f"{p}.setWeight", w, "must be an integer"))
        elif not 0 <= w <= 100:
            out.append(invalid_value(f"{p}.setWeight", w, "SetWeight needs to be between 0 and "
                                                          "100"))
    if "pause" in step:
        pause = step["pause"]
        d = pause.get("duration") if isinstance(pause, dict) else None
        if pause is not None and not isinstance(pause, dict):
            out.append(invalid_value(f"{p}.pause", GoRepr(repr(pause)), "must be an object"))
        elif d is not None:
            try:
                ok = seconds(d, 0.0) >= 0
            except ValueError:
                ok = False
            if not ok:
                out.append(invalid_value(f"{p}.pause.duration", d,
                                         "Duration needs to be greater than 0"))
    if "setCanaryScale" in step:
        out += _canary_scale(step["setCanaryScale"], f"{p}.setCanaryScale")
        if tr is None:
            out.append(required(f"{path}.trafficRouting",
                                "SetCanaryScale requires TrafficRouting to be set"))
    for key, routers, what in (("setHeaderRoute", ("istio", "alb", "apisix", "plugins"),
                                "SetHeaderRoute requires TrafficRouting, supports Istio and ALB "
                                "and Apisix"),
                               ("setMirrorRoute", ("istio", "plugins"),
                                "SetMirrorRoute requires TrafficRouting, supports Istio and "
                                "Plugins")):
        if key not in step:
            continue
        route = step[key] if isinstance(step[key], dict) else {}
        if tr is None or not any(r in tr for r in routers):
            out.append(invalid_value(f"{p}.{key}", GoRepr(repr(step[key])), what))
        elif "managedRoutes" not in tr:
            out.append(required(f"{path}.trafficRouting.managedRoutes", MISSING.format(
                "spec.strategy.canary.trafficRouting.managedRoutes")))
        elif str(route.get("name")) not in managed:
            out.append(invalid_value(f"{p}.{key}", str(route.get("name")),
                                     "Steps define a route that does not exist in "
                                     "spec.strategy.canary.trafficRouting.managedRoutes"))
    if "experiment" in step:
        out += _experiment(step["experiment"], f"{p}.experiment", tr)
    if "analysis" in step and not isinstance(step["analysis"], dict):
        out.append(invalid_value(f"{p}.analysis", GoRepr(repr(step["analysis"])),
                                 "must be an object"))
    return out


def _canary_scale(s: JSON, p: str) -> list[Cause]:
    if not isinstance(s, dict):
        return [invalid_value(p, GoRepr(repr(s)), "must be an object")]
    set_ = [k for k in ("weight", "replicas", "matchTrafficWeight") if s.get(k) is not None]
    if len(set_) != 1:
        return [invalid_value(p, GoRepr(repr(s)), "exactly one of weight, replicas or "
                                                  "matchTrafficWeight must be set")]
    k = set_[0]
    v = s[k]
    if k == "matchTrafficWeight":
        return [] if isinstance(v, bool) else [invalid_value(f"{p}.{k}", v, "must be a boolean")]
    if not _int(v) or v < 0 or (k == "weight" and v > 100):
        return [invalid_value(f"{p}.{k}", v, "must be an integer between 0 and 100"
                              if k == "weight" else "must be an integer >= 0")]
    return []


def _experiment(e: JSON, p: str, tr: Obj | None) -> list[Cause]:
    if not isinstance(e, dict):
        return [invalid_value(p, GoRepr(repr(e)), "must be an object")]
    out: list[Cause] = []
    templates = e.get("templates")
    if not isinstance(templates, list) or not templates:
        return [required(f"{p}.templates")]
    for j, t in enumerate(templates):
        tp = f"{p}.templates[{j}]"
        if not isinstance(t, dict) or not t.get("name"):
            out.append(required(f"{tp}.name"))
            continue
        if t.get("specRef") not in ("stable", "canary"):
            out.append(not_supported(f"{tp}.specRef", t.get("specRef"), ["canary", "stable"]))
        if t.get("replicas") is not None and (not _int(t["replicas"]) or t["replicas"] < 0):
            out.append(invalid_value(f"{tp}.replicas", t["replicas"],
                                     "must be greater than or equal to 0"))
        w = t.get("weight")
        if w is not None:
            if tr is None:
                out.append(invalid_value(f"{tp}.weight", w, "Experiment template weight cannot "
                                         "be set unless TrafficRouting is enabled"))
            elif not any(r in tr for r in ("alb", "smi", "istio", "plugins")):
                out.append(invalid_value(f"{tp}.weight", w, "Experiment template weight is only "
                                         "available for TrafficRouting with SMI, ALB, Istio and "
                                         "Plugins at this time"))
            elif not _int(w) or not 0 <= w <= 100:
                out.append(invalid_value(f"{tp}.weight", w, "must be an integer between 0 and "
                                                             "100"))
    if e.get("duration") is not None:
        try:
            seconds(e["duration"], 0.0)
        except ValueError as err:
            out.append(invalid_value(f"{p}.duration", e["duration"], str(err)))
    for j, a in enumerate(e.get("analyses") or []):
        if not isinstance(a, dict) or not a.get("name") or not a.get("templateName"):
            out.append(required(f"{p}.analyses[{j}].templateName"))
    if any(not isinstance(t, dict) for t in templates):
        out.append(forbidden(f"{p}.templates", "each template must be an object"))
    return out
