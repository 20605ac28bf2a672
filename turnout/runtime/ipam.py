"""Pod IP allocation in 127.0.0.0/8, persisted so addresses survive a turnout restart.

Linux routes the whole loopback block to ``lo``, so each pod can own an address and keep its
declared containerPorts. Addresses come from 127.10.0.0/16 (never 127.0.0.1) and stay with a pod
(namespace/name + uid) until it is released.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Callable
from pathlib import Path

from turnout.runtime import ports

NETWORK = ipaddress.IPv4Network("127.10.0.0/16")


class AddressPool:
    """A JSON file of ``{"ns/name": {"ip": ..., "uid": ...}}``."""

    def __init__(self, path: Path, network: ipaddress.IPv4Network = NETWORK,
                 in_use: Callable[[], set[str]] | None = None) -> None:
        self.path = path
        self.network = network
        self.in_use = in_use if in_use is not None else _listening_addresses
        self._leases: dict[str, dict[str, str]] = self._load()

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            k: {"ip": str(v.get("ip")), "uid": str(v.get("uid", ""))}
            for k, v in data.items()
            if isinstance(v, dict) and self._valid(str(v.get("ip")))
        }

    def _valid(self, ip: str) -> bool:
        try:
            addr = ipaddress.IPv4Address(ip)
        except ValueError:
            return False
        return addr in self.network and addr not in (
            self.network.network_address, self.network.broadcast_address
        ) and str(addr) != "127.0.0.1"

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._leases, indent=1, sort_keys=True))
        os.replace(tmp, self.path)

    def get(self, key: str) -> str | None:
        lease = self._leases.get(key)
        return lease["ip"] if lease else None

    def allocate(self, key: str, uid: str = "") -> str:
        """The pod's address: its existing lease (a new uid keeps it too), else the lowest free."""
        lease = self._leases.get(key)
        if lease:
            if lease["uid"] != uid:
                lease["uid"] = uid
                self._save()
            return lease["ip"]
        # skip addresses something else already listens on (another cluster, a leftover process)
        used = {v["ip"] for v in self._leases.values()} | self.in_use()
        for addr in self.network.hosts():
            ip = str(addr)
            if ip not in used and addr.packed[3] not in (0, 255):
                self._leases[key] = {"ip": ip, "uid": uid}
                self._save()
                return ip
        raise RuntimeError(f"no free pod address left in {self.network}")

    def release(self, key: str) -> None:
        if self._leases.pop(key, None) is not None:
            self._save()

    def leases(self) -> dict[str, str]:
        return {k: v["ip"] for k, v in self._leases.items()}


def _listening_addresses() -> set[str]:
    try:
        return {lst.address for lst in ports.listeners()}
    except OSError:
        return set()
