"""The controller that takes an `AnalysisRun`'s measurements and decides its phase.

Why this exists: Rollouts (and users, with `kubectl create -f run.yaml`) create AnalysisRuns; this
loop measures every metric when due through its provider, keeps Argo's counters in
`status.metricResults`, and sets `status.phase` (Running, Successful, Failed, Error,
Inconclusive) with a message taken from the deciding measurement. `spec.terminate` ends a run as
Successful, as Argo does when a rollout no longer needs its background analysis.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from turnout.controllers.base import Controller, Key
from turnout.rollout import analysis_run, common
from turnout.rollout.flagger import seconds
from turnout.rollout.providers import Providers
from turnout.store.db import Event
from turnout.store.objects import Objects, now_iso
from turnout.types import Obj

RUN = "analysisruns.argoproj.io"


class AnalysisRunController(Controller):
    name = "analysisrun-controller"
    resync_seconds = 10.0

    def __init__(self, objects: Objects, providers: Providers) -> None:
        super().__init__(objects)
        self.providers = providers

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

    def sync(self, key: Key, now: float) -> float | None:
        run = common.get(self.objects, RUN, *key)
        if run is None:
            return None
        st = dict(run.get("status") or {})
        if st.get("phase") in analysis_run.TERMINAL:
            return None
        spec = run.get("spec") or {}
        metrics: list[Obj] = list(spec.get("metrics") or [])
        started = float(st.get("startedAtEpoch") or now)
        results = {r["name"]: r for r in st.get("metricResults") or []}
        dry = {d.get("metricName") for d in spec.get("dryRun") or []}
        dry = {m["name"] for m in metrics} if "*" in dry else {str(d) for d in dry if d}
        if spec.get("terminate"):
            phase, message = "Successful", "run terminated"
        else:
            for m in metrics:
                res = results.get(m["name"], {"name": m["name"]})
                if analysis_run.due(m, res, started, now):
                    ph, value, msg = self.providers.measure(m, run, now)
                    res = analysis_run.record(res, ph, value, msg, now)
                res["phase"] = analysis_run.metric_phase(m, res)
                if m["name"] in dry:
                    res["dryRun"] = True
                results[m["name"]] = res
            phase = analysis_run.run_phase(metrics, results, dry)
            deciding = [r for r in results.values() if r.get("phase") == phase
                        and r["name"] not in dry]
            message = "; ".join(f"{r['name']}: {r.get('message', '')}" for r in deciding
                                if r.get("message")) if phase != "Running" else ""
        new = {**st, "phase": phase, "message": message, "startedAtEpoch": started,
               "startedAt": st.get("startedAt") or now_iso(),
               "metricResults": [results[m["name"]] for m in metrics if m["name"] in results]}
        if new != st:
            rt = self.objects.registry.by_key(RUN)
            assert rt is not None
            self.objects.update(rt, key[0], key[1], {"status": new}, subresource="status")
        if phase != "Running":
            return None
        nexts = [float(r.get("lastMeasuredAt", started)) + seconds(m.get("interval"), 0.0)
                 for m in metrics for r in [results.get(m["name"], {})]
                 if r.get("phase") == "Running"]
        return max(now + 0.1, min(nexts)) if nexts else None
