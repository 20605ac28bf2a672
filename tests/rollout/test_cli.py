"""`turnout rollout get` rendering (no cluster needed)."""

from __future__ import annotations

from rich.console import Console

from turnout.cli.rollout_cmds import render
from turnout.rollout.engine import Phase, Record, State


def test_render_shows_steps_weights_and_verdicts() -> None:
    s = State(phase=Phase.ABORTED, stable="aaa", canary="bbb", step=1, weight=0,
              message="canary p50 is 201 ms slower than baseline",
              history=(Record(at=5, step=1, outcome="Failed",
                              reason="canary p50 is 201 ms slower than baseline"),))
    obj = {"metadata": {"name": "ads", "namespace": "ns3"},
           "spec": {"strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}},
           "status": {"phase": "Degraded", "turnout": s.to_json()}}
    con = Console(width=160, record=True)
    con.print(render("Rollout", obj))
    text = con.export_text()
    assert "Degraded" in text and "setWeight: 20" in text and "201 ms slower" in text
    assert "stable 100%" in text
