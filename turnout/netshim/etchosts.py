"""A pod's ``/etc/hosts``: Service names as the ordinary resolver sees them (pure, no I/O).

There is no cluster DNS on one machine. When a pod runs in a private mount namespace, the
kubelet binds a file rendered here over ``/etc/hosts``, so ``getaddrinfo`` in any program (curl,
psql, Go, Java, Python) resolves ``svc``, ``svc.ns``, ``svc.ns.svc`` and
``svc.ns.svc.cluster.local`` to the Service's ClusterIP, where Envoy listens. Short names are for
the pod's own namespace, as with the search path of a real pod's ``resolv.conf``. A headless
Service's name gets a line per ready pod (glibc's ``getaddrinfo`` returns every address a hosts
file lists for a name, as cluster DNS answers an A record per endpoint), and its pods' own names
(``web-0.nginx``) a line each. The layout follows the kubelet's managed hosts file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from turnout.types import Obj

HEADER = ("# Kubernetes-managed hosts file.\n"
          "127.0.0.1\tlocalhost\n"
          "::1\tlocalhost ip6-localhost ip6-loopback\n"
          "fe00::0\tip6-localnet\n"
          "fe00::0\tip6-mcastprefix\n"
          "fe00::1\tip6-allnodes\n"
          "fe00::2\tip6-allrouters\n")


def node_lines(text: str) -> list[str]:
    """The node's own entries (its hostname), minus comments and localhost lines the header
    already has, so a program that resolves the machine's hostname still can."""
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        names = line.split()[1:]
        if names and all(n in ("localhost", "ip6-localhost", "ip6-loopback", "ip6-localnet",
                               "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters")
                         for n in names):
            continue
        out.append(line)
    return out


def service_names(hosts: Mapping[str, str], namespace: str) -> dict[str, list[str]]:
    """ClusterIP (or pod IP) → the names a pod in ``namespace`` resolves to it, shortest first.

    ``hosts`` is the cluster's map of qualified forms (``svc.ns``, ``svc.ns.svc``,
    ``svc.ns.svc.<domain>``, see :func:`turnout.netshim.hosts_map`).
    """
    by_ip: dict[str, set[str]] = {}
    for name, value in hosts.items():
        short = name.removesuffix(f".{namespace}")
        for ip in value.split():  # a headless Service: a line per pod, glibc returns them all
            names = by_ip.setdefault(ip, set())
            names.add(name)
            if short != name and short:  # svc.ns → svc; web-0.nginx.ns → web-0.nginx
                names.add(short)
    return {ip: sorted(names, key=lambda n: (n.count("."), n))
            for ip, names in sorted(by_ip.items())}


def render(*, hosts: Mapping[str, str], namespace: str, pod_ip: str, pod: Obj,
           node: Iterable[str] = (), domain: str = "cluster.local") -> str:
    """The whole file for one pod."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    hostname = str(spec.get("hostname") or meta.get("name") or "")
    own = hostname
    if spec.get("subdomain"):
        own = f"{hostname}.{spec['subdomain']}.{namespace}.svc.{domain}\t{hostname}"
    lines = [HEADER.rstrip("\n"), f"{pod_ip}\t{own}"]
    aliases = spec.get("hostAliases") or []
    if aliases:
        lines.append("\n# Entries added by HostAliases.")
        for a in aliases:
            aliased = " ".join(str(h) for h in a.get("hostnames") or ())
            if a.get("ip") and aliased:
                lines.append(f"{a['ip']}\t{aliased}")
    node = list(node)
    if node:
        lines.append("\n# The node's own names.")
        lines.extend(node)
    services = service_names(hosts, namespace)
    if services:
        lines.append("\n# Services (turnout: there is no cluster DNS on one machine).")
        lines.extend(f"{ip}\t{' '.join(n)}" for ip, n in services.items())
    return "\n".join(lines) + "\n"
