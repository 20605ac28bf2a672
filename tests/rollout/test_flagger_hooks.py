"""Flagger webhooks: bodies, pass rule, the HTTP edge, and every hook type's effect on a Canary
on the in-memory cluster."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from turnout.rollout import flagger, flagger_tick, webhooks
from turnout.rollout.webhooks import FakeCaller, Hook
from turnout.types import Obj

from .helpers import events
from .test_flagger import (
    BASE,
    NS,
    initialized,
    new_version,
    primary_image,
    replicas,
    run,
    run_until,
    setup,
    status,
    vs_weights,
)

LT = "http://flagger-loadtester.test/"
GATE = "http://flagger-loadtester.test/gate/check"


def hook(type_: str, url: str = LT, **extra: object) -> Obj:
    return {"name": f"{type_}-hook", "type": type_, "url": url, **extra}


# --- pure -------------------------------------------------------------------------------------

def test_parse_and_bodies() -> None:
    spec = {"analysis": {"webhooks": [
        {"name": "load", "url": LT, "timeout": "5s",
         "metadata": {"type": "cmd", "cmd": "hey -z 1m http://podinfo-canary.test/"}},
        {"name": "gate", "type": "confirm-rollout", "url": GATE, "timeout": "1",
         "retries": 2, "muteAlert": True}]}}
    load, gate = webhooks.parse(spec)
    assert (load.type, load.timeout) == ("rollout", 5.0)
    assert (gate.timeout, gate.retries, gate.mute_alert) == (10.0, 2, True)  # "1" is too short
    c = {"metadata": {"name": "podinfo", "namespace": "test"},
         "status": {"lastAppliedSpec": "abc"}}
    body = webhooks.payload(c, "Progressing", load)
    assert body == {"name": "podinfo", "namespace": "test", "phase": "Progressing",
                    "checksum": webhooks.checksum({"lastAppliedSpec": "abc"}),
                    "metadata": {"type": "cmd", "cmd": "hey -z 1m http://podinfo-canary.test/"}}
    assert "metadata" not in webhooks.payload(c, "Progressing", gate)
    ev = webhooks.event_payload(c, Hook("e", "event", LT, metadata=(("eventType", "x"),
                                                                     ("team", "a"))),
                                "Initialization done!", "Normal", 1700000000.5)
    assert ev["metadata"] == {"eventMessage": "Initialization done!", "eventType": "Normal",
                              "timestamp": "1700000000500", "team": "a"}


def test_pass_is_status_up_to_202() -> None:
    h = Hook("h", "rollout", LT)
    assert webhooks.Result(h, 200).ok and webhooks.Result(h, 202).ok
    assert not webhooks.Result(h, 204).ok  # Flagger: > 202 fails
    assert not webhooks.Result(h, None, error="refused").ok
    assert webhooks.Result(h, 403, "Forbidden").reason == "Forbidden"


def test_tick_stages() -> None:
    p = flagger.plan({"analysis": {"stepWeight": 50, "maxWeight": 100}})
    assert flagger_tick.stages(p, 0) == ("pre-rollout", "confirm-traffic-increase")
    assert flagger_tick.stages(p, 2) == ("rollout", "metrics", "confirm-traffic-increase")
    assert flagger_tick.stages(p, 4) == ("rollout", "metrics", "confirm-promotion")
    ab = flagger.plan({"analysis": {"iterations": 2, "match": [{"headers": {"a": {
        "exact": "1"}}}]}})
    assert flagger_tick.stages(ab, 0) == ("pre-rollout",)
    assert flagger_tick.failed("confirm-promotion", "gate", "Forbidden").held == \
        "WaitingPromotion"
    assert flagger_tick.failed("confirm-traffic-increase", "g", "").gate is None
    r = flagger_tick.failed("pre-rollout", "acceptance", "exit 1")
    assert r.gate is not None and r.gate.reason == "pre-rollout check acceptance failed exit 1"


# --- the HTTP edge ----------------------------------------------------------------------------

@pytest.fixture
def server() -> Iterator[tuple[str, list[Obj], list[tuple[int, str]]]]:
    """A local server answering queued (status, body) pairs (then 200), recording bodies."""
    seen: list[Obj] = []
    answers: list[tuple[int, str]] = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            code, text = answers.pop(0) if answers else (200, "")
            self.send_response(code)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, format: str, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/", seen, answers
    srv.shutdown()
    srv.server_close()


def test_http_caller_posts_and_reads_the_answer(
        server: tuple[str, list[Obj], list[tuple[int, str]]]) -> None:
    url, seen, answers = server
    caller = webhooks.HttpCaller(sleep=lambda s: None)
    answers += [(202, ""), (204, ""), (403, "Forbidden")]
    assert caller.call(Hook("a", "rollout", url), {"name": "x"}).ok
    assert not caller.call(Hook("a", "rollout", url), {}).ok
    res = caller.call(Hook("a", "rollout", url), {})
    assert res.status == 403 and res.reason == "Forbidden"
    assert seen[0] == {"name": "x"}


def test_http_caller_retries_5xx_and_connection_errors(
        server: tuple[str, list[Obj], list[tuple[int, str]]]) -> None:
    url, seen, answers = server
    waits: list[float] = []
    caller = webhooks.HttpCaller(sleep=waits.append)
    answers += [(500, "boom"), (503, ""), (200, "ok")]
    assert caller.call(Hook("a", "rollout", url, retries=2), {}).ok
    assert len(seen) == 3 and waits == [1.0, 2.0]
    answers += [(500, "command failed: exit 1")]
    res = caller.call(Hook("a", "pre-rollout", url), {})
    assert not res.ok and "giving up after 1 attempt(s): command failed: exit 1" in res.reason
    dead = caller.call(Hook("a", "rollout", "http://127.0.0.1:9/", timeout=1, retries=1), {})
    assert dead.status is None and dead.error and caller.failures == 2


# --- on the in-memory cluster -----------------------------------------------------------------

class Gate:
    """A load-tester gate: closed until opened; answers 200 or 403, as /gate/check does."""

    def __init__(self) -> None:
        self.open = False

    def __call__(self, h: Hook, body: Obj) -> tuple[int, str]:
        return (200, "Approved") if self.open else (403, "Forbidden")


def test_confirm_rollout_holds_a_new_revision_in_waiting() -> None:
    gate = Gate()
    hooks = FakeCaller({GATE: gate, LT: 202})
    o, ctl, _ = setup({"v1": BASE, "v2": BASE}, hooks=hooks,
                      webhooks=[hook("confirm-rollout", GATE)])
    initialized(o, ctl)
    assert hooks.calls == []  # initialization is not gated
    new_version(o)
    run(o, ctl, 10, 40)
    assert status(o)["phase"] == "Waiting"
    assert status(o)["conditions"][0]["message"] == "Waiting for approval."
    assert replicas(o) == 0  # the canary is not scaled up while it waits
    assert len(hooks.called("confirm-rollout")) == 4  # once on sight, then once per tick
    assert hooks.called("confirm-rollout")[0]["phase"] == "Initialized"
    said = [e["message"] for e in events(o, NS)]
    assert said.count("Halt advertisements.ns3 advancement waiting for approval "
                      "confirm-rollout-hook") == 1
    gate.open = True
    run(o, ctl, 41, 51)
    assert status(o)["phase"] == "Progressing" and replicas(o) == 1
    assert "Confirm-rollout check confirm-rollout-hook passed" in \
        [e["message"] for e in events(o, NS)]


def test_pre_rollout_failure_counts_and_rolls_back() -> None:
    hooks = FakeCaller({LT: (500, "command curl failed: exit status 1")})
    o, ctl, _ = setup({"v1": BASE, "v2": BASE}, hooks=hooks,
                      webhooks=[hook("pre-rollout", timeout="10s",
                                     metadata={"type": "bash", "cmd": "curl -sd test x"})])
    initialized(o, ctl)
    new_version(o)
    run(o, ctl, 10, 29)
    assert status(o)["failedChecks"] == 1 and vs_weights(o)["advertisements-canary"] == 0
    run(o, ctl, 30, 40)
    st = status(o)
    assert st["phase"] == "Failed"
    assert "pre-rollout check pre-rollout-hook failed" in st["conditions"][0]["message"]
    assert hooks.called("pre-rollout")[0]["metadata"] == {"type": "bash",
                                                          "cmd": "curl -sd test x"}


def test_rollout_hooks_run_every_analysis_tick_and_a_failure_counts() -> None:
    answers: list[int] = [202, 202, 500, 202, 202, 202]
    hooks = FakeCaller({LT: lambda h, b: (answers.pop(0) if answers else 202, "")})
    o, ctl, _ = setup({"v1": BASE, "v2": BASE}, hooks=hooks, threshold=3,
                      webhooks=[{"name": "load-test", "url": LT, "timeout": "5s",
                                 "metadata": {"type": "cmd", "cmd": "hey -z 1m x"}}])
    initialized(o, ctl)
    new_version(o)
    run_until(o, ctl, 10, "Succeeded")
    bodies = hooks.called("rollout")
    assert len(bodies) == 4  # analysis ticks at 20, 40, 60, 60 (after the failed one)
    assert all(b["phase"] == "Progressing" for b in bodies)
    assert status(o)["failedChecks"] == 1
    assert any("external check load-test failed" in e["message"] for e in events(o, NS))


def test_confirm_traffic_increase_waits_without_counting() -> None:
    gate = Gate()
    hooks = FakeCaller({GATE: gate})
    o, ctl, _ = setup({"v1": BASE, "v2": BASE}, hooks=hooks,
                      webhooks=[hook("confirm-traffic-increase", GATE)])
    initialized(o, ctl)
    new_version(o)
    run(o, ctl, 10, 50)
    st = status(o)
    assert st["phase"] == "Progressing" and st["canaryWeight"] == 0 and st["failedChecks"] == 0
    gate.open = True
    run(o, ctl, 51, 61)
    assert status(o)["canaryWeight"] == 20


def test_confirm_promotion_waits_in_waiting_promotion() -> None:
    gate = Gate()
    hooks = FakeCaller({GATE: gate})
    o, ctl, _ = setup({"v1": BASE, "v2": BASE}, hooks=hooks,
                      webhooks=[hook("confirm-promotion", GATE)])
    initialized(o, ctl)
    new_version(o)
    t = run_until(o, ctl, 10, "WaitingPromotion")
    assert status(o)["canaryWeight"] == 60
    run(o, ctl, t, t + 30)
    assert status(o)["phase"] == "WaitingPromotion" and primary_image(o).endswith(":1.0")
    gate.open = True
    run_until(o, ctl, t + 31, "Succeeded")
    assert primary_image(o).endswith(":2.0")


def test_post_rollout_hooks_get_the_final_phase() -> None:
    hooks = FakeCaller({LT: 200})
    o, ctl, _ = setup({"v1": BASE, "v2": BASE}, hooks=hooks,
                      webhooks=[hook("post-rollout")])
    initialized(o, ctl)
    new_version(o)
    run_until(o, ctl, 10, "Succeeded")
    assert [b["phase"] for b in hooks.called("post-rollout")] == ["Succeeded"]
    new_version(o, "arapulido/ads-service:3.0", "v3")  # v3 serves nothing: no data, rollback
    run_until(o, ctl, 200, "Failed", limit=400)
    assert [b["phase"] for b in hooks.called("post-rollout")] == ["Succeeded", "Failed"]


def test_a_passing_rollback_hook_rolls_back() -> None:
    rollback = Gate()
    hooks = FakeCaller({"http://flagger-loadtester.test/rollback/check": rollback})
    o, ctl, _ = setup({"v1": BASE, "v2": BASE}, hooks=hooks,
                      webhooks=[hook("rollback", "http://flagger-loadtester.test/rollback/"
                                                 "check")])
    initialized(o, ctl)
    new_version(o)
    run(o, ctl, 10, 31)
    assert status(o)["phase"] == "Progressing"
    rollback.open = True
    run(o, ctl, 32, 42)
    assert status(o)["phase"] == "Failed" and vs_weights(o)["advertisements-canary"] == 0
    assert "Rolling back advertisements.ns3 manual webhook invoked" in \
        [e["message"] for e in events(o, NS)]
    assert hooks.called("rollback")[0]["phase"] == "Progressing"


def test_event_hooks_receive_every_event() -> None:
    hooks = FakeCaller({LT: 202})
    o, ctl, _ = setup({"v1": BASE, "v2": BASE}, hooks=hooks, webhooks=[hook("event")])
    initialized(o, ctl)
    new_version(o)
    run(o, ctl, 10, 25)
    sent = hooks.called("event")
    assert sent and all(set(b["metadata"]) == {"eventMessage", "eventType", "timestamp"}
                        for b in sent)
    assert any(b["metadata"]["eventMessage"].startswith("New revision detected") for b in sent)
    assert ctl.event_hook_failures == 0
