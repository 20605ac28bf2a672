"""Run a container in a private mount namespace with its volumes bind-mounted at mountPath.

The container also gets a UTS namespace whose hostname is the pod's (``hostname`` and
``socket.gethostname()`` agree with ``$HOSTNAME``), and a ``/tmp`` of its own (a directory of the
pod's bind-mounted on ``/tmp``, as a container's image gives it its own ``/tmp``).

Pods are host processes sharing the node's root; a program that reads
``/etc/config/app.properties`` needs that file at that path, in its own view only. The kubelet
launches each container as ``python -I -S mountns.py <plan> -- argv…``: this script (stdlib only,
so it starts fast and imports nothing of turnout) unshares the mount namespace, makes every
mount private (nothing propagates back to the node), binds each volume at its target, remounts
read-only ones, changes to the working directory and ``exec``s the program under the same pid.
The namespace, and every mount in it, goes away with the last process in it.

``available()`` tells whether this machine allows it (the kubelet asks once at start).
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from collections.abc import Sequence

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
EXIT_MOUNT_FAILED = 125
"""Exit status when the namespace or a mount cannot be set up (the message is on stderr)."""
DISABLE_ENV = "TURNOUT_MOUNT_NAMESPACES"
"""Set to 0 to run pods without private mount namespaces (as on a machine that forbids them)."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def enter(mounts: Sequence[dict[str, object]], hostname: str = "") -> None:
    """In this process: a private mount namespace with ``mounts`` (source, target, ro), and
    with ``hostname`` a UTS namespace of its own that has that name."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS | (CLONE_NEWUTS if hostname else 0)),
           "unshare(CLONE_NEWNS|CLONE_NEWUTS)" if hostname else "unshare(CLONE_NEWNS)")
    if hostname:
        name = hostname.encode()
        _check(libc.sethostname(name, len(name)), f"sethostname({hostname})")
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None),
           "making / private in the new mount namespace")
    # every source is opened before anything is mounted: a source below an earlier target
    # (a state dir under /tmp, once the private /tmp is on it) is still the node's
    fds = [os.open(str(m["source"]), os.O_PATH | os.O_CLOEXEC) for m in mounts]
    for m, fd in zip(mounts, fds, strict=True):
        source = f"/proc/self/fd/{fd}".encode()
        target = str(m["target"]).encode()
        if not os.path.lexists(target):  # inside an earlier mount (the private /tmp)
            _mount_point(source.decode(), str(m["target"]))
        _check(libc.mount(source, target, None, MS_BIND | MS_REC, None),
               f"bind {m['source']} at {m['target']}")
        if m.get("ro"):
            _check(libc.mount(b"none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None),
                   f"read-only remount of {m['target']}")
    for fd in fds:
        os.close(fd)


def _mount_point(source: str, target: str) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "a"):
            pass


def wrap(argv: Sequence[str], mounts: Sequence[dict[str, object]], cwd: str | None,
         hostname: str = "") -> list[str]:
    """The argv that runs ``argv`` inside a private mount namespace with ``mounts`` (and a UTS
    namespace named ``hostname`` when given)."""
    plan = json.dumps({"mounts": list(mounts), "cwd": cwd or "", "hostname": hostname})
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), plan, "--", *argv]


NAMESPACES = ("mnt", "uts")
"""The namespaces a container has of its own, and that an exec in it joins."""


def own_namespaces(pid: int | None) -> list[str]:
    """``/proc/<pid>/ns/<kind>`` for each of :data:`NAMESPACES` in which ``pid`` differs from us
    (the UTS one first: joining the mount namespace last keeps ``/proc`` paths valid)."""
    if pid is None:
        return []
    out = []
    for kind in reversed(NAMESPACES):
        path = f"/proc/{pid}/ns/{kind}"
        try:
            if os.readlink(path) != os.readlink(f"/proc/self/ns/{kind}"):
                out.append(path)
        except OSError:
            continue  # the process is gone, or this kernel lacks the kind: nothing to join
    return out


def enter_argv(pid: int, argv: Sequence[str]) -> list[str]:
    """The argv that runs ``argv`` in the namespaces of process ``pid`` (exec probes, hooks and
    ``kubectl exec`` see what the container sees)."""
    joins = [f"--{'mount' if p.endswith('/mnt') else 'uts'}={p}" for p in own_namespaces(pid)]
    if not joins:  # gone already: nsenter names it
        joins = [f"--mount=/proc/{pid}/ns/mnt"]
    return ["nsenter", *joins, "--", *argv]


def launched(pid: int) -> bool:
    """Whether ``pid`` is past this helper (its mounts are made and the program runs), or gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return True
    return os.path.abspath(__file__).encode() not in argv[:5]


def in_private_namespace(pid: int) -> bool:
    """Whether ``pid`` runs in a mount namespace other than ours."""
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    except OSError:
        return False


def available() -> tuple[bool, str]:
    """Whether a child process can get a private mount namespace here, and why not."""
    if os.environ.get(DISABLE_ENV, "").lower() in ("0", "false", "no", "off"):
        return False, f"private mount namespaces are turned off ({DISABLE_ENV}=0)"
    if not sys.platform.startswith("linux"):
        return False, f"private mount namespaces need Linux (this is {sys.platform})"
    try:
        done = subprocess.run([sys.executable, "-I", "-S", os.path.abspath(__file__), "--check"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"checking for mount namespaces failed: {e}"
    if done.returncode != 0:
        return False, (done.stderr.strip() or f"exit status {done.returncode}")
    return True, ""


def chdir(cwd: str, before: int | None) -> None:
    """Into ``cwd`` as the container sees it, else into ``before`` (the directory of that
    path opened before the mounts, when they hid it)."""
    try:
        os.chdir(cwd)
    except FileNotFoundError:
        if before is None:
            raise
        os.fchdir(before)


def main(args: list[str]) -> int:
    if args == ["--check"]:
        try:
            enter([], "turnout-check")
        except OSError as e:
            print(f"private mount namespaces are not allowed on this machine: {e}",
                  file=sys.stderr)
            return 1
        return 0
    if len(args) < 3 or args[1] != "--":
        print("usage: mountns.py PLAN -- ARGV...", file=sys.stderr)
        return 2
    plan = json.loads(args[0])
    cwd = plan.get("cwd")
    try:
        # the node's directory, should the mounts hide its path (a state dir under /tmp)
        before = os.open(cwd, os.O_PATH | os.O_CLOEXEC) if cwd and os.path.isdir(cwd) else None
        enter(plan["mounts"], str(plan.get("hostname") or ""))
    except OSError as e:
        print(f"turnout: cannot set up the container's volumes: {e.strerror}", file=sys.stderr)
        return EXIT_MOUNT_FAILED
    if cwd:
        try:
            chdir(cwd, before)
        except OSError as e:
            print(f"turnout: workingDir {cwd}: {e.strerror}", file=sys.stderr)
            return EXIT_MOUNT_FAILED
    argv = args[2:]
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        print(f"turnout: exec {argv[0]}: {e.strerror}", file=sys.stderr)
        return 127 if isinstance(e, FileNotFoundError) else 126
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
