"""`turnout rollout get` fits 80 columns and prints the object with -o json|yaml (issue 10)."""

from __future__ import annotations

import argparse
import json

import pytest
import yaml

from turnout.cli import rollout_cmds
from turnout.cli.rollout_cmds import render
from turnout.cluster.state import StateDir
from turnout.rollout.engine import Phase, Record, State
from turnout.types import Obj

from . import screen

REASON = ("canary p50 is 201 ms slower than baseline (231 vs 30.1 ms, 95% CS 195\u2013207 ms); "
          "limit 50 ms: rolled back after 1234 requests per arm")
STEPS = [{"setWeight": 20}, {"pause": {"duration": "30s"}},
         {"setHeaderRoute": {"name": "page-source",
                             "match": [{"headerName": "page-source",
                                        "headerValue": {"exact": "products-and-more"}}]}},
         {"analysis": {"templates": [{"templateName": "latency-and-error-rate-of-the-canary"}]}},
         {"setWeight": 100}]


def rollout(state: State) -> Obj:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "advertisements", "namespace": "canary"},
            "spec": {"strategy": {"canary": {"steps": STEPS}}},
            "status": {"phase": "Degraded", "message": REASON, "turnout": state.to_json()}}


STATE = State(phase=Phase.PAUSED, stable="5d4f8b9c7d", canary="7c9d8f6b5a", step=3, weight=20,
              message=REASON, pause_reason="CanaryPauseStep", failed_checks=1, checks=4,
              history=tuple(Record(at=1_800_000_000.0 + i, step=3, outcome=o, reason=REASON)
                            for i, o in enumerate(("Successful", "Inconclusive", "Failed"))))


def test_get_fits_80_columns() -> None:
    text = screen.render(render("Rollout", rollout(STATE)))
    screen.assert_fits(text)
    screen.assert_headers(text, "#", "STEP")
    screen.assert_headers(text, "TIME", "STEP", "OUTCOME", "REASON")
    assert "\u25c0 current (CanaryPauseStep)" in text and "\u2714" in text
    assert "products-and-more" in text and "analysis: step-3" in text
    assert " ".join(text.split()).count("rolled back after 1234 requests per arm") == 4


def command(*argv: str) -> argparse.Namespace:
    return screen.parser(rollout_cmds).parse_args(["rollout", *argv])


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Obj:
    obj = rollout(STATE)

    def request(self: StateDir, port: int, path: str, **kw: object) -> bytes:
        assert path.endswith("/rollouts/advertisements")
        return json.dumps(obj).encode()

    monkeypatch.setattr(rollout_cmds, "running", lambda state: (1, 6443))
    monkeypatch.setattr(StateDir, "request", request)
    return obj


@pytest.mark.parametrize(("fmt", "load"), [("json", json.loads), ("yaml", yaml.safe_load)])
def test_get_prints_the_object(fmt: str, load: object, served: Obj,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    con = screen.console()
    monkeypatch.setattr(rollout_cmds, "out", con)
    args = command("get", "advertisements", "-n", "canary", "-o", fmt)
    assert args.func(args) == 0
    assert callable(load) and load(con.export_text()) == served


def test_get_table_and_no_data_format_with_watch(served: Obj,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    con = screen.console()
    monkeypatch.setattr(rollout_cmds, "out", con)
    args = command("get", "advertisements", "-n", "canary")
    assert args.func(args) == 0
    screen.assert_fits(con.export_text())
    args = command("get", "advertisements", "-w", "-o", "json")
    assert args.func(args) == 2
    with pytest.raises(SystemExit):
        command("promote", "advertisements", "-o", "json")


def test_watch_piped_prints_each_change(served: Obj, monkeypatch: pytest.MonkeyPatch) -> None:
    """`turnout rollout get -w | cat`: no live view, a new view each time the status changes."""
    import io

    from rich.console import Console

    buf = io.StringIO()
    monkeypatch.setattr(rollout_cmds, "out", Console(file=buf, width=80, force_terminal=False))
    ticks = iter(range(4))

    def sleep(_: float) -> None:
        i = next(ticks, None)
        if i is None:
            raise KeyboardInterrupt
        if i == 1:
            served["status"] = {**served["status"], "message": "changed"}

    monkeypatch.setattr(rollout_cmds.time, "sleep", sleep)
    args = command("get", "advertisements", "-n", "canary", "-w")
    assert args.func(args) == 0
    assert buf.getvalue().count("advertisements") >= 2, buf.getvalue()
