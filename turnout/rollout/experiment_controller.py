"""The controller behind Argo `Experiment`s: template ReplicaSets and Services, AnalysisRuns,
phase.

Why this exists: Experiments are created by users (`kubectl apply -f experiment.yaml`) and by a
Rollout's `experiment` step; this loop runs each template's ReplicaSet at its size until the
Experiment ends, gives a template a Service when it asks for one (or carries traffic weight),
starts the analyses once the templates are available, and writes Argo's status
(`templateStatuses`, `analysisRuns`, `availableAt`, `phase`, `message`). When it ends the
ReplicaSets are scaled down after `scaleDownDelaySeconds` (30), as in Argo.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterable

from turnout.controllers.base import Controller, Key
from turnout.controllers.events import Recorder
from turnout.controllers.workloads import owned_by
from turnout.rollout import analysis_run, argo_analysis, common, experiment
from turnout.rollout.experiment import TERMINAL, epoch
from turnout.rollout.flagger import seconds
from turnout.store.db import Event
from turnout.store.objects import Objects
from turnout.types import Obj

EXP = "experiments.argoproj.io"
RS = "replicasets.apps"
RUN = "analysisruns.argoproj.io"
SVC = "services"
DEADLINE = "argo-rollouts.argoproj.io/scale-down-deadline"
log = logging.getLogger("turnout.rollout.experiment")


class ExperimentController(Controller):
    name = "experiment-controller"
    resync_seconds = 10.0

    def __init__(self, objects: Objects) -> None:
        super().__init__(objects)
        self.events = Recorder(objects, "rollouts-controller")
        self.errors = 0
        """Analyses that could not be started (each also in the status and an Event)."""

    def all_keys(self) -> Iterable[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.iter(EXP)]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == EXP and ev.type != "DELETED":
            yield (ev.namespace, ev.name)
        elif ev.key in (RS, RUN, SVC):
            for ref in ev.obj["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "Experiment":
                    yield (ev.namespace, ref["name"])

    async def reconcile(self, key: Key) -> None:
        wake = self.sync(key, time.time())
        if wake is not None:
            common.schedule(self.enqueue, key, wake)

    def tick(self, now: float) -> None:
        """Reconcile every Experiment once (tests drive time through this)."""
        for k in self.all_keys():
            self.sync(k, now)

    # -- one pass ------------------------------------------------------------------------------

    def sync(self, key: Key, now: float) -> float | None:
        ex = common.get(self.objects, EXP, *key)
        if ex is None or ex["metadata"].get("deletionTimestamp"):
            return None
        st = dict(ex.get("status") or {})
        spec = ex.get("spec") or {}
        rss = {str((r["metadata"].get("annotations") or {}).get(experiment.TEMPLATE_ANNOTATION)):
               r for r in self.store.iter(RS, key[0]) if owned_by(r, ex["metadata"]["uid"])}
        wake: list[float] = []
        templates = [self._template(ex, t, rss, now, wake) for t in spec.get("templates") or []]
        view = {**ex, "status": {**st, "templateStatuses": templates}}
        t_phase, _ = experiment.assess(view, templates, [])
        if t_phase == "Running" and not st.get("availableAt"):
            st["availableAt"] = analysis_run.iso(now)
            view["status"]["availableAt"] = st["availableAt"]
        runs = [self._analysis(view, a, rss) for a in spec.get("analyses") or []]
        phase, message = (st.get("phase"), st.get("message", "")) if st.get("phase") in \
            TERMINAL else experiment.assess(view, templates, runs)
        new = {**st, "phase": phase, "message": message, "templateStatuses": templates,
               "analysisRuns": runs,
               "conditions": [{"type": "Progressing",
                               "status": "False" if phase in TERMINAL else "True",
                               "reason": "ExperimentCompleted" if phase in TERMINAL else
                               "ReplicaSetUpdated",
                               "message": f'Experiment "{ex["metadata"]["name"]}" is '
                                          f'{"completed" if phase in TERMINAL else "running"}.'}]}
        if not runs:
            new.pop("analysisRuns")
        if new != (ex.get("status") or {}):
            rt = self.objects.registry.by_key(EXP)
            assert rt is not None
            self.objects.update(rt, key[0], key[1], {"status": new}, subresource="status")
            if phase != st.get("phase") and phase in TERMINAL:
                self.events.record(ex, "Warning" if phase in ("Failed", "Error") else "Normal",
                                   f"Experiment{phase}", f"Experiment completed: {phase}"
                                   + (f": {message}" if message else ""))
        if phase not in TERMINAL:
            done, end = experiment.passed_duration(view, now)
            if end is not None and not done:
                wake.append(end)
            wake.append(now + 5.0)
        return min(wake) if wake else None

    def _template(self, ex: Obj, t: Obj, rss: dict[str, Obj], now: float,
                  wake: list[float]) -> Obj:
        ns = ex["metadata"]["namespace"]
        rs = rss.get(str(t["name"]))
        desired = experiment.desired_replicas(ex, t)
        rt = self.objects.registry.by_key(RS)
        assert rt is not None
        if rs is None and desired > 0:
            rs = self.objects.create(rt, ns, experiment.replica_set(ex, t, desired))
            rss[str(t["name"])] = rs
            self.events.record(ex, "Normal", "ScalingReplicaSet",
                               f"Created ReplicaSet {rs['metadata']['name']} with {desired}")
        elif rs is not None and int(rs["spec"].get("replicas", 0)) != desired:
            rs = self._scale(ex, rs, desired, now, wake)
            rss[str(t["name"])] = rs
        ts = experiment.assess_template(ex, t, rs, now)
        prev = experiment.template_status(ex, str(t["name"])) or {}
        if ts.get("status") != prev.get("status"):
            bad = ts.get("status") in ("Failed", "Error")
            self.events.record(ex, "Warning" if bad else "Normal", f"Template{ts['status']}",
                               f"Template '{t['name']}' transitioned from "
                               f"{prev.get('status', '')} -> {ts['status']}"
                               + (f": {ts['message']}" if ts.get("message") else ""))
        if t.get("service") is not None and rs is not None:
            self._service(ex, t, rs, ts, desired)
        return ts

    def _scale(self, ex: Obj, rs: Obj, desired: int, now: float, wake: list[float]) -> Obj:
        rt = self.objects.registry.by_key(RS)
        assert rt is not None
        rs = copy.deepcopy(rs)
        ann = rs["metadata"].setdefault("annotations", {})
        if desired == 0:  # scaleDownDelaySeconds before the pods go, as Argo does
            delay = seconds((ex.get("spec") or {}).get("scaleDownDelaySeconds"),
                            experiment.SCALE_DOWN_DELAY)
            if delay > 0 and DEADLINE not in ann:
                ann[DEADLINE] = analysis_run.iso(now + delay)
                wake.append(now + delay)
                out: Obj = self.objects.update(rt, rs["metadata"]["namespace"],
                                               rs["metadata"]["name"], rs)
                return out
            at = epoch(ann.get(DEADLINE))
            if at is not None and now < at:
                wake.append(at)
                return rs
        else:
            ann.pop(DEADLINE, None)
        old = rs["spec"].get("replicas", 0)
        rs["spec"]["replicas"] = desired
        self.events.record(ex, "Normal", "ScalingReplicaSet",
                           f"Scaled {'up' if desired > old else 'down'} ReplicaSet "
                           f"{rs['metadata']['name']} from {old} to {desired}")
        out = self.objects.update(rt, rs["metadata"]["namespace"], rs["metadata"]["name"], rs)
        return out

    def _service(self, ex: Obj, t: Obj, rs: Obj, ts: Obj, desired: int) -> None:
        ns = ex["metadata"]["namespace"]
        body = experiment.service(ex, t, rs)
        rt = self.objects.registry.by_key(SVC)
        assert rt is not None
        if body is None:
            return
        name = body["metadata"]["name"]
        have = common.get(self.objects, SVC, ns, name)
        if desired > 0:
            if have is None:
                self.objects.create(rt, ns, body)
            ts["serviceName"] = name
            ts["podTemplateHash"] = rs["metadata"]["labels"].get(experiment.HASH_LABEL, "")
        elif int((rs.get("status") or {}).get("availableReplicas", 0)) == 0:
            if have is not None and owned_by(have, ex["metadata"]["uid"]):
                self.objects.delete(rt, ns, name)
            ts.pop("serviceName", None)
            ts.pop("podTemplateHash", None)

    def _analysis(self, ex: Obj, a: Obj, rss: dict[str, Obj]) -> Obj:
        ns = ex["metadata"]["namespace"]
        name = str(a.get("name"))
        prev = experiment.run_status(ex, name) or {"name": name}
        new = dict(prev)
        lookup = _lookup(self.objects, ns)
        ref = [{"templateName": a.get("templateName"), "clusterScope": a.get("clusterScope")}]
        if not (ex.get("status") or {}).get("availableAt"):
            try:  # not started before the templates are available; check the template now
                argo_analysis.collect(ref, lookup, "spec.analyses")
            except ValueError as e:
                kind = "ClusterAnalysisTemplate" if a.get("clusterScope") else "AnalysisTemplate"
                new.update(phase="Error", message=f"{kind} verification failed for analysis "
                                                  f"'{name}': {e}")
            return self._transition(ex, prev, new)
        if not prev.get("analysisRun"):
            if experiment.terminating(ex):
                return self._transition(ex, prev, new)
            run_name = f"{ex['metadata']['name']}-{name}"
            try:
                templates = argo_analysis.collect(ref, lookup, "spec.analyses")
                args = experiment.resolve_args(ex, a.get("args") or [], rss)
                spec = ex.get("spec") or {}
                body = argo_analysis.new_run(
                    templates, args, {k: spec[k] for k in ("dryRun", "measurementRetention",
                                                            "analysisRunMetadata") if k in spec},
                    name=run_name, namespace=ns, owner=ex, labels={}, annotations={})
                rt = self.objects.registry.by_key(RUN)
                assert rt is not None
                if common.get(self.objects, RUN, ns, run_name) is None:
                    self.objects.create(rt, ns, body)
            except ValueError as e:
                self.errors += 1
                log.warning("experiment %s/%s: analysis %s: %s", ns, ex["metadata"]["name"],
                            name, e)
                new.update(phase="Error",
                           message=f"Failed to create AnalysisRun for analysis '{name}': {e}")
                return self._transition(ex, prev, new)
            new.update(phase="Pending", analysisRun=run_name)
            return self._transition(ex, prev, new)
        if prev.get("phase") in TERMINAL:
            return new
        run = common.get(self.objects, RUN, ns, str(prev["analysisRun"]))
        if run is None:
            new.update(phase="Error", message=f'analysisruns.argoproj.io "{prev["analysisRun"]}" '
                                              "not found")
        elif experiment.terminating(ex):
            rst = run.get("status") or {}
            if rst.get("phase") not in TERMINAL and not (run.get("spec") or {}).get("terminate"):
                rt = self.objects.registry.by_key(RUN)
                assert rt is not None
                run = copy.deepcopy(run)
                run["spec"]["terminate"] = True
                self.objects.update(rt, ns, run["metadata"]["name"], run)
                self.events.record(ex, "Normal", "AnalysisRunTerminating",
                                   f"Terminating {name} ({run['metadata']['name']})")
        else:
            rst = run.get("status") or {}
            new.update(phase=rst.get("phase") or "Pending", message=rst.get("message", ""))
        return self._transition(ex, prev, new)

    def _transition(self, ex: Obj, prev: Obj, new: Obj) -> Obj:
        if new.get("phase") and new.get("phase") != prev.get("phase"):
            bad = new["phase"] in ("Failed", "Error", "Inconclusive")
            self.events.record(ex, "Warning" if bad else "Normal", f"AnalysisRun{new['phase']}",
                               f"AnalysisRun '{new['name']}' transitioned from "
                               f"{prev.get('phase', '')} -> {new['phase']}"
                               + (f": {new['message']}" if new.get("message") else ""))
        return {k: v for k, v in new.items() if v not in (None, "")}


def _lookup(objects: Objects, ns: str) -> argo_analysis.Lookup:
    def look(name: str, cluster: bool) -> Obj | None:
        if cluster:
            return common.get(objects, argo_analysis.CLUSTER_TEMPLATE, "", name)
        return common.get(objects, argo_analysis.TEMPLATE, ns, name)
    return look
