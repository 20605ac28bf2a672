"""Argo `Experiment`s, pure parts: ReplicaSets and Services per template, phases, and the
Experiment a Rollout's `experiment` step starts.

Why this exists: an Experiment runs one ReplicaSet per template (`replicas`, default 1) for a
`duration` (none: until terminated, or until its `requiredForCompletion` analyses succeed), with
AnalysisRuns beside them; it is Successful when its templates ran their time and its analyses
passed, Failed / Error / Inconclusive as soon as an analysis or a template (not available within
`progressDeadlineSeconds`) says so (Argo's experiments/experiment.go). A Rollout step
`experiment: {templates: [{name, specRef: stable|canary, replicas, weight}], duration, analyses}`
makes one from its stable and canary ReplicaSets and waits for it (rollout/experiment.go).

Pure: no I/O.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime

from turnout.controllers.workloads import template_hash
from turnout.rollout import argo_analysis
from turnout.rollout.analysis_run import WORSE, iso
from turnout.rollout.flagger import seconds
from turnout.types import Obj

HASH_LABEL = argo_analysis.HASH_LABEL
NAME_ANNOTATION = "experiment.argoproj.io/name"
TEMPLATE_ANNOTATION = "experiment.argoproj.io/template-name"
TERMINAL = ("Successful", "Failed", "Error", "Inconclusive")
TEMPLATE_WORSE = ("Successful", "Running", "Progressing", "Error", "Failed")
PROGRESS_DEADLINE = 600.0
SCALE_DOWN_DELAY = 30.0


def epoch(ts: str | None) -> float | None:
    if not ts:
        return None
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


# --- from a Rollout step ------------------------------------------------------------------------


def from_step(rollout: Obj, step: Obj, name: str, revision: str, stable_rs: Obj,
              canary_rs: Obj, args: list[list[Obj]]) -> Obj:
    """The Experiment of a Rollout's `experiment` step; ``args[i]`` are the resolved args of
    `analyses[i]` (Argo resolves podTemplateHashValue and fieldRef before creating it)."""
    meta = rollout["metadata"]
    templates = []
    for t in step.get("templates") or []:
        rs = canary_rs if t.get("specRef") == "canary" else stable_rs
        tmpl = copy.deepcopy(rs["spec"]["template"])
        selector = copy.deepcopy(t.get("selector") or rs["spec"].get("selector") or {})
        extra = t.get("metadata") or {}
        if extra.get("labels"):
            tmpl.setdefault("metadata", {}).setdefault("labels", {}).update(extra["labels"])
            selector.setdefault("matchLabels", {}).update(extra["labels"])
        if extra.get("annotations"):
            tmpl.setdefault("metadata", {}).setdefault("annotations", {}).update(
                extra["annotations"])
        out: Obj = {"name": t["name"], "template": tmpl, "selector": selector,
                    "minReadySeconds": rs["spec"].get("minReadySeconds", 0)}
        if t.get("replicas") is not None:
            out["replicas"] = t["replicas"]
        if t.get("weight") is not None or t.get("service") is not None:
            out["service"] = {k: v for k, v in (t.get("service") or {}).items() if k == "name"}
        templates.append(out)
    spec: Obj = {"templates": templates,
                 "progressDeadlineSeconds": rollout["spec"].get("progressDeadlineSeconds", 600)}
    for key in ("duration", "dryRun", "analysisRunMetadata", "scaleDownDelaySeconds"):
        if step.get(key) is not None:
            spec[key] = copy.deepcopy(step[key])
    analyses = []
    for a, resolved in zip(step.get("analyses") or [], args, strict=False):
        ref = {k: copy.deepcopy(v) for k, v in a.items() if k != "args"}
        if resolved:
            ref["args"] = resolved
        analyses.append(ref)
    if analyses:
        spec["analyses"] = analyses
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Experiment",
            "metadata": {"name": name, "namespace": meta["namespace"],
                         "labels": {**(meta.get("labels") or {}),
                                    HASH_LABEL: canary_rs["metadata"]["labels"].get(HASH_LABEL,
                                                                                    "")},
                         "annotations": {"rollout.argoproj.io/revision": revision},
                         "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1",
                                              "kind": "Rollout", "name": meta["name"],
                                              "uid": meta.get("uid", ""), "controller": True,
                                              "blockOwnerDeletion": True}]},
            "spec": spec}


def weights(ex: Obj, step: Obj) -> dict[str, int]:
    """Traffic weight per template Service of a running Experiment, from the step's `weight`s
    (only once the Service exists)."""
    if (ex.get("status") or {}).get("phase") in TERMINAL or (ex.get("spec") or {}).get(
            "terminate"):
        return {}
    out: dict[str, int] = {}
    for t in step.get("templates") or []:
        ts = template_status(ex, str(t.get("name"))) or {}
        if t.get("weight") is not None and ts.get("serviceName"):
            out[str(ts["serviceName"])] = int(t["weight"])
    return out


# --- objects of an Experiment -------------------------------------------------------------------


def replica_set(ex: Obj, t: Obj, replicas: int) -> Obj:
    tmpl = copy.deepcopy(t.get("template") or {})
    labels = {k: v for k, v in ((tmpl.get("metadata") or {}).get("labels") or {}).items()
              if k != HASH_LABEL}
    tmpl.setdefault("metadata", {})["labels"] = labels
    tmpl["metadata"].pop("creationTimestamp", None)
    h = template_hash(tmpl)
    tmpl["metadata"]["labels"] = {**labels, HASH_LABEL: h}
    selector = copy.deepcopy(t.get("selector") or {"matchLabels": dict(labels)})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: h}
    meta = ex["metadata"]
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{meta['name']}-{t['name']}", "namespace": meta["namespace"],
                         "labels": dict(tmpl["metadata"]["labels"]),
                         "annotations": {NAME_ANNOTATION: meta["name"],
                                         TEMPLATE_ANNOTATION: str(t["name"])},
                         "ownerReferences": [owner_ref(ex)]},
            "spec": {"replicas": replicas, "selector": selector, "template": tmpl,
                     "minReadySeconds": int(t.get("minReadySeconds") or 0)}}


def service(ex: Obj, t: Obj, rs: Obj) -> Obj | None:
    """The Service of a template with `service` (or a `weight`), selecting its ReplicaSet; None
    when its containers declare no port."""
    ports = []
    for c in rs["spec"]["template"]["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            sp: Obj = {"protocol": p.get("protocol", "TCP"), "port": p["containerPort"],
                       "targetPort": p["containerPort"]}
            if p.get("name"):
                sp["name"] = p["name"]
            ports.append(sp)
    if not ports:
        return None
    name = (t.get("service") or {}).get("name") or rs["metadata"]["name"]
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ex["metadata"]["namespace"],
                         "labels": dict(rs["metadata"]["labels"]),
                         "annotations": {NAME_ANNOTATION: ex["metadata"]["name"],
                                         TEMPLATE_ANNOTATION: str(t["name"])},
                         "ownerReferences": [owner_ref(ex)]},
            "spec": {"selector": dict(rs["spec"]["selector"]["matchLabels"]), "ports": ports}}


def owner_ref(ex: Obj) -> Obj:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Experiment",
            "name": ex["metadata"]["name"], "uid": ex["metadata"].get("uid", ""),
            "controller": True, "blockOwnerDeletion": True}


# --- status -------------------------------------------------------------------------------------


def template_status(ex: Obj, name: str) -> Obj | None:
    for ts in (ex.get("status") or {}).get("templateStatuses") or []:
        if ts.get("name") == name:
            return dict(ts)
    return None


def run_status(ex: Obj, name: str) -> Obj | None:
    for rs in (ex.get("status") or {}).get("analysisRuns") or []:
        if rs.get("name") == name:
            return dict(rs)
    return None


def required_succeeded(ex: Obj, runs: list[Obj]) -> bool:
    required = [a["name"] for a in (ex.get("spec") or {}).get("analyses") or []
                if a.get("requiredForCompletion")]
    phases = {r.get("name"): r.get("phase") for r in runs}
    return bool(required) and all(phases.get(n) == "Successful" for n in required)


def terminating(ex: Obj) -> bool:
    """No more pods or runs: terminated, finished, a template failed, a run went wrong, or the
    required analyses all succeeded."""
    st = ex.get("status") or {}
    if (ex.get("spec") or {}).get("terminate") or st.get("phase") in TERMINAL:
        return True
    if any(ts.get("status") in ("Failed", "Error") for ts in st.get("templateStatuses") or []):
        return True
    if any(r.get("phase") in ("Failed", "Error", "Inconclusive")
           for r in st.get("analysisRuns") or []):
        return True
    return required_succeeded(ex, st.get("analysisRuns") or [])


def passed_duration(ex: Obj, now: float) -> tuple[bool, float | None]:
    """Whether `duration` has run out since the templates became available, and when it will."""
    d = (ex.get("spec") or {}).get("duration")
    at = epoch((ex.get("status") or {}).get("availableAt"))
    if not d or at is None:
        return False, None
    end = at + seconds(d, 0.0)
    return now >= end, end


def desired_replicas(ex: Obj, t: Obj) -> int:
    if terminating(ex):
        return 0
    ts = template_status(ex, str(t["name"])) or {}
    if ts.get("status") in ("Successful", "Failed", "Error"):
        return 0
    return int(t["replicas"]) if t.get("replicas") is not None else 1


def assess_template(ex: Obj, t: Obj, rs: Obj | None, now: float) -> Obj:
    """A template's status from its ReplicaSet (Argo's reconcileTemplate, status part)."""
    prev = template_status(ex, str(t["name"])) or {"name": t["name"]}
    ts = dict(prev)
    st = (rs or {}).get("status") or {}
    ts.update({"replicas": int(st.get("replicas", 0)), "updatedReplicas": int(st.get("replicas",
                                                                                     0)),
               "readyReplicas": int(st.get("readyReplicas", 0)),
               "availableReplicas": int(st.get("availableReplicas", 0))})
    if any(ts[k] != prev.get(k) for k in ("replicas", "readyReplicas", "availableReplicas")) \
            or not ts.get("lastTransitionTime"):
        ts["lastTransitionTime"] = iso(now)
    if ts.get("status") in ("Successful", "Failed", "Error"):
        return ts
    desired = desired_replicas(ex, t)
    ending = terminating(ex)
    if desired == ts["availableReplicas"]:
        ts["status"] = "Successful" if passed_duration(ex, now)[0] or ending else "Running"
    else:
        deadline = float((ex.get("spec") or {}).get("progressDeadlineSeconds") or
                         PROGRESS_DEADLINE)
        since = epoch(ts.get("lastTransitionTime"))
        since = now if since is None else since
        if now > since + deadline:
            ts["status"] = "Failed"
            ts["message"] = (f"Template '{t['name']}' exceeded its progressDeadlineSeconds "
                             f"({deadline:g})")
        else:
            ts["status"] = "Successful" if ending else "Progressing"
    return ts


def assess(ex: Obj, templates: list[Obj], runs: list[Obj]) -> tuple[str, str]:
    """The Experiment's phase and message (Argo's calculateStatus)."""
    worst, t_msg = "Successful", ""
    for t in (ex.get("spec") or {}).get("templates") or []:
        ts = next((x for x in templates if x.get("name") == t["name"]), None)
        code = str((ts or {}).get("status") or "Progressing")
        if TEMPLATE_WORSE.index(code) > TEMPLATE_WORSE.index(worst):
            worst, t_msg = code, str((ts or {}).get("message") or "")
    t_phase = {"Progressing": "Pending", "Running": "Running"}.get(worst, worst)
    a_phase, a_msg = "Successful", ""
    for r in runs:
        p = str(r.get("phase") or "Pending")
        if WORSE.index(p) > WORSE.index(a_phase):
            a_phase, a_msg = p, str(r.get("message") or "")
    required = required_succeeded(ex, runs)
    if required and WORSE.index(a_phase) < WORSE.index("Inconclusive"):
        a_phase, a_msg = "Successful", "Required AnalysisRuns completed"
    if a_phase == "Pending":
        a_phase = "Running"
    has_required = any(a.get("requiredForCompletion")
                       for a in (ex.get("spec") or {}).get("analyses") or [])
    if t_phase in TERMINAL:
        if t_phase == "Successful" and (a_phase in TERMINAL or has_required):
            return a_phase, a_msg
        return t_phase, t_msg
    if a_phase in TERMINAL and a_phase != "Successful":
        return a_phase, a_msg
    if required:
        return a_phase, a_msg
    return t_phase, t_msg


_TAG = re.compile(r"\{\{\s*([\w.\-]+)\s*\}\}")


def resolve_args(ex: Obj, args: list[Obj], rss: dict[str, Obj]) -> list[Obj]:
    """An analysis's args with `{{templates.<name>.podTemplateHash}}`,
    `{{templates.<name>.replicaset.name}}`, `{{experiment.availableAt}}` and
    `{{experiment.finishedAt}}` filled in; raises ValueError for another placeholder."""
    values: dict[str, str] = {}
    st = ex.get("status") or {}
    if st.get("availableAt"):
        values["experiment.availableAt"] = str(st["availableAt"])
        d = (ex.get("spec") or {}).get("duration")
        at = epoch(st["availableAt"])
        if d and at is not None:
            values["experiment.finishedAt"] = iso(at + seconds(d, 0.0))
    for name, rs in rss.items():
        values[f"templates.{name}.podTemplateHash"] = rs["metadata"]["labels"].get(HASH_LABEL, "")
        values[f"templates.{name}.replicaset.name"] = rs["metadata"]["name"]
    out = []
    for a in args or []:
        b = copy.deepcopy(a)
        if b.get("value") is not None:
            def sub(m: re.Match[str]) -> str:
                if m.group(1) not in values:
                    raise ValueError(f"failed to resolve {{{{{m.group(1)}}}}}")
                return values[m.group(1)]
            b["value"] = _TAG.sub(sub, str(b["value"]))
        out.append(b)
    return out
