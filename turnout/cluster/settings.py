"""A cluster's own ports and address ranges, chosen once and kept in its state dir.

Several clusters live on one machine (a scratch one, the demo, a CI run), as with kind or k3d.
Each takes a *port set*: set 0 has the well-known ports (API 6443, dashboard 15000, metrics 15090,
NodePorts as declared: 30001 is served on 30001), set N shifts every one of them and gives the
cluster its own pod and Service address ranges, so no two clusters ever listen on the same address
and port. NodePorts keep the number the Service declares (`kubectl get svc` shows 30001); the host
port that serves them is that number plus the set's offset (set 1: 20001), like a kind
`extraPortMappings` entry.

Pure: `for_set`, `host_port` and the (de)serialisers do no I/O; `load`/`save` read and write the
one file.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE = "cluster.json"
NODE_PORT_RANGE = (30000, 32767)
# Host port = nodePort + offset. Offsets keep each set's 2,768 NodePorts apart and readable
# (30001 -> 20001, 10001, 40001, 50001, 60001).
NODE_PORT_OFFSETS = (0, -10000, -20000, 10000, 20000, 30000)
MAX_SETS = len(NODE_PORT_OFFSETS)


@dataclass(frozen=True)
class ClusterSettings:
    """Every address and port one cluster listens on (Envoy's admin port is picked free)."""

    port_set: int = 0
    api_port: int = 6443
    dashboard_port: int = 15000
    metrics_port: int = 15090
    """Prometheus exposition of the cluster's telemetry; 0 turns it off."""
    node_port_offset: int = 0
    """A NodePort n (and the built-in gateway 30003 and NGINX ingress 32000) listens on n+offset."""
    pod_network: str = "127.10.0.0/16"
    service_network: str = "127.96.0.0/16"
    node_address: str = "127.0.0.1"

    def host_port(self, node_port: int) -> int:
        """The port on `node_address` that serves a Service's `nodePort`."""
        return node_port + self.node_port_offset

    def node_url(self, node_port: int) -> str:
        return f"http://{self.node_address}:{self.host_port(node_port)}"

    def fixed_ports(self) -> dict[str, int]:
        """The ports this cluster holds on `node_address` whatever its objects are."""
        ports = {"API": self.api_port, "dashboard": self.dashboard_port}
        if self.metrics_port:
            ports["metrics"] = self.metrics_port
        return ports


def for_set(n: int) -> ClusterSettings:
    """The defaults of port set `n` (0 is today's well-known ports)."""
    if not 0 <= n < MAX_SETS:
        raise ValueError(f"port set {n}: choose 0 to {MAX_SETS - 1}")
    return ClusterSettings(
        port_set=n, api_port=6443 + n, dashboard_port=15000 + 100 * n,
        metrics_port=15090 + 100 * n, node_port_offset=NODE_PORT_OFFSETS[n],
        pod_network=f"127.{10 + n}.0.0/16", service_network=f"127.{96 + n}.0.0/16")


def to_json(s: ClusterSettings) -> str:
    return json.dumps(dataclasses.asdict(s), indent=1)


def from_dict(data: Any) -> ClusterSettings:
    """Settings from a parsed file; unknown keys are refused, missing ones take set 0's value."""
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    names = {f.name: f.type for f in dataclasses.fields(ClusterSettings)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}")
    for key, value in data.items():
        want = str if names[key] == "str" else int
        if not isinstance(value, want) or isinstance(value, bool):
            raise ValueError(f"{key}: expected {want.__name__}, got {value!r}")
    s = ClusterSettings(**data)
    check(s)
    return s


def check(s: ClusterSettings) -> None:
    """Refuse settings that cannot work: ports out of range, networks outside 127.0.0.0/8."""
    for name, port in (("api_port", s.api_port), ("dashboard_port", s.dashboard_port)):
        if not 1 <= port <= 65535:
            raise ValueError(f"{name}: {port} is not a TCP port")
    if not 0 <= s.metrics_port <= 65535:
        raise ValueError(f"metrics_port: {s.metrics_port} is not a TCP port (0 turns it off)")
    lo, hi = NODE_PORT_RANGE
    if lo + s.node_port_offset < 1 or hi + s.node_port_offset > 65535:
        raise ValueError(f"node_port_offset: {s.node_port_offset} maps NodePorts {lo}-{hi} "
                         "outside 1-65535")
    loopback = ipaddress.ip_network("127.0.0.0/8")
    for name, net in (("pod_network", s.pod_network), ("service_network", s.service_network)):
        parsed = ipaddress.ip_network(net)
        if not parsed.subnet_of(loopback):  # type: ignore[arg-type]
            raise ValueError(f"{name}: {net} is not inside 127.0.0.0/8")
    if ipaddress.ip_network(s.pod_network).overlaps(ipaddress.ip_network(s.service_network)):
        raise ValueError("pod_network and service_network overlap")
    if ipaddress.ip_address(s.node_address) not in loopback:
        raise ValueError(f"node_address: {s.node_address} is not a loopback address")


def load(state_root: Path) -> ClusterSettings | None:
    """The saved settings, or None for a cluster that has none yet."""
    path = state_root / FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return from_dict(json.loads(text))
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e


def save(state_root: Path, s: ClusterSettings) -> None:
    state_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_root / FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(to_json(s) + "\n")
    tmp.replace(path)
