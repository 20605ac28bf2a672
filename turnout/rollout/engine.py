"""The rollout state machine shared by the Argo `Rollout` and Flagger `Canary` front ends.

Why this exists: Flagger's `advanceCanary` and Argo's reconciler interleave decisions with API
calls, which makes every transition hard to test. Here one pure function,
``step(state, plan, inputs, now) -> (state, actions)``, decides everything: which weight the canary
gets, when a pause ends, what an analysis result means, what promote / abort / retry do. The
front ends translate their spec into a ``Plan``, observe the cluster into ``Inputs``, execute the
returned ``Action``s in order and store the ``State`` in the object's status (status *is* the
state). Aborting always routes every request back to stable first; the canary is scaled down only
after ``Plan.scale_down_delay`` so that in-flight requests and the mesh's next config push finish.

Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from turnout.analysis import Outcome


class Phase(enum.Enum):
    INITIALIZING = "Initializing"  # no stable revision yet
    HEALTHY = "Healthy"  # stable serves everything, nothing in flight
    PROGRESSING = "Progressing"  # walking the steps
    PAUSED = "Paused"  # waiting for a human (pause step or inconclusive analysis)
    PROMOTING = "Promoting"  # the canary revision is becoming the stable one
    ABORTED = "Aborted"  # traffic back on stable; waits for retry or a new revision


TIMED_OUT = "ProgressDeadlineExceeded"  # Argo's TimedOutReason, Flagger's deadline reason
INCONCLUSIVE = "InconclusiveAnalysisRun"  # Argo's PauseReason for an Inconclusive AnalysisRun


class Command(enum.Enum):
    PROMOTE = "promote"  # leave the current pause / analysis step
    PROMOTE_FULL = "promote-full"  # skip the remaining steps
    ABORT = "abort"
    RETRY = "retry"  # restart an aborted rollout from the first step


# --- plan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderMatch:
    """One header condition of a header route: ``kind`` is exact, prefix or regex."""

    name: str
    value: str
    kind: str = "exact"


@dataclass(frozen=True)
class SetWeight:
    weight: int


@dataclass(frozen=True)
class Pause:
    seconds: float | None = None  # None: until promoted


@dataclass(frozen=True)
class Analyze:
    """Wait for a gate result (an AnalysisRun, or one Flagger check) before going on."""

    name: str = "analysis"
    pause_reason: str = INCONCLUSIVE
    """The pause reason when the gate is Inconclusive (Argo: `InconclusiveExperiment` for an
    experiment step)."""


@dataclass(frozen=True)
class SetHeaderRoute:
    """Send requests matching every header condition to the canary; empty ``match`` removes."""

    name: str = "header"
    match: tuple[HeaderMatch, ...] = ()


@dataclass(frozen=True)
class SetMirrorRoute:
    """Mirror ``percent`` of the traffic to the canary; ``None`` removes the mirror."""

    name: str = "mirror"
    percent: int | None = 100


@dataclass(frozen=True)
class SetCanaryScale:
    """Size the canary apart from its traffic weight (`replicas`, or `weight` % of the
    replicas; neither: follow the weight). The engine passes over it; the front end sizes."""

    replicas: int | None = None
    weight: int | None = None


Step = SetWeight | Pause | Analyze | SetHeaderRoute | SetMirrorRoute | SetCanaryScale


def describe(step: Step) -> str:
    """One line for a step, as the CLI and the dashboard show it."""
    if isinstance(step, SetWeight):
        return f"setWeight: {step.weight}"
    if isinstance(step, Pause):
        return "pause (until promoted)" if step.seconds is None else f"pause: {step.seconds:g}s"
    if isinstance(step, Analyze):
        return f"analysis: {step.name}"
    if isinstance(step, SetHeaderRoute):
        conds = ", ".join(f"{m.name} {m.kind} {m.value!r}" for m in step.match)
        return f"setHeaderRoute: {conds or 'remove'}"
    if isinstance(step, SetCanaryScale):
        size = f"{step.replicas} replicas" if step.replicas is not None else \
            f"{step.weight}%" if step.weight is not None else "match traffic weight"
        return f"setCanaryScale: {size}"
    return f"setMirrorRoute: {step.percent if step.percent is not None else 'remove'}"


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    failure_threshold: int = 1  # failed gates before aborting (Flagger's `threshold`)
    inconclusive_pauses: bool = True  # Argo: pause for a human; Flagger: hold the weight
    scale_down_delay: float = 30.0  # seconds between the route change and the scale down
    background_from: int | None = None  # step index where a background analysis starts
    progress_deadline: float | None = None
    """Seconds the canary may stay unavailable (`progressDeadlineSeconds`)."""
    deadline_aborts: bool = True
    """Flagger rolls back at the deadline; Argo only with `progressDeadlineAbort`."""


# --- inputs and outputs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """A finished check: its outcome, a sentence with numbers, and the numbers themselves."""

    outcome: Outcome
    reason: str
    metrics: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Inputs:
    desired: str  # revision (pod-template hash) the user wants
    canary_ready: bool = True  # canary pods of `desired` are available
    stable_ready: bool = True  # the stable workload runs the promoted revision and is available
    gate: Gate | None = None  # result for the current Analyze step, once
    background: Gate | None = None  # a finished background analysis, once
    command: Command | None = None
    paused: bool = False  # spec.paused: hold everything where it is
    ready_for: Callable[[State], bool] | None = None
    """For front ends that size the canary by step (Argo's setCanaryScale, basic canary): whether
    the canary has the pods the state at a SetWeight / SetCanaryScale step needs; the walk waits
    there until it does."""


@dataclass(frozen=True)
class Routes:
    """Desired traffic split: canary weight %, header route, mirror %."""

    weight: int
    header: tuple[HeaderMatch, ...] = ()
    mirror: int | None = None


@dataclass(frozen=True)
class ScaleCanary:
    """Run the canary revision's pods (at the size the front end derives)."""


@dataclass(frozen=True)
class Promote:
    revision: str  # make this revision the stable one (flip the stable RS / copy to primary)


@dataclass(frozen=True)
class Retire:
    """Scale down everything that is not the stable revision."""


@dataclass(frozen=True)
class Emit:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Wake:
    at: float  # call step() again at this time


Action = Routes | ScaleCanary | Promote | Retire | Emit | Wake


# --- state -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One entry of the verdict history."""

    at: float
    step: int
    outcome: str
    reason: str
    metrics: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "step": self.step, "outcome": self.outcome,
                "reason": self.reason, "metrics": list(self.metrics)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Record:
        return cls(at=float(d.get("at", 0.0)), step=int(d.get("step", 0)),
                   outcome=str(d.get("outcome", "")), reason=str(d.get("reason", "")),
                   metrics=tuple(d.get("metrics") or ()))


HISTORY = 20


@dataclass(frozen=True)
class State:
    phase: Phase = Phase.INITIALIZING
    stable: str = ""
    canary: str = ""
    step: int = 0
    weight: int = 0
    header: tuple[HeaderMatch, ...] = ()
    mirror: int | None = None
    started: float = 0.0  # when the current canary attempt started
    step_started: float = 0.0
    last_gate: float = 0.0
    attempt: int = 0  # increments on retry, so analyses get fresh names
    failed_checks: int = 0
    inconclusive_checks: int = 0
    checks: int = 0
    pause_reason: str = ""
    message: str = ""
    retire_at: float | None = None
    history: tuple[Record, ...] = field(default_factory=tuple)

    @property
    def in_flight(self) -> bool:
        return self.phase in (Phase.PROGRESSING, Phase.PAUSED, Phase.PROMOTING)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "phase":
                v = v.value
            elif f.name == "header":
                v = [dataclasses.asdict(h) for h in v]
            elif f.name == "history":
                v = [r.to_json() for r in v]
            d[f.name] = v
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> State:
        if not d:
            return cls()
        try:
            phase = Phase(d.get("phase", Phase.INITIALIZING.value))
        except ValueError:
            phase = Phase.INITIALIZING
        retire = d.get("retire_at")
        mirror = d.get("mirror")
        return cls(
            phase=phase, stable=str(d.get("stable", "")), canary=str(d.get("canary", "")),
            step=int(d.get("step", 0)), weight=int(d.get("weight", 0)),
            header=tuple(HeaderMatch(**h) for h in d.get("header") or ()),
            mirror=int(mirror) if mirror is not None else None,
            started=float(d.get("started", 0.0)), step_started=float(d.get("step_started", 0.0)),
            last_gate=float(d.get("last_gate", 0.0)), attempt=int(d.get("attempt", 0)),
            failed_checks=int(d.get("failed_checks", 0)),
            inconclusive_checks=int(d.get("inconclusive_checks", 0)),
            checks=int(d.get("checks", 0)), pause_reason=str(d.get("pause_reason", "")),
            message=str(d.get("message", "")),
            retire_at=float(retire) if retire is not None else None,
            history=tuple(Record.from_json(r) for r in d.get("history") or ()),
        )


# --- the transition function -----------------------------------------------------------------


def step(state: State, plan: Plan, inputs: Inputs, now: float) -> tuple[State, list[Action]]:
    """Advance the rollout as far as the inputs allow; return the new state and the actions."""
    acts: list[Action] = []
    s = _revisions(state, inputs, now, acts)
    s = _command(s, plan, inputs, now, acts)
    s = _background(s, plan, inputs, now, acts)
    if s.phase is Phase.PROGRESSING and not inputs.paused:
        s = _walk(s, plan, inputs, now, acts)
    if s.phase in (Phase.PROMOTING, Phase.INITIALIZING) and s.canary and inputs.stable_ready:
        s = _finish_promotion(s, plan, now, acts)
    if s.retire_at is not None and now >= s.retire_at:
        acts.append(Retire())
        s = dataclasses.replace(s, retire_at=None)
    elif s.retire_at is not None:
        acts.append(Wake(s.retire_at))
    if s.phase in (Phase.PROMOTING, Phase.INITIALIZING) and s.canary and \
            not any(isinstance(a, Promote) for a in acts):
        acts.append(Promote(s.canary))  # idempotent: keep asking until the stable is ready
    return s, acts


def _revisions(s: State, inp: Inputs, now: float, acts: list[Action]) -> State:
    if s.phase is Phase.INITIALIZING:
        if s.canary != inp.desired:  # first revision: it becomes stable without steps
            acts.append(Promote(inp.desired))
            s = dataclasses.replace(s, canary=inp.desired, message="initializing")
        return s
    if inp.desired == s.stable:
        if s.canary:  # back to the stable template: drop the canary
            acts.append(Routes(0))
            acts.append(Emit("Normal", "RolloutReverted",
                             f"revision {s.canary} replaced by the stable revision {s.stable}"))
            s = dataclasses.replace(s, phase=Phase.HEALTHY, canary="", weight=0, header=(),
                                    mirror=None, pause_reason="", message="",
                                    retire_at=now)
        return s
    if inp.desired != s.canary:
        if s.canary and s.in_flight:
            acts.append(Routes(0))
        acts.append(ScaleCanary())
        acts.append(Emit("Normal", "RolloutUpdated",
                         f"new revision {inp.desired}: starting canary steps"))
        # a new attempt number: analyses of an earlier try of the same template are stale
        s = dataclasses.replace(s, phase=Phase.PROGRESSING, canary=inp.desired, step=0,
                                attempt=s.attempt + 1,
                                weight=0, header=(), mirror=None, started=now, step_started=now,
                                last_gate=0.0, failed_checks=0, inconclusive_checks=0,
                                checks=0, pause_reason="", retire_at=None, history=(),
                                message="waiting for canary pods")
    return s


def _command(s: State, plan: Plan, inp: Inputs, now: float, acts: list[Action]) -> State:
    cmd = inp.command
    if cmd is None:
        return s
    if cmd is Command.ABORT and s.phase in (Phase.PROGRESSING, Phase.PAUSED):
        return _abort(s, plan, now, acts, "rollout aborted by user", (), "AbortedByUser")
    if cmd is Command.RETRY and s.phase is Phase.ABORTED:
        acts.append(ScaleCanary())
        acts.append(Emit("Normal", "RolloutRetried", f"retrying revision {s.canary}"))
        return dataclasses.replace(s, phase=Phase.PROGRESSING, step=0, weight=0, header=(),
                                   mirror=None, started=now, step_started=now, last_gate=0.0,
                                   failed_checks=0, inconclusive_checks=0, checks=0,
                                   attempt=s.attempt + 1, pause_reason="", retire_at=None,
                                   message="retrying")
    if cmd is Command.PROMOTE_FULL and s.phase in (Phase.PROGRESSING, Phase.PAUSED):
        acts.append(Emit("Normal", "RolloutPromoted", "promoted in full by user"))
        return _promote(dataclasses.replace(s, step=len(plan.steps)), acts)
    if cmd is Command.PROMOTE and s.phase in (Phase.PROGRESSING, Phase.PAUSED):
        acts.append(Emit("Normal", "RolloutResumed", f"step {s.step} promoted by user"))
        return dataclasses.replace(s, phase=Phase.PROGRESSING, step=s.step + 1,
                                   step_started=now, pause_reason="")
    return s


def _background(s: State, plan: Plan, inp: Inputs, now: float, acts: list[Action]) -> State:
    g = inp.background
    if g is None or s.phase not in (Phase.PROGRESSING, Phase.PAUSED):
        return s
    s = _record(s, g, now)
    if g.outcome is Outcome.FAIL:
        return _abort(s, plan, now, acts, g.reason, g.metrics, "AnalysisFailed")
    if g.outcome is Outcome.INCONCLUSIVE and plan.inconclusive_pauses:
        return _pause(s, INCONCLUSIVE, g.reason, acts)
    return s


def _walk(s: State, plan: Plan, inp: Inputs, now: float, acts: list[Action]) -> State:
    if not inp.canary_ready:
        return _unavailable(s, plan, now, acts)
    gate = inp.gate  # a gate answers one Analyze step only
    while s.step < len(plan.steps):
        st = plan.steps[s.step]
        if isinstance(st, SetWeight | SetCanaryScale) and inp.ready_for is not None and \
                not inp.ready_for(s):
            return dataclasses.replace(s, message=f"waiting for canary pods ({describe(st)})")
        if isinstance(st, SetWeight):
            w = max(0, min(100, st.weight))
            if w != s.weight:
                s = dataclasses.replace(s, weight=w)
                acts.append(Routes(w, s.header, s.mirror))
        elif isinstance(st, SetHeaderRoute):
            s = dataclasses.replace(s, header=st.match)
            acts.append(Routes(s.weight, s.header, s.mirror))
        elif isinstance(st, SetMirrorRoute):
            s = dataclasses.replace(s, mirror=st.percent)
            acts.append(Routes(s.weight, s.header, s.mirror))
        elif isinstance(st, SetCanaryScale):
            pass  # the front end sizes the canary from its own spec
        elif isinstance(st, Pause):
            if st.seconds is None:
                return _pause(s, "CanaryPauseStep", f"paused at step {s.step}", acts)
            end = s.step_started + st.seconds
            if now < end:
                acts.append(Wake(end))
                return dataclasses.replace(s, message=f"pausing {st.seconds:g}s at step "
                                                      f"{s.step}")
        else:  # Analyze
            g, gate = gate, None
            if g is None:
                return dataclasses.replace(s, message=f"analysis {st.name} running")
            s = _record(dataclasses.replace(s, checks=s.checks + 1, last_gate=now), g, now)
            if g.outcome is Outcome.FAIL:
                s = dataclasses.replace(s, failed_checks=s.failed_checks + 1)
                if s.failed_checks >= plan.failure_threshold:
                    return _abort(s, plan, now, acts, g.reason, g.metrics, "AnalysisFailed")
                acts.append(Emit("Warning", "CheckFailed",
                                 f"check failed ({s.failed_checks}/{plan.failure_threshold}): "
                                 f"{g.reason}"))
                return dataclasses.replace(s, message=g.reason)
            if g.outcome is Outcome.INCONCLUSIVE:
                s = dataclasses.replace(s, inconclusive_checks=s.inconclusive_checks + 1)
                if plan.inconclusive_pauses:
                    return _pause(s, st.pause_reason, g.reason, acts)
                return dataclasses.replace(s, message=f"inconclusive, holding: {g.reason}")
        s = dataclasses.replace(s, step=s.step + 1, step_started=now, message="")
    return _promote(s, acts)


def _unavailable(s: State, plan: Plan, now: float, acts: list[Action]) -> State:
    """The canary's pods are not available: wait, up to `progressDeadlineSeconds` since the
    rollout last made progress."""
    waiting = "waiting for canary pods to be available"
    if plan.progress_deadline is None:
        return dataclasses.replace(s, message=waiting)
    deadline = s.step_started + plan.progress_deadline
    if now < deadline:
        acts.append(Wake(deadline))
        return dataclasses.replace(s, message=f"{waiting} (progress deadline in "
                                              f"{deadline - now:.0f} s)")
    reason = (f"{TIMED_OUT}: canary revision {s.canary} not available after "
              f"{plan.progress_deadline:.0f} s (progressDeadlineSeconds)")
    if plan.deadline_aborts:
        return _abort(s, plan, now, acts, reason, (), TIMED_OUT)
    if s.message != reason:
        acts.append(Emit("Warning", TIMED_OUT, reason))
    return dataclasses.replace(s, message=reason)


def timed_out(s: State) -> bool:
    """The canary missed its progress deadline and the plan does not abort for it: the rollout
    waits on, and a front end reports it (Argo: phase Degraded, Progressing=False
    `ProgressDeadlineExceeded`). The mark lives in the message, so any progress clears it."""
    return s.phase is Phase.PROGRESSING and s.message.startswith(TIMED_OUT + ":")


def _promote(s: State, acts: list[Action]) -> State:
    acts.append(Promote(s.canary))
    return dataclasses.replace(s, phase=Phase.PROMOTING, pause_reason="",
                               message=f"promoting revision {s.canary}")


def _finish_promotion(s: State, plan: Plan, now: float, acts: list[Action]) -> State:
    first = s.phase is Phase.INITIALIZING
    acts.append(Routes(0))
    if not first:
        acts.append(Emit("Normal", "RolloutCompleted",
                         f"revision {s.canary} promoted: it now serves 100% of the traffic"))
    return dataclasses.replace(s, phase=Phase.HEALTHY, stable=s.canary, canary="", weight=0,
                               header=(), mirror=None, pause_reason="",
                               message="" if first else f"revision {s.canary} promoted",
                               retire_at=now if first else now + plan.scale_down_delay)


def _abort(s: State, plan: Plan, now: float, acts: list[Action], reason: str,
           metrics: tuple[dict[str, Any], ...], event_reason: str) -> State:
    acts.append(Routes(0))  # traffic back to stable before anything else
    acts.append(Emit("Warning", event_reason, f"rollout aborted, 100% of traffic back on the "
                                              f"stable revision {s.stable}: {reason}"))
    return dataclasses.replace(s, phase=Phase.ABORTED, weight=0, header=(), mirror=None,
                               pause_reason="", message=reason,
                               retire_at=now + plan.scale_down_delay)


def _pause(s: State, why: str, message: str, acts: list[Action]) -> State:
    if s.phase is not Phase.PAUSED:
        acts.append(Emit("Normal", "RolloutPaused", f"{why}: {message}"))
    return dataclasses.replace(s, phase=Phase.PAUSED, pause_reason=why, message=message)


def _record(s: State, g: Gate, now: float) -> State:
    rec = Record(at=now, step=s.step, outcome=g.outcome.value, reason=g.reason, metrics=g.metrics)
    return dataclasses.replace(s, history=(*s.history, rec)[-HISTORY:])


def wake_time(plan: Plan, s: State) -> float | None:
    """When a pause step of the current state ends (for front ends that requeue)."""
    if s.phase is Phase.PROGRESSING and s.step < len(plan.steps):
        st = plan.steps[s.step]
        if isinstance(st, Pause) and st.seconds is not None:
            return s.step_started + st.seconds
    return s.retire_at
