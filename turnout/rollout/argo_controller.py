"""The controller behind Argo `Rollout` objects: ReplicaSets, routers, analysis runs, status.

Why this exists: it is the effectful shell around ``engine.step`` for Argo's model. It accepts the
commands the way `kubectl argo rollouts` sends them (status patches: `abort`, `promoteFull`,
cleared `pauseConditions`) as well as turnout's own annotation, creates an AnalysisRun per
analysis step (the AnalysisRun controller measures it), applies route changes before any scale
down, and writes an Argo-shaped status whose `turnout` field is the engine state.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable

from turnout.analysis import Outcome
from turnout.controllers.base import Controller, Key
from turnout.controllers.events import Recorder
from turnout.controllers.workloads import owned_by
from turnout.kube import errors
from turnout.rollout import argo, common, engine, metrics
from turnout.rollout.engine import Command, Gate, Inputs, Phase, State
from turnout.rollout.flagger import COMMAND
from turnout.rollout.routers import Router
from turnout.rollout.routers.istio import Destination, IstioRoute, IstioRouter
from turnout.rollout.routers.nginx import NginxRoute, NginxRouter
from turnout.rollout.routers.service import ServiceRoute, ServiceRouter, render_selector
from turnout.store.db import Event
from turnout.store.objects import Objects, now_iso
from turnout.types import Obj

ROLLOUT = "rollouts.argoproj.io"
RS = "replicasets.apps"
RUN = "analysisruns.argoproj.io"
OUTCOME = {"Successful": Outcome.PASS, "Failed": Outcome.FAIL, "Error": Outcome.FAIL,
           "Inconclusive": Outcome.INCONCLUSIVE}


class RolloutController(Controller):
    name = "argo-rollouts-controller"
    resync_seconds = 5.0

    def __init__(self, objects: Objects) -> None:
        super().__init__(objects)
        self.events = Recorder(objects, "rollouts-controller")
        self.clock = time.time

    def all_keys(self) -> Iterable[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"])
                for o in self.store.iter(ROLLOUT)]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == ROLLOUT:
            yield (ev.namespace, ev.name)
        elif ev.key in (RS, RUN):
            for ref in ev.obj["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "Rollout":
                    yield (ev.namespace, ref["name"])

    async def reconcile(self, key: Key) -> None:
        wake = self.sync(key, self.clock())
        if wake is not None:
            common.schedule(self.enqueue, key, wake, self.clock())

    def sync(self, key: Key, now: float) -> float | None:
        ns, name = key
        ro = common.get(self.objects, ROLLOUT, ns, name)
        if ro is None or ro["metadata"].get("deletionTimestamp"):
            return None
        spec = ro.get("spec") or {}
        try:
            plan = argo.plan(spec)
        except ValueError as e:
            self._invalid(ro, str(e))
            return None
        state = State.from_json((ro.get("status") or {}).get("turnout"))
        rev = argo.revision(spec.get("template") or {})
        rss = {r["metadata"]["labels"].get("rollouts-pod-template-hash", ""): r
               for r in self.store.iter(RS, ns) if owned_by(r, ro["metadata"]["uid"])}
        command = self._command(ro, state)
        runs: list[str] = []
        gate = background = None
        if state.in_flight or state.phase is Phase.ABORTED:
            gate, background, runs = self._analysis(ro, spec, plan, state, now, command)
        if not state.in_flight:
            self._terminate_runs(ro, keep=())
        # readiness of the revision the user wants: after an abort the state still names the old
        # canary, whose pods may linger; judging by them would route to a not-yet-ready canary
        canary_rs = rss.get(rev)
        inputs = Inputs(desired=rev,
                        canary_ready=canary_rs is not None and common.available(canary_rs),
                        stable_ready=canary_rs is not None and common.available(canary_rs),
                        gate=gate, background=background, command=command,
                        paused=bool(spec.get("paused")))
        new, actions = engine.step(state, plan, inputs, now)
        try:
            router = self._router(ro, spec, new)
            if router is not None:
                router.reconcile(self.objects)
        except errors.ApiError as e:
            self._invalid(ro, f"trafficRouting: {e.message}")
            return now + 5.0
        wake: list[float] = []
        for a in actions:
            if isinstance(a, engine.Routes) and router is not None:
                router.set_routes(self.objects, a)
            elif isinstance(a, engine.Emit):
                self.events.record(ro, a.type, a.reason, a.message)
            elif isinstance(a, engine.Wake):
                wake.append(a.at)
        if router is not None:
            router.set_routes(self.objects, engine.Routes(new.weight, new.header, new.mirror))
        rss = self._scale(ro, new, rss, routed=router is not None)
        if not new.in_flight:
            self._terminate_runs(ro, keep=())
        self._write_status(ro, new, plan, rss, runs)
        if new.in_flight or new.retire_at is not None:
            wake.append(now + 1.0)
        return min(wake) if wake else None

    # -- commands ------------------------------------------------------------------------------

    def _command(self, ro: Obj, s: State) -> Command | None:
        st = ro.get("status") or {}
        ann = ro["metadata"].get("annotations") or {}
        if ann.get(COMMAND):
            rt = self.objects.registry.by_key(ROLLOUT)
            assert rt is not None
            fresh = copy.deepcopy(ro)
            fresh["metadata"]["annotations"].pop(COMMAND)
            fresh.pop("status", None)
            ro["metadata"] = self.objects.update(rt, ro["metadata"]["namespace"],
                                                 ro["metadata"]["name"], fresh)["metadata"]
            try:
                return Command(ann[COMMAND])
            except ValueError:
                self.events.record(ro, "Warning", "UnknownCommand",
                                   f"annotation {COMMAND}={ann[COMMAND]!r}")
                return None
        if st.get("promoteFull") and s.in_flight:
            return Command.PROMOTE_FULL
        if st.get("abort") is True and s.phase in (Phase.PROGRESSING, Phase.PAUSED):
            return Command.ABORT
        if st.get("abort") is False and s.phase is Phase.ABORTED:
            return Command.RETRY
        if s.phase is Phase.PAUSED and "turnout" in st and not st.get("pauseConditions"):
            return Command.PROMOTE
        return None

    # -- analysis ------------------------------------------------------------------------------

    def _analysis(self, ro: Obj, spec: Obj, plan: engine.Plan, s: State, now: float,
                  command: Command | None) -> tuple[Gate | None, Gate | None, list[str]]:
        kind, st = argo.strategy(spec)
        base = f"{ro['metadata']['name']}-{s.canary}-{s.attempt}"
        names: list[str] = []
        gate = background = None
        if s.phase in (Phase.PROGRESSING, Phase.PAUSED) and s.step < len(plan.steps) and \
                isinstance(plan.steps[s.step], engine.Analyze):
            if kind == "blueGreen":
                ref = st.get("prePromotionAnalysis") or {}
            else:
                ref = (st.get("steps") or [])[s.step].get("analysis") or {}
            run_name = f"{base}-{s.step}"
            names.append(run_name)
            run = self._ensure_run(ro, run_name, ref, s)
            if run is not None and s.phase is Phase.PROGRESSING:
                gate = _gate(run)
        bg = st.get("analysis") if kind == "canary" else None
        if bg and plan.background_from is not None and s.step >= plan.background_from and \
                s.phase in (Phase.PROGRESSING, Phase.PAUSED):
            run_name = f"{base}-bg"
            names.append(run_name)
            run = self._ensure_run(ro, run_name, bg, s)
            if run is not None and command is Command.PROMOTE and _gate(run) is not None:
                self._delete_run(ro, run_name)  # the human accepted it: measure afresh
            elif run is not None and s.phase is Phase.PROGRESSING:
                background = _gate(run)
        self._terminate_runs(ro, keep=tuple(names))
        return gate, background, names

    def _ensure_run(self, ro: Obj, name: str, ref: Obj, s: State) -> Obj | None:
        ns = ro["metadata"]["namespace"]
        have = common.get(self.objects, RUN, ns, name)
        if have is not None:
            return have
        templates = []
        for tname, cluster in argo.analysis_templates(ref.get("templates") or []):
            key = "clusteranalysistemplates.argoproj.io" if cluster else \
                "analysistemplates.argoproj.io"
            t = common.get(self.objects, key, "" if cluster else ns, tname)
            if t is None:
                self.events.record(ro, "Warning", "AnalysisTemplateNotFound",
                                   f"analysis template {tname!r} not found")
                return None
            templates.append(t)
        stable_rs = common.get(self.objects, RS, ns, f"{ro['metadata']['name']}-{s.stable}")
        tmpl = ro["spec"].get("template") or {}
        # Argo's arms: the stable and canary ReplicaSets of this Rollout, by template hash
        workload = ro["metadata"]["name"]
        stable_tmpl = ((stable_rs or {}).get("spec") or {}).get("template") or tmpl
        arms = {"namespace": ns,
                "stable": metrics.arm_of(workload, s.stable or "", stable_tmpl).to_json(),
                "canary": metrics.arm_of(workload, s.canary or "", tmpl).to_json(),
                "started": s.started, "canary_hash": s.canary}
        body = argo.render_analysis_run(ro, name, templates, ref.get("args") or [], arms)
        rt = self.objects.registry.by_key(RUN)
        assert rt is not None
        run = self.objects.create(rt, ns, body)
        self.events.record(ro, "Normal", "AnalysisRunRunning", f"analysis run {name} created")
        return run

    def _delete_run(self, ro: Obj, name: str) -> None:
        rt = self.objects.registry.by_key(RUN)
        assert rt is not None
        self.objects.delete(rt, ro["metadata"]["namespace"], name)

    def _terminate_runs(self, ro: Obj, keep: tuple[str, ...]) -> None:
        rt = self.objects.registry.by_key(RUN)
        assert rt is not None
        for run in self.store.iter(RUN, ro["metadata"]["namespace"]):
            if not owned_by(run, ro["metadata"]["uid"]) or run["metadata"]["name"] in keep:
                continue
            if (run.get("status") or {}).get("phase") in ("Successful", "Failed", "Error",
                                                          "Inconclusive"):
                continue
            if not (run.get("spec") or {}).get("terminate"):
                run = copy.deepcopy(run)
                run["spec"]["terminate"] = True
                self.objects.update(rt, run["metadata"]["namespace"], run["metadata"]["name"],
                                    run)

    # -- routing and scaling -------------------------------------------------------------------

    def _router(self, ro: Obj, spec: Obj, s: State) -> Router | None:
        ns = ro["metadata"]["namespace"]
        kind, st = argo.strategy(spec)
        stable, canary = s.stable or s.canary, s.canary or s.stable
        if kind == "blueGreen":
            return ServiceRouter(ServiceRoute(ns, str(st.get("activeService", "")),
                                              str(st.get("previewService", ""))), stable, canary)
        tr = st.get("trafficRouting") or {}
        for svc, h in ((st.get("stableService"), stable), (st.get("canaryService"), canary)):
            if svc and h:
                self._select(ns, str(svc), h)
        if "istio" in tr:
            istio = tr["istio"] or {}
            vs = istio.get("virtualService") or (istio.get("virtualServices") or [{}])[0]
            dr = istio.get("destinationRule") or {}
            if dr:
                host = str(st.get("stableService") or "")
                if not host:
                    drobj = common.get(self.objects, "destinationrules.networking.istio.io",
                                       ns, str(dr.get("name", "")))
                    host = str(((drobj or {}).get("spec") or {}).get("host", ""))
                sd = Destination(host, str(dr.get("stableSubsetName", "stable")))
                cd = Destination(host, str(dr.get("canarySubsetName", "canary")))
            else:
                sd = Destination(str(st.get("stableService", "")))
                cd = Destination(str(st.get("canaryService", "")))
            return IstioRouter(IstioRoute(ns, str(vs.get("name", "")), sd, cd,
                                          tuple(vs.get("routes") or ()),
                                          str(dr.get("name", ""))), stable, canary)
        if "nginx" in tr:
            ng = tr["nginx"] or {}
            return NginxRouter(NginxRoute(ns, str(ng.get("stableIngress", "")),
                                          str(st.get("stableService", "")),
                                          str(st.get("canaryService", ""))))
        if tr:
            raise errors.bad_request(f"spec.strategy.canary.trafficRouting: {sorted(tr)} is not "
                                     "supported (istio, nginx)")
        return None

    def _select(self, ns: str, name: str, rev: str) -> None:
        rt = self.objects.registry.by_key("services")
        assert rt is not None
        svc = common.get(self.objects, "services", ns, name)
        if svc is not None:
            new = render_selector(svc, rev)
            if new != svc:
                self.objects.update(rt, ns, name, new)

    def _scale(self, ro: Obj, s: State, rss: dict[str, Obj], routed: bool) -> dict[str, Obj]:
        rt = self.objects.registry.by_key(RS)
        assert rt is not None
        ns = ro["metadata"]["namespace"]
        want = argo.scales(ro["spec"], s, routed)
        out = dict(rss)
        for h, n in want.items():
            if h and h not in out:
                rev_template = argo.revision(ro["spec"].get("template") or {})
                if h != rev_template:
                    continue  # an old revision we no longer have a template for
                out[h] = self.objects.create(rt, ns, argo.replica_set(ro, h, n))
                self.events.record(ro, "Normal", "ScalingReplicaSet",
                                   f"Created ReplicaSet {ro['metadata']['name']}-{h} with {n}")
        for h, r in out.items():
            n = want.get(h, 0)
            if int(r["spec"].get("replicas", 0)) != n:
                r = copy.deepcopy(r)
                old = r["spec"].get("replicas", 0)
                r["spec"]["replicas"] = n
                out[h] = self.objects.update(rt, ns, r["metadata"]["name"], r)
                self.events.record(ro, "Normal", "ScalingReplicaSet",
                                   f"Scaled {'up' if n > old else 'down'} ReplicaSet "
                                   f"{r['metadata']['name']} from {old} to {n}")
        return out

    # -- status --------------------------------------------------------------------------------

    def _write_status(self, ro: Obj, s: State, plan: engine.Plan, rss: dict[str, Obj],
                      runs: list[str]) -> None:
        rt = self.objects.registry.by_key(ROLLOUT)
        assert rt is not None
        old = ro.get("status") or {}
        st = argo.status(ro, s, plan, {h: r.get("status") or {} for h, r in rss.items()},
                         runs, now_iso())
        if _strip(st) == _strip(old):
            return
        self.objects.update(rt, ro["metadata"]["namespace"], ro["metadata"]["name"],
                            {"metadata": {"resourceVersion": ro["metadata"].get(
                                "resourceVersion")}, "status": st}, subresource="status")

    def _invalid(self, ro: Obj, message: str) -> None:
        rt = self.objects.registry.by_key(ROLLOUT)
        assert rt is not None
        st = dict(ro.get("status") or {})
        if st.get("message") == message:
            return
        st.update({"phase": "Degraded", "message": message})
        self.objects.update(rt, ro["metadata"]["namespace"], ro["metadata"]["name"],
                            {"status": st}, subresource="status")
        self.events.record(ro, "Warning", "InvalidSpec", message)


def _gate(run: Obj) -> Gate | None:
    st = run.get("status") or {}
    outcome = OUTCOME.get(str(st.get("phase", "")))
    if outcome is None:
        return None
    mets = tuple({"metric": r.get("name"), "phase": r.get("phase"),
                  "value": (r.get("measurements") or [{}])[-1].get("value"),
                  "message": r.get("message", "")} for r in st.get("metricResults") or [])
    reason = st.get("message") or f"analysis run {run['metadata']['name']} {st.get('phase')}"
    return Gate(outcome, f"{run['metadata']['name']}: {reason}", mets)


def _strip(st: Obj) -> Obj:
    s = copy.deepcopy(st)
    for c in s.get("conditions") or []:
        c.pop("lastUpdateTime", None)
        c.pop("lastTransitionTime", None)
    for p in s.get("pauseConditions") or []:
        p.pop("startTime", None)
    return s
