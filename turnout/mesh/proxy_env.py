"""Environment a pod's processes get so their HTTP calls go through their own Envoy listener.

Pure. `HTTP_PROXY` points at `<podIP>:<outbound_port>`, a listener only this pod uses, so Envoy
knows the calling workload (namespace, labels → sourceLabels, mesh or not). Loopback and the pod's
own address bypass the proxy; Service ClusterIPs (also in 127.0.0.0/8) deliberately do not.
"""

from __future__ import annotations

from turnout.mesh import snapshot as sn
from turnout.mesh.snapshot import MeshSettings
from turnout.types import Obj


def pod_proxy_env(pod: Obj, settings: MeshSettings) -> dict[str, str]:
    ip = sn.pod_ip(pod)
    if not ip:
        return {}
    proxy = f"http://{ip}:{settings.outbound_port}"
    no_proxy = ",".join(dict.fromkeys(["localhost", "127.0.0.1", "::1", ip]))
    return {"HTTP_PROXY": proxy, "http_proxy": proxy,
            "NO_PROXY": no_proxy, "no_proxy": no_proxy}
