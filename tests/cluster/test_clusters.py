"""Several clusters on one machine: each on ports and addresses of its own, none sharing a socket.

Two clusters run the lab's app at once; seed 000's blue/green split is measured through each one's
own NodePort; every listening socket of both process trees is audited; a third cluster asked to
start on ports that are taken is refused before it starts anything.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.test_mesh_e2e import within_binomial
from tests.conftest import RunningCluster, start_cluster, stop_cluster
from turnout.demo import load
from turnout.runtime import ports

pytestmark = pytest.mark.cluster

N = 120


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningCluster, ...]]:
    base = tmp_path_factory.mktemp("two")
    a = start_cluster(base / "a", {"TURNOUT_BACKOFF_SECONDS": "1"})
    try:
        b = start_cluster(base / "b", {"TURNOUT_BACKOFF_SECONDS": "1"})
        try:
            yield a, b
        finally:
            stop_cluster(b)
    finally:
        stop_cluster(a)


def tree(root: int) -> set[int]:
    """`root` and every process below it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(stat[1])
    found, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        kids = [c for c, p in parents.items() if p == pid and c not in found]
        found.update(kids)
        frontier.extend(kids)
    return found


def listening(pids: set[int]) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state that one of `pids` holds."""
    inodes: set[int] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(int(target[8:-1]))
    return {(li.address, li.port) for li in ports.listeners() if li.inode in inodes}


def deploy_lab(c: RunningCluster, lab: Path) -> None:
    c.kubectl("create", "namespace", "ns1")
    c.kubectl("apply", "-f", str(lab / "ecommerce-v1") + "/")
    c.kubectl("apply", "-f", str(lab / "servicenetwork" / "advertisements.yaml"))


def test_two_clusters_each_serve_their_own_seed_000_split(
        two: tuple[RunningCluster, RunningCluster], lab: Path) -> None:
    a, b = two
    assert a.settings["port_set"] != b.settings["port_set"]
    assert a.node_url(30001) != b.node_url(30001)
    for c in two:
        deploy_lab(c, lab)
    for c in two:
        for d in ("advertisements", "advertisements2", "frontend"):
            c.kubectl("rollout", "status", f"deployment/{d}", "-n", "ns1", "--timeout=120s")
    for c in two:
        tally = load.run(c.node_url(30001), requests=N, concurrency=4)
        assert tally.statuses.get(200) == N, tally.statuses
        # every page came from this cluster's own storefront, with this cluster's ads
        assert sum(tally.ads.values()) == N, tally.ads
        assert within_binomial(tally.ads.get("2.0", 0), N), (c.node_url(30001), tally.ads)


def test_no_socket_is_shared_and_none_can_be_shared(
        two: tuple[RunningCluster, RunningCluster]) -> None:
    a, b = two
    socks_a, socks_b = listening(tree(a.proc.pid)), listening(tree(b.proc.pid))
    assert len(socks_a) > 10 and len(socks_b) > 10, (socks_a, socks_b)
    assert socks_a.isdisjoint(socks_b), socks_a & socks_b
    loopback = ipaddress.ip_network("127.0.0.0/8")
    for addr, port in socks_a | socks_b:
        assert ipaddress.ip_address(addr) in loopback, (addr, port)
    # port sharing is off: nobody, not even a process of the same user asking for
    # SO_REUSEPORT, can bind beside a listener (this is how two clusters used to split traffic)
    for addr, port in sorted(socks_a | socks_b):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            with pytest.raises(OSError):
                s.bind((addr, port))


def test_third_cluster_on_taken_ports_is_refused_and_leaves_nothing(
        two: tuple[RunningCluster, RunningCluster], tmp_path: Path) -> None:
    a, _ = two
    state = tmp_path / "c"
    r = subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", "--state-dir", str(state), "up",
         "--port-set", str(a.settings["port_set"])],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert r.returncode == 1, r.stdout + r.stderr
    said = r.stdout + r.stderr
    assert f"held by the turnout cluster in {a.state_dir}" in said, said
    assert str(a.settings["dashboard_port"]) in said
    assert "--auto-ports" in said and "Traceback" not in said
    # nothing of it keeps running: no process works in its state dir, no Envoy was started
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                assert not os.readlink(entry / "cwd").startswith(str(state)), entry.name
    assert not (state / "envoy-admin-address").exists()
    listed = json.loads(subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", "clusters", "-o", "json"],
        capture_output=True, text=True, timeout=60, check=True).stdout)
    by_dir = {row["stateDir"]: row for row in listed}
    assert by_dir[str(a.state_dir)]["status"] == "up"
    assert by_dir.get(str(state), {"status": "down"})["status"] == "down"


def test_a_cluster_restarted_on_another_port_set_listens_only_on_the_new_ports(
        tmp_path: Path) -> None:
    """Envoy starts empty: the files of the earlier run (other ports, now another cluster's)
    are never bound again, so the new configuration applies at once."""
    state = tmp_path / "moved"
    c = start_cluster(state)
    first = dict(c.settings)
    stop_cluster(c)
    gateway_old = 30003 + int(first["node_port_offset"])
    free = next((n for n in range(6) if n != first["port_set"] and all(
        _free(p) for p in (6443 + n, 15000 + 100 * n, 15090 + 100 * n))), None)
    if free is None:  # other clusters on this machine hold every other set right now
        pytest.skip("no second free port set on this machine at the moment")
    with socket.socket() as other:  # another cluster took the old set's gateway meanwhile
        other.bind(("127.0.0.1", gateway_old))
        other.listen()
        c = start_cluster(state, ports=("--port-set", str(free)))
        try:
            gateway_new = 30003 + int(c.settings["node_port_offset"])
            c.wait_for(lambda: ("127.0.0.1", gateway_new) in listening(tree(c.proc.pid)),
                       timeout=5, what="the gateway on the new port set")
            socks = listening(tree(c.proc.pid))
            assert ("127.0.0.1", gateway_old) not in socks, socks
            log = (state.parent / f"{state.name}.log").read_text()
            assert "cannot bind" not in log and "did not accept" not in log, log[-2000:]
        finally:
            stop_cluster(c)


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
