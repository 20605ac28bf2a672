"""The AnalysisRuns of an Argo Rollout: which ones it needs now, creating them, reading them.

Why this exists: a Rollout asks for analysis in four places (a canary step, the background
analysis from `startingStep`, blue/green pre- and post-promotion); each needs its run created
from the referenced templates with the Rollout's args, named and labelled as Argo's, turned into
an engine ``Gate`` once it ends, and terminated when the Rollout moves on. Kept apart from
``argo_controller`` so the reconcile loop reads as the engine's inputs and outputs.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Collection

from turnout.analysis import Outcome
from turnout.controllers.events import Recorder
from turnout.controllers.workloads import owned_by
from turnout.rollout import analysis_spec, argo, argo_analysis, common, engine, metrics
from turnout.rollout.engine import Command, Gate, Phase, State
from turnout.rollout.providers import ARMS
from turnout.store.objects import Objects
from turnout.types import Obj

RS = "replicasets.apps"
RUN = "analysisruns.argoproj.io"
OUTCOME = {"Successful": Outcome.PASS, "Failed": Outcome.FAIL, "Error": Outcome.FAIL,
           "Inconclusive": Outcome.INCONCLUSIVE}
FAILED_PREFIX = {"Step": "Step-based analysis phase error/failed",
                 "Background": "Background analysis phase error/failed",
                 "PrePromotion": "Blue/green pre-promotion analysis phase error/failed",
                 "PostPromotion": "Blue/green post-promotion analysis phase error/failed"}
log = logging.getLogger("turnout.rollout.argo")


class Runs:
    def __init__(self, objects: Objects, events: Recorder,
                 providers: Collection[str] = analysis_spec.PROVIDERS) -> None:
        self.objects = objects
        self.providers = providers
        """The metric providers the AnalysisRun controller runs; a template naming another is
        the Rollout's InvalidSpec."""
        self.store = objects.store
        self.events = events
        self.errors = 0
        """AnalysisRuns that could not be created (each also an Event on the Rollout)."""

    def lookup(self, ns: str) -> argo_analysis.Lookup:
        def look(name: str, cluster: bool) -> Obj | None:
            if cluster:
                return common.get(self.objects, argo_analysis.CLUSTER_TEMPLATE, "", name)
            return common.get(self.objects, argo_analysis.TEMPLATE, ns, name)
        return look

    def references(self, ro: Obj) -> str:
        """The first analysis reference that could not make a run, as a field error."""
        lookup = self.lookup(ro["metadata"]["namespace"])
        for ref in argo_analysis.refs(ro.get("spec") or {}):
            try:
                argo_analysis.check_ref(ref, lookup, ro, self.providers)
            except argo_analysis.FieldError as e:
                return str(e)
        return ""

    def reconcile(self, ro: Obj, spec: Obj, plan: engine.Plan, s: State, now: float,
                  command: Command | None) -> tuple[Gate | None, Gate | None, dict[str, Obj]]:
        kind, _ = argo.strategy(spec)
        base = f"{ro['metadata']['name']}-{s.canary}-{s.attempt}"
        runs: dict[str, Obj] = {}
        gate = background = None
        step = plan.steps[s.step] if s.step < len(plan.steps) else None
        refs = {(r.kind, r.step): r for r in argo_analysis.refs(spec)}
        if s.phase in (Phase.PROGRESSING, Phase.PAUSED) and isinstance(step, engine.Analyze):
            if kind == "blueGreen":
                rtype = "PostPromotion" if step.name == "post-promotion" else "PrePromotion"
                ref, name = refs.get((rtype, None)), f"{base}-{rtype[:-9].lower()}"
            else:
                rtype, name = "Step", f"{base}-{s.step}"
                ref = refs.get(("Step", s.step))
            run = self.ensure(ro, name, ref, s, rtype) if ref is not None else None
            if run is not None:
                runs[rtype] = run
                if s.phase is Phase.PROGRESSING:
                    gate = as_gate(run, FAILED_PREFIX[rtype])
        bg = refs.get(("Background", None)) if kind == "canary" else None
        if bg and plan.background_from is not None and s.step >= plan.background_from and \
                s.phase in (Phase.PROGRESSING, Phase.PAUSED):
            run = self.ensure(ro, base, bg, s, "Background")
            if run is not None and command is Command.PROMOTE and as_gate(run) is not None:
                self.delete(ro, base)  # the human accepted it: measure afresh
            elif run is not None:
                runs["Background"] = run
                g = as_gate(run, FAILED_PREFIX["Background"])
                # a failed background run aborts even a paused rollout, as in Argo
                if s.phase is Phase.PROGRESSING or (g is not None and g.outcome is Outcome.FAIL):
                    background = g
        self.terminate(ro, keep=tuple(r["metadata"]["name"] for r in runs.values()))
        return gate, background, runs

    def ensure(self, ro: Obj, name: str, ref: argo_analysis.Ref, s: State,
               rtype: str) -> Obj | None:
        ns = ro["metadata"]["namespace"]
        have = common.get(self.objects, RUN, ns, name)
        if have is not None:
            return have
        stable_rs = common.get(self.objects, RS, ns, f"{ro['metadata']['name']}-{s.stable}")
        tmpl = ro["spec"].get("template") or {}
        # Argo's arms: the stable and canary ReplicaSets of this Rollout, by template hash
        workload = ro["metadata"]["name"]
        stable_tmpl = ((stable_rs or {}).get("spec") or {}).get("template") or tmpl
        arms = {"namespace": ns,
                "stable": metrics.arm_of(workload, s.stable or "", stable_tmpl).to_json(),
                "canary": metrics.arm_of(workload, s.canary or "", tmpl).to_json(),
                # the window opens when this step (or the background run) began, so a step's
                # analysis judges the traffic of its own weight
                "started": s.step_started or s.started, "canary_hash": s.canary}
        labels = {**((ro["spec"].get("selector") or {}).get("matchLabels") or {}),
                  argo_analysis.HASH_LABEL: s.canary, argo_analysis.TYPE_LABEL: rtype}
        if ref.step is not None:
            labels[argo_analysis.STEP_LABEL] = str(ref.step)
        try:
            templates = argo_analysis.collect(ref.spec.get("templates") or [],
                                              self.lookup(ns), ref.path)
            args = argo_analysis.rollout_args(ref.spec.get("args") or [], s.stable, s.canary, ro)
            body = argo_analysis.new_run(
                templates, args, ref.spec, name=name, namespace=ns, owner=ro, labels=labels,
                annotations={"rollout.argoproj.io/revision": str(s.attempt),
                             ARMS: json.dumps(arms)})
        except ValueError as e:
            self.errors += 1
            log.warning("rollout %s/%s: analysis run %s not created: %s", ns,
                        ro["metadata"]["name"], name, e)
            self.events.record(ro, "Warning", "AnalysisRunError",
                               f"analysis run {name} not created: {e}")
            return None
        rt = self.objects.registry.by_key(RUN)
        assert rt is not None
        run = self.objects.create(rt, ns, body)
        self.events.record(ro, "Normal", "AnalysisRunRunning", f"analysis run {name} created")
        return run

    def kept(self, ro: Obj) -> dict[str, Obj]:
        out: dict[str, Obj] = {}
        bg = (ro.get("status") or {}).get("blueGreen") or {}
        for rtype in ("PrePromotion", "PostPromotion"):
            ref = bg.get(f"{rtype[0].lower()}{rtype[1:]}AnalysisRunStatus") or {}
            run = common.get(self.objects, RUN, ro["metadata"]["namespace"],
                             str(ref["name"])) if ref.get("name") else None
            if run is not None:
                out[rtype] = run
        return out

    def delete(self, ro: Obj, name: str) -> None:
        rt = self.objects.registry.by_key(RUN)
        assert rt is not None
        self.objects.delete(rt, ro["metadata"]["namespace"], name)

    def terminate(self, ro: Obj, keep: tuple[str, ...]) -> None:
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


def as_gate(run: Obj, failed_prefix: str = "") -> Gate | None:
    st = run.get("status") or {}
    outcome = OUTCOME.get(str(st.get("phase", "")))
    if outcome is None:
        return None
    mets = tuple({"metric": r.get("name"), "phase": r.get("phase"),
                  "value": (r.get("measurements") or [{}])[-1].get("value"),
                  "message": r.get("message", "")} for r in st.get("metricResults") or [])
    name = run["metadata"]["name"]
    reason = st.get("message") or f"analysis run {name} {st.get('phase')}"
    if outcome is Outcome.FAIL and failed_prefix:  # Argo's words first, then the run's name
        return Gate(outcome, f"{failed_prefix} ({name}): {reason}", mets)
    return Gate(outcome, f"{name}: {reason}", mets)
