"""One pod's volumes on the node: their directories, their updates, and each container's mounts.

:class:`PodVolumes` writes configMap / secret / downwardAPI / projected volumes (and rewrites
them when their sources change: the kubelet calls :meth:`PodVolumes.sync` every sync period),
makes emptyDir and PVC directories, checks hostPaths, keeps the pod's ``/etc/hosts`` current, and
gives each container its bind mounts. :class:`MountPoints` creates the mount points a container
needs on the node (``/etc/config`` may not exist) and removes them when no pod uses them any
more. No mount is ever made in the node's namespace: :mod:`turnout.runtime.mountns` makes them in
the container's own.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from turnout.runtime import atomic, env, mountns, volumes
from turnout.runtime.volumes import VolumeError
from turnout.types import Obj

log = logging.getLogger(__name__)
ETC_HOSTS = "/etc/hosts"
TMP = "/tmp"
SECRET_FILES = ("token", "kubeconfig", "*.key", "*.db", "*.db-wal", "*.db-shm", "*.duckdb",
                "*.duckdb.wal")
"""Files of the state directory a pod must not read (its API token, keys and databases): in a
pod's mount namespace each is covered by an empty read-only file."""
counters = {"mountpoint_cleanup_failed": 0, "hosts_write_failed": 0}
"""Failures that are logged and otherwise ignored (a leftover empty directory, a stale hosts
file until the next sync)."""


class MountPoints:
    """Mount points turnout created on the node, each with the pods that need it."""

    def __init__(self) -> None:
        self.owners: dict[str, set[str]] = {}

    def ensure(self, path: str, is_file: bool, owner: str) -> None:
        p = Path(path)
        missing = []
        while not (p.exists() or p.is_symlink()):
            missing.append(p)
            p = p.parent
        for q in [Path(path), *Path(path).parents]:
            if str(q) in self.owners:
                self.owners[str(q)].add(owner)
        for q in reversed(missing):
            if q == Path(path) and is_file:
                q.touch()
            else:
                q.mkdir()
            self.owners[str(q)] = {owner}

    def release(self, owner: str) -> None:
        for path in sorted(self.owners, key=lambda s: s.count("/"), reverse=True):
            users = self.owners[path]
            users.discard(owner)
            if users:
                continue
            del self.owners[path]
            try:
                st = os.lstat(path)
                if stat.S_ISDIR(st.st_mode):
                    os.rmdir(path)
                elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
                    os.unlink(path)
            except OSError as e:
                counters["mountpoint_cleanup_failed"] += 1
                log.info("mount point %s left in place: %s", path, e.strerror)


def write_in_place(path: Path, text: str) -> bool:
    """Replace a file's content without replacing the file: a bind mount of it sees the change
    (a file replaced by rename would leave the mount on the old one)."""
    data = text.encode()
    try:
        with path.open("r+b") as f:
            if f.read() == data:
                return False
            f.seek(0)
            f.write(data)
            f.truncate()
    except FileNotFoundError:
        path.write_bytes(data)
    return True


class PodVolumes:
    def __init__(self, *, pod: Obj, pod_dir: Path, state_dir: Path, lookup: env.Lookup,
                 facts: Callable[[], env.PodFacts], points: MountPoints,
                 namespaces: tuple[bool, str]) -> None:
        self.pod = pod
        self.dir = pod_dir / "volumes"
        self.hosts_path = pod_dir / "etc-hosts"
        self.tmp_dir = pod_dir / "tmp"
        self.state_dir = state_dir
        self.lookup = lookup
        self.facts = facts
        self.points = points
        self.namespaces, self.why_not = namespaces
        meta = pod.get("metadata") or {}
        self.owner = f"{meta.get('namespace')}/{meta.get('name')}/{meta.get('uid')}"
        self.sources: dict[str, tuple[str, bool]] = {}
        self._payload: set[str] = set()

    @property
    def volumes(self) -> list[Obj]:
        return list((self.pod.get("spec") or {}).get("volumes") or ())

    def needs_mounts(self) -> bool:
        spec = self.pod.get("spec") or {}
        return any(c.get("volumeMounts") for c in [*(spec.get("initContainers") or ()),
                                                  *(spec.get("containers") or ())])

    def prepare(self) -> None:
        """Set every volume up (raises :class:`VolumeError` naming the volume)."""
        if self.needs_mounts() and not self.namespaces:
            raise VolumeError(f"this pod mounts volumes, and turnout makes them visible at their "
                              f"mountPath only in a private mount namespace: {self.why_not}",
                              permanent=True)
        for i, vol in enumerate(self.volumes):
            name = str(vol.get("name") or "")
            try:
                self._prepare_one(i, vol)
            except VolumeError as e:
                e.volume = e.volume or name
                raise
            except OSError as e:
                raise VolumeError(f"{e.strerror}: {e.filename}", volume=name) from e

    def _prepare_one(self, i: int, vol: Obj) -> None:
        b = volumes.backing(vol, i, str(self.state_dir))
        path = self.dir / b.name
        if b.kind == "payload":
            atomic.write(path, volumes.payload(vol, i, self.pod, self.facts(), self.lookup))
            self._payload.add(b.name)
        elif b.kind == "empty":
            path.mkdir(parents=True, exist_ok=True)
        elif b.kind == "host":
            path = Path(b.path)
            real = os.path.realpath(path)
            if volumes.overlaps(real, os.path.realpath(self.state_dir)):
                volumes.backing({"name": b.name, "hostPath": {"path": str(self.state_dir)}}, i,
                                str(self.state_dir))  # raises the refusal, naming the field
            _check_host_path(path, b.host_type, i)
        elif b.kind == "claim":
            path = self._claim_dir(b.path)
        self.sources[b.name] = (str(path), b.read_only)

    def _claim_dir(self, claim: str) -> Path:
        namespace = str((self.pod.get("metadata") or {}).get("namespace") or "default")
        pvc = self.lookup("persistentvolumeclaims", namespace, claim)
        if pvc is None:
            raise VolumeError(f'persistentvolumeclaim "{claim}" not found')
        volume = (pvc.get("spec") or {}).get("volumeName")
        if (pvc.get("status") or {}).get("phase") != "Bound" or not volume:
            raise VolumeError(f'persistentvolumeclaim "{claim}" is not bound (the pod has '
                              "unbound immediate PersistentVolumeClaims)")
        path = self.state_dir / "volumes" / "persistentvolumes" / str(volume)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def sync(self, pod: Obj) -> list[VolumeError]:
        """Rewrite the kubelet-written volumes from their current sources."""
        self.pod = pod
        errors = []
        for i, vol in enumerate(self.volumes):
            name = str(vol.get("name") or "")
            if name not in self._payload:
                continue
            try:
                atomic.write(self.dir / name,
                             volumes.payload(vol, i, self.pod, self.facts(), self.lookup))
            except VolumeError as e:
                e.volume = name
                errors.append(e)
            except OSError as e:
                errors.append(VolumeError(f"{e.strerror}: {e.filename}", volume=name))
        return errors

    def wrap(self, argv: list[str], container: Obj, where: str,
             container_env: dict[str, str], cwd: str | None) -> list[str]:
        """``argv`` launched in the container's own mount namespace (or as is without one)."""
        if not self.namespaces:
            return argv
        mounts = volumes.plan(container, where, self.sources, container_env)
        targets = [m.target for m in mounts]
        if TMP not in targets:  # the container's own /tmp, below any volume mounted in it
            own = [volumes.Mount(str(self._own_tmp(str(container.get("name")))), TMP, False)]
            # what the container saw of the node below /tmp before stays where it was: what
            # runs its program, read-only (turnout installed below /tmp: a clone there, its
            # venv; the command's directory, its PATH and PYTHONPATH), then, writable, the
            # state dir (when it is there, as in tests; its secrets are masked all the same)
            # and a working directory there
            own += [volumes.Mount(keep, keep, True) for keep in node_paths(argv, container_env)
                    if not any(keep == m.target or _inside(keep, m.target) for m in mounts)]
            writable: list[volumes.Mount] = []
            for keep in (str(self.state_dir), str(container.get("workingDir") or cwd or "")):
                if _inside(keep, TMP) and Path(keep).is_dir() and not any(
                        keep == m.target or _inside(keep, m.target)
                        for m in [*writable, *mounts]):
                    writable.append(volumes.Mount(keep, keep, False))
            own += writable
            mounts[:0] = own
        if not any(t == ETC_HOSTS or volumes.overlaps(t, ETC_HOSTS) for t in targets) and \
                self.hosts_path.is_file():
            mounts.append(volumes.Mount(str(self.hosts_path), ETC_HOSTS, True))
        out = []
        done: list[volumes.Mount] = []
        for m in mounts:
            source = Path(m.source)
            if not (source.exists() or source.is_symlink()):
                source.mkdir(parents=True, exist_ok=True)  # a subPath not there yet
            point = m.target
            for outer in reversed(done):  # a mount inside an earlier one: its point is there
                if point.startswith(outer.target.rstrip("/") + "/"):
                    point = posixpath.join(outer.source, point[len(outer.target) + 1:])
                    break
            self.points.ensure(point, not source.is_dir(), self.owner)
            done.append(m)
            out.append({"source": m.source, "target": m.target, "ro": m.read_only})
        out += self._masks()
        return mountns.wrap(argv, out, container.get("workingDir") or cwd, self.hostname)

    @property
    def hostname(self) -> str:
        """The pod's hostname: ``spec.hostname``, else its name (63 characters at most)."""
        spec = self.pod.get("spec") or {}
        meta = self.pod.get("metadata") or {}
        return str(spec.get("hostname") or meta.get("name") or "")[:63].rstrip("-.")

    def _own_tmp(self, container: str) -> Path:
        """The container's ``/tmp``; it lasts as long as the pod (a restarted container keeps
        it: data a program keeps in /tmp survives a crash, as a demo's database may)."""
        path = self.tmp_dir / container
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o1777)
        return path

    def _masks(self) -> list[dict[str, object]]:
        empty = self.dir.parent / "masked"
        if not empty.exists():
            empty.parent.mkdir(parents=True, exist_ok=True)
            empty.touch(mode=0o400)
        found = sorted({p for pattern in SECRET_FILES for p in self.state_dir.glob(pattern)
                        if p.is_file() and not p.is_symlink()})
        return [{"source": str(empty), "target": str(p), "ro": True} for p in found]

    def write_hosts(self, text: str) -> None:
        try:
            self.hosts_path.parent.mkdir(parents=True, exist_ok=True)
            write_in_place(self.hosts_path, text)
        except OSError as e:
            counters["hosts_write_failed"] += 1
            log.warning("pod %s: cannot write its hosts file: %s", self.owner, e)

    def cleanup(self) -> None:
        """The pod is gone: drop its mount points and its own volume directories (emptyDir,
        payloads; never a hostPath or a claim's directory)."""
        self.points.release(self.owner)
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.tmp_dir, ignore_errors=True)


PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
"""The directory holding the `turnout` package (a clone, or site-packages)."""


def node_paths(argv: list[str], container_env: dict[str, str]) -> list[str]:
    """Directories below /tmp that the container's program needs from the node: turnout's
    installation and interpreter, the command's directory, PATH and PYTHONPATH entries
    (outermost only)."""
    cands = [sys.prefix, os.path.dirname(os.path.realpath(sys.executable)), PACKAGE_ROOT]
    if argv and os.path.isabs(argv[0]):
        cands += [os.path.dirname(argv[0]), os.path.dirname(os.path.realpath(argv[0]))]
    for var in ("PATH", "PYTHONPATH"):
        cands += [d for d in container_env.get(var, "").split(os.pathsep) if d]
    found = sorted({os.path.normpath(c) for c in cands
                    if os.path.isabs(c) and _inside(os.path.normpath(c), TMP)
                    and os.path.isdir(c)}, key=len)
    out: list[str] = []
    for c in found:
        if not any(c == o or _inside(c, o) for o in out):
            out.append(c)
    return out


def _inside(path: str, directory: str) -> bool:
    return path.startswith(directory.rstrip("/") + "/")


def _check_host_path(path: Path, host_type: str, index: int) -> None:
    where = f"spec.volumes[{index}].hostPath.type"
    if host_type == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True)
    elif host_type == "FileOrCreate":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    elif host_type == "Directory" and not path.is_dir():
        raise VolumeError(f"hostPath type check failed: {path} is not a directory",
                          field=where)
    elif host_type == "File" and not path.is_file():
        raise VolumeError(f"hostPath type check failed: {path} is not a file", field=where)
    elif host_type == "Socket" and not path.is_socket():
        raise VolumeError(f"hostPath type check failed: {path} is not a socket file",
                          field=where)
    elif host_type in ("CharDevice", "BlockDevice") and not (
            path.is_char_device() if host_type == "CharDevice" else path.is_block_device()):
        raise VolumeError(f"hostPath type check failed: {path} is not a "
                          f"{'character' if host_type == 'CharDevice' else 'block'} device",
                          field=where)
    elif not host_type and not path.exists():
        path.mkdir(parents=True, exist_ok=True)  # the kubelet's docker-era default
