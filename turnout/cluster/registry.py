"""The clusters on this machine: one small file per state dir, so any cluster can find the others.

`turnout up` registers its state dir; `turnout clusters` lists them; a cluster that finds one of
its ports taken names the holder by walking the holder's parent processes up to a registered
cluster's server (or, for an orphan, its working directory: Envoy runs in the state dir).
Entries whose state dir is gone are dropped when read.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
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


class StartLock:
    """One cluster at a time chooses its ports and binds them (machine-wide): two
    `turnout up --auto-ports` started together would otherwise pick the same free port set.
    Held from the choice until the new cluster answers, or its process ends."""

    def __init__(self) -> None:
        self._fd: int | None = None

    @staticmethod
    def path() -> Path:
        """In the machine's temporary directory, not the registry: ports are the machine's,
        so clusters listed in different registries (`TURNOUT_REGISTRY`, as test sessions
        use) must still take turns."""
        return Path(tempfile.gettempdir()) / f"turnout-start-{os.getuid()}.lock"

    def acquire(self) -> None:
        try:
            fd = os.open(self.path(), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            log.warning("no start lock at %s (%s): concurrent starts may race", self.path(), e)
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing drops the lock

    def __enter__(self) -> StartLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


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


def _state_dir_in(pid: int, proc: Path) -> Path | None:
    """The state dir a turnout cluster process was started with (its command line, else its
    environment, else the default), or None when `pid` is not a turnout cluster."""
    try:
        argv = (proc / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    text = " ".join(argv)
    if "turnout" not in text or not ("turnout.cluster" in text or " up" in text):
        return None
    if "--state-dir" in argv and argv.index("--state-dir") + 1 < len(argv):
        return Path(argv[argv.index("--state-dir") + 1])
    try:
        env = dict(e.split("=", 1) for e in (proc / str(pid) / "environ").read_bytes()
                   .decode(errors="replace").split("\0") if "=" in e)
    except OSError:
        return None
    if env.get("TURNOUT_STATE_DIR"):
        return Path(env["TURNOUT_STATE_DIR"]).expanduser()
    return Path(env.get("HOME", str(Path.home()))) / ".turnout" / "default"


def owner_of(pid: int, proc: Path = Path("/proc")) -> Owner | None:
    """The cluster whose process tree holds `pid`: a registered one, else any turnout cluster
    process found among its parents (a cluster of another registry or user)."""
    servers = {p: s for s in known() if (p := server_pid(s)) is not None}
    seen: set[int] = set()
    cur: int | None = pid
    while cur and cur > 1 and cur not in seen:
        if cur in servers:
            return Owner(servers[cur], cur)
        found = _state_dir_in(cur, proc)
        if found is not None:
            return Owner(found, cur)
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
