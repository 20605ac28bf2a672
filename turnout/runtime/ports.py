"""Who holds a TCP port: pods share the host network, so port clashes need a clear culprit.

Reads the listening sockets from ``/proc/net/tcp{,6}`` and finds the owning process through
``/proc/<pid>/fd``. Parsing is pure; the two readers are the only I/O.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

LISTEN = "0A"
WILDCARDS = frozenset({"0.0.0.0", "::"})


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    inode: int


@dataclass(frozen=True)
class Holder:
    address: str
    port: int
    pid: int | None
    process: str | None


def _decode_address(hexaddr: str, v6: bool) -> str:
    raw = bytes.fromhex(hexaddr)
    if not v6:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # /proc prints IPv6 addresses as four host-order (little-endian) 32-bit words.
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    addr = ipaddress.IPv6Address(words)
    mapped = addr.ipv4_mapped
    return str(mapped) if mapped else str(addr)


def parse_proc_net_tcp(text: str, v6: bool = False) -> list[Listener]:
    """Listening sockets in the text of ``/proc/net/tcp`` (or tcp6 with ``v6``)."""
    out: list[Listener] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != LISTEN:
            continue
        addr, _, port = fields[1].partition(":")
        out.append(Listener(_decode_address(addr, v6), int(port, 16), int(fields[9])))
    return out


def listeners(proc: Path = Path("/proc")) -> list[Listener]:
    found: list[Listener] = []
    for name, v6 in (("tcp", False), ("tcp6", True)):
        try:
            found.extend(parse_proc_net_tcp((proc / "net" / name).read_text(), v6))
        except OSError:
            continue
    return found


def socket_owners(inodes: set[int], proc: Path = Path("/proc")) -> dict[int, int]:
    """inode → pid for the given socket inodes (processes we may not inspect are skipped)."""
    wanted = {f"socket:[{i}]": i for i in inodes}
    owners: dict[int, int] = {}
    if not wanted:
        return owners
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target in wanted:
                owners.setdefault(wanted[target], int(entry.name))
        if len(owners) == len(wanted):
            break
    return owners


def process_name(pid: int, proc: Path = Path("/proc")) -> str | None:
    try:
        return (proc / str(pid) / "comm").read_text().strip()
    except OSError:
        return None


def conflicts(found: list[Listener], port: int, pod_ip: str, *, any_address: bool = False
              ) -> list[Listener]:
    """Listeners that stop a pod from binding ``port`` on its IP (or on 0.0.0.0 with any_address).

    A wildcard listener blocks every address; a listener on the pod's own IP blocks it too; an app
    that binds 0.0.0.0 is also blocked by any specific address on that port.
    """
    return [
        li for li in found
        if li.port == port
        and (li.address in WILDCARDS or li.address == pod_ip or any_address)
    ]


def holders(port: int, pod_ip: str, *, any_address: bool = False,
            exclude_pids: AbstractSet[int] = frozenset(), proc: Path = Path("/proc")
            ) -> list[Holder]:
    """Processes (other than ``exclude_pids``) listening where the pod wants ``port``."""
    hits = conflicts(listeners(proc), port, pod_ip, any_address=any_address)
    owners = socket_owners({h.inode for h in hits}, proc)
    out: list[Holder] = []
    for h in hits:
        pid = owners.get(h.inode)
        if pid is not None and pid in exclude_pids:
            continue
        out.append(Holder(h.address, h.port, pid, process_name(pid, proc) if pid else None))
    return out
