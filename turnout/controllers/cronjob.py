"""CronJob controller: a Job per scheduled time, concurrency policy, history limits.

`plan_cronjob` is pure (the CronJob, its Jobs, the clock → what to create, delete and report),
following the real controller (kubernetes/pkg/controller/cronjob, v2): the most recent missed
time since `lastScheduleTime` (or creation) is run, bounded by `startingDeadlineSeconds`; Jobs are
named `<cronjob>-<scheduled time in minutes since the epoch>`, so one time never runs twice.
The clock is injected, so tests drive schedules without waiting minutes.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from turnout.controllers.base import Controller, Key, counters
from turnout.controllers.events import Recorder
from turnout.controllers.job import JOB, finish_time, finished
from turnout.controllers.workloads import controller_ref, iso, owned_by, parse_time
from turnout.kube import cron, errors
from turnout.store.db import Event
from turnout.store.objects import Objects
from turnout.types import Obj

log = logging.getLogger("turnout.controllers.cronjob")

CRONJOB = "cronjobs.batch"
SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MAX_MISSED = 100
Clock = Callable[[], datetime]


@dataclass
class CronPlan:
    create: datetime | None = None  # the scheduled time to start a Job for
    delete: list[str] = field(default_factory=list)
    status: Obj = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    requeue_after: float | None = None


def job_name(cronjob: str, scheduled: datetime) -> str:
    return f"{cronjob}-{int(scheduled.timestamp()) // 60}"


def _ref(job: Obj) -> Obj:
    m = job["metadata"]
    return {"kind": "Job", "namespace": m["namespace"], "name": m["name"], "uid": m["uid"],
            "apiVersion": "batch/v1", "resourceVersion": m.get("resourceVersion", "")}


def _started(job: Obj) -> datetime:
    st = job.get("status") or {}
    return parse_time(st.get("startTime")) or parse_time(
        job["metadata"].get("creationTimestamp")) or datetime.min.replace(tzinfo=UTC)


def plan_cronjob(cj: Obj, jobs: list[Obj], now: datetime) -> CronPlan:
    spec, old = cj.get("spec") or {}, cj.get("status") or {}
    plan = CronPlan()
    st: Obj = copy.deepcopy(old)
    active = [j for j in jobs if finished(j) is None and not j["metadata"].get(
        "deletionTimestamp")]
    done = [j for j in jobs if finished(j) is not None]
    known_active = {r.get("uid") for r in old.get("active") or []}
    for j in done:
        if j["metadata"]["uid"] in known_active:
            plan.events.append(("Normal", "SawCompletedJob",
                                f"Saw completed job: {j['metadata']['name']}, "
                                f"status: {finished(j)}"))
    succeeded = [finish_time(j) for j in done if finished(j) == "Complete"]
    last_ok = max([t for t in succeeded if t is not None] +
                  ([t] if (t := parse_time(old.get("lastSuccessfulTime"))) else []), default=None)
    if last_ok is not None:
        st["lastSuccessfulTime"] = iso(last_ok)
    for kind, limit in (("Complete", spec.get("successfulJobsHistoryLimit", 3)),
                        ("Failed", spec.get("failedJobsHistoryLimit", 1))):
        if limit is None:
            continue
        these = sorted((j for j in done if finished(j) == kind), key=_started)
        plan.delete += [j["metadata"]["name"] for j in these[: max(0, len(these) - int(limit))]]

    try:
        sched = cron.parse(str(spec.get("schedule", "")), spec.get("timeZone"))
    except cron.CronError as e:
        plan.events.append(("Warning", "UnparseableSchedule",
                            f"unparseable schedule: {spec.get('schedule')!r} : {e}"))
        sched = None
    if sched is not None and spec.get("suspend") is not True:
        created = parse_time(cj["metadata"].get("creationTimestamp")) or now
        earliest = parse_time(old.get("lastScheduleTime")) or created
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, now - timedelta(seconds=int(deadline)))
        missed = sched.times_between(earliest, now, limit=MAX_MISSED + 1)
        if len(missed) > MAX_MISSED:
            plan.events.append(("Warning", "TooManyMissedTimes",
                                f"too many missed start times: {len(missed)}. Set or decrease "
                                ".spec.startingDeadlineSeconds or check clock skew"))
        scheduled = sched.last_between(earliest, now) if missed else None
        names = {j["metadata"]["name"] for j in jobs}
        policy = spec.get("concurrencyPolicy", "Allow")
        if scheduled is not None and job_name(cj["metadata"]["name"], scheduled) in names:
            st["lastScheduleTime"] = iso(scheduled)
        elif scheduled is not None and policy == "Forbid" and active:
            pass  # runs once the active Job ends, if still within startingDeadlineSeconds
        elif scheduled is not None:
            if policy == "Replace":
                for j in active:
                    plan.delete.append(j["metadata"]["name"])
                active = []
            plan.create = scheduled
            st["lastScheduleTime"] = iso(scheduled)
        nxt = sched.next_after(now)
        if nxt is not None:
            plan.requeue_after = (nxt - now).total_seconds() + 0.1
    st["active"] = [_ref(j) for j in active]
    plan.status = {k: v for k, v in st.items() if v not in (None, [])}
    return plan


def job_for(cj: Obj, scheduled: datetime) -> Obj:
    jt = copy.deepcopy((cj.get("spec") or {}).get("jobTemplate") or {})
    meta = jt.get("metadata") or {}
    meta.pop("creationTimestamp", None)
    tz = cron.zone((cj.get("spec") or {}).get("timeZone"))
    annotations = {**(meta.get("annotations") or {}),
                   SCHEDULED_AT: scheduled.astimezone(tz).isoformat().replace("+00:00", "Z")}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {**meta, "name": job_name(cj["metadata"]["name"], scheduled),
                         "namespace": cj["metadata"]["namespace"],
                         "labels": dict(meta.get("labels") or {}), "annotations": annotations,
                         "ownerReferences": [controller_ref(cj)]},
            "spec": jt.get("spec") or {}}


class CronJobController(Controller):
    name = "cronjob-controller"

    def __init__(self, objects: Objects, clock: Clock | None = None) -> None:
        super().__init__(objects)
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.events = Recorder(objects, "cronjob-controller")
        self.job_rt = objects.registry.by_key(JOB)
        self._timers: dict[Key, asyncio.TimerHandle] = {}

    def all_keys(self) -> Iterable[Key]:
        return [(o["metadata"]["namespace"], o["metadata"]["name"])
                for o in self.store.iter(CRONJOB)]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == CRONJOB:
            yield (ev.namespace, ev.name)
        elif ev.key == JOB:
            for ref in ev.obj["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "CronJob" and ref.get("controller"):
                    yield (ev.namespace, ref["name"])

    async def reconcile(self, key: Key) -> None:
        ns, name = key
        cj = self.store.get(CRONJOB, ns, name)
        if cj is None or cj["metadata"].get("deletionTimestamp") or self.job_rt is None:
            return
        jobs = [j for j in self.store.iter(JOB, ns) if owned_by(j, cj["metadata"]["uid"])]
        plan = plan_cronjob(cj, jobs, self.clock())
        for victim in plan.delete:
            if self.delete_if_present(self.job_rt, ns, victim):
                self.events.record(cj, "Normal", "SuccessfulDelete", f"Deleted job {victim}")
        if plan.create is not None:
            try:
                job = self.objects.create(self.job_rt, ns, job_for(cj, plan.create))
                self.events.record(cj, "Normal", "SuccessfulCreate",
                                   f"Created job {job['metadata']['name']}")
                plan.status.setdefault("active", []).append(_ref(job))
            except errors.ApiError as e:
                if e.code != 409:
                    self.events.record(cj, "Warning", "FailedCreate",
                                       f"Error creating job: {e}")
                    raise
                log.debug("%s: job for %s already exists", self.name, plan.create)
                counters[f"{self.name}:already_created"] += 1
        for type_, reason, message in plan.events:
            self.events.record(cj, type_, reason, message)
        if plan.status != cj.get("status"):
            cj["status"] = plan.status
            self.store.update(CRONJOB, cj)
        if plan.requeue_after is not None:
            old = self._timers.pop(key, None)
            if old is not None:
                old.cancel()
            self._timers[key] = asyncio.get_running_loop().call_later(
                plan.requeue_after, self.enqueue, key)
