"""The turnout provider compares the arms a Rollout names, or the ones its settings name; with
neither it is an Error that says what is missing (never a verdict on the release)."""

from __future__ import annotations

import json

from turnout.rollout import metrics
from turnout.rollout.metrics import FakeMetrics, lognormal
from turnout.rollout.providers import ARMS, Builtin


def run(arms: dict[str, object] | None = None) -> dict[str, object]:
    ann = {ARMS: json.dumps(arms)} if arms is not None else {}
    return {"metadata": {"name": "r", "namespace": "ns1", "annotations": ann}}


class Recorder(FakeMetrics):
    def __init__(self) -> None:
        super().__init__(dists={"a": lognormal(50), "b": lognormal(50)})
        self.asked: list[metrics.Arm] = []

    def samples(self, namespace: str, arm: metrics.Arm, since: object,
                start: float | None = None) -> tuple[list[float], list[bool]]:
        self.asked.append(arm)
        return super().samples(namespace, arm, since, start)  # type: ignore[arg-type]


def test_arms_from_the_rollout_are_revisions_of_its_workload() -> None:
    rec = Recorder()
    stable = metrics.Arm(workload="ads", revision="5d4f", name="a")
    canary = metrics.Arm(workload="ads", revision="7f9c", name="b")
    phase, _, _ = Builtin(rec).measure({"provider": {"turnout": {}}}, run(
        {"namespace": "ns1", "stable": stable.to_json(), "canary": canary.to_json(),
         "started": 0}), now=60.0)
    assert set(rec.asked) == {stable, canary}  # compared, not just probed for data
    assert phase in ("Successful", "Inconclusive")


def test_settings_name_workload_revisions_or_service_versions() -> None:
    rec = Recorder()
    rec.dists = {"1.0": lognormal(50), "2.0": lognormal(50)}
    Builtin(rec).measure({"provider": {"turnout": {
        "workload": "ads", "stableRevision": "1", "canaryRevision": "2"}}}, run(), now=60.0)
    assert rec.asked == [metrics.Arm(workload="ads", revision="2")]  # no data: nothing to compare
    rec.asked.clear()
    Builtin(rec).measure({"provider": {"turnout": {
        "service": "ads", "stableVersion": "1.0", "canaryVersion": "2.0"}}}, run(), now=60.0)
    assert set(rec.asked) == {metrics.Arm(service="ads", version="1.0"),
                              metrics.Arm(service="ads", version="2.0")}


def test_no_canary_data_is_inconclusive_saying_so() -> None:
    phase, value, message = Builtin(Recorder()).measure(
        {"provider": {"turnout": {"workload": "ads", "canaryRevision": "9"}}}, run(), now=60.0)
    assert (phase, value) == ("Inconclusive", "[]")
    assert message.startswith("no data:") and "0 requests" in message


def test_no_arms_is_an_error_that_names_what_is_missing() -> None:
    phase, _, message = Builtin(Recorder()).measure({"provider": {"turnout": {}}}, run(),
                                                    now=60.0)
    assert phase == "Error"
    assert "no stable and no canary arm" in message and "Rollout" in message
