"""Every transition of the pure rollout engine."""

from __future__ import annotations

from turnout.analysis import Outcome
from turnout.rollout import engine as e
from turnout.rollout.engine import Command, Gate, Inputs, Phase, Plan, State

PLAN = Plan(steps=(e.SetWeight(20), e.Analyze("a"), e.Pause(10.0), e.SetWeight(50), e.Pause()),
            scale_down_delay=5.0)
FAIL = Gate(Outcome.FAIL, "canary p50 is 201 ms slower than baseline (251 vs 50 ms)")
PASS = Gate(Outcome.PASS, "within limits")
THIN = Gate(Outcome.INCONCLUSIVE, "too little traffic to judge")


def healthy() -> State:
    s, acts = e.step(State(), PLAN, Inputs(desired="v1", stable_ready=False), 0)
    assert s.phase is Phase.INITIALIZING and e.Promote("v1") in acts
    s, acts = e.step(s, PLAN, Inputs(desired="v1", stable_ready=True), 1)
    assert s.phase is Phase.HEALTHY and s.stable == "v1" and e.Routes(0) in acts
    return s


def started() -> State:
    s, acts = e.step(healthy(), PLAN, Inputs(desired="v2", canary_ready=False), 2)
    assert s.phase is Phase.PROGRESSING and s.canary == "v2" and e.ScaleCanary() in acts
    assert s.weight == 0
    s, acts = e.step(s, PLAN, Inputs(desired="v2"), 3)
    assert s.weight == 20 and acts[0] == e.Routes(20) and s.step == 1
    return s


def test_initial_revision_becomes_stable_without_steps() -> None:
    s, _ = e.step(State(), PLAN, Inputs(desired="v1", stable_ready=False), 0)
    s, _ = e.step(s, PLAN, Inputs(desired="v1", stable_ready=False), 1)
    assert s.phase is Phase.INITIALIZING
    healthy()


def test_waits_for_analysis_then_pause_duration() -> None:
    s = started()
    s, _ = e.step(s, PLAN, Inputs(desired="v2"), 4)
    assert s.step == 1 and "running" in s.message
    s, acts = e.step(s, PLAN, Inputs(desired="v2", gate=PASS), 5)
    assert s.step == 2 and e.Wake(15.0) in acts and s.history[-1].outcome == "Successful"
    s, _ = e.step(s, PLAN, Inputs(desired="v2"), 14)
    assert s.step == 2
    s, acts = e.step(s, PLAN, Inputs(desired="v2"), 15)
    assert s.weight == 50 and s.phase is Phase.PAUSED and s.pause_reason == "CanaryPauseStep"
    s, acts = e.step(s, PLAN, Inputs(desired="v2", command=Command.PROMOTE,
                                     stable_ready=False), 16)
    assert s.phase is Phase.PROMOTING and e.Promote("v2") in acts
    s, acts = e.step(s, PLAN, Inputs(desired="v2", stable_ready=True), 17)
    assert s.phase is Phase.HEALTHY and s.stable == "v2" and s.canary == "" and s.weight == 0
    assert acts[0] == e.Routes(0) and s.retire_at == 22.0
    s, acts = e.step(s, PLAN, Inputs(desired="v2"), 22)
    assert e.Retire() in acts and s.retire_at is None


def test_failed_gate_routes_to_stable_first_then_scales_down_later() -> None:
    s, acts = e.step(started(), PLAN, Inputs(desired="v2", gate=FAIL), 4)
    assert s.phase is Phase.ABORTED and s.weight == 0
    assert acts[0] == e.Routes(0)
    warn = next(a for a in acts if isinstance(a, e.Emit))
    assert warn.type == "Warning" and "201 ms slower" in warn.message
    assert e.Retire() not in acts and s.retire_at == 9.0
    s, acts = e.step(s, PLAN, Inputs(desired="v2"), 9)
    assert e.Retire() in acts
    s, acts = e.step(s, PLAN, Inputs(desired="v2"), 10)
    assert s.phase is Phase.ABORTED and not acts  # stays aborted, nothing to do


def test_failure_threshold_counts_checks() -> None:
    plan = Plan(steps=(e.SetWeight(10), e.Analyze()), failure_threshold=2)
    s, _ = e.step(healthy(), plan, Inputs(desired="v2"), 2)
    s, _acts = e.step(s, plan, Inputs(desired="v2", gate=FAIL), 3)
    assert s.phase is Phase.PROGRESSING and s.failed_checks == 1 and s.weight == 10
    s, _ = e.step(s, plan, Inputs(desired="v2", gate=FAIL), 4)
    assert s.phase is Phase.ABORTED and s.failed_checks == 2


def test_inconclusive_pauses_or_holds() -> None:
    s, _ = e.step(started(), PLAN, Inputs(desired="v2", gate=THIN), 4)
    assert s.phase is Phase.PAUSED and s.pause_reason == "InconclusiveAnalysisRun"
    exp = Plan(steps=(e.SetWeight(20), e.Analyze("experiment-1", "InconclusiveExperiment")))
    s, _ = e.step(started(), exp, Inputs(desired="v2", gate=THIN), 4)
    assert s.phase is Phase.PAUSED and s.pause_reason == "InconclusiveExperiment"
    hold = Plan(steps=PLAN.steps, inconclusive_pauses=False)
    s, _ = e.step(started(), hold, Inputs(desired="v2", gate=THIN), 4)
    assert s.phase is Phase.PROGRESSING and s.step == 1 and s.inconclusive_checks == 1
    assert s.failed_checks == 0


def test_abort_retry_and_promote_full() -> None:
    first = started()
    s, acts = e.step(first, PLAN, Inputs(desired="v2", command=Command.ABORT), 4)
    assert s.phase is Phase.ABORTED and acts[0] == e.Routes(0)
    s, acts = e.step(s, PLAN, Inputs(desired="v2", command=Command.RETRY), 5)
    # every try gets a fresh attempt number, so its analyses never reuse a stale run
    assert s.phase is Phase.PROGRESSING and s.attempt == first.attempt + 1 and s.weight == 20
    s, acts = e.step(s, PLAN, Inputs(desired="v2", command=Command.PROMOTE_FULL,
                                     stable_ready=False), 6)
    assert s.phase is Phase.PROMOTING


def test_new_revision_mid_rollout_restarts_and_revert_drops_canary() -> None:
    s, acts = e.step(started(), PLAN, Inputs(desired="v3", canary_ready=False), 4)
    assert s.canary == "v3" and s.step == 0 and acts[0] == e.Routes(0)
    s, acts = e.step(s, PLAN, Inputs(desired="v1"), 5)
    assert s.phase is Phase.HEALTHY and s.canary == "" and acts[0] == e.Routes(0)


def test_background_failure_aborts_and_spec_paused_holds() -> None:
    s, _ = e.step(started(), PLAN, Inputs(desired="v2", background=FAIL), 4)
    assert s.phase is Phase.ABORTED
    s, _ = e.step(healthy(), PLAN, Inputs(desired="v2", paused=True), 2)
    assert s.weight == 0 and s.phase is Phase.PROGRESSING


def test_header_and_mirror_steps() -> None:
    plan = Plan(steps=(e.SetHeaderRoute("h", (e.HeaderMatch("x-canary", "yes"),)),
                       e.SetMirrorRoute("m", 50), e.Pause()))
    s, _ = e.step(healthy(), plan, Inputs(desired="v2"), 2)
    assert s.header == (e.HeaderMatch("x-canary", "yes"),) and s.mirror == 50


def test_state_round_trips_through_json() -> None:
    s, _ = e.step(started(), PLAN, Inputs(desired="v2", gate=THIN), 4)
    s = State(**{**s.__dict__, "header": (e.HeaderMatch("a", "b", "prefix"),)})
    assert State.from_json(s.to_json()) == s
    assert State.from_json(None) == State()


def test_progress_deadline_aborts_a_stuck_canary_when_asked_to() -> None:
    plan = Plan(steps=PLAN.steps, scale_down_delay=5.0, progress_deadline=60.0,
                deadline_aborts=True)
    s, _ = e.step(healthy(), plan, Inputs(desired="v2", canary_ready=False), 2)
    s, acts = e.step(s, plan, Inputs(desired="v2", canary_ready=False), 30)
    assert s.phase is Phase.PROGRESSING and e.Wake(62.0) in acts
    assert "progress deadline in 32 s" in s.message
    s, acts = e.step(s, plan, Inputs(desired="v2", canary_ready=False), 62)
    assert s.phase is Phase.ABORTED and e.Routes(0) in acts
    assert "ProgressDeadlineExceeded" in s.message and "60 s" in s.message


def test_progress_deadline_only_marks_without_abort() -> None:
    plan = Plan(steps=PLAN.steps, scale_down_delay=5.0, progress_deadline=60.0,
                deadline_aborts=False)
    s, _ = e.step(healthy(), plan, Inputs(desired="v2", canary_ready=False), 2)
    s, acts = e.step(s, plan, Inputs(desired="v2", canary_ready=False), 70)
    assert s.phase is Phase.PROGRESSING and "ProgressDeadlineExceeded" in s.message
    assert next(a for a in acts if isinstance(a, e.Emit)).reason == "ProgressDeadlineExceeded"
    s, acts = e.step(s, plan, Inputs(desired="v2", canary_ready=False), 80)
    assert not [a for a in acts if isinstance(a, e.Emit)]  # said once
    s, _ = e.step(s, plan, Inputs(desired="v2"), 90)  # pods came up: it goes on
    assert s.weight == 20
