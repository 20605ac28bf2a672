"""Job controller: run pods to completion, count successes and failures, finish, clean up.

`plan_job` is the real controller's arithmetic as a pure function of the Job, its pods and the
clock: how many pods to start (parallelism, remaining completions, failure back-off), when the Job
is `Complete` or `Failed` (backoffLimit, activeDeadlineSeconds), and when a finished Job is
deleted (ttlSecondsAfterFinished). `JobController` reads the store, plans, and carries it out.

Counting: succeeded/failed are the owned pods in those phases, never less than what status
already said (the real controller tracks pods with a finalizer so a deleted pod stays counted;
turnout's Job never deletes finished pods itself, so this only matters when a user does).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from turnout.controllers.base import Controller, Key
from turnout.controllers.events import Recorder
from turnout.controllers.workloads import (
    condition,
    controller_ref,
    iso,
    owned_by,
    parse_time,
    pod_active,
    pod_ready,
    set_condition,
)
from turnout.store.db import Event
from turnout.store.objects import Objects
from turnout.types import Obj

log = logging.getLogger("turnout.controllers.job")

JOB = "jobs.batch"
JOB_NAME = "batch.kubernetes.io/job-name"
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
BACKOFF_ENV = "TURNOUT_BACKOFF_SECONDS"  # the same knob as the kubelet's CrashLoopBackOff
MAX_BACKOFF = 600.0
COMPLETE_MSG = "Reached expected number of succeeded pods"
Clock = Callable[[], datetime]


@dataclass
class JobPlan:
    create: int = 0
    delete: list[str] = field(default_factory=list)
    status: Obj = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    delete_job: bool = False
    requeue_after: float | None = None


def finished(job: Obj) -> str | None:
    """"Complete" or "Failed" once the Job has that condition, else None."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def finish_time(job: Obj) -> datetime | None:
    st = job.get("status") or {}
    if st.get("completionTime"):
        return parse_time(st["completionTime"])
    for c in st.get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return parse_time(c.get("lastTransitionTime"))
    return None


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _restarts(pod: Obj) -> int:
    st = pod.get("status") or {}
    return sum(int(c.get("restartCount") or 0) for c in
               (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []))


def _failed_at(pod: Obj) -> datetime | None:
    times = [parse_time(((c.get("state") or {}).get("terminated") or {}).get("finishedAt"))
             for c in (pod.get("status") or {}).get("containerStatuses") or []]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def backoff_delay(failures: int, initial: float) -> float:
    """Wait before replacing a failed pod: initial·2^(n-1), capped (the real 10 s … 10 min)."""
    if failures <= 0:
        return 0.0
    return float(min(initial * 2 ** (failures - 1), MAX_BACKOFF))


def plan_job(job: Obj, pods: list[Obj], now: datetime, backoff_initial: float = 10.0) -> JobPlan:
    spec, old = job.get("spec") or {}, job.get("status") or {}
    ts = iso(now)
    plan = JobPlan()
    st: Obj = copy.deepcopy(old)
    conds: list[Obj] = list(st.get("conditions") or [])
    active = [p for p in pods if pod_active(p)]
    succeeded = max(int(old.get("succeeded") or 0), sum(_phase(p) == "Succeeded" for p in pods))
    failed = max(int(old.get("failed") or 0), sum(_phase(p) == "Failed" for p in pods))
    done = finished(job)

    if done is not None:
        plan.delete = [p["metadata"]["name"] for p in active]
        active = []
        ttl = spec.get("ttlSecondsAfterFinished")
        end = finish_time(job)
        if ttl is not None and end is not None:
            left = (end + timedelta(seconds=int(ttl)) - now).total_seconds()
            if left <= 0:
                plan.delete_job = True
            else:
                plan.requeue_after = left
    else:
        suspended = spec.get("suspend") is True
        parallelism = int(spec.get("parallelism", 1))
        completions = spec.get("completions")
        backoff_limit = int(spec.get("backoffLimit", 6))
        if suspended:
            plan.delete = [p["metadata"]["name"] for p in active]
            active = []
            if (condition(conds, "Suspended") or {}).get("status") != "True":
                conds = set_condition(conds, "Suspended", "True", "JobSuspended",
                                      "Job suspended", ts, probe_time=True)
                plan.events.append(("Normal", "Suspended", "Job suspended"))
        else:
            if (condition(conds, "Suspended") or {}).get("status") == "True":
                conds = set_condition(conds, "Suspended", "False", "JobResumed", "Job resumed",
                                      ts, probe_time=True)
                plan.events.append(("Normal", "Resumed", "Job resumed"))
                st.pop("startTime", None)
            st.setdefault("startTime", ts)
        start = parse_time(st.get("startTime"))
        on_failure = (spec.get("template") or {}).get("spec", {}).get("restartPolicy") == \
            "OnFailure"
        restarts = sum(_restarts(p) for p in active) if on_failure else 0
        deadline = spec.get("activeDeadlineSeconds")
        fail: tuple[str, str] | None = None
        if failed > backoff_limit or (on_failure and restarts and
                                      failed + restarts > backoff_limit):
            fail = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif deadline is not None and start is not None and not suspended and \
                now >= start + timedelta(seconds=int(deadline)):
            fail = ("DeadlineExceeded", "Job was active longer than specified deadline")
        complete = (succeeded >= int(completions)) if completions is not None else \
            (succeeded > 0 and not active)
        if fail is not None:
            plan.delete = [p["metadata"]["name"] for p in active]
            active = []
            for type_ in ("FailureTarget", "Failed"):
                conds = set_condition(conds, type_, "True", fail[0], fail[1], ts, True)
            plan.events.append(("Warning", fail[0], fail[1]))
            ttl = spec.get("ttlSecondsAfterFinished")
            plan.requeue_after = float(ttl) if ttl is not None else None
        elif complete:
            plan.delete = [p["metadata"]["name"] for p in active]
            active = []
            for type_ in ("SuccessCriteriaMet", "Complete"):
                conds = set_condition(conds, type_, "True", "CompletionsReached", COMPLETE_MSG,
                                      ts, True)
            st["completionTime"] = ts
            plan.events.append(("Normal", "Completed", "Job completed"))
            ttl = spec.get("ttlSecondsAfterFinished")
            plan.requeue_after = float(ttl) if ttl is not None else None
        elif not suspended:
            if completions is not None:
                want = min(parallelism, int(completions) - succeeded)
            else:
                want = 0 if succeeded else parallelism
            if len(active) > want:
                extra = sorted(active, key=lambda p: (pod_ready(p), _neg(
                    p["metadata"].get("creationTimestamp", ""))))[: len(active) - want]
                plan.delete = [p["metadata"]["name"] for p in extra]
                active = [p for p in active if p not in extra]
            elif len(active) < want:
                wait = _backoff_wait(pods, failed, now, backoff_initial)
                if wait > 0:
                    plan.requeue_after = wait
                else:
                    plan.create = want - len(active)
            if deadline is not None and start is not None:
                left = (start + timedelta(seconds=int(deadline)) - now).total_seconds()
                plan.requeue_after = min(plan.requeue_after or left, left)
    st["conditions"] = conds
    st["active"] = len(active) + plan.create
    st["ready"] = sum(1 for p in active if pod_ready(p))
    st["succeeded"] = succeeded
    st["failed"] = failed
    st["terminating"] = sum(1 for p in pods if p["metadata"].get("deletionTimestamp"))
    st["uncountedTerminatedPods"] = {}
    plan.status = {k: v for k, v in st.items()
                   if v not in (0, [], None) or k in ("ready", "terminating",
                                                      "uncountedTerminatedPods")}
    return plan


def _backoff_wait(pods: list[Obj], failed: int, now: datetime, initial: float) -> float:
    """Seconds left before a failed pod may be replaced (0 when it may be now)."""
    last_success = max((parse_time(p["metadata"].get("creationTimestamp")) or now
                        for p in pods if _phase(p) == "Succeeded"), default=None)
    failures = [t for p in pods if _phase(p) == "Failed" and (t := _failed_at(p)) is not None
                and (last_success is None or t >= last_success)]
    if not failures or not failed:
        return 0.0
    ready_at = max(failures) + timedelta(seconds=backoff_delay(len(failures), initial))
    return max(0.0, (ready_at - now).total_seconds())


def _neg(ts: str) -> str:
    return "".join(chr(255 - ord(c)) for c in ts)


def pod_for(job: Obj) -> Obj:
    """A new pod of `job`: its template, the Job's labels, owned by the Job."""
    tmpl = copy.deepcopy((job.get("spec") or {}).get("template") or {})
    meta = tmpl.get("metadata") or {}
    meta.pop("creationTimestamp", None)
    jm = job["metadata"]
    labels = dict(meta.get("labels") or {})
    labels.setdefault(CONTROLLER_UID, jm["uid"])
    labels.setdefault(JOB_NAME, jm["name"])
    labels.setdefault("controller-uid", jm["uid"])
    labels.setdefault("job-name", jm["name"])
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {**meta, "generateName": f"{jm['name']}-", "namespace": jm["namespace"],
                         "labels": labels, "ownerReferences": [controller_ref(job)]},
            "spec": tmpl.get("spec") or {}}


class JobController(Controller):
    name = "job-controller"

    def __init__(self, objects: Objects, clock: Clock | None = None,
                 backoff_seconds: float | None = None) -> None:
        super().__init__(objects)
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.backoff = backoff_seconds if backoff_seconds is not None else \
            float(os.environ.get(BACKOFF_ENV) or 10.0)
        self.events = Recorder(objects, "job-controller")
        self.job_rt = objects.registry.by_key(JOB)
        self.pod_rt = objects.registry.by_key("pods")

    def all_keys(self) -> Iterable[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.iter(JOB)]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == JOB:
            yield (ev.namespace, ev.name)
        elif ev.key == "pods":
            for ref in ev.obj["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "Job" and ref.get("controller"):
                    yield (ev.namespace, ref["name"])

    async def reconcile(self, key: Key) -> None:
        ns, name = key
        job = self.store.get(JOB, ns, name)
        if job is None or job["metadata"].get("deletionTimestamp") or self.pod_rt is None:
            return
        pods = [p for p in self.store.iter("pods", ns) if owned_by(p, job["metadata"]["uid"])]
        plan = plan_job(job, pods, self.clock(), self.backoff)
        if plan.delete_job and self.job_rt is not None:
            self.delete_if_present(self.job_rt, ns, name)
            return
        for pod_name in plan.delete:
            self.delete_if_present(self.pod_rt, ns, pod_name)
            self.events.record(job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod_name}")
        for _ in range(plan.create):
            pod = self.objects.create(self.pod_rt, ns, pod_for(job))
            self.events.record(job, "Normal", "SuccessfulCreate",
                               f"Created pod: {pod['metadata']['name']}")
        for type_, reason, message in plan.events:
            self.events.record(job, type_, reason, message)
        if plan.status != job.get("status"):
            job["status"] = plan.status
            self.store.update(JOB, job)
        if plan.requeue_after is not None:
            asyncio.get_running_loop().call_later(max(0.05, plan.requeue_after), self.enqueue,
                                                  key)
