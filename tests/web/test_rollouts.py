"""Rollout and Canary views and the command patch (pure)."""

from __future__ import annotations

import time

import pytest

from turnout.rollout import engine, flagger
from turnout.web import rollouts

from . import helpers as h


def test_command_patch_is_the_one_the_cli_sends() -> None:
    assert rollouts.command_patch("abort") == {
        "metadata": {"annotations": {flagger.COMMAND: "abort"}}}
    assert set(rollouts.COMMANDS) == {"promote", "promote-full", "abort", "retry"}
    with pytest.raises(ValueError, match="unknown rollout command 'rm'"):
        rollouts.command_patch("rm")


def test_detail_of_an_aborted_rollout_offers_retry_only() -> None:
    obj = h.rollout_obj()
    s = engine.State(phase=engine.Phase.ABORTED, stable="a", canary="b", step=2,
                     message="p50 +200 ms")
    obj["status"] = {"phase": "Degraded", "turnout": s.to_json()}
    d = rollouts.detail(rollouts.KINDS["rollout"], obj, [])
    assert d["commands"] == ["retry"] and d["phase"] == "Degraded"
    assert d["message"] == "p50 +200 ms" and d["weight"] == 0 and d["stable_weight"] == 100
    assert [s["state"] for s in d["step_list"]][:3] == ["done", "done", "pending"]


def test_a_canary_without_status_and_a_bad_spec_are_shown_not_raised() -> None:
    canary = {"kind": "Canary", "metadata": {"name": "ads", "namespace": "ns1"},
              "spec": {"analysis": {"stepWeight": 25, "maxWeight": 50, "threshold": 3}}}
    d = rollouts.detail(rollouts.KINDS["canary"], canary, [])
    assert [s["text"] for s in d["step_list"]] == ["analysis: pre-rollout", "setWeight: 25",
                                                   "analysis: check", "setWeight: 50",
                                                   "analysis: promotion"]
    assert d["checks"]["threshold"] == 3 and d["phase"] == "Unknown" and d["commands"] == []
    bad = h.rollout_obj()
    bad["spec"]["strategy"]["canary"]["steps"] = [{"experiment": {}}]
    row = rollouts.summary(rollouts.KINDS["rollout"], bad)
    assert "spec.strategy.canary.steps[0]" in row["message"] and row["steps"] == 0


def test_events_are_filtered_by_involved_object_and_sorted_newest_first() -> None:
    obj = h.rollout_obj()
    ev = [{"involvedObject": {"kind": "Rollout", "name": "advertisements", "namespace": "ns1"},
           "reason": r, "lastTimestamp": t, "type": "Normal"}
          for r, t in (("Old", "2025-01-01T00:00:00Z"), ("New", "2025-01-02T00:00:00Z"))]
    ev.append({"involvedObject": {"kind": "Rollout", "name": "other", "namespace": "ns1"},
               "reason": "X"})
    ev.append({"involvedObject": {"kind": "Rollout", "name": "advertisements",
                                  "namespace": "ns2"}, "reason": "Y"})
    assert [e["reason"] for e in rollouts.related_events(obj, ev)] == ["New", "Old"]


def test_paused_state_round_trips_into_the_view() -> None:
    obj = h.rollout_obj()
    obj["status"] = {"phase": "Paused", "turnout": h.paused_state(time.time()).to_json()}
    d = rollouts.detail(rollouts.KINDS["rollout"], obj, [])
    assert d["pause_reason"] == "CanaryPauseStep" and d["weight"] == 20
    assert d["history"][0]["metrics"][0]["canary"] == 231.0
