"""Argo `Rollout` and Flagger `Canary` objects as the dashboard shows them.

Why this exists: both kinds keep the shared engine state in `status.turnout`; the dashboard needs
one shape for both (phase, weights, steps with the current one marked, verdict history with
reasons, related events) and the exact patch the CLI sends for promote / abort, so the browser and
`turnout rollout promote` act the same way.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnout.rollout import argo, engine, flagger
from turnout.types import Obj


@dataclass(frozen=True)
class Kind:
    slug: str
    """How the dashboard's URLs name the kind (`rollout`, `canary`)."""
    key: str
    """The resource type key (plural.group)."""
    kind: str


KINDS: dict[str, Kind] = {
    "rollout": Kind("rollout", "rollouts.argoproj.io", "Rollout"),
    "canary": Kind("canary", "canaries.flagger.app", "Canary"),
}

COMMANDS = tuple(c.value for c in engine.Command)


def command_patch(command: str) -> Obj:
    """The merge patch `turnout rollout <command>` sends; ValueError for an unknown command."""
    if command not in COMMANDS:
        raise ValueError(f"unknown rollout command {command!r}: expected one of "
                         f"{', '.join(COMMANDS)}")
    return {"metadata": {"annotations": {flagger.COMMAND: command}}}




def _plan(kind: Kind, spec: Obj) -> tuple[engine.Plan, str]:
    try:
        return (argo.plan(spec) if kind.slug == "rollout" else flagger.plan(spec)), ""
    except ValueError as e:
        return engine.Plan(()), str(e)


def summary(kind: Kind, obj: Obj) -> Obj:
    """One row of the rollouts list."""
    meta = obj.get("metadata") or {}
    st = obj.get("status") or {}
    s = engine.State.from_json(st.get("turnout"))
    plan, bad = _plan(kind, obj.get("spec") or {})
    return {
        "kind": kind.kind, "slug": kind.slug,
        "namespace": str(meta.get("namespace", "")), "name": str(meta.get("name", "")),
        "phase": str(st.get("phase") or "Unknown"),
        "engine_phase": s.phase.value,
        "stable": s.stable, "canary": s.canary,
        "weight": s.weight, "stable_weight": 100 - s.weight,
        "step": s.step if s.canary else len(plan.steps), "steps": len(plan.steps),
        "message": bad or str(st.get("message") or s.message or ""),
        "in_flight": s.in_flight,
    }


def _step_state(s: engine.State, i: int) -> str:
    if s.canary and i == s.step and s.in_flight:
        return "current"
    if (s.canary and i < s.step) or (not s.canary and s.stable):
        return "done"
    return "pending"


def related_events(obj: Obj, events: list[Obj]) -> list[Obj]:
    """Events whose involvedObject is this object, newest first."""
    meta = obj.get("metadata") or {}
    out = []
    for ev in events:
        inv = ev.get("involvedObject") or {}
        if inv.get("kind") != obj.get("kind") or inv.get("name") != meta.get("name"):
            continue
        if inv.get("namespace") and inv.get("namespace") != meta.get("namespace"):
            continue
        out.append({"type": ev.get("type", ""), "reason": ev.get("reason", ""),
                    "message": ev.get("message", ""), "count": ev.get("count", 1),
                    "first": ev.get("firstTimestamp") or ev.get("eventTime") or "",
                    "last": ev.get("lastTimestamp") or ev.get("eventTime") or ""})
    out.sort(key=lambda e: (str(e["last"]), str(e["first"])), reverse=True)
    return out


def detail(kind: Kind, obj: Obj, events: list[Obj]) -> Obj:
    """Everything the rollout page shows."""
    st = obj.get("status") or {}
    s = engine.State.from_json(st.get("turnout"))
    plan, _ = _plan(kind, obj.get("spec") or {})
    out = summary(kind, obj)
    out.update({
        "pause_reason": s.pause_reason,
        "header": [{"name": h.name, "value": h.value, "kind": h.kind} for h in s.header],
        "mirror": s.mirror,
        "checks": {"run": s.checks, "failed": s.failed_checks,
                   "inconclusive": s.inconclusive_checks,
                   "threshold": plan.failure_threshold},
        "step_list": [{"index": i, "text": engine.describe(step), "state": _step_state(s, i)}
                      for i, step in enumerate(plan.steps)],
        "history": [r.to_json() for r in reversed(s.history)],
        "conditions": [{"type": c.get("type", ""), "status": c.get("status", ""),
                        "reason": c.get("reason", ""), "message": c.get("message", "")}
                       for c in st.get("conditions") or []],
        "events": related_events(obj, events),
        "commands": _commands(s),
    })
    return out


def _commands(s: engine.State) -> list[str]:
    """Commands that would change something in the current phase."""
    if s.phase in (engine.Phase.PROGRESSING, engine.Phase.PAUSED):
        return ["promote", "promote-full", "abort"]
    if s.phase is engine.Phase.ABORTED:
        return ["retry"]
    return []
