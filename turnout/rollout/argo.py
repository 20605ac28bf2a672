"""Argo Rollouts `Rollout` front end, pure parts: spec → plan, ReplicaSets, analysis runs, status.

Why this exists: a Rollout owns its ReplicaSets like a Deployment does (one per pod-template
hash, labelled `rollouts-pod-template-hash`), and its canary steps or blue/green settings map onto
the shared engine. Rendering those objects and the Argo-shaped status here keeps
``argo_controller`` a thin loop of reads and writes.

Pure: no I/O.
"""

from __future__ import annotations

import copy
import math

from turnout.controllers.workloads import template_hash
from turnout.rollout import engine
from turnout.rollout.engine import HeaderMatch, Phase, Plan, State
from turnout.rollout.flagger import seconds
from turnout.rollout.routers.istio import HASH_LABEL
from turnout.types import Obj

ARGO_PHASE = {Phase.INITIALIZING: "Progressing", Phase.HEALTHY: "Healthy",
              Phase.PROGRESSING: "Progressing", Phase.PAUSED: "Paused",
              Phase.PROMOTING: "Progressing", Phase.ABORTED: "Degraded"}


def revision(template: Obj, collision_count: int = 0) -> str:
    """The `rollouts-pod-template-hash` of a template; a `status.collisionCount` (a ReplicaSet
    of the same name that is not the Rollout's) changes it, as in Argo."""
    t = copy.deepcopy(template)
    meta = t.get("metadata") or {}
    meta.pop("creationTimestamp", None)
    (meta.get("labels") or {}).pop(HASH_LABEL, None)
    if collision_count:
        return template_hash({"template": t, "collisionCount": collision_count})
    return template_hash(t)


def strategy(spec: Obj) -> tuple[str, Obj]:
    st = spec.get("strategy") or {}
    if "blueGreen" in st:
        return "blueGreen", st["blueGreen"] or {}
    return "canary", st.get("canary") or {}


def _header_route(s: Obj) -> engine.SetHeaderRoute:
    out = []
    for m in s.get("match") or []:
        hv = m.get("headerValue") or {}
        kind, value = next(iter(hv.items())) if hv else ("exact", "")
        out.append(HeaderMatch(str(m.get("headerName", "")), str(value), str(kind)))
    return engine.SetHeaderRoute(str(s.get("name", "header")), tuple(out))


def plan(spec: Obj) -> Plan:
    """Raises ValueError naming the field for a step turnout cannot run."""
    try:
        return _plan(spec)
    except (TypeError, AttributeError) as e:  # a malformed spec (argo_spec says which field)
        raise ValueError(f"spec.strategy: cannot be read: {e}") from None


def _plan(spec: Obj) -> Plan:
    kind, st = strategy(spec)
    steps: list[engine.Step] = []
    # the canary (or preview) is scaled down this long after an abort; basic canary: at once
    delay = abort_delay(spec)
    # progressDeadlineSeconds (600) marks ProgressDeadlineExceeded; it aborts only with
    # progressDeadlineAbort, as in Argo
    deadline = float(spec.get("progressDeadlineSeconds") or 600)
    aborts = bool(spec.get("progressDeadlineAbort", False))
    if kind == "blueGreen":
        if st.get("prePromotionAnalysis"):
            steps.append(engine.Analyze("pre-promotion"))
        if st.get("autoPromotionEnabled") is False:
            steps.append(engine.Pause(None))
        elif st.get("autoPromotionSeconds"):
            steps.append(engine.Pause(float(st["autoPromotionSeconds"])))
        if st.get("postPromotionAnalysis"):
            # the active Service switches to the new revision (weight 100), then the analysis
            # decides: success makes it stable, failure aborts and switches back
            steps += [engine.SetWeight(100), engine.Analyze("post-promotion")]
        return Plan(tuple(steps), scale_down_delay=delay, progress_deadline=deadline,
                    deadline_aborts=aborts)
    for i, s in enumerate(st.get("steps") or []):
        where = f"spec.strategy.canary.steps[{i}]"
        if "setWeight" in s:
            steps.append(engine.SetWeight(int(s["setWeight"])))
        elif "pause" in s:
            d = (s.get("pause") or {}).get("duration")
            steps.append(engine.Pause(seconds(d, 0.0) if d is not None else None))
        elif "analysis" in s:
            steps.append(engine.Analyze(f"step-{i}"))
        elif "experiment" in s:
            if not (s["experiment"] or {}).get("templates"):
                raise ValueError(f"{where}.experiment.templates: Required value")
            steps.append(engine.Analyze(f"experiment-{i}", "InconclusiveExperiment"))
        elif "setHeaderRoute" in s:
            steps.append(_header_route(s["setHeaderRoute"] or {}))
        elif "setMirrorRoute" in s:
            m = s["setMirrorRoute"] or {}
            pct = int(m.get("percentage", 100)) if m.get("match") else None
            steps.append(engine.SetMirrorRoute(str(m.get("name", "mirror")), pct))
        elif "setCanaryScale" in s:
            c = s["setCanaryScale"] or {}
            steps.append(engine.SetCanaryScale(
                int(c["replicas"]) if c.get("replicas") is not None else None,
                int(c["weight"]) if c.get("weight") is not None else None))
        else:
            raise ValueError(f"{where}: unsupported step {sorted(s)} (setWeight, pause, "
                             "analysis, setHeaderRoute, setMirrorRoute, setCanaryScale)")
    bg = st.get("analysis")
    return Plan(tuple(steps), scale_down_delay=delay,
                background_from=int(bg.get("startingStep", 0) or 0) if bg else None,
                progress_deadline=deadline, deadline_aborts=aborts)


def replica_set(rollout: Obj, rev: str, replicas: int) -> Obj:
    meta = rollout["metadata"]
    tmpl = copy.deepcopy(rollout["spec"].get("template") or {})
    tmeta = tmpl.setdefault("metadata", {})
    tmeta.pop("creationTimestamp", None)
    tmeta["labels"] = {**(tmeta.get("labels") or {}), HASH_LABEL: rev}
    sel = copy.deepcopy(rollout["spec"].get("selector") or {})
    sel["matchLabels"] = {**(sel.get("matchLabels") or {}), HASH_LABEL: rev}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{meta['name']}-{rev}", "namespace": meta["namespace"],
                         "labels": dict(tmeta["labels"]),
                         "annotations": {"rollout.argoproj.io/revision": rev},
                         "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1",
                                              "kind": "Rollout", "name": meta["name"],
                                              "uid": meta.get("uid", ""), "controller": True,
                                              "blockOwnerDeletion": True}]},
            "spec": {"replicas": replicas, "selector": sel, "template": tmpl,
                     "minReadySeconds": rollout["spec"].get("minReadySeconds", 0)}}


def replicas(spec: Obj) -> int:
    n = spec.get("replicas")
    return int(n) if n is not None else 1


def workload_scale(scale_down: str, healthy: bool, want: int, ready: int) -> int | None:
    """Replicas for a `workloadRef` Deployment: `onsuccess` 0 once the Rollout is Healthy,
    `progressively` what the Rollout's ready pods do not yet cover, then 0; None: leave it."""
    if scale_down == "onsuccess":
        return 0 if healthy else None
    if scale_down == "progressively":
        return 0 if healthy else (max(0, want - ready) if ready > 0 else None)
    return None


def routed(spec: Obj) -> bool:
    """Whether traffic follows a router (blue/green Services, a mesh, an Ingress) rather than
    the number of pods of each revision (Argo's basic canary)."""
    kind, st = strategy(spec)
    return kind == "blueGreen" or bool(st.get("trafficRouting"))


def abort_delay(spec: Obj) -> float:
    """Seconds the canary keeps its pods after an abort: `abortScaleDownDelaySeconds` (30) with
    traffic routing, none for a basic canary. 0 means it keeps them (see ``keeps_canary``)."""
    _, st = strategy(spec)
    if not routed(spec):
        return 0.0
    return seconds(st.get("abortScaleDownDelaySeconds"), 30.0)


def keeps_canary(spec: Obj) -> bool:
    """`abortScaleDownDelaySeconds: 0` with traffic routing: an aborted canary stays up."""
    _, st = strategy(spec)
    return routed(spec) and st.get("abortScaleDownDelaySeconds") == 0


def _steps(spec: Obj) -> list[Obj]:
    kind, st = strategy(spec)
    return [x for x in st.get("steps") or [] if isinstance(x, dict)] if kind == "canary" else []


def canary_scale(spec: Obj, step: int) -> Obj | None:
    """The `setCanaryScale` in force at ``step`` (the last one at or before it); None when there
    is none or all steps are done (the canary then follows the default)."""
    steps = _steps(spec)
    if step >= len(steps):
        return None
    for i in range(step, -1, -1):
        c = steps[i].get("setCanaryScale")
        if isinstance(c, dict):
            return c
    return None


def coming_weight(spec: Obj, s: State) -> int:
    """The weight of the current step when it is a setWeight, else the current weight: the
    canary gets those pods before the walk (which waits for them) routes that weight."""
    steps, w = _steps(spec), s.weight
    if s.in_flight and s.step < len(steps) and isinstance(steps[s.step].get("setWeight"), int):
        w = max(w, steps[s.step]["setWeight"])
    return max(0, min(100, w))


def scales(spec: Obj, s: State, routed_: bool | None = None) -> dict[str, int]:
    """Wanted replicas per revision hash (revisions not listed go to 0).

    With traffic routing the canary runs at full size unless `setCanaryScale` says otherwise
    (`replicas`, `weight` % of spec.replicas, `matchTrafficWeight`: the coming weight's share);
    a basic canary gets the coming weight's share of the pods and the stable the rest of the
    current weight's. While promoting the canary runs at full size next to the stable."""
    routed_ = routed(spec) if routed_ is None else routed_
    n = replicas(spec)
    if s.phase is Phase.INITIALIZING:
        return {s.canary: n}
    out = {s.stable: n}
    if not s.canary:
        return out
    if s.phase is Phase.PROMOTING:
        out[s.canary] = n
        return out
    aborted = s.phase is Phase.ABORTED
    keep = aborted and keeps_canary(spec)
    if not (s.in_flight or keep or (aborted and s.retire_at is not None)):
        return out
    if routed_:
        out[s.canary] = _routed_size(spec, s, n)
    else:
        surge = max_surge(spec, n)
        out[s.canary] = basic_counts(n, coming_weight(spec, s), surge)[0]
        if s.in_flight:
            out[s.stable] = basic_counts(n, s.weight, surge)[1]
    return out


def max_surge(spec: Obj, n: int) -> int:
    """`strategy.canary.maxSurge` as a count: an int, or a percentage of spec.replicas rounded
    up (default 25%)."""
    raw = (strategy(spec)[1] or {}).get("maxSurge", "25%")
    if isinstance(raw, str) and raw.endswith("%"):
        try:
            return math.ceil(n * float(raw[:-1]) / 100)
        except ValueError:
            return 0
    return int(raw) if isinstance(raw, int) and not isinstance(raw, bool) else 0


def basic_counts(n: int, weight: int, surge: int) -> tuple[int, int]:
    """(canary, stable) pods of a basic canary at `weight`, as Argo approximates it: the counts
    closest to the weight, summing to spec.replicas or (with surge) one more, and with a weight
    of 1-99 never 0 pods on either side when there are 2 or more in all (so 1 replica at 50 %
    runs 1 stable and 1 canary)."""
    if n <= 0:
        return 0, 0

    def tied(total: int) -> bool:
        return math.modf(total * weight / 100)[0] == 0.5
    ceil, floor = math.ceil(n * weight / 100), math.floor(n * weight / 100)
    zero_ok = weight in (0, 100) or (n == 1 and surge == 0)
    options: list[tuple[int, int]] = []
    if ceil < n or zero_ok:
        options.append((ceil, n))
    if not tied(n) and (floor or zero_ok):
        options.append((floor, n))
    if surge > 0:
        options.append((ceil, n + 1))
        if not tied(n + 1) and (floor or zero_ok):
            options.append((floor, n + 1))
    if not options:
        return 0, n
    best = min(options, key=lambda o: abs(o[0] * 100 / o[1] - weight))  # first of equals
    return best[0], best[1] - best[0]


def _routed_size(spec: Obj, s: State, n: int) -> int:
    kind, st = strategy(spec)
    if kind == "blueGreen":  # previewReplicaCount until the switch comes
        preview = st.get("previewReplicaCount")
        before = int(bool(st.get("prePromotionAnalysis"))) + int(
            st.get("autoPromotionEnabled") is False or bool(st.get("autoPromotionSeconds")))
        waiting = s.phase is not Phase.PROMOTING and s.weight < 100 and s.step < before
        return int(preview) if preview is not None and waiting else n
    c = canary_scale(spec, s.step)
    if c is None:
        return n
    if c.get("replicas") is not None:
        return int(c["replicas"])
    if c.get("weight") is not None:
        return math.ceil(n * int(c["weight"]) / 100)
    if s.phase is Phase.ABORTED:
        return n
    return math.ceil(n * coming_weight(spec, s) / 100)


def _run_status(run: Obj | None) -> Obj | None:
    if run is None:
        return None
    st = run.get("status") or {}
    out: Obj = {"name": run["metadata"]["name"], "status": st.get("phase") or "Pending"}
    if st.get("message"):
        out["message"] = st["message"]
    return out


def status(rollout: Obj, s: State, plan_: Plan, rs_status: dict[str, Obj],
           runs: dict[str, Obj], now_iso: str) -> Obj:
    """The Argo-shaped status; ``runs`` are the current AnalysisRuns by `rollout-type`."""
    spec = rollout["spec"]
    old = rollout.get("status") or {}
    kind, _ = strategy(spec)
    phase = ARGO_PHASE[s.phase]
    stable = s.stable or s.canary
    current = s.canary or s.stable
    def count(h: str, k: str) -> int:
        return int((rs_status.get(h) or {}).get(k, 0))

    total = sum(int(v.get("replicas", 0)) for v in rs_status.values())
    avail = sum(int(v.get("availableReplicas", 0)) for v in rs_status.values())
    prev = {c.get("type"): c for c in old.get("conditions") or []}

    def cond(t: str, ok: bool, reason: str, message: str) -> Obj:
        p = prev.get(t) or {}
        st = "True" if ok else "False"
        same = p.get("status") == st and p.get("reason") == reason
        return {"type": t, "status": st, "reason": reason, "message": message,
                "lastUpdateTime": p.get("lastUpdateTime", now_iso) if same else now_iso,
                "lastTransitionTime": p.get("lastTransitionTime", now_iso) if same else now_iso}

    want = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    healthy = s.phase is Phase.HEALTHY
    rs_name = f"{rollout['metadata']['name']}-{current}"
    # Argo marks a missed progressDeadlineSeconds in the Progressing condition, and
    # CalculateRolloutPhase turns that reason into Degraded; nothing is aborted
    progressing = (False, engine.TIMED_OUT, f'ReplicaSet "{rs_name}" has timed out progressing.') \
        if engine.timed_out(s) else \
        (s.phase is not Phase.ABORTED,
         {Phase.ABORTED: "RolloutAborted", Phase.PAUSED: "RolloutPaused",
          Phase.HEALTHY: "NewReplicaSetAvailable"}.get(s.phase, "ReplicaSetUpdated"),
         s.message or f"ReplicaSet {rs_name} is {'available' if healthy else 'progressing'}")
    if engine.timed_out(s):
        phase = "Degraded"
    out: Obj = {
        "phase": phase,
        "message": f"{engine.TIMED_OUT}: {progressing[2]}" if engine.timed_out(s) else
        s.message or ("" if healthy else s.pause_reason),
        "observedGeneration": str(rollout["metadata"].get("generation", 1)),
        "currentPodHash": current,
        "stableRS": stable,
        "replicas": total, "availableReplicas": avail,
        "updatedReplicas": count(current, "replicas"),
        "readyReplicas": sum(int(v.get("readyReplicas", 0)) for v in rs_status.values()),
        "selector": ",".join(f"{k}={v}" for k, v in sorted(
            ((spec.get("selector") or {}).get("matchLabels") or {}).items())),
        "abort": s.phase is Phase.ABORTED,
        "pauseConditions": [{"reason": s.pause_reason, "startTime": now_iso}]
        if s.phase is Phase.PAUSED else None,
        "controllerPause": s.phase is Phase.PAUSED,
        "conditions": [
            cond("Available", avail >= want, "AvailableReason",
                 "Rollout has minimum availability" if avail >= want else
                 "Rollout does not have minimum availability"),
            cond("Progressing", *progressing),
            cond("Healthy", healthy, "RolloutHealthy",
                 "Rollout is healthy" if healthy else "Rollout is not healthy"),
        ],
        "turnout": s.to_json(),
        "collisionCount": old.get("collisionCount"),
    }
    if kind == "canary":
        out["currentStepIndex"] = min(s.step, len(plan_.steps)) if s.canary else \
            len(plan_.steps)
        out["canary"] = {"weights": {"canary": {"podTemplateHash": s.canary or stable,
                                                "weight": s.weight},
                                     "stable": {"podTemplateHash": stable,
                                                "weight": 100 - s.weight}},
                         "currentStepAnalysisRunStatus": _run_status(runs.get("Step")),
                         "currentBackgroundAnalysisRunStatus": _run_status(
                             runs.get("Background"))}
        out["canary"] = {k: v for k, v in out["canary"].items() if v is not None}
    else:
        out["blueGreen"] = {"activeSelector": current if s.weight >= 100 else stable,
                            "previewSelector": current,
                            "prePromotionAnalysisRunStatus": _run_status(
                                runs.get("PrePromotion")),
                            "postPromotionAnalysisRunStatus": _run_status(
                                runs.get("PostPromotion"))}
        out["blueGreen"] = {k: v for k, v in out["blueGreen"].items() if v is not None}
    return {k: v for k, v in out.items() if v is not None}
