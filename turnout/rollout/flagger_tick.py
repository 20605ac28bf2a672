"""One Flagger tick at an ``Analyze`` step: which stages run, in order, and what they mean.

Why this exists: Flagger's `advanceCanary` decides per tick what to call — pre-rollout hooks on
the first tick, else rollout hooks then metrics, then confirm-traffic-increase before a weight
step or confirm-promotion before promotion — and stops at the first failure. Here that order is
data (``stages``) and each stage's failure has one meaning (``failed``): a failed check counted
toward `threshold` (a ``Gate`` that FAILs), or a hold that counts nothing (no gate: the engine
waits for the next tick), with WaitingPromotion shown while confirm-promotion says no. The
controller runs the stages and stops where this module says.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnout.analysis import Outcome
from turnout.rollout import flagger
from turnout.rollout.engine import Analyze, Gate, Plan, SetMirrorRoute, SetWeight

PRE_ROLLOUT = "pre-rollout"
ROLLOUT = "rollout"
METRICS = "metrics"
CONFIRM_TRAFFIC = "confirm-traffic-increase"
CONFIRM_PROMOTION = "confirm-promotion"
HOOK_STAGES = (PRE_ROLLOUT, ROLLOUT, CONFIRM_TRAFFIC, CONFIRM_PROMOTION)


def stages(plan: Plan, index: int) -> tuple[str, ...]:
    """The stages of the tick answering the Analyze step at ``index``."""
    step = plan.steps[index]
    assert isinstance(step, Analyze), step
    nxt = plan.steps[index + 1] if index + 1 < len(plan.steps) else None
    out = [PRE_ROLLOUT] if step.name == flagger.PRE_ROLLOUT else [ROLLOUT, METRICS]
    if step.name == flagger.PROMOTION:
        out.append(CONFIRM_PROMOTION)
    elif isinstance(nxt, SetWeight) or (isinstance(nxt, SetMirrorRoute)
                                        and nxt.percent is not None):
        out.append(CONFIRM_TRAFFIC)  # Flagger asks before every traffic increase
    return tuple(out)


@dataclass(frozen=True)
class Result:
    """What a tick tells the engine: a gate (counted when it fails), or none (hold: wait for
    the next tick), and the approval the Canary waits for ("" | "WaitingPromotion")."""

    gate: Gate | None
    held: str = ""
    event: str = ""
    """Flagger's event sentence for a stop (reason `Synced`), without the `<c>.<ns>` prefix."""


def failed(stage: str, hook: str, error: str) -> Result:
    """The tick stops at a failing hook of ``stage``."""
    if stage == PRE_ROLLOUT:
        why = f"pre-rollout check {hook} failed {error}".strip()
        return Result(Gate(Outcome.FAIL, why), event=f"advancement {why}")
    if stage == ROLLOUT:
        why = f"external check {hook} failed {error}".strip()
        return Result(Gate(Outcome.FAIL, why), event=f"advancement {why}")
    if stage == CONFIRM_TRAFFIC:
        return Result(None, event=f"advancement waiting for traffic increase approval {hook}")
    return Result(None, "WaitingPromotion", f"advancement waiting for promotion approval {hook}")


def passed(metrics: Gate | None, ran: tuple[str, ...]) -> Result:
    """Every stage passed: the metrics' gate (its numbers and reason), else a plain pass."""
    if metrics is not None:
        return Result(metrics)
    what = "pre-rollout checks passed" if PRE_ROLLOUT in ran else "checks passed"
    return Result(Gate(Outcome.PASS, what))
