"""Back-off schedule, /proc parsing, address pool, probe thresholds and pod phase."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from turnout.runtime import backoff, ports, probes, status
from turnout.runtime.ipam import AddressPool


def test_backoff_schedule_doubles_caps_and_resets() -> None:
    b = backoff.BackOff()
    delays = [b.next_delay(1.0) for _ in range(8)]
    assert delays == [0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]
    assert b.next_delay(600.0) == 0.0
    assert b.next_delay(1.0) == 10.0


@pytest.mark.parametrize(("secs", "text"), [
    (10, "10s"), (80, "1m20s"), (300, "5m0s"), (0.2, "200ms"), (2.5, "2.5s"), (3600, "1h0m0s"),
])
def test_go_duration(secs: float, text: str) -> None:
    assert backoff.go_duration(secs) == text


PROC_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:138A 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1
   1: 0700000A:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 222 1
   2: 0100007F:1F90 0100007F:A000 01 00000000:00000000 00:00000000 00000000  1000        0 333 1
"""
ZERO6 = "0" * 32
PROC_TCP6 = (
    "  sl  local_address remote_address st\n"
    f"   0: {ZERO6}:138A {ZERO6}:0000 0A 0:0 0:0 0 0 0 444 1\n"
    f"   1: 0000000000000000FFFF00000700000A:0050 {ZERO6}:0000 0A 0:0 0:0 0 0 0 555 1\n"
)


def test_parse_proc_net_tcp() -> None:
    v4 = ports.parse_proc_net_tcp(PROC_TCP)
    assert v4 == [ports.Listener("0.0.0.0", 5002, 111), ports.Listener("10.0.0.7", 8080, 222)]
    v6 = ports.parse_proc_net_tcp(PROC_TCP6, v6=True)
    assert v6 == [ports.Listener("::", 5002, 444), ports.Listener("10.0.0.7", 80, 555)]
    found = v4 + v6
    assert [li.inode for li in ports.conflicts(found, 5002, "127.10.0.1")] == [111, 444]
    assert [li.inode for li in ports.conflicts(found, 8080, "10.0.0.7")] == [222]
    assert ports.conflicts(found, 8080, "127.10.0.1") == []
    assert [li.inode for li in ports.conflicts(found, 8080, "127.10.0.1", any_address=True)] == [
        222]


def test_address_pool_is_stable_and_persistent(tmp_path: Path) -> None:
    path = tmp_path / "ips.json"
    # a network of its own: a cluster running on this machine must not shift the addresses
    net = ipaddress.IPv4Network("127.30.0.0/16")
    pool = AddressPool(path, net, in_use=set)
    a = pool.allocate("ns/a", "u1")
    b = pool.allocate("ns/b", "u2")
    assert a == "127.30.0.1" and b == "127.30.0.2"
    assert pool.allocate("ns/a", "u1") == a
    again = AddressPool(path, net, in_use=set)
    assert again.get("ns/a") == a and again.allocate("ns/b", "u3") == b
    again.release("ns/a")
    assert AddressPool(path, net, in_use=set).allocate("ns/c") == a
    path.write_text("not json")
    assert AddressPool(path, net, in_use=set).leases() == {}


def test_probe_tracker_thresholds() -> None:
    t = probes.Tracker(probes.Settings(success_threshold=2, failure_threshold=3), healthy=False)
    assert [t.observe(ok) for ok in (True, False, True, True)] == [None, None, None, True]
    assert [t.observe(ok) for ok in (False, False, True, False, False, False)] == [
        None, None, None, None, None, False]


def test_probe_settings_defaults() -> None:
    s = probes.Settings.of({"httpGet": {"port": 80}})
    assert (s.period, s.timeout, s.success_threshold, s.failure_threshold) == (10, 1, 1, 3)
    assert probes.resolve_port("http", {"ports": [{"name": "http", "containerPort": 5002}]}) == 5002
    with pytest.raises(ValueError, match="not found"):
        probes.resolve_port("grpc", {"name": "c", "ports": []})


def rec(state: dict[str, object], last: dict[str, object] | None = None) -> status.ContainerRecord:
    r = status.ContainerRecord("c", "busybox", state)
    r.last_state = last or {}
    return r


def test_phase_rules() -> None:
    running = rec({"running": {}})
    done = rec({"terminated": {"exitCode": 0}})
    failed = rec({"terminated": {"exitCode": 1}})
    pulling = rec({"waiting": {"reason": "ErrImagePull"}})
    crashing = rec({"waiting": {"reason": "CrashLoopBackOff"}}, {"terminated": {"exitCode": 1}})
    assert status.phase(False, False, [running], "Always") == "Pending"
    assert status.phase(True, False, [pulling], "Always") == "Pending"
    assert status.phase(True, False, [crashing], "Always") == "Running"
    assert status.phase(True, False, [running, done], "Never") == "Running"
    assert status.phase(True, False, [done], "Never") == "Succeeded"
    assert status.phase(True, False, [failed, done], "Never") == "Failed"
    assert status.phase(True, True, [pulling], "Never") == "Failed"


def test_conditions_keep_transition_times() -> None:
    apps = [rec({"running": {}})]
    first = status.conditions(init_done=True, inits=[], apps=apps, pod_phase="Running", prev=[],
                              now="T1")
    ready = {c["type"]: c for c in first}["Ready"]
    assert ready["status"] == "False"
    assert ready["message"] == "containers with unready status: [c]"
    second = status.conditions(init_done=True, inits=[], apps=apps, pod_phase="Running",
                               prev=first, now="T2")
    assert {c["type"]: c for c in second}["Ready"]["lastTransitionTime"] == "T1"
    apps[0].ready = True
    third = status.conditions(init_done=True, inits=[], apps=apps, pod_phase="Running",
                              prev=second, now="T3")
    assert {c["type"]: c for c in third}["Ready"] == {
        "type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": "T3"}
