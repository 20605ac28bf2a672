"""Run a container in a private mount namespace with its volumes bind-mounted at mountPath.

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


def enter(mounts: Sequence[dict[str, object]]) -> None:
    """In this process: a private mount namespace with ``mounts`` (source, target, ro)."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None),
           "making / private in the new mount namespace")
    for m in mounts:
        source = str(m["source"]).encode()
        target = str(m["target"]).encode()
        _check(libc.mount(source, target, None, MS_BIND | MS_REC, None),
               f"bind {m['source']} at {m['target']}")
        if m.get("ro"):
            _check(libc.mount(b"none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None),
                   f"read-only remount of {m['target']}")


def wrap(argv: Sequence[str], mounts: Sequence[dict[str, object]], cwd: str | None) -> list[str]:
    """The argv that runs ``argv`` inside a private mount namespace with ``mounts``."""
    plan = json.dumps({"mounts": list(mounts), "cwd": cwd or ""})
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), plan, "--", *argv]


def enter_argv(pid: int, argv: Sequence[str]) -> list[str]:
    """The argv that runs ``argv`` in the mount namespace of process ``pid`` (exec probes,
    hooks and ``kubectl exec`` see what the container sees)."""
    return ["nsenter", f"--mount=/proc/{pid}/ns/mnt", "--", *argv]


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


def main(args: list[str]) -> int:
    if args == ["--check"]:
        try:
            enter([])
        except OSError as e:
            print(f"private mount namespaces are not allowed on this machine: {e}",
                  file=sys.stderr)
            return 1
        return 0
    if len(args) < 3 or args[1] != "--":
        print("usage: mountns.py PLAN -- ARGV...", file=sys.stderr)
        return 2
    plan = json.loads(args[0])
    try:
        enter(plan["mounts"])
    except OSError as e:
        print(f"turnout: cannot set up the container's volumes: {e.strerror}", file=sys.stderr)
        return EXIT_MOUNT_FAILED
    cwd = plan.get("cwd")
    if cwd:
        try:
            os.chdir(cwd)
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
