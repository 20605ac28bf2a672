"""Job planning: parallelism, completions, backoffLimit, deadlines, TTL (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from turnout.controllers.job import backoff_delay, finished, plan_job, pod_for
from turnout.controllers.workloads import iso
from turnout.types import Obj

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def job(**spec: object) -> Obj:
    base: Obj = {"backoffLimit": 6, "completions": 1, "parallelism": 1,
                 "template": {"metadata": {"labels": {"job-name": "pi"}},
                              "spec": {"restartPolicy": "Never", "containers": [{"name": "c"}]}}}
    base.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "ns", "uid": "u1"}, "spec": base,
            "status": {}}


def pod(name: str, phase: str = "Running", ready: bool = False, restarts: int = 0,
        finished_at: datetime | None = None) -> Obj:
    cs: Obj = {"name": "c", "restartCount": restarts, "state": {}}
    if finished_at is not None:
        cs["state"] = {"terminated": {"finishedAt": iso(finished_at)}}
    return {"metadata": {"name": name, "creationTimestamp": iso(NOW - timedelta(minutes=1))},
            "status": {"phase": phase, "containerStatuses": [cs], "conditions": [
                {"type": "Ready", "status": "True" if ready else "False"}]}}


def test_a_new_job_starts_parallelism_pods_and_its_clock() -> None:
    p = plan_job(job(completions=5, parallelism=2), [], NOW)
    assert p.create == 2
    assert p.status["startTime"] == iso(NOW) and p.status["active"] == 2


def test_parallelism_never_exceeds_remaining_completions() -> None:
    pods = [pod(f"s{i}", "Succeeded") for i in range(4)]
    p = plan_job(job(completions=5, parallelism=3), pods, NOW)
    assert p.create == 1 and p.status["succeeded"] == 4


def test_complete_when_completions_reached() -> None:
    p = plan_job(job(completions=2), [pod("a", "Succeeded"), pod("b", "Succeeded")], NOW)
    assert p.create == 0
    types = {c["type"]: c for c in p.status["conditions"]}
    assert types["Complete"]["status"] == "True"
    assert types["Complete"]["reason"] == "CompletionsReached"
    assert "SuccessCriteriaMet" in types
    assert p.status["completionTime"] == iso(NOW)
    assert ("Normal", "Completed", "Job completed") in p.events


def test_work_queue_completes_when_one_succeeded_and_none_active() -> None:
    j = job(completions=None, parallelism=2)
    assert plan_job(j, [pod("a", "Succeeded"), pod("b")], NOW).create == 0
    assert finished({**j, "status": plan_job(j, [pod("a", "Succeeded"), pod("b")], NOW)
                     .status}) is None
    done = plan_job(j, [pod("a", "Succeeded"), pod("b", "Succeeded")], NOW)
    assert finished({**j, "status": done.status}) == "Complete"


def test_backoff_limit_fails_the_job_and_stops_its_pods() -> None:
    fails = [pod("a", "Failed", finished_at=NOW), pod("b", "Failed", finished_at=NOW)]
    p = plan_job(job(backoffLimit=1), [*fails, pod("c")], NOW)
    failed = next(c for c in p.status["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert failed["message"] == "Job has reached the specified backoff limit"
    assert p.delete == ["c"] and p.create == 0 and p.status["failed"] == 2


def test_on_failure_counts_container_restarts_against_the_limit() -> None:
    p = plan_job(job(backoffLimit=2, template={"spec": {"restartPolicy": "OnFailure"}}),
                 [pod("a", restarts=3)], NOW)
    assert finished({"status": p.status}) == "Failed"


def test_a_failed_pod_is_replaced_after_its_backoff() -> None:
    fails = [pod("a", "Failed", finished_at=NOW - timedelta(seconds=3))]
    p = plan_job(job(), fails, NOW, backoff_initial=10)
    assert p.create == 0 and p.requeue_after == 7
    assert plan_job(job(), fails, NOW + timedelta(seconds=8), backoff_initial=10).create == 1
    assert backoff_delay(3, 10) == 40 and backoff_delay(30, 10) == 600


def test_active_deadline() -> None:
    j = job(activeDeadlineSeconds=30)
    j["status"] = {"startTime": iso(NOW - timedelta(seconds=31)), "active": 1}
    p = plan_job(j, [pod("a")], NOW)
    assert finished({"status": p.status}) == "Failed" and p.delete == ["a"]
    assert next(c for c in p.status["conditions"]
                if c["type"] == "Failed")["reason"] == "DeadlineExceeded"
    j["status"] = {"startTime": iso(NOW - timedelta(seconds=10)), "active": 1}
    assert plan_job(j, [pod("a")], NOW).requeue_after == 20


def test_ttl_after_finished_deletes_the_job() -> None:
    j = job(ttlSecondsAfterFinished=5)
    j["status"] = {"completionTime": iso(NOW), "conditions": [
        {"type": "Complete", "status": "True", "lastTransitionTime": iso(NOW)}]}
    assert plan_job(j, [], NOW + timedelta(seconds=2)).requeue_after == 3
    assert plan_job(j, [], NOW + timedelta(seconds=5)).delete_job


def test_suspend_stops_pods_and_says_so() -> None:
    p = plan_job(job(suspend=True), [pod("a")], NOW)
    assert p.delete == ["a"] and p.create == 0
    assert any(c["type"] == "Suspended" and c["status"] == "True" for c in p.status["conditions"])


def test_pods_carry_the_job_labels_and_owner() -> None:
    p = pod_for(job())
    assert p["metadata"]["generateName"] == "pi-"
    labels = p["metadata"]["labels"]
    assert labels["batch.kubernetes.io/job-name"] == "pi" and labels["controller-uid"] == "u1"
    assert p["metadata"]["ownerReferences"][0]["kind"] == "Job"
