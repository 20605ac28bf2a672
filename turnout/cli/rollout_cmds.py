"""`turnout rollout get|promote|abort|retry NAME -n NS [-w]`: watch and steer rollouts.

Works on Argo `Rollout` and Flagger `Canary` objects alike: `get` shows the phase, the weights,
the steps with the current one marked, and the verdict history with its reasons (`-o json|yaml`:
the object itself); the commands set the `turnout.dev/rollout-command` annotation that both
controllers act on.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from turnout.cli import output
from turnout.cli.client import state_of
from turnout.cli.cluster_cmds import running
from turnout.cluster.state import StateDir
from turnout.rollout import argo, engine, flagger
from turnout.types import Obj

console = Console(stderr=True)
out = Console()

KINDS = (("Rollout", "/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts/{name}"),
         ("Canary", "/apis/flagger.app/v1beta1/namespaces/{ns}/canaries/{name}"))


def register(sub: Any) -> None:
    p = sub.add_parser("rollout", help="show and steer Argo Rollouts and Flagger Canaries")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb, text in (("get", "show a rollout: phase, weights, steps, verdicts"),
                       ("promote", "leave the current pause or analysis step (--full: skip "
                                   "all steps)"),
                       ("abort", "send all traffic back to stable and stop"),
                       ("retry", "restart an aborted rollout from its first step")):
        v = verbs.add_parser(verb, help=text)
        v.add_argument("name", help="name of the Argo Rollout or Flagger Canary")
        v.add_argument("-n", "--namespace", default="default",
                       help="namespace of the rollout (default: default)")
        v.add_argument("-w", "--watch", action="store_true", help="keep showing the rollout")
        v.add_argument("--state-dir", dest="state_dir_cmd", help=argparse.SUPPRESS)
        if verb == "get":
            output.add_output_option(v, wide=False)
        if verb == "promote":
            v.add_argument("--full", action="store_true",
                           help="skip all remaining steps and analyses: promote now")
        v.set_defaults(func=cmd_rollout)


def _fetch(state: StateDir, port: int, ns: str, name: str) -> tuple[str, str, Obj]:
    for kind, path in KINDS:
        p = path.format(ns=ns, name=name)
        try:
            return kind, p, json.loads(state.request(port, p))
        except urllib.error.HTTPError as e:
            if e.code != 404:
                raise
    raise LookupError(f'no Rollout or Canary "{name}" in namespace "{ns}"')


def cmd_rollout(args: argparse.Namespace) -> int:
    fmt = getattr(args, "output", "table")
    if args.watch and fmt in output.DATA_FORMATS:
        console.print(f"Error: -o {fmt} prints the object once; it cannot be combined with -w")
        return 2
    state = state_of(args)
    live = running(state)
    if live is None:
        console.print("turnout is not running (start it with `turnout up`)")
        return 1
    port = live[1]
    try:
        kind, path, obj = _fetch(state, port, args.namespace, args.name)
        if args.verb != "get":
            cmd = "promote-full" if getattr(args, "full", False) else args.verb
            body = {"metadata": {"annotations": {flagger.COMMAND: cmd}}}
            state.request(port, path, method="PATCH", body=json.dumps(body).encode(),
                          content_type="application/merge-patch+json")
            console.print(f"{kind.lower()} '{args.name}' {cmd} requested")
            if not args.watch:
                return 0
        if not args.watch:
            output.emit(out, fmt, obj, lambda wide: render(kind, obj))
            return 0
        if not out.is_terminal:  # piped or redirected: a new view each time the object changes
            out.print(render(kind, obj))
            seen = obj.get("status")
            while True:
                time.sleep(1.0)
                kind, path, obj = _fetch(state, port, args.namespace, args.name)
                if obj.get("status") != seen:
                    seen = obj.get("status")
                    out.print(render(kind, obj))
                    out.file.flush()
        with Live(render(kind, obj), console=out, refresh_per_second=2) as view:
            while True:
                time.sleep(1.0)
                kind, path, obj = _fetch(state, port, args.namespace, args.name)
                view.update(render(kind, obj))
    except KeyboardInterrupt:
        return 0
    except LookupError as e:
        console.print(f"Error: {e}")
        return 1
    except urllib.error.HTTPError as e:
        console.print(f"Error from server: {e.read().decode(errors='replace')}")
        return 1


def render(kind: str, obj: Obj) -> Group:
    """The rich view of one Rollout or Canary (pure: no I/O)."""
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    s = engine.State.from_json(st.get("turnout"))
    try:
        plan = argo.plan(spec) if kind == "Rollout" else flagger.plan(spec)
    except ValueError as e:
        plan, bad = engine.Plan(()), str(e)
    else:
        bad = ""
    phase = str(st.get("phase", "Unknown"))
    colour = {"Healthy": "green", "Succeeded": "green", "Initialized": "green",
              "Degraded": "red", "Failed": "red", "Paused": "yellow", "Waiting": "yellow"}.get(
        phase, "cyan")
    head = Table.grid(padding=(0, 2))
    head.add_row("Name:", f"{obj['metadata']['name']} ({kind})")
    head.add_row("Namespace:", str(obj["metadata"].get("namespace", "")))
    head.add_row("Status:", Text(phase, style=f"bold {colour}"))
    if st.get("message") or s.message or bad:
        head.add_row("Message:", bad or str(st.get("message") or s.message))
    head.add_row("Stable:", s.stable or "-")
    head.add_row("Canary:", s.canary or "-")
    head.add_row("Weights:", f"stable {100 - s.weight}%  canary {s.weight}%"
                 + (f"  header {', '.join(m.name + '=' + m.value for m in s.header)}"
                    if s.header else "") + (f"  mirror {s.mirror}%" if s.mirror else ""))
    if s.failed_checks or s.inconclusive_checks:
        head.add_row("Checks:", f"{s.checks} run, {s.failed_checks} failed, "
                                f"{s.inconclusive_checks} inconclusive")
    steps = output.table((output.Column("#", numeric=True), output.Column("STEP"),
                          output.Column("")),
                         [(str(i), engine.describe(step), _mark(s, i))
                          for i, step in enumerate(plan.steps)], title="Steps")
    verdicts = []
    for r in s.history[-10:]:
        style = {"Failed": "red", "Successful": "green"}.get(r.outcome, "yellow")
        when = datetime.fromtimestamp(r.at, UTC).strftime("%H:%M:%S") if r.at > 1e6 else \
            f"{r.at:g}"
        verdicts.append((when, str(r.step), Text(r.outcome, style=style), r.reason))
    hist = output.table((output.Column("TIME"), output.Column("STEP", numeric=True),
                         output.Column("OUTCOME"), output.Column("REASON")), verdicts,
                        title="Verdicts")
    return output.sections(head, steps, *([hist] if s.history else []))


def _mark(s: engine.State, i: int) -> Text:
    """Where step `i` stands: the current one, done, or still to come."""
    if s.canary and i == s.step and s.in_flight:
        return Text("◀ current" + (f" ({s.pause_reason})" if s.pause_reason else ""),
                    style="bold")
    if (s.canary and i < s.step) or (not s.canary and s.stable):
        return Text("✔", style="green")
    return Text("")
