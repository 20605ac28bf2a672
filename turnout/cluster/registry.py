"""The clusters on this machine: one small file per state dir, so any cluster can find the others.

`turnout up` registers its state dir; `turnout clusters` lists them; a cluster that finds one of
its ports taken names the holder by walking the holder's parent processes up to a registered
cluster's server (or, for an orphan, its working directory: Envoy runs in the state dir).
Entries whose state dir is gone are dropped when read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("turnout")


def root() -> Path:
    env = os.environ.get("TURNOUT_REGISTRY")
    return Path(env).expanduser() if env else Path.home() / ".turnout" / "clusters"


def _entry(state_root: Path) -> Path:
    digest = hashlib.sha256(str(state_root).encode()).hexdigest()[:16]
    return root() / f"{digest}.json"


def register(state_root: Path) -> None:
    try:
        root().mkdir(parents=True, exist_ok=True, mode=0o700)
        path = _entry(state_root)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"state_dir": str(state_root)}))
        tmp.replace(path)
    except OSError as e:  # listing is a convenience; a read-only home must not stop a cluster
        log.warning("could not register %s in %s: %s", state_root, root(), e)


def known() -> list[Path]:
    """Registered state dirs that still exist, sorted."""
    found: list[Path] = []
    try:
        entries = sorted(root().glob("*.json"))
    except OSError:
        return found
    for entry in entries:
        try:
            state = Path(json.loads(entry.read_text())["state_dir"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if state.is_dir():
            found.append(state)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
    return found


@dataclass(frozen=True)
class Owner:
    state_dir: Path
    server_pid: int | None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def server_pid(state: Path) -> int | None:
    try:
        pid = json.loads((state / "server.json").read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) else None


def _parent(pid: int, proc: Path) -> int | None:
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[1]) if len(fields) > 1 else None


def owner_of(pid: int, proc: Path = Path("/proc")) -> Owner | None:
    """The registered cluster whose process tree holds `pid`, if any."""
    servers = {p: s for s in known() if (p := server_pid(s)) is not None}
    seen: set[int] = set()
    cur: int | None = pid
    while cur and cur > 1 and cur not in seen:
        if cur in servers:
            return Owner(servers[cur], cur)
        seen.add(cur)
        cur = _parent(cur, proc)
    try:
        cwd = Path(os.readlink(proc / str(pid) / "cwd"))
    except OSError:
        return None
    for state in known():
        if cwd == state or state in cwd.parents:
            return Owner(state, None)
    return None
