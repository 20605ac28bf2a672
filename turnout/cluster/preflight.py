"""Before a cluster starts anything: every port it will listen on must be free.

A cluster that cannot have one of its ports does not start half-way (no Envoy, no pod): it stops
with a message that names the port, what holds it (another cluster's state dir when it is
turnout) and how to choose other ports.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from turnout.cluster import registry, settings
from turnout.cluster.settings import MAX_SETS, ClusterSettings, for_set
from turnout.cluster.state import StateDir, port_free
from turnout.runtime import ports

GATEWAY_NODE_PORT = 30003
NGINX_NODE_PORT = 32000


@dataclass(frozen=True)
class Taken:
    what: str
    port: int
    holder: str


class PortsTaken(RuntimeError):
    def __init__(self, state_root: Path, taken: list[Taken]) -> None:
        self.taken = taken
        super().__init__(message(state_root, taken))


def wanted(s: ClusterSettings, node_ports: Iterable[tuple[str, int]] = ()) -> list[tuple[str, int]]:
    """(what, host port) for every listener on the node address; NodePorts as (name, nodePort)."""
    out = [(f"{what} port", port) for what, port in s.fixed_ports().items()]
    out.append(("Istio ingress gateway (NodePort 30003)", s.host_port(GATEWAY_NODE_PORT)))
    out.append(("NGINX ingress (NodePort 32000)", s.host_port(NGINX_NODE_PORT)))
    out.extend((f"NodePort {np} of Service {name}", s.host_port(np)) for name, np in node_ports)
    return out


def holder(port: int, address: str = "127.0.0.1") -> str:
    """Who listens on `port`: "the turnout cluster in DIR (pid N)", a process, or unknown."""
    hits = ports.conflicts(ports.listeners(), port, address)
    owners = ports.socket_owners({h.inode for h in hits})
    for h in hits:
        pid = owners.get(h.inode)
        if pid is None:
            continue
        owner = registry.owner_of(pid)
        if owner is not None:
            return f"the turnout cluster in {owner.state_dir} (pid {owner.server_pid or pid})"
        return f"{ports.process_name(pid) or 'a process'} (pid {pid})"
    return "another process (not visible to this user)"


def check(s: ClusterSettings, node_ports: Iterable[tuple[str, int]] = ()) -> list[Taken]:
    return [Taken(what, port, holder(port, s.node_address))
            for what, port in wanted(s, node_ports) if not port_free(port, s.node_address)]


def message(state_root: Path, taken: list[Taken]) -> str:
    cli = StateDir(state_root).cli()
    lines = [f"turnout cannot start the cluster in {state_root}: "
             f"{'a port it needs is' if len(taken) == 1 else 'ports it needs are'} taken"]
    lines += [f"  {t.port}: {t.what}, held by {t.holder}" for t in taken]
    lines += [
        "Choose other ports for this cluster (kept in its state dir for later starts):",
        f"  {cli} up --auto-ports    the first free port set",
        f"  {cli} up --port-set N    port set N (0-{MAX_SETS - 1}; 1 serves NodePort "
        "30001 on 20001)",
        "or stop the other cluster (`turnout --state-dir DIR down`); `turnout clusters` "
        "lists them.",
    ]
    return "\n".join(lines)


def running_others(state_root: Path) -> list[tuple[Path, ClusterSettings]]:
    """The other registered clusters whose server is alive, with their settings."""
    out: list[tuple[Path, ClusterSettings]] = []
    for other in registry.known():
        pid = registry.server_pid(other)
        if other == state_root or pid is None or not registry.alive(pid):
            continue
        try:
            s = settings.load(other) or legacy(other)
        except ValueError:
            continue
        out.append((other, s))
    return out


def legacy(state_root: Path) -> ClusterSettings:
    """Settings of a state dir made before ports were settings: set 0 with its saved API port."""
    base = for_set(0)
    try:
        saved = json.loads((state_root / "server.json").read_text())
    except (OSError, ValueError):
        return base
    port = saved.get("port") if isinstance(saved, dict) else None
    return dataclasses.replace(base, api_port=port) if isinstance(port, int) else base


def _networks_overlap(a: ClusterSettings, b: ClusterSettings) -> bool:
    nets = [ipaddress.ip_network(n) for n in (a.pod_network, a.service_network)]
    return any(n.overlaps(ipaddress.ip_network(m))
               for n in nets for m in (b.pod_network, b.service_network))


def _clash(a: ClusterSettings, b: ClusterSettings) -> bool:
    """Whether two clusters could ever want one address: a shared fixed or built-in port, or
    overlapping pod/Service networks."""
    ports_a = {p for _, p in wanted(a)}
    return bool(ports_a & {p for _, p in wanted(b)}) or _networks_overlap(a, b)


def choose(state_root: Path, *, auto: bool = False, port_set: int | None = None,
           api_port: int | None = None) -> ClusterSettings:
    """The settings for this start: saved ones, set 0 for a new cluster, or what the flags ask.

    Networks follow the port set: a cluster that moves to another set gets that set's pod and
    Service ranges (its pods restart on new addresses and the server gives its Services new
    ClusterIPs, so two running clusters never share an address).
    """
    saved = settings.load(state_root)
    current = saved or (legacy(state_root) if (state_root / "server.json").exists() else None)
    if auto:
        others = [s for _, s in running_others(state_root)]
        order = ([current.port_set] if current else []) + list(range(MAX_SETS))
        pick = next((n for n in order
                     if not any(_clash(for_set(n), o) for o in others)
                     and all(port_free(p, for_set(n).node_address)
                             for _, p in wanted(for_set(n)))), None)
        if pick is None:
            raise ValueError(f"all {MAX_SETS} port sets are in use on this machine; stop a "
                             "cluster (`turnout clusters` lists them)")
        chosen = for_set(pick)
    elif port_set is not None:
        chosen = for_set(port_set)
    else:
        chosen = current or for_set(0)
    if api_port:
        chosen = dataclasses.replace(chosen, api_port=api_port)
    settings.check(chosen)
    return chosen


def network_clashes(state_root: Path, s: ClusterSettings) -> list[str]:
    return [f"its pod/Service networks ({s.pod_network}, {s.service_network}) overlap those of "
            f"the running cluster in {other} ({o.pod_network}, {o.service_network})"
            for other, o in running_others(state_root) if _networks_overlap(s, o)]
