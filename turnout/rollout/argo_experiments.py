"""The Experiments of an Argo Rollout's `experiment` steps: create, read as a gate, terminate.

Why this exists: at an `experiment` step the Rollout starts an Experiment from its stable and
canary ReplicaSets (`specRef`), waits for it (Successful goes on, Failed or Error aborts,
Inconclusive pauses) and gives its weighted templates their traffic; once the Rollout moves on,
aborts or is promoted in full, the Experiment is terminated (rollout/experiment.go).
"""

from __future__ import annotations

import copy
import logging

from turnout.analysis import Outcome
from turnout.controllers.events import Recorder
from turnout.controllers.workloads import owned_by
from turnout.rollout import argo, argo_analysis, common, experiment
from turnout.rollout.engine import Gate, Phase, State
from turnout.store.objects import Objects
from turnout.types import Obj

EXP = "experiments.argoproj.io"
RS = "replicasets.apps"
OUTCOME = {"Successful": Outcome.PASS, "Failed": Outcome.FAIL, "Error": Outcome.FAIL,
           "Inconclusive": Outcome.INCONCLUSIVE}
log = logging.getLogger("turnout.rollout.argo")


class Experiments:
    def __init__(self, objects: Objects, events: Recorder) -> None:
        self.objects = objects
        self.store = objects.store
        self.events = events
        self.errors = 0
        """Experiments that could not be created (each also an Event on the Rollout)."""

    def reconcile(self, ro: Obj, s: State) -> tuple[Gate | None, Obj | None, dict[str, int]]:
        """(gate for the current experiment step, its Experiment, traffic weight per Service)."""
        spec = ro["spec"]
        kind, st = argo.strategy(spec)
        steps = st.get("steps") or [] if kind == "canary" else []
        current: Obj | None = None
        gate: Gate | None = None
        weights: dict[str, int] = {}
        if s.phase in (Phase.PROGRESSING, Phase.PAUSED) and s.step < len(steps) and \
                isinstance(steps[s.step].get("experiment"), dict):
            step = steps[s.step]["experiment"]
            current = self._ensure(ro, s, step)
            if current is not None:
                weights = experiment.weights(current, step)
                if s.phase is Phase.PROGRESSING:
                    gate = as_gate(current)
        self.terminate(ro, keep=current["metadata"]["name"] if current is not None else "")
        return gate, current, weights

    def known_services(self, ro: Obj) -> set[str]:
        """Services of this Rollout's Experiments (their traffic share goes back to stable)."""
        out: set[str] = set()
        for ex in self.store.iter(EXP, ro["metadata"]["namespace"]):
            if owned_by(ex, ro["metadata"]["uid"]):
                for t in (ex.get("spec") or {}).get("templates") or []:
                    out.add(str((t.get("service") or {}).get("name") or
                                f"{ex['metadata']['name']}-{t['name']}"))
        return out

    def _ensure(self, ro: Obj, s: State, step: Obj) -> Obj | None:
        ns = ro["metadata"]["namespace"]
        name = f"{ro['metadata']['name']}-{s.canary}-{s.attempt}-{s.step}"
        have = common.get(self.objects, EXP, ns, name)
        if have is not None:
            return have
        stable_rs = common.get(self.objects, RS, ns, f"{ro['metadata']['name']}-{s.stable}")
        canary_rs = common.get(self.objects, RS, ns, f"{ro['metadata']['name']}-{s.canary}")
        if stable_rs is None or canary_rs is None:
            return None  # as Argo: not before the stable ReplicaSet exists
        try:
            args = [argo_analysis.rollout_args(a.get("args") or [], s.stable, s.canary, ro)
                    for a in step.get("analyses") or []]
            body = experiment.from_step(ro, step, name, str(s.attempt), stable_rs, canary_rs,
                                        args)
        except ValueError as e:
            self.errors += 1
            log.warning("rollout %s/%s: experiment %s not created: %s", ns,
                        ro["metadata"]["name"], name, e)
            self.events.record(ro, "Warning", "ExperimentError",
                               f"Experiment '{name}' not created: {e}")
            return None
        rt = self.objects.registry.by_key(EXP)
        assert rt is not None
        out: Obj = self.objects.create(rt, ns, body)
        self.events.record(ro, "Normal", "ExperimentCreated", f"Created Experiment '{name}'")
        return out

    def terminate(self, ro: Obj, keep: str = "") -> None:
        rt = self.objects.registry.by_key(EXP)
        assert rt is not None
        for ex in self.store.iter(EXP, ro["metadata"]["namespace"]):
            if not owned_by(ex, ro["metadata"]["uid"]) or ex["metadata"]["name"] == keep:
                continue
            if (ex.get("status") or {}).get("phase") in experiment.TERMINAL or \
                    (ex.get("spec") or {}).get("terminate"):
                continue
            ex = copy.deepcopy(ex)
            ex["spec"]["terminate"] = True
            self.objects.update(rt, ex["metadata"]["namespace"], ex["metadata"]["name"], ex)


def as_gate(ex: Obj) -> Gate | None:
    st = ex.get("status") or {}
    outcome = OUTCOME.get(str(st.get("phase", "")))
    if outcome is None:
        return None
    name = ex["metadata"]["name"]
    reason = st.get("message") or f"experiment {name} {st.get('phase')}"
    if outcome is Outcome.FAIL:
        return Gate(outcome, f"Experiment analysis phase is error/failed ({name}): {reason}")
    return Gate(outcome, f"{name}: {reason}")
