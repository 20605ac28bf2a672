"""The controller behind Flagger `Canary` objects: observe, tick, call the engine, execute.

Why this exists: it is the effectful shell around ``engine.step`` for Flagger's model. A
reconcile runs in a worker thread (it may query Prometheus for MetricTemplates, never on the
event loop): it reads the Canary, its target Deployment and the generated primary; once per
`analysis.interval` it runs a Flagger tick at an ``Analyze`` step (the builtin checks from
turnout's telemetry, MetricTemplates), feeds the result to the engine, and writes the actions
back as Services, the primary Deployment, the Istio routes, Events and status.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import time
from collections.abc import Iterable

from turnout.analysis import Outcome, Thresholds
from turnout.controllers.base import Controller, Key
from turnout.controllers.events import Recorder
from turnout.kube import errors
from turnout.rollout import (
    common,
    engine,
    flagger,
    flagger_checks,
    flagger_spec,
    metric_templates,
    metrics,
)
from turnout.rollout.engine import Command, Gate, Inputs, Phase, State
from turnout.rollout.routers import Router
from turnout.rollout.routers.flagger_istio import FlaggerIstioRouter
from turnout.store.db import Event
from turnout.store.objects import Objects, now_iso
from turnout.types import Obj

log = logging.getLogger("turnout.rollout.flagger")

CANARY = "canaries.flagger.app"
DEPLOY = "deployments.apps"
TEMPLATE = "metrictemplates.flagger.app"


class CanaryController(Controller):
    name = "flagger-canary-controller"
    resync_seconds = 5.0

    def __init__(self, objects: Objects, source: metrics.MetricSource,
                 thresholds: Thresholds | None = None, *,
                 querier: metric_templates.Querier | None = None, provider: str = "istio",
                 label_prefixes: tuple[str, ...] = ("app.kubernetes.io",)) -> None:
        super().__init__(objects)
        self.source = source
        self.thresholds = thresholds
        self.querier = querier or metric_templates.HttpQuerier()
        self.provider = provider  # Flagger's -mesh-provider, for Canaries that name none
        self.label_prefixes = label_prefixes  # Flagger's -include-label-prefix
        self.events = Recorder(objects, "flagger")
        self.clock = time.time
        self.errors = 0  # reconciles ended by an error status (also an Event)

    def all_keys(self) -> Iterable[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"])
                for o in self.store.iter(CANARY)]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == CANARY and ev.type != "DELETED":
            yield (ev.namespace, ev.name)
        elif ev.key == DEPLOY:
            for c in self.store.iter(CANARY, ev.namespace):
                target = ((c.get("spec") or {}).get("targetRef") or {}).get("name")
                if ev.name in (target, f"{target}-primary"):
                    yield (ev.namespace, c["metadata"]["name"])

    async def reconcile(self, key: Key) -> None:
        wake = await asyncio.to_thread(self.sync, key, self.clock())
        if wake is not None:
            common.schedule(self.enqueue, key, wake, self.clock())

    # -- one reconcile, synchronous so tests can drive it with a fake clock --------------------

    def sync(self, key: Key, now: float) -> float | None:
        ns, name = key
        canary = common.get(self.objects, CANARY, ns, name)
        if canary is None:
            return None
        if canary["metadata"].get("deletionTimestamp"):
            return None
        spec = canary.get("spec") or {}
        try:
            prov = flagger_spec.validate(spec, self.provider)
            plan = flagger.plan(spec, self.provider)
            ref = str(spec["targetRef"]["name"])
            target = common.get(self.objects, DEPLOY, ns, ref)
            if target is None:
                raise flagger.SpecError("spec.targetRef", f"Deployment {ref!r} not found in {ns}")
            flagger.selector_label(target)
        except flagger.SpecError as e:
            self._fail_status(canary, str(e))
            return None
        try:
            return self._run(canary, spec, prov, plan, target, now)
        except errors.ApiError as e:
            if e.code == 409:
                raise  # a write raced another: the runtime retries
            self._fail_status(canary, str(e))
            return now + flagger.interval(spec)

    def _run(self, canary: Obj, spec: Obj, prov: str, plan: engine.Plan, target: Obj,
             now: float) -> float | None:
        n = flagger.names(canary)
        old = canary.get("status") or {}
        state = State.from_json(old.get("turnout"))
        tick = flagger.Tick.from_json(old.get("turnoutTick"))
        every = flagger.interval(spec)
        rev = flagger.revision(target["spec"].get("template") or {})
        primary = common.get(self.objects, DEPLOY, n.namespace, n.primary)
        due = now >= tick.last + every
        command = self._command(canary)
        stable_ready = primary is not None and common.available(primary) and \
            (primary["metadata"].get("annotations") or {}).get(flagger.REVISION) == state.canary

        desired = rev

        # one tick at an Analyze step
        gate = None
        ready = common.available(target) if target["spec"].get("replicas", 1) else False
        if state.phase is Phase.PROGRESSING and state.step < len(plan.steps) and \
                isinstance(plan.steps[state.step], engine.Analyze) and due and ready and \
                now >= state.step_started + every and not spec.get("suspend"):
            gate = self._tick(canary, spec, plan, state, target, primary, now)
            tick = dataclasses.replace(tick, last=now)

        inputs = Inputs(desired=desired, canary_ready=ready, stable_ready=stable_ready,
                        gate=gate, command=command, paused=bool(spec.get("suspend")))
        new, actions = engine.step(state, plan, inputs, now)
        router = self._router(canary, prov)
        self._services(canary, target, apex=state.phase is not Phase.INITIALIZING
                       or stable_ready)
        router.reconcile(self.objects)
        wake: list[float] = []
        for a in actions:
            if isinstance(a, engine.Routes):
                router.set_routes(self.objects, a)
            elif isinstance(a, engine.ScaleCanary):
                self._scale(n.namespace, n.target,
                            int((primary or target)["spec"].get("replicas", 1) or 1))
            elif isinstance(a, engine.Promote):
                self._promote(canary, target)
            elif isinstance(a, engine.Retire):
                self._scale(n.namespace, n.target, 0)
            elif isinstance(a, engine.Emit):
                self._event(canary, a.type, a.reason, a.message)
            elif isinstance(a, engine.Wake):
                wake.append(a.at)
        router.set_routes(self.objects, engine.Routes(new.weight, new.header, new.mirror))
        self._finished(canary, state, new, plan)
        self._write_status(canary, new, tick, {})
        if new.phase is Phase.PROGRESSING:
            wake.append(max(new.step_started, tick.last) + every)
        elif new.phase in (Phase.PROMOTING, Phase.INITIALIZING):
            wake.append(now + 1.0)
        return max(now + 0.05, min(wake)) if wake else None

    # -- a tick --------------------------------------------------------------------------------

    def _tick(self, canary: Obj, spec: Obj, plan: engine.Plan, state: State, target: Obj,
              primary: Obj | None, now: float) -> Gate:
        """One tick: the first after a new revision only takes the first step (no traffic
        yet); the others run the metrics."""
        step = plan.steps[state.step]
        if isinstance(step, engine.Analyze) and step.name == flagger.PRE_ROLLOUT:
            return Gate(Outcome.PASS, "first tick")
        g = flagger_checks.gate(self, canary, spec, state, target, primary, now)
        if g.outcome is Outcome.FAIL:
            self._say(canary, "Warning", f"Halt {_cn(canary)} advancement {g.reason}")
        return g

    def _finished(self, canary: Obj, old: State, new: State, plan: engine.Plan) -> None:
        """A run that ended: Flagger's closing events."""
        if not old.in_flight or new.phase not in (Phase.HEALTHY, Phase.ABORTED):
            return
        c, target = _cn(canary), flagger.names(canary).target
        ns = canary["metadata"]["namespace"]
        if new.phase is Phase.HEALTHY:
            skipped = "Canary analysis was skipped for " if not plan.steps else "Scaling down "
            self._say(canary, "Normal", f"Promotion completed! {skipped}{target}.{ns}")
        else:
            if new.failed_checks >= plan.failure_threshold:
                self._say(canary, "Warning", f"Rolling back {c} failed checks threshold "
                                             f"reached {new.failed_checks}")
            self._say(canary, "Warning", f"Canary failed! Scaling down {c}")

    # -- objects -------------------------------------------------------------------------------

    def _router(self, canary: Obj, prov: str) -> Router:
        return FlaggerIstioRouter(canary)

    def _services(self, canary: Obj, target: Obj, apex: bool) -> None:
        rt = self.objects.registry.by_key("services")
        assert rt is not None
        for want, _ in flagger.services(canary, target):
            if not apex and want["metadata"]["name"] == flagger.names(canary).apex:
                continue  # the apex follows the primary once it is ready (no downtime)
            have = common.get(self.objects, "services", want["metadata"]["namespace"],
                              want["metadata"]["name"])
            new = flagger.reconciled_service(have, want, canary)
            if new is None:
                continue
            if have is None:
                self.objects.create(rt, want["metadata"]["namespace"], new)
            else:
                self.objects.update(rt, new["metadata"]["namespace"], new["metadata"]["name"],
                                    new)

    def _promote(self, canary: Obj, target: Obj) -> None:
        rev = flagger.revision(target["spec"].get("template") or {})
        want = flagger.primary_deployment(canary, target, rev, self.label_prefixes)
        have = common.get(self.objects, DEPLOY, target["metadata"]["namespace"],
                          want["metadata"]["name"])
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

    # -- status and events ---------------------------------------------------------------------

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
            self._event(canary, "Warning", "UnknownCommand",
                        f"annotation {flagger.COMMAND}={raw!r}: expected one of "
                        + ", ".join(c.value for c in Command))
            return None

    def _say(self, canary: Obj, type_: str, message: str) -> None:
        self._event(canary, type_, "Synced", message)

    def _event(self, canary: Obj, type_: str, reason: str, message: str) -> None:
        self.events.record(canary, type_, reason, message)

    def _write_status(self, canary: Obj, s: State, tick: flagger.Tick, extra: Obj) -> None:
        rt = self.objects.registry.by_key(CANARY)
        assert rt is not None
        old = canary.get("status") or {}
        st = flagger.status(s, old, now_iso(), int(canary["metadata"].get("generation", 1)),
                            tick, extra)
        skip = ("conditions", "lastTransitionTime")
        if {k: v for k, v in st.items() if k not in skip} == \
                {k: v for k, v in old.items() if k not in skip}:
            return
        body = {"metadata": {"resourceVersion": canary["metadata"].get("resourceVersion")},
                "status": st}
        out = self.objects.update(rt, canary["metadata"]["namespace"],
                                  canary["metadata"]["name"], body, subresource="status")
        canary["metadata"], canary["status"] = out["metadata"], out.get("status") or {}

    def _fail_status(self, canary: Obj, message: str) -> None:
        rt = self.objects.registry.by_key(CANARY)
        assert rt is not None
        st = dict(canary.get("status") or {})
        if st.get("phase") == "Failed" and (st.get("conditions") or [{}])[0].get("message") \
                == message:
            return
        self.errors += 1
        log.warning("canary %s: %s", _cn(canary), message)
        st.update({"phase": "Failed", "conditions": [
            {"type": "Promoted", "status": "False", "reason": "Failed", "message": message,
             "lastUpdateTime": now_iso(), "lastTransitionTime": now_iso()}]})
        self.objects.update(rt, canary["metadata"]["namespace"], canary["metadata"]["name"],
                            {"status": st}, subresource="status")
        self.events.record(canary, "Warning", "Synced", message)


def _cn(canary: Obj) -> str:
    return f"{canary['metadata']['name']}.{canary['metadata']['namespace']}"
