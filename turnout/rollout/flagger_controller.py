"""The controller behind Flagger `Canary` objects: observe, tick, call the engine, execute.

Why this exists: it is the effectful shell around ``engine.step`` for Flagger's model. A
reconcile runs in a worker thread (it may call webhooks and Prometheus, never on the event
loop): it reads the Canary, its target (a Deployment or DaemonSet: ``flagger_targets`` knows
how each kind scales and becomes ready) and the generated primary; once per `analysis.interval`
it runs a Flagger tick — rollback hooks, confirm-rollout for a waiting revision, and at an
``Analyze`` step the stages ``flagger_tick`` lists (hooks, the builtin checks from turnout's
telemetry, MetricTemplates) — feeds the result to the engine, and writes the
actions back as Services, the primary workload, routes (Istio, NGINX or none), Events and
status. ``revertOnDeletion`` is honoured through Flagger's finalizer (``flagger_finalize``).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import random
import string
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
    flagger_finalize,
    flagger_spec,
    flagger_targets,
    flagger_tick,
    metric_templates,
    metrics,
    webhooks,
)
from turnout.rollout.engine import Command, Gate, Inputs, Phase, State
from turnout.rollout.routers import Router
from turnout.rollout.routers.flagger_istio import Cookies, FlaggerIstioRouter, next_cookies
from turnout.rollout.routers.kubernetes import KubernetesRouter
from turnout.rollout.routers.nginx import NginxRoute, NginxRouter
from turnout.store.db import Event
from turnout.store.objects import Objects, now_iso
from turnout.types import Obj

log = logging.getLogger("turnout.rollout.flagger")

CANARY = "canaries.flagger.app"
TEMPLATE = "metrictemplates.flagger.app"


class CanaryController(Controller):
    name = "flagger-canary-controller"
    resync_seconds = 5.0

    def __init__(self, objects: Objects, source: metrics.MetricSource,
                 thresholds: Thresholds | None = None, *, hooks: webhooks.Caller | None = None,
                 querier: metric_templates.Querier | None = None, provider: str = "istio",
                 label_prefixes: tuple[str, ...] = ("app.kubernetes.io",)) -> None:
        super().__init__(objects)
        self.source = source
        self.thresholds = thresholds
        self.hooks = hooks or webhooks.HttpCaller()
        self.querier = querier or metric_templates.HttpQuerier()
        self.provider = provider  # Flagger's -mesh-provider, for Canaries that name none
        self.label_prefixes = label_prefixes  # Flagger's -include-label-prefix
        self.events = Recorder(objects, "flagger")
        self.clock = time.time
        self.rand = random.Random()
        self.errors = 0  # reconciles ended by an error status (also an Event)
        self.event_hook_failures = 0

    def all_keys(self) -> Iterable[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"])
                for o in self.store.iter(CANARY)]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == CANARY and ev.type != "DELETED":
            yield (ev.namespace, ev.name)
        elif ev.key in flagger_targets.KEYS:
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
            return flagger_finalize.finalize(self, canary, now)
        spec = canary.get("spec") or {}
        try:
            prov = flagger_spec.validate(spec, self.provider)
            flagger_checks.compares_with_primary(canary)
            plan = flagger.plan(spec, self.provider)
            kind = flagger_targets.kind_of(spec)
            ref = str(spec["targetRef"]["name"])
            target = common.get(self.objects, kind.key, ns, ref)
            if target is None:
                raise flagger.SpecError("spec.targetRef", f"{kind.name} {ref!r} not found in "
                                                          f"{ns}")
            flagger_targets.check(target)
            if prov == "nginx":
                self._check_ingress(canary)
        except flagger.SpecError as e:
            self._fail_status(canary, str(e))
            return None
        flagger_finalize.ensure_finalizer(self.objects, canary)
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
        hooks = webhooks.parse(spec)
        rev = flagger_targets.revision(target)
        kind = flagger_targets.kind_of(spec)
        primary = common.get(self.objects, kind.key, n.namespace, n.primary)
        due = now >= tick.last + every
        command = self._command(canary)
        stable_ready = primary is not None and flagger_targets.ready(primary) and \
            (primary["metadata"].get("annotations") or {}).get(flagger.REVISION) == state.canary

        # confirm-rollout: a new revision waits (phase Waiting) until the hooks pass
        desired = rev
        confirm = webhooks.of_type(hooks, "confirm-rollout")
        fresh = state.phase is not Phase.INITIALIZING and not state.in_flight and \
            rev not in (state.stable, state.canary)
        if fresh and confirm and tick.approved != rev:
            if due or tick.held != "Waiting":
                tick = dataclasses.replace(tick, last=now)
                failed = self._call(canary, confirm, flagger.flagger_phase(state, tick.held))
                if failed is None:
                    tick = dataclasses.replace(tick, approved=rev, held="")
                elif tick.held != "Waiting":
                    tick = dataclasses.replace(tick, held="Waiting")
                    self._say(canary, "Warning", f"Halt {_cn(canary)} advancement waiting for "
                                                 f"approval {failed.hook.name}")
            if tick.approved != rev:
                desired = state.canary or state.stable
        elif tick.held == "Waiting":
            tick = dataclasses.replace(tick, held="")

        # rollback hooks: one that passes rolls the canary back
        phase_now = flagger.flagger_phase(state, tick.held)
        rollback = webhooks.of_type(hooks, "rollback")
        if rollback and due and phase_now in ("Progressing", "Waiting", "WaitingPromotion"):
            tick = dataclasses.replace(tick, last=now)
            if self._rollback(canary, rollback, phase_now):
                self._say(canary, "Warning", f"Rolling back {_cn(canary)} manual webhook "
                                             "invoked")
                command, desired = Command.ABORT, rev
                tick = dataclasses.replace(tick, held="")

        # one tick at an Analyze step
        gate = None
        ready = flagger_targets.ready(target) if flagger_targets.replicas(target) else False
        if state.phase is Phase.PROGRESSING and state.step < len(plan.steps) and \
                isinstance(plan.steps[state.step], engine.Analyze) and due and ready and \
                now >= state.step_started + every and not spec.get("suspend"):
            result = self._tick(canary, spec, plan, state, target, primary, hooks, now)
            gate = result.gate
            keep = gate is not None and gate.outcome is Outcome.FAIL
            tick = dataclasses.replace(tick, last=now, held=tick.held if keep else result.held)

        inputs = Inputs(desired=desired, canary_ready=ready, stable_ready=stable_ready,
                        gate=gate, command=command, paused=bool(spec.get("suspend")))
        new, actions = engine.step(state, plan, inputs, now)
        if new.phase is not Phase.PROGRESSING and tick.held == "WaitingPromotion":
            tick = dataclasses.replace(tick, held="")
        cookies = next_cookies(spec, new.weight, Cookies.from_status(old), self._cookie_value)
        router = self._router(canary, prov, cookies)
        self._services(canary, target, apex=state.phase is not Phase.INITIALIZING
                       or stable_ready)
        router.reconcile(self.objects)
        wake: list[float] = []
        for a in actions:
            if isinstance(a, engine.Routes):
                router.set_routes(self.objects, a)
                if 0 < a.weight < 100 and a.weight > state.weight:
                    self._say(canary, "Normal", f"Advance {_cn(canary)} canary weight {a.weight}")
            elif isinstance(a, engine.ScaleCanary):
                self._scale(target, max(1, flagger_targets.replicas(primary or target)))
            elif isinstance(a, engine.Promote):
                self._promote(canary, target)
                self._primary_hpa(canary)
            elif isinstance(a, engine.Retire):
                self._scale(target, 0)
            elif isinstance(a, engine.Emit):
                said = _flagger_words(a, canary, target)
                if said:
                    self._say(canary, a.type, said)
            elif isinstance(a, engine.Wake):
                wake.append(a.at)
        router.set_routes(self.objects, engine.Routes(new.weight, new.header, new.mirror))
        self._finished(canary, spec, state, new, plan, hooks)
        self._write_status(canary, new, tick, cookies.to_status())
        if new.phase is Phase.PROGRESSING or tick.held:
            wake.append(max(new.step_started, tick.last) + every)
        elif new.phase in (Phase.PROMOTING, Phase.INITIALIZING):
            wake.append(now + 1.0)
        return max(now + 0.05, min(wake)) if wake else None

    # -- a tick --------------------------------------------------------------------------------

    def _tick(self, canary: Obj, spec: Obj, plan: engine.Plan, state: State, target: Obj,
              primary: Obj | None, hooks: list[webhooks.Hook],
              now: float) -> flagger_tick.Result:
        ran = flagger_tick.stages(plan, state.step)
        checked: Gate | None = None
        for stage in ran:
            if stage == flagger_tick.METRICS:
                g = flagger_checks.gate(self, canary, spec, state, target, primary, now)
                if g.outcome is not Outcome.PASS:
                    if g.outcome is Outcome.FAIL:
                        self._say(canary, "Warning", f"Halt {_cn(canary)} advancement "
                                                     f"{g.reason}")
                    return flagger_tick.Result(g)
                checked = g
                continue
            failed = self._call(canary, webhooks.of_type(hooks, stage), "Progressing")
            if failed is not None:
                r = flagger_tick.failed(stage, failed.hook.name, failed.reason)
                self._say(canary, "Warning", f"Halt {_cn(canary)} {r.event}")
                return r
        return flagger_tick.passed(checked, ran)

    def _call(self, canary: Obj, hooks: list[webhooks.Hook],
              phase: str) -> webhooks.Result | None:
        """Call hooks in order; the first that does not pass, or None."""
        for h in hooks:
            res = self.hooks.call(h, webhooks.payload(canary, phase, h))
            if not res.ok:
                return res
            if h.type != "rollout":
                self._say(canary, "Normal", f"{h.type.capitalize()} check {h.name} passed")
        return None

    def _rollback(self, canary: Obj, hooks: list[webhooks.Hook], phase: str) -> bool:
        for h in hooks:
            if self.hooks.call(h, webhooks.payload(canary, phase, h)).ok:
                self._say(canary, "Warning", f"Rollback check {h.name} passed")
                return True
            self._say(canary, "Normal", f"Rollback hook {h.name} not signaling a rollback")
        return False

    def _finished(self, canary: Obj, spec: Obj, old: State, new: State, plan: engine.Plan,
                  hooks: list[webhooks.Hook]) -> None:
        """A run that ended: Flagger's closing events, then the post-rollout hooks."""
        if not old.in_flight or new.phase not in (Phase.HEALTHY, Phase.ABORTED):
            return
        c, target = _cn(canary), flagger.names(canary).target
        ns = canary["metadata"]["namespace"]
        if new.phase is Phase.HEALTHY:
            phase = "Succeeded"
            skipped = "Canary analysis was skipped for " if not plan.steps else "Scaling down "
            self._say(canary, "Normal", f"Promotion completed! {skipped}{target}.{ns}")
        else:
            phase = "Failed"
            if new.failed_checks >= plan.failure_threshold:
                self._say(canary, "Warning", f"Rolling back {c} failed checks threshold "
                                             f"reached {new.failed_checks}")
            self._say(canary, "Warning", f"Canary failed! Scaling down {c}")
        for h in webhooks.of_type(hooks, "post-rollout"):
            res = self.hooks.call(h, webhooks.payload(canary, phase, h))
            if res.ok:
                self._say(canary, "Normal", f"Post-rollout check {h.name} passed")
            else:
                self._say(canary, "Warning", f"Post-rollout hook {h.name} failed {res.reason}")

    # -- objects -------------------------------------------------------------------------------

    def _router(self, canary: Obj, prov: str, cookies: Cookies) -> Router:
        if prov == "kubernetes":
            return KubernetesRouter()
        n = flagger.names(canary)
        if prov == "nginx":
            ing = str(canary["spec"]["ingressRef"]["name"])
            return NginxRouter(NginxRoute(n.namespace, ing, n.apex, n.canary_service,
                                          owner=flagger.owner_ref(canary)))
        return FlaggerIstioRouter(canary, cookies)

    def _check_ingress(self, canary: Obj) -> None:
        """Flagger's NGINX router needs the Ingress, with the apex Service as a backend."""
        n = flagger.names(canary)
        name = str(canary["spec"]["ingressRef"]["name"])
        ing = common.get(self.objects, "ingresses.networking.k8s.io", n.namespace, name)
        if ing is None:
            raise flagger.SpecError("spec.ingressRef", f"Ingress {name!r} not found in "
                                                       f"{n.namespace}")
        backends = {((p.get("backend") or {}).get("service") or {}).get("name")
                    for r in (ing.get("spec") or {}).get("rules") or []
                    for p in (r.get("http") or {}).get("paths") or []}
        if n.apex not in backends:
            raise flagger.SpecError("spec.ingressRef", f"backend {n.apex} not found in ingress "
                                                       f"{name}")

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
        key = flagger_targets.kind_of(canary.get("spec") or {}).key
        have = common.get(self.objects, key, target["metadata"]["namespace"],
                          flagger.names(canary).primary)
        common.ensure(self.objects, key, flagger_targets.primary(canary, target, have,
                                                                 self.label_prefixes))

    def _primary_hpa(self, canary: Obj) -> None:
        """The `autoscalerRef` HPA, copied for the primary (at initialization, on promotion)."""
        ref = (canary.get("spec") or {}).get("autoscalerRef")
        if not ref:
            return
        ns = canary["metadata"]["namespace"]
        key = "horizontalpodautoscalers.autoscaling"
        hpa = common.get(self.objects, key, ns, str(ref["name"]))
        if hpa is None:
            self._say(canary, "Warning", f"HorizontalPodAutoscaler {ref['name']}.{ns} not "
                                         "found (spec.autoscalerRef)")
            return
        common.ensure(self.objects, key, flagger.primary_hpa(canary, hpa))

    def _scale(self, workload: Obj, n: int) -> None:
        """Scale the target (as its kind scales) to ``n`` pods, from its stored state."""
        kind = flagger_targets.KINDS[str(workload.get("kind") or "Deployment")]
        rt = self.objects.registry.by_key(kind.key)
        assert rt is not None
        meta = workload["metadata"]
        new = flagger_targets.scaled(self.objects.get(rt, meta["namespace"], meta["name"]), n)
        if new is not None:
            self.objects.update(rt, meta["namespace"], meta["name"], new)

    def _cookie_value(self) -> str:
        return "".join(self.rand.choice(string.ascii_letters) for _ in range(10))

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
        """An Event, also sent to the Canary's `event` webhooks (Flagger's sendEventToWebhook)."""
        self.events.record(canary, type_, reason, message)
        for h in webhooks.of_type(webhooks.parse(canary.get("spec") or {}), "event"):
            res = self.hooks.call(h, webhooks.event_payload(canary, h, message, type_,
                                                            self.clock()))
            if not res.ok:
                self.event_hook_failures += 1
                log.warning("canary %s: event webhook %s failed: %s", _cn(canary), h.name,
                            res.reason)

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


def _flagger_words(e: engine.Emit, canary: Obj, target: Obj) -> str:
    """The engine's event in Flagger's words (Flagger records every event with reason
    `Synced`); "" when Flagger's own event for it is recorded elsewhere (promotion, rollback)."""
    ns = canary["metadata"]["namespace"]
    if e.reason == "RolloutUpdated":
        return f"New revision detected! Scaling up {target['metadata']['name']}.{ns}"
    if e.reason in ("CheckFailed", "RolloutCompleted"):
        return ""  # the tick says "Halt ... advancement ...", promotion "Promotion completed!"
    return e.message


def _cn(canary: Obj) -> str:
    return f"{canary['metadata']['name']}.{canary['metadata']['namespace']}"
