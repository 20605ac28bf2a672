"""The controller that takes an `AnalysisRun`'s measurements and decides its phase.

Why this exists: Rollouts, Experiments and users (`kubectl create -f run.yaml`) create
AnalysisRuns; this loop resolves the run's `{{args.x}}` (Secrets through `secretKeyRef`, their
values redacted from messages), measures every metric when due through its provider, keeps
Argo's counters in `status.metricResults`, and sets `status.phase` (Running, Successful, Failed,
Error, Inconclusive) with Argo's message (`Metric "sr" assessed Failed due to failed (1) >
failureLimit (0)`), `runSummary` and `dryRunSummary`. A run that cannot be resolved or is invalid
ends in Error with the reason, never silently. `spec.terminate` ends a run (Successful unless a
metric already decided otherwise), as Argo does when a rollout no longer needs it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Callable, Iterable

from turnout.controllers.base import Controller, Key
from turnout.controllers.events import Recorder
from turnout.rollout import analysis_run, analysis_spec, common
from turnout.rollout.providers import Providers
from turnout.store.db import Event
from turnout.store.objects import Objects, now_iso
from turnout.types import Obj

RUN = "analysisruns.argoproj.io"
SECRET_PLACEHOLDER = "temp-for-secret"
log = logging.getLogger("turnout.rollout.analysisrun")


class AnalysisRunController(Controller):
    name = "analysisrun-controller"
    resync_seconds = 10.0

    def __init__(self, objects: Objects, providers: Providers) -> None:
        super().__init__(objects)
        self.providers = providers
        self.events = Recorder(objects, "rollouts-controller")
        self.errors = 0
        """Runs ended in Error because they could not be resolved or were invalid."""

    def all_keys(self) -> Iterable[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"])
                for o in self.store.iter(RUN)
                if (o.get("status") or {}).get("phase") not in analysis_run.TERMINAL]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == RUN and ev.type != "DELETED":
            yield (ev.namespace, ev.name)

    async def reconcile(self, key: Key) -> None:
        wake = await asyncio.to_thread(self.sync, key, time.time())
        if wake is not None:
            common.schedule(self.enqueue, key, wake)

    # -- secrets -------------------------------------------------------------------------------

    def _secret_reader(self, namespace: str, seen: set[str]) -> Callable[[str, str], str]:
        def read(name: str, key: str) -> str:
            sec = common.get(self.objects, "secrets", namespace, name)
            if sec is None:
                raise ValueError(f'secrets "{name}" not found')
            data = sec.get("data") or {}
            if key not in data:
                raise ValueError(f"key '{key}' does not exist in secret '{name}'")
            try:
                value = base64.b64decode(str(data[key])).decode()
            except (binascii.Error, UnicodeDecodeError) as e:
                raise ValueError(f"key '{key}' of secret '{name}' is not text: {e}") from None
            seen.add(value)
            return value
        return read

    # -- one pass ------------------------------------------------------------------------------

    def sync(self, key: Key, now: float) -> float | None:
        run = common.get(self.objects, RUN, *key)
        if run is None:
            return None
        st = dict(run.get("status") or {})
        if st.get("phase") in analysis_run.TERMINAL:
            return None
        spec = run.get("spec") or {}
        metrics: list[Obj] = list(spec.get("metrics") or [])
        started = float(now if st.get("startedAtEpoch") is None else st["startedAtEpoch"])
        base = {**st, "startedAtEpoch": started, "startedAt": st.get("startedAt") or now_iso()}
        results = {r["name"]: dict(r) for r in st.get("metricResults") or []}
        # placeholders first (secrets read only when a measurement is due), as Argo does
        plain = {str(a.get("name")): SECRET_PLACEHOLDER if (a.get("valueFrom") or {}).get(
            "secretKeyRef") else a.get("value") for a in spec.get("args") or []}
        try:
            values = {k: str(v) for k, v in plain.items() if v is not None}
            resolved = [analysis_run.resolve(m, values) for m in metrics]
        except ValueError as e:
            self._error(run, base, f"Unable to resolve metric arguments: {e}")
            return None
        try:
            problem = "no metrics specified" if not metrics else ""
            names: set[str] = set()
            for i, m in enumerate(resolved):
                # the types first (what the CRD's schema would refuse), then Argo's own checks
                typed = analysis_spec.metric_problems(m, f"spec.metrics[{i}]", True,
                                                      self.providers.by_name)
                if typed:
                    problem = problem or typed[0]
                    continue
                why = analysis_run.validate_metric(m)
                if m.get("name") in names:
                    why = f"duplicate name '{m.get('name')}'"
                names.add(str(m.get("name")))
                if why and not problem:
                    problem = f"metrics[{i}]: {why}"
            if problem:
                raise ValueError(problem)
            dry = analysis_run.dry_run_names(spec.get("dryRun") or [], resolved)
            keep = analysis_run.retention_limits(spec.get("measurementRetention") or [],
                                                 resolved)
        except ValueError as e:
            self._error(run, base, f"Analysis spec invalid: {e}")
            return None
        ending = analysis_run.terminating(spec, results)
        due = [(i, m) for i, m in enumerate(resolved)
               if analysis_run.due(m, results.get(m["name"], {}), started, now, ending)]
        if due:
            secrets: set[str] = set()
            try:
                real_values = analysis_run.arg_values(
                    spec.get("args") or [], self._secret_reader(key[0], secrets))
            except ValueError as e:
                self._error(run, base, f"Unable to resolve metric arguments: {e}")
                return None
            for i, m in due:
                real = analysis_run.resolve(metrics[i], real_values)
                if ending:  # an in-flight measurement of a run that stops, as Argo ends it
                    phase, value, msg = "Successful", "", "Metric Terminated"
                else:
                    phase, value, msg = self.providers.measure(real, run, now)
                for s in secrets:
                    if s:
                        msg = msg.replace(s, "*****")
                        value = value.replace(s, "*****")
                res = results.get(m["name"]) or {"name": m["name"], "phase": "Running"}
                res = analysis_run.record(res, phase, value, msg, now)
                if m["name"] in dry:
                    res["dryRun"] = True
                results[m["name"]] = res
        prev = {n: r.get("phase") for n, r in results.items()}
        a = analysis_run.assess(resolved, results, dry, ending, bool(spec.get("terminate")))
        if a.phase == "Running" and analysis_run.terminating(spec, results):
            a = analysis_run.assess(resolved, results, dry, True, bool(spec.get("terminate")))
        for name, res in results.items():
            results[name] = analysis_run.trim(res, keep.get(name, analysis_run.RETENTION))
            if res.get("phase") != prev.get(name) and res.get("phase") in analysis_run.TERMINAL:
                bad = res["phase"] in ("Failed", "Error")
                self.events.record(run, "Warning" if bad else "Normal", f"Metric{res['phase']}",
                                   f"Metric '{name}' Completed. Result: {res['phase']}")
        new = {**base, "phase": a.phase, "message": a.message,
               "metricResults": [results[m["name"]] for m in resolved if m["name"] in results],
               "runSummary": a.summary}
        if dry:
            new["dryRunSummary"] = a.dry_summary
        if a.phase in analysis_run.TERMINAL:
            new["completedAt"] = now_iso()
        self._write(run, st, new)
        if a.phase != "Running":
            return None
        nexts = [t for m in resolved for t in [analysis_run.next_at(
            m, results.get(m["name"], {}), started)] if t is not None]
        return max(now + 0.1, min(nexts)) if nexts else None

    def _write(self, run: Obj, old: Obj, new: Obj) -> None:
        if new == old:
            return
        rt = self.objects.registry.by_key(RUN)
        assert rt is not None
        self.objects.update(rt, run["metadata"]["namespace"], run["metadata"]["name"],
                            {"status": new}, subresource="status")
        if new.get("phase") in analysis_run.TERMINAL and old.get("phase") != new.get("phase"):
            bad = new["phase"] in ("Failed", "Error")
            self.events.record(run, "Warning" if bad else "Normal", f"AnalysisRun{new['phase']}",
                               f"Analysis Completed. Result: {new['phase']}"
                               + (f": {new['message']}" if bad and new.get("message") else ""))

    def _error(self, run: Obj, base: Obj, message: str) -> None:
        self.errors += 1
        log.warning("analysis run %s/%s: %s", run["metadata"]["namespace"],
                    run["metadata"]["name"], message)
        self._write(run, dict(run.get("status") or {}),
                    {**base, "phase": "Error", "message": message, "completedAt": now_iso()})
