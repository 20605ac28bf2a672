"""Processes started inside a running container's context: ``kubectl exec`` and ``kubectl cp``.

A container here is a process group with an environment and a working directory, so an exec is a
new process with that same environment (``POD_IP``, the pod's ``HTTP_PROXY``, Service variables,
the container's own ``env``), in the same directory, in a session of its own; with ``tty`` it gets
a pseudo-terminal as its controlling terminal and window-size changes are applied to it. The exec
dies with turnout, and is killed (with its children) when the client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import logging
import os
import select
import signal
import struct
import sys
import termios
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from turnout.runtime import mountns

if TYPE_CHECKING:
    from turnout.runtime.kubelet import Kubelet
    from turnout.runtime.process import ContainerProcess

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
READ_SIZE = 64 << 10


@dataclass(frozen=True)
class Context:
    """Where a container runs: what an exec in it inherits."""

    env: Mapping[str, str]
    cwd: str | None
    pid: int | None
    """The container's main process (its namespaces are entered when it has its own)."""


def _child_setup(tty_fd: int | None, namespaces: list[str], cwd: str | None) -> None:
    """In the child, before exec: die with turnout, take the terminal, join the container's
    namespaces (its hostname and its mounts; entering the mount namespace resets the working
    directory to its root, so it is entered again)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        here = os.open(".", os.O_PATH) if namespaces else None
        for ns in namespaces:
            fd = os.open(ns, os.O_RDONLY)
            if libc.setns(fd, 0) != 0:
                os.write(2, f"turnout: cannot enter the container's namespace {ns}\n".encode())
                os._exit(126)
            os.close(fd)
        if namespaces and cwd is not None:
            mountns.chdir(cwd, here)
    if tty_fd is not None:
        fcntl.ioctl(tty_fd, termios.TIOCSCTTY, 0)


class ExecProcess:
    """A started exec: feed stdin, read stdout/stderr queues (None = end), wait for the code."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int | None) -> None:
        self.proc = proc
        self.master = master
        self.stdout: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=64)
        self.stderr: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=64)
        self._tasks: list[asyncio.Task[None]] = []

    def _start_readers(self) -> None:
        if self.master is not None:
            self._tasks.append(asyncio.create_task(self._read_master()))
            return
        if self.proc.stdout is not None:
            self._tasks.append(asyncio.create_task(self._pump(self.proc.stdout, self.stdout)))
        else:
            self.stdout.put_nowait(None)
        if self.proc.stderr is not None:
            self._tasks.append(asyncio.create_task(self._pump(self.proc.stderr, self.stderr)))
        else:
            self.stderr.put_nowait(None)

    @staticmethod
    async def _pump(stream: asyncio.StreamReader, queue: asyncio.Queue[bytes | None]) -> None:
        try:
            while chunk := await stream.read(READ_SIZE):
                await queue.put(chunk)
        except (ConnectionError, OSError) as e:
            log.debug("exec output ended: %s", e)
        await queue.put(None)

    async def _read_master(self) -> None:
        assert self.master is not None
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        loop.add_reader(self.master, ready.set)
        try:
            while True:
                await ready.wait()
                ready.clear()
                try:
                    chunk = os.read(self.master, READ_SIZE)
                except BlockingIOError:
                    continue
                except OSError:  # EIO: every holder of the terminal's other side is gone
                    break
                if not chunk:
                    break
                await self.stdout.put(chunk)
        finally:
            loop.remove_reader(self.master)
            await self.stdout.put(None)
            self.stderr.put_nowait(None)

    async def write_stdin(self, data: bytes) -> None:
        if self.master is not None:
            await asyncio.to_thread(_write_all, self.master, data)
            return
        if self.proc.stdin is None or self.proc.stdin.is_closing():
            return
        self.proc.stdin.write(data)
        with contextlib.suppress(ConnectionError, OSError):
            await self.proc.stdin.drain()

    def close_stdin(self) -> None:
        if self.master is not None:
            with contextlib.suppress(OSError):
                os.write(self.master, b"\x04")  # end of input, as a terminal sends it
            return
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()

    def resize(self, width: int, height: int) -> None:
        if self.master is not None:
            with contextlib.suppress(OSError):
                fcntl.ioctl(self.master, termios.TIOCSWINSZ,
                            struct.pack("HHHH", height, width, 0, 0))

    async def wait(self) -> int:
        """The exit code (128 + n for signal n) once its output is read."""
        rc = await self.proc.wait()
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 5)
        return 128 - rc if rc < 0 else rc

    def kill(self) -> None:
        """Kill the exec and everything it started (its session's process group)."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    async def close(self) -> None:
        self.kill()
        with contextlib.suppress(ProcessLookupError):
            await self.proc.wait()
        for t in self._tasks:
            t.cancel()
        if self.master is not None:
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.master = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
            continue
        view = view[n:]


async def spawn(argv: list[str], ctx: Context, *, stdin: bool, stdout: bool, stderr: bool,
                tty: bool) -> ExecProcess:
    """Start ``argv`` in the container's context; OSError if it cannot be executed."""
    namespaces = mountns.own_namespaces(ctx.pid)
    env = dict(ctx.env)
    if tty:
        env.setdefault("TERM", "xterm")
        master, slave = os.openpty()
        os.set_blocking(master, False)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, env=env, cwd=ctx.cwd, stdin=slave, stdout=slave, stderr=slave,
                start_new_session=True,
                preexec_fn=lambda: _child_setup(0, namespaces, ctx.cwd))
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        p = ExecProcess(proc, master)
    else:
        pipe, null = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, cwd=ctx.cwd, stdin=pipe if stdin else null,
            stdout=pipe if stdout else null, stderr=pipe if stderr else null,
            start_new_session=True, limit=READ_SIZE,
            preexec_fn=lambda: _child_setup(None, namespaces, ctx.cwd))
        p = ExecProcess(proc, None)
    p._start_readers()
    return p


class KubeletHost:
    """What the streaming endpoints need from the kubelet, looked up by pod and container."""

    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet

    def _proc(self, namespace: str, pod: str, container: str) -> ContainerProcess | None:
        worker = self.kubelet.workers.get(f"{namespace}/{pod}")
        proc = worker.procs.get(container) if worker is not None else None
        return proc if proc is not None and proc.running else None

    def context(self, namespace: str, pod: str, container: str) -> Context | None:
        """The running container's context; None when it has no live process."""
        proc = self._proc(namespace, pod, container)
        if proc is None:
            return None
        return Context(env=proc.env, cwd=proc.cwd, pid=proc.pid)

    def running(self, namespace: str, pod: str, container: str) -> bool:
        return self._proc(namespace, pod, container) is not None

    def pod_ip(self, namespace: str, pod: str) -> str | None:
        return self.kubelet.pod_ip(namespace, pod)

    def log_path(self, namespace: str, pod: str, container: str) -> Path:
        return self.kubelet.log_path(namespace, pod, container)

    def stdin_writer(self, namespace: str, pod: str, container: str
                     ) -> Callable[[bytes | None], Awaitable[None]] | None:
        """Writes to the container's stdin (``stdin: true`` containers), else None."""
        proc = self._proc(namespace, pod, container)
        writer = getattr(proc, "write_stdin", None) if proc is not None else None
        return writer if callable(writer) else None
