"""Loaded by Python in turnout pods: resolve Kubernetes Service names from turnout's hosts map.

`name`, `name.ns`, `name.ns.svc` and `name.ns.svc.cluster.local` resolve to the Service's
ClusterIP (short names within the pod's own namespace); a headless Service's name to each of its
ready pods (the map holds them separated by spaces); everything else goes to the system
resolver unchanged. The map file is re-read when it changes.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

_PATH = os.environ.get("TURNOUT_HOSTS", "")
_NS = os.environ.get("TURNOUT_NAMESPACE", "")
_state: dict[str, Any] = {"mtime": -1.0, "hosts": {}}
_real_getaddrinfo = socket.getaddrinfo


def _lookup(host: object) -> list[str] | None:
    if not _PATH or not isinstance(host, str):
        return None
    try:
        mtime = os.stat(_PATH).st_mtime
        if mtime != _state["mtime"]:
            with open(_PATH) as f:
                _state["hosts"] = json.load(f)
            _state["mtime"] = mtime
    except (OSError, ValueError):
        return None
    hosts: dict[str, str] = _state["hosts"]
    name = host.rstrip(".").lower()
    found = hosts.get(name)
    if found is None and _NS and name.count(".") <= 1:
        found = hosts.get(f"{name}.{_NS}")  # svc, or a headless Service's pod: web-0.nginx
    return str(found).split() if found else None


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    found = _lookup(host)
    if not found:
        return _real_getaddrinfo(host, *args, **kwargs)
    return [ai for ip in found for ai in _real_getaddrinfo(ip, *args, **kwargs)]


def _gethostbyname(host: Any) -> Any:
    found = _lookup(host)
    return _real_gethostbyname(found[0] if found else host)


def _gethostbyname_ex(host: Any) -> Any:
    found = _lookup(host)
    return (host, [], found) if found else _real_gethostbyname_ex(host)


_real_gethostbyname = socket.gethostbyname
_real_gethostbyname_ex = socket.gethostbyname_ex
socket.getaddrinfo = _getaddrinfo
socket.gethostbyname = _gethostbyname
socket.gethostbyname_ex = _gethostbyname_ex
