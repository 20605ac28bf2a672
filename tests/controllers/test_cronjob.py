"""CronJob: Jobs at scheduled times with an injected clock; concurrency and history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.rollout.helpers import cluster, rt
from turnout.controllers.cronjob import CronJobController, job_name, plan_cronjob
from turnout.controllers.workloads import iso
from turnout.kube import cron
from turnout.types import Obj

T0 = datetime(2026, 1, 1, 12, 0, 20, tzinfo=UTC)


def cronjob(**spec: object) -> Obj:
    base: Obj = {"schedule": "*/1 * * * *", "concurrencyPolicy": "Allow",
                 "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                 "jobTemplate": {"metadata": {"labels": {"app": "tick"}}, "spec": {"template": {
                     "spec": {"restartPolicy": "OnFailure",
                              "containers": [{"name": "c", "image": "busybox"}]}}}}}
    base.update(spec)
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "tick", "namespace": "ns", "uid": "cj1",
                         "creationTimestamp": iso(T0)}, "spec": base, "status": {}}


def job(name: str, state: str | None, started: datetime = T0) -> Obj:
    st: Obj = {"startTime": iso(started)}
    if state:
        st["conditions"] = [{"type": state, "status": "True",
                             "lastTransitionTime": iso(started + timedelta(seconds=5))}]
        if state == "Complete":
            st["completionTime"] = iso(started + timedelta(seconds=5))
    return {"metadata": {"name": name, "namespace": "ns", "uid": name}, "status": st}


def test_nothing_before_the_first_time_then_the_job_of_that_minute() -> None:
    p = plan_cronjob(cronjob(), [], T0)
    assert p.create is None and p.requeue_after is not None and 39 < p.requeue_after < 41
    p = plan_cronjob(cronjob(), [], T0 + timedelta(seconds=45))
    assert p.create == datetime(2026, 1, 1, 12, 1, tzinfo=UTC)
    assert p.status["lastScheduleTime"] == "2026-01-01T12:01:00Z"
    assert job_name("tick", p.create) == f"tick-{int(p.create.timestamp()) // 60}"


def test_missed_times_run_once_the_latest_and_starting_deadline_drops_stale_ones() -> None:
    later = T0 + timedelta(minutes=10)
    p = plan_cronjob(cronjob(), [], later)
    assert p.create == datetime(2026, 1, 1, 12, 10, tzinfo=UTC)
    late = T0 + timedelta(minutes=10, seconds=30)
    assert plan_cronjob(cronjob(startingDeadlineSeconds=10), [], late).create is None


def test_forbid_waits_replace_deletes_allow_runs_both() -> None:
    running = [job("tick-1", None)]
    at = T0 + timedelta(minutes=1)
    assert plan_cronjob(cronjob(concurrencyPolicy="Forbid"), running, at).create is None
    p = plan_cronjob(cronjob(concurrencyPolicy="Replace"), running, at)
    assert p.create is not None and p.delete == ["tick-1"]
    p = plan_cronjob(cronjob(), running, at)
    assert p.create is not None and not p.delete
    assert [r["name"] for r in p.status["active"]] == ["tick-1"]


def test_suspend_creates_nothing() -> None:
    assert plan_cronjob(cronjob(suspend=True), [], T0 + timedelta(minutes=3)).create is None


def test_history_limits_and_last_successful_time() -> None:
    jobs = [job(f"ok{i}", "Complete", T0 + timedelta(minutes=i)) for i in range(5)] + \
        [job(f"bad{i}", "Failed", T0 + timedelta(minutes=i)) for i in range(3)]
    p = plan_cronjob(cronjob(), jobs, T0 + timedelta(minutes=5, seconds=10))
    assert sorted(p.delete) == ["bad0", "bad1", "ok0", "ok1"]
    assert p.status["lastSuccessfulTime"] == iso(T0 + timedelta(minutes=4, seconds=5))


def test_the_same_minute_never_runs_twice() -> None:
    at = T0 + timedelta(minutes=1)
    name = job_name("tick", datetime(2026, 1, 1, 12, 1, tzinfo=UTC))
    assert plan_cronjob(cronjob(), [job(name, None)], at).create is None


async def test_controller_creates_jobs_on_the_injected_clock() -> None:
    o = cluster("ns")
    cj = cronjob(timeZone="Europe/Paris")
    del cj["metadata"]["uid"], cj["status"], cj["metadata"]["creationTimestamp"]
    created = o.create(rt(o, "cronjobs.batch"), "ns", cj)["metadata"]["creationTimestamp"]
    start = datetime.fromisoformat(created.replace("Z", "+00:00"))
    now = [start]
    ctl = CronJobController(o, clock=lambda: now[0])
    await ctl.reconcile(("ns", "tick"))
    assert not list(o.store.iter("jobs.batch", "ns"))
    now[0] = start + timedelta(minutes=1)
    minute = now[0].replace(second=0)
    await ctl.reconcile(("ns", "tick"))
    jobs = list(o.store.iter("jobs.batch", "ns"))
    assert [j["metadata"]["name"] for j in jobs] == [f"tick-{int(minute.timestamp()) // 60}"]
    j = jobs[0]
    assert j["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert j["metadata"]["labels"] == {"app": "tick"}
    paris = minute.astimezone(cron.zone("Europe/Paris")).isoformat()
    assert j["metadata"]["annotations"][
        "batch.kubernetes.io/cronjob-scheduled-timestamp"] == paris
    assert j["spec"]["selector"]["matchLabels"] == {
        "batch.kubernetes.io/controller-uid": j["metadata"]["uid"]}
    stored = o.store.get("cronjobs.batch", "ns", "tick")
    assert stored is not None
    assert stored["status"]["lastScheduleTime"] == iso(minute)
    assert [r["name"] for r in stored["status"]["active"]] == [j["metadata"]["name"]]
    await ctl.reconcile(("ns", "tick"))  # same minute again: nothing new
    assert len(list(o.store.iter("jobs.batch", "ns"))) == 1
    reasons = [e["reason"] for e in o.store.iter("events", "ns")]
    assert reasons == ["SuccessfulCreate"]
