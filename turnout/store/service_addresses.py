"""Addresses a Service is given on write: its ClusterIP from the cluster's Service network and
its NodePorts (kube-apiserver's allocators, in the store's write path).

NodePorts not asked for come from the upper band first, as kube-apiserver does since 1.27.
"""

from __future__ import annotations

import ipaddress

from turnout.kube import errors
from turnout.store.db import Store
from turnout.types import Obj

SERVICE_NET = ipaddress.ip_network("127.96.0.0/16")
NODE_PORTS = range(30000, 32768)
# As kube-apiserver since 1.27: ports given out without being asked for come from the upper band
# first, so the low ports stay free for Services that ask for them by number (the lab's 30001).
NODE_PORT_STATIC_BAND = min(max(16, len(NODE_PORTS) // 32), 128)


def dynamic_node_port(used: set[int]) -> int:
    order: list[int] = [*NODE_PORTS[NODE_PORT_STATIC_BAND:], *NODE_PORTS[:NODE_PORT_STATIC_BAND]]
    for n in order:
        if n not in used:
            return n
    raise errors.ApiError(422, "Invalid", "no free NodePort in 30000-32767")


class ServiceAddresses:
    def __init__(self, store: Store,
                 service_network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
        self.store = store
        self.service_network = service_network

    def allocate(self, obj: Obj, old: Obj | None) -> None:
        """ClusterIP(s) and NodePorts for a Service being written (``old``: its last version)."""
        spec = obj["spec"]
        ospec = (old or {}).get("spec", {})
        if spec.get("type") == "ExternalName":
            return
        if old is not None and ospec.get("clusterIP") and not spec.get("clusterIP"):
            spec["clusterIP"] = ospec["clusterIP"]
        asked = spec.get("clusterIP")
        if asked and asked != ospec.get("clusterIP"):
            self._check_cluster_ip(obj, str(asked))
        if not spec.get("clusterIP"):
            spec["clusterIP"] = self.free_cluster_ip()
        if spec["clusterIP"] != "None":
            spec["clusterIPs"] = [spec["clusterIP"]]
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            used = self.used_node_ports(obj)
            old_ports = {p.get("port"): p.get("nodePort") for p in ospec.get("ports") or []}
            for i, p in enumerate(spec.get("ports") or []):
                if not p.get("nodePort"):
                    keep = old_ports.get(p.get("port"))
                    p["nodePort"] = keep if keep else dynamic_node_port(used)
                elif p["nodePort"] in used:
                    raise errors.invalid("Service", "", obj["metadata"]["name"], [errors.Cause(
                        f"spec.ports[{i}].nodePort",
                        f"Invalid value: {p['nodePort']}: provided port is already allocated")])
                used.add(p["nodePort"])
        else:
            for p in spec.get("ports") or []:
                p.pop("nodePort", None)

    def _check_cluster_ip(self, obj: Obj, ip: str) -> None:
        """A ClusterIP asked for by value, as kube-apiserver checks it: inside the Service
        network (so nothing ever listens outside loopback or on an address that is never
        served), and not another Service's (immutability is checked by validation)."""
        name = obj["metadata"]["name"]

        def bad(message: str) -> errors.ApiError:
            return errors.invalid("Service", "", name, [errors.Cause(
                "spec.clusterIPs[0]", f'Invalid value: "{ip}": {message}')])
        if ip == "None":
            return
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            raise bad("must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff) "
                      'or "None"') from None
        if addr not in self.service_network:
            raise bad(f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid "
                      f"range. The range of valid IPs is {self.service_network}")
        ns = obj["metadata"].get("namespace")
        for other in self.store.iter("services"):
            meta = other["metadata"]
            if (other.get("spec") or {}).get("clusterIP") == ip and \
                    (meta.get("namespace"), meta["name"]) != (ns, name):
                raise bad(f"failed to allocate IP {ip}: provided IP is already allocated")

    def readdress(self) -> tuple[str, ...]:
        """Give a new ClusterIP to every Service whose address is outside this cluster's
        Service network (the cluster moved to another port set); returns "ns/name old -> new"."""
        moved: list[str] = []
        for svc in list(self.store.iter("services")):
            spec = svc.get("spec") or {}
            ip = spec.get("clusterIP")
            if not ip or ip == "None":
                continue
            try:
                inside = ipaddress.ip_address(ip) in self.service_network
            except ValueError:
                inside = False
            if inside:
                continue
            spec["clusterIP"] = self.free_cluster_ip()
            spec["clusterIPs"] = [spec["clusterIP"]]
            self.store.update("services", svc)
            meta = svc["metadata"]
            moved.append(f"{meta.get('namespace')}/{meta['name']} {ip} -> {spec['clusterIP']}")
        return tuple(moved)

    def free_cluster_ip(self) -> str:
        used = {s["spec"].get("clusterIP") for s in self.store.iter("services")}
        for host in self.service_network.hosts():
            ip = str(host)
            if ip not in used and not ip.endswith(".0") and not ip.endswith(".1"):
                return ip
        raise errors.ApiError(500, "InternalError", "no free cluster IP")

    def used_node_ports(self, obj: Obj) -> set[int]:
        me = (obj["metadata"].get("namespace"), obj["metadata"]["name"])
        return {p["nodePort"] for s in self.store.iter("services")
                if (s["metadata"].get("namespace"), s["metadata"]["name"]) != me
                for p in s["spec"].get("ports") or [] if p.get("nodePort")}
