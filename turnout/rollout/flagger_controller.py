"""The controller behind Flagger `Canary` objects: observe, call the engine, execute its actions.

Why this exists: it is the effectful shell around ``engine.step`` for Flagger's model. Each
reconcile reads the Canary, its target Deployment and the generated primary, runs one built-in
check per `analysis.interval` (Flagger's `request-success-rate` / `request-duration` on the canary
alone, plus turnout's sequential canary-versus-primary verdict), feeds the engine, and writes the
actions back as API objects, Events and status. The mesh follows the VirtualService it writes.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable
from datetime import timedelta

from turnout.analysis import Outcome, Thresholds
from turnout.controllers.base import Controller, Key
from turnout.controllers.events import Recorder
from turnout.rollout import common, engine, flagger, metrics
from turnout.rollout.engine import Command, Gate, Inputs, Phase, State
from turnout.rollout.routers.istio import Destination, IstioRoute, IstioRouter
from turnout.store.db import Event
from turnout.store.objects import Objects, now_iso
from turnout.types import Obj

CANARY = "canaries.flagger.app"
DEPLOY = "deployments.apps"


class CanaryController(Controller):
    name = "flagger-canary-controller"
    resync_seconds = 5.0

    def __init__(self, objects: Objects, source: metrics.MetricSource,
                 thresholds: Thresholds | None = None) -> None:
        super().__init__(objects)
        self.source = source
        self.thresholds = thresholds
        self.events = Recorder(objects, "flagger")
        self.clock = time.time

    def all_keys(self) -> Iterable[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"])
                for o in self.store.iter(CANARY)]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == CANARY:
            yield (ev.namespace, ev.name)
        elif ev.key == DEPLOY:
            for c in self.store.iter(CANARY, ev.namespace):
                target = ((c.get("spec") or {}).get("targetRef") or {}).get("name")
                if ev.name in (target, f"{target}-primary"):
                    yield (ev.namespace, c["metadata"]["name"])

    async def reconcile(self, key: Key) -> None:
        wake = self.sync(key, self.clock())
        if wake is not None:
            common.schedule(self.enqueue, key, wake, self.clock())

    # -- one reconcile, synchronous so tests can drive it with a fake clock --------------------

    def sync(self, key: Key, now: float) -> float | None:
        ns, name = key
        canary = common.get(self.objects, CANARY, ns, name)
        if canary is None or canary["metadata"].get("deletionTimestamp"):
            return None
        spec = canary.get("spec") or {}
        ref = spec.get("targetRef") or {}
        if ref.get("kind", "Deployment") != "Deployment":
            self._fail_status(canary, f"targetRef.kind {ref.get('kind')!r} is not supported "
                                      "(only Deployment)")
            return None
        target = common.get(self.objects, DEPLOY, ns, str(ref.get("name", "")))
        if target is None:
            self._fail_status(canary, f"targetRef: Deployment {ref.get('name')!r} not found")
            return None
        try:
            plan = flagger.plan(spec)
            interval = flagger.seconds((spec.get("analysis") or spec.get("canaryAnalysis")
                                        or {}).get("interval"), 60.0)
        except ValueError as e:
            self._fail_status(canary, f"spec.analysis: {e}")
            return None
        state = State.from_json((canary.get("status") or {}).get("turnout"))
        rev = flagger.revision(target["spec"].get("template") or {})
        primary = common.get(self.objects, DEPLOY, ns, f"{target['metadata']['name']}-primary")
        command = self._command(canary)
        gate = None
        if state.in_flight and state.phase is Phase.PROGRESSING and state.step < len(plan.steps) \
                and isinstance(plan.steps[state.step], engine.Analyze) and \
                now >= max(state.step_started, state.last_gate) + interval and \
                common.available(target):
            try:
                gate = self._check(spec, state, target, primary, now, interval)
            except ValueError as e:
                self._fail_status(canary, str(e))
                return None
        inputs = Inputs(
            desired=rev,
            canary_ready=common.available(target) if target["spec"].get("replicas", 1) else False,
            stable_ready=primary is not None and common.available(primary)
            and (primary["metadata"].get("annotations") or {}).get(flagger.REVISION)
            == state.canary,
            gate=gate, command=command,
            paused=bool(spec.get("suspend")),
        )
        new, actions = engine.step(state, plan, inputs, now)
        router = self._router(canary, target)
        router.reconcile(self.objects)
        for svc in flagger.services(canary, target):
            common.ensure(self.objects, "services", svc)
        wake: list[float] = []
        for a in actions:
            if isinstance(a, engine.Routes):
                router.set_routes(self.objects, a)
            elif isinstance(a, engine.ScaleCanary):
                n = int((primary or target)["spec"].get("replicas", 1) or 1)
                self._scale(ns, target["metadata"]["name"], n)
            elif isinstance(a, engine.Promote):
                self._promote(canary, ns, target)
            elif isinstance(a, engine.Retire):
                self._scale(ns, target["metadata"]["name"], 0)
            elif isinstance(a, engine.Emit):
                self.events.record(canary, a.type, a.reason, a.message)
            elif isinstance(a, engine.Wake):
                wake.append(a.at)
        router.set_routes(self.objects, engine.Routes(new.weight, new.header, new.mirror))
        self._write_status(canary, new)
        if new.phase is Phase.PROGRESSING:
            wake.append(max(new.step_started, new.last_gate) + interval)
        elif new.phase in (Phase.PROMOTING, Phase.INITIALIZING):
            wake.append(now + 1.0)
        return min(wake) if wake else None

    # -- pieces --------------------------------------------------------------------------------

    def _command(self, canary: Obj) -> Command | None:
        ann = canary["metadata"].get("annotations") or {}
        raw = ann.get(flagger.COMMAND)
        if not raw:
            return None
        rt = self.objects.registry.by_key(CANARY)
        assert rt is not None
        fresh = copy.deepcopy(canary)
        fresh["metadata"]["annotations"].pop(flagger.COMMAND, None)
        updated = self.objects.update(rt, canary["metadata"]["namespace"],
                                      canary["metadata"]["name"], fresh)
        canary["metadata"] = updated["metadata"]
        try:
            return Command(raw)
        except ValueError:
            self.events.record(canary, "Warning", "UnknownCommand",
                               f"annotation {flagger.COMMAND}={raw!r}: expected one of "
                               + ", ".join(c.value for c in Command))
            return None

    def _check(self, spec: Obj, state: State, target: Obj, primary: Obj | None,
               now: float, interval: float) -> Gate:
        a = spec.get("analysis") or spec.get("canaryAnalysis") or {}
        # Flagger's arms: the `<target>-primary` workload against the `<target>` workload,
        # whatever labels their pods carry
        name = target["metadata"]["name"]
        arms = metrics.Arms(
            target["metadata"]["namespace"],
            metrics.arm_of(f"{name}-primary", "",
                           (primary or target)["spec"].get("template") or {}),
            metrics.arm_of(name, "", target["spec"].get("template") or {}))
        since = timedelta(seconds=max(1.0, now - state.started))
        # Flagger queries each metric over its `interval` (1m by default)
        window = timedelta(seconds=max([flagger.seconds(m.get("interval"), 60.0)
                                         for m in a.get("metrics") or []] or [interval]))
        gates: list[Gate] = []
        none = metrics.no_data_gate(self.source, arms, window, "the canary's requests")
        if none is not None:  # as Flagger: no data is a failed check, counted toward threshold
            return none
        for m in a.get("metrics") or []:
            window = timedelta(seconds=flagger.seconds(m.get("interval"), 60.0))
            rng = m.get("thresholdRange") or {}
            if m.get("name") == "request-success-rate":
                gates.append(metrics.success_rate_gate(self.source, arms, window,
                                                       float(rng.get("min", 99))))
            elif m.get("name") == "request-duration":
                gates.append(metrics.duration_gate(self.source, arms, window,
                                                   float(rng.get("max", 500))))
            elif m.get("templateRef"):
                gates.append(Gate(Outcome.INCONCLUSIVE,
                                  f"metric {m.get('name')}: MetricTemplate providers are not "
                                  "supported yet"))
            else:
                raise ValueError(f"spec.analysis.metrics: unknown builtin metric "
                                 f"{m.get('name')!r} (request-success-rate, request-duration)")
        gates.append(metrics.verdict_gate(self.source, arms, since, self.thresholds))
        return metrics.combine(gates)

    def _router(self, canary: Obj, target: Obj) -> IstioRouter:
        vs = flagger.virtual_service(canary, target)
        name = vs["metadata"]["name"]
        port = (canary["spec"].get("service") or {}).get("port")
        return IstioRouter(IstioRoute(
            namespace=target["metadata"]["namespace"], virtual_service=name,
            stable=Destination(f"{name}-primary"), canary=Destination(f"{name}-canary"),
            route_names=(name,), template=vs, port=int(port) if port else None))

    def _promote(self, canary: Obj, ns: str, target: Obj) -> None:
        rev = flagger.revision(target["spec"].get("template") or {})
        want = flagger.primary_deployment(canary, target, rev)
        have = common.get(self.objects, DEPLOY, ns, want["metadata"]["name"])
        if have is not None:
            want["spec"]["replicas"] = have["spec"].get("replicas", want["spec"]["replicas"])
        common.ensure(self.objects, DEPLOY, want)

    def _scale(self, ns: str, name: str, n: int) -> None:
        rt = self.objects.registry.by_key(DEPLOY)
        assert rt is not None
        d = self.objects.get(rt, ns, name)
        if int(d["spec"].get("replicas", 1)) != n:
            d["spec"]["replicas"] = n
            self.objects.update(rt, ns, name, d)

    def _write_status(self, canary: Obj, s: State) -> None:
        rt = self.objects.registry.by_key(CANARY)
        assert rt is not None
        old = canary.get("status") or {}
        st = flagger.status(s, old, now_iso(), int(canary["metadata"].get("generation", 1)))
        if {k: v for k, v in st.items() if k not in ("conditions", "lastTransitionTime")} == \
                {k: v for k, v in old.items() if k not in ("conditions", "lastTransitionTime")}:
            return
        body = {"metadata": {"resourceVersion": canary["metadata"].get("resourceVersion")},
                "status": st}
        self.objects.update(rt, canary["metadata"]["namespace"], canary["metadata"]["name"],
                            body, subresource="status")

    def _fail_status(self, canary: Obj, message: str) -> None:
        rt = self.objects.registry.by_key(CANARY)
        assert rt is not None
        st = dict(canary.get("status") or {})
        if st.get("phase") == "Failed" and (st.get("conditions") or [{}])[0].get("message") \
                == message:
            return
        st.update({"phase": "Failed", "conditions": [
            {"type": "Promoted", "status": "False", "reason": "Failed", "message": message,
             "lastUpdateTime": now_iso(), "lastTransitionTime": now_iso()}]})
        self.objects.update(rt, canary["metadata"]["namespace"], canary["metadata"]["name"],
                            {"status": st}, subresource="status")
        self.events.record(canary, "Warning", "Synced", message)
