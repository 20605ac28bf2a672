"""The controller behind Argo `Rollout` objects: ReplicaSets, routers, analysis runs, status.

Why this exists: it is the effectful shell around ``engine.step`` for Argo's model. It accepts the
commands the way `kubectl argo rollouts` sends them (status patches: `abort`, `promoteFull`,
cleared `pauseConditions`) as well as turnout's own annotation, creates an AnalysisRun per
analysis step (the AnalysisRun controller measures it), applies route changes before any scale
down, and writes an Argo-shaped status whose `turnout` field is the engine state.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Collection, Iterable

from turnout.controllers.base import Controller, Key
from turnout.controllers.events import Recorder
from turnout.controllers.workloads import owned_by
from turnout.kube import errors
from turnout.rollout import (
    analysis_spec,
    argo,
    argo_analysis,
    argo_experiments,
    argo_routing,
    argo_runs,
    argo_spec,
    common,
    engine,
)
from turnout.rollout.engine import Command, Inputs, Phase, State
from turnout.rollout.flagger import COMMAND
from turnout.store.db import Event
from turnout.store.objects import Objects, now_iso
from turnout.types import Obj

ROLLOUT = "rollouts.argoproj.io"
RS = "replicasets.apps"
RUN = "analysisruns.argoproj.io"
TEMPLATE_KEYS = (argo_analysis.TEMPLATE, argo_analysis.CLUSTER_TEMPLATE)
INVALID_RETRY = 20.0
"""Seconds before an invalid Rollout is looked at again (Argo's requeue), besides on events."""
log = logging.getLogger("turnout.rollout.argo")


class RolloutController(Controller):
    name = "argo-rollouts-controller"
    resync_seconds = 5.0

    def __init__(self, objects: Objects,
                 providers: Collection[str] = analysis_spec.PROVIDERS) -> None:
        super().__init__(objects)
        self.events = Recorder(objects, "rollouts-controller")
        self.clock = time.time
        self.runs = argo_runs.Runs(objects, self.events, providers)
        self.experiments = argo_experiments.Experiments(objects, self.events)
        self.invalid = 0
        """Reconciles that found an invalid spec (each also the InvalidSpec condition)."""

    def all_keys(self) -> Iterable[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"])
                for o in self.store.iter(ROLLOUT)]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == ROLLOUT:
            yield (ev.namespace, ev.name)
        elif ev.key in (RS, RUN, argo_experiments.EXP):
            for ref in ev.obj["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "Rollout":
                    yield (ev.namespace, ref["name"])
        elif ev.key in TEMPLATE_KEYS:  # a template a Rollout waits for may have arrived
            for o in self.store.iter(ROLLOUT, ev.namespace or None):
                yield (o["metadata"]["namespace"], o["metadata"]["name"])
        elif ev.key in argo_spec.WORKLOAD_KINDS.values():  # a workloadRef target changed
            for o in self.store.iter(ROLLOUT, ev.namespace):
                ref = (o.get("spec") or {}).get("workloadRef") or {}
                if isinstance(ref, dict) and ref.get("name") == ev.name:
                    yield (ev.namespace, o["metadata"]["name"])

    async def reconcile(self, key: Key) -> None:
        wake = self.sync(key, self.clock())
        if wake is not None:
            common.schedule(self.enqueue, key, wake, self.clock())

    def sync(self, key: Key, now: float) -> float | None:
        ns, name = key
        ro = common.get(self.objects, ROLLOUT, ns, name)
        if ro is None or ro["metadata"].get("deletionTimestamp"):
            return None
        raw = ro
        if "replicas" not in (ro.get("spec") or {}) and isinstance(ro.get("spec"), dict):
            return self._default_replicas(ro)  # the write brings the Rollout back here
        causes = argo_spec.validate(ro)
        workload: Obj | None = None
        if not causes and (ro.get("spec") or {}).get("workloadRef"):
            workload, problem = self._workload(ro)
            if workload is None:
                self._invalid(ro, problem)
                return now + INVALID_RETRY
            ro = argo_spec.resolve_workload(ro, workload)
            causes = argo_spec.validate(ro, resolved=True)
        if causes:
            self._invalid(raw, argo_spec.message(ro, causes[0]))
            return now + INVALID_RETRY
        spec = ro.get("spec") or {}
        try:
            plan = argo.plan(spec)
        except ValueError as e:
            self._invalid(ro, str(e))
            return now + INVALID_RETRY
        problem = self.runs.references(ro)
        if problem:
            self._invalid(ro, problem)
            return now + INVALID_RETRY
        state = State.from_json((ro.get("status") or {}).get("turnout"))
        rev = argo.revision(spec.get("template") or {}, _collisions(ro))
        rss = {r["metadata"]["labels"].get("rollouts-pod-template-hash", ""): r
               for r in self.store.iter(RS, ns) if owned_by(r, ro["metadata"]["uid"])}
        command = self._command(raw, state)
        ro["metadata"] = raw["metadata"]  # the command may have written the object
        runs: dict[str, Obj] = {}
        gate = background = None
        if state.in_flight or state.phase is Phase.ABORTED:
            gate, background, runs = self.runs.reconcile(ro, spec, plan, state, now, command)
        if not state.in_flight:
            self.runs.terminate(ro, keep=())
        ex_gate, current_ex, ex_weights = self.experiments.reconcile(ro, state)
        gate = gate or ex_gate
        # readiness of the revision the user wants: after an abort the state still names the old
        # canary, whose pods may linger; judging by them would route to a not-yet-ready canary
        canary_rs = rss.get(rev)
        size = argo.scales(spec, state).get(rev) if state.canary == rev else None
        inputs = Inputs(desired=rev,
                        canary_ready=_ready(canary_rs, size),
                        stable_ready=_ready(canary_rs, argo.replicas(spec)),
                        gate=gate, background=background, command=command,
                        paused=bool(spec.get("paused")),
                        ready_for=lambda at: _ready(canary_rs, argo.scales(spec, at).get(rev)))
        new, actions = engine.step(state, plan, inputs, now)
        if current_ex is None or new.step != state.step or not new.in_flight:
            ex_weights = {}  # the experiment step is over: its share goes back to stable
        try:
            router = argo_routing.router_for(self.objects, ro, new, ex_weights,
                                             self.experiments.known_services(ro))
            if router is not None:
                router.reconcile(self.objects)
        except errors.ApiError as e:
            self._invalid(ro, f"spec.strategy: {e.message}")
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
        rss = self._scale(ro, new, rss)
        if not new.in_flight:
            self.runs.terminate(ro, keep=())
        if not new.in_flight and argo.strategy(spec)[0] == "blueGreen":
            runs.update(self.runs.kept(ro))  # Argo keeps showing blue/green's last runs
        extra: Obj = {}
        if current_ex is not None and new.in_flight:
            extra["currentExperiment"] = current_ex["metadata"]["name"]
        if workload is not None:
            extra["workloadObservedGeneration"] = str(workload["metadata"].get("generation", 1))
        self._write_status(ro, new, plan, rss, runs, extra)
        if workload is not None:
            self._scale_workload(ro, workload, new, rss)
        if new.in_flight or new.retire_at is not None:
            wake.append(now + 1.0)
        return min(wake) if wake else None

    # -- workloadRef ---------------------------------------------------------------------------

    def _workload(self, ro: Obj) -> tuple[Obj | None, str]:
        ref = ro["spec"]["workloadRef"]
        key = argo_spec.workload_key(ref)
        w = common.get(self.objects, key, ro["metadata"]["namespace"], str(ref["name"]))
        if w is None:
            return None, (f'spec.workloadRef: Invalid value: "{ref["name"]}": '
                          f'{key} "{ref["name"]}" not found')
        return w, ""

    def _scale_workload(self, ro: Obj, workload: Obj, s: State, rss: dict[str, Obj]) -> None:
        """`workloadRef.scaleDown` of a Deployment, on the Rollout's first revision (as Argo)."""
        ref = ro["spec"]["workloadRef"]
        if workload.get("kind") != "Deployment" or len(rss) > 1:
            return
        st = {h: r.get("status") or {} for h, r in rss.items()}
        ready = sum(int(v.get("readyReplicas", 0)) for v in st.values())
        want = argo.workload_scale(str(ref.get("scaleDown") or "never"),
                                   s.phase is Phase.HEALTHY and ready >= argo.replicas(ro["spec"]),
                                   argo.replicas(ro["spec"]), ready)
        have = int((workload.get("spec") or {}).get("replicas", 1))
        if want is None or want == have:
            return
        rt = self.objects.registry.by_key("deployments.apps")
        assert rt is not None
        fresh = copy.deepcopy(workload)
        fresh["spec"]["replicas"] = want
        self.objects.update(rt, ro["metadata"]["namespace"], workload["metadata"]["name"], fresh)
        self.events.record(ro, "Normal", "ScalingDeployment",
                           f"Scaled Deployment {workload['metadata']['name']} from {have} to "
                           f"{want} (workloadRef.scaleDown: {ref.get('scaleDown')})")

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

    # -- routing and scaling -------------------------------------------------------------------

    def _scale(self, ro: Obj, s: State, rss: dict[str, Obj]) -> dict[str, Obj]:
        rt = self.objects.registry.by_key(RS)
        assert rt is not None
        ns = ro["metadata"]["namespace"]
        want = argo.scales(ro["spec"], s)
        out = dict(rss)
        for h, n in want.items():
            if h and h not in out:
                rev_template = argo.revision(ro["spec"].get("template") or {}, _collisions(ro))
                if h != rev_template:
                    continue  # an old revision we no longer have a template for
                try:
                    out[h] = self.objects.create(rt, ns, argo.replica_set(ro, h, n))
                except errors.ApiError as e:
                    if e.code != 409:
                        raise
                    self._collision(ro, f"{ro['metadata']['name']}-{h}")
                    continue
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
                      runs: dict[str, Obj], extra: Obj) -> None:
        rt = self.objects.registry.by_key(ROLLOUT)
        assert rt is not None
        old = ro.get("status") or {}
        st = argo.status(ro, s, plan, {h: r.get("status") or {} for h, r in rss.items()},
                         runs, now_iso())
        if "currentExperiment" in extra and "canary" in st:
            st["canary"]["currentExperiment"] = extra.pop("currentExperiment")
        st.update(extra)
        if _strip(st) == _strip(old):
            return
        self.objects.update(rt, ro["metadata"]["namespace"], ro["metadata"]["name"],
                            {"metadata": {"resourceVersion": ro["metadata"].get(
                                "resourceVersion")}, "status": st}, subresource="status")

    def _default_replicas(self, ro: Obj) -> float | None:
        """spec.replicas: 1 written when absent, as Argo does (HPA and `kubectl get` need it)."""
        rt = self.objects.registry.by_key(ROLLOUT)
        assert rt is not None
        fresh = copy.deepcopy(ro)
        fresh["spec"]["replicas"] = 1
        fresh.pop("status", None)
        self.objects.update(rt, ro["metadata"]["namespace"], ro["metadata"]["name"], fresh)
        return self.clock() + 0.05

    def _collision(self, ro: Obj, name: str) -> None:
        """A ReplicaSet of that name belongs to something else (a Deployment of the same name
        and template): bump status.collisionCount for a new hash, as Argo does."""
        rt = self.objects.registry.by_key(ROLLOUT)
        assert rt is not None
        n = _collisions(ro)
        log.warning("rollout %s/%s: ReplicaSet %s exists and is not its own; collisionCount %d",
                    ro["metadata"]["namespace"], ro["metadata"]["name"], name, n + 1)
        self.events.record(ro, "Warning", "HashCollision",
                           f"Found a hash collision for rollout {ro['metadata']['name']!r} "
                           f"(ReplicaSet {name} exists) - bumping collisionCount ({n}->{n + 1})")
        fresh = common.get(self.objects, ROLLOUT, ro["metadata"]["namespace"],
                           ro["metadata"]["name"]) or ro
        st = {**(fresh.get("status") or {}), "collisionCount": n + 1}
        ro["metadata"] = self.objects.update(rt, ro["metadata"]["namespace"],
                                             ro["metadata"]["name"], {"status": st},
                                             subresource="status")["metadata"]
        ro["status"] = st

    def _invalid(self, ro: Obj, problem: str) -> None:
        """Degraded with the InvalidSpec condition and a Warning Event, as Argo reports it."""
        self.invalid += 1
        rt = self.objects.registry.by_key(ROLLOUT)
        assert rt is not None
        name = ro["metadata"]["name"]
        text = problem if problem.startswith("The Rollout") else \
            f'The Rollout "{name}" is invalid: {problem}'
        st = dict(ro.get("status") or {})
        conds = [c for c in st.get("conditions") or [] if c.get("type") != "InvalidSpec"]
        old: Obj = next((c for c in st.get("conditions") or []
                         if c.get("type") == "InvalidSpec"), {})
        if old.get("message") == text and st.get("phase") == "Degraded":
            return
        log.warning("rollout %s/%s: %s", ro["metadata"]["namespace"], ro["metadata"]["name"],
                    text)
        ts = now_iso()
        conds.append({"type": "InvalidSpec", "status": "True", "reason": "InvalidSpec",
                      "message": text, "lastUpdateTime": ts, "lastTransitionTime": ts})
        st.update({"phase": "Degraded", "message": f"InvalidSpec: {text}", "conditions": conds,
                   "observedGeneration": str(ro["metadata"].get("generation", 1))})
        self.objects.update(rt, ro["metadata"]["namespace"], ro["metadata"]["name"],
                            {"status": st}, subresource="status")
        self.events.record(ro, "Warning", "InvalidSpec", text)

def _collisions(ro: Obj) -> int:
    return int((ro.get("status") or {}).get("collisionCount") or 0)


def _ready(rs: Obj | None, size: int | None) -> bool:
    """``rs`` runs ``size`` available pods (None: all it asks for, at least one)."""
    if rs is None:
        return False
    if size is None:
        return common.available(rs)
    st = rs.get("status") or {}
    return int(rs["spec"].get("replicas", 0)) >= size and \
        int(st.get("availableReplicas", 0)) >= size


def _strip(st: Obj) -> Obj:
    s = copy.deepcopy(st)
    for c in s.get("conditions") or []:
        c.pop("lastUpdateTime", None)
        c.pop("lastTransitionTime", None)
    for p in s.get("pauseConditions") or []:
        p.pop("startTime", None)
    return s
