"""One container = one local process group, its output timestamped into a log file.

The shape follows uvicorn's ``Process`` wrapper: start, wait, stop with a grace period. The
process runs in its own session (so the whole group can be signalled, like a container's PID
namespace) and everything left in the group is killed when its main process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from turnout.runtime import logs

PR_SET_PDEATHSIG = 1
READ_LIMIT = 1 << 20
log = logging.getLogger(__name__)
counters = {"stdin_write_failed": 0}


def exit_code(returncode: int) -> int:
    """Container exit code: a signal ``n`` reads as ``128 + n`` (SIGKILL → 137)."""
    return 128 - returncode if returncode < 0 else returncode


class ContainerProcess:
    def __init__(self, argv: list[str], env: Mapping[str, str], cwd: str | None,
                 log_path: Path, *, stdin: bool = False, stdin_once: bool = False) -> None:
        self.argv = argv
        self.stdin = stdin
        """``stdin: true``: the process reads a pipe that stays open across attaches (else
        /dev/null)."""
        self.stdin_once = stdin_once
        """``stdinOnce: true``: that pipe is closed when the first attach that fed it ends."""
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log_path
        self.pid: int | None = None
        self.started_at = 0.0
        self.finished_at: float | None = None
        self.returncode: int | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._pumps: list[asyncio.Task[None]] = []
        self._log: BinaryIO | None = None
        self._exited = asyncio.Event()
        self.stopping = False
        """Set when turnout itself stops the process (so its exit is not a crash)."""

    async def start(self) -> int:
        """Spawn the process; raises OSError when the program cannot be executed."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv, env=self.env, cwd=self.cwd,
                stdin=asyncio.subprocess.PIPE if self.stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True, limit=READ_LIMIT, preexec_fn=die_with_parent,
            )
        except BaseException:
            self._log.close()
            raise
        self.pid = self._proc.pid
        self.started_at = time.time()
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._pumps = [
            asyncio.create_task(self._pump(self._proc.stdout, "stdout")),
            asyncio.create_task(self._pump(self._proc.stderr, "stderr")),
        ]
        self._reaper = asyncio.create_task(self._reap())
        return self.pid

    async def _pump(self, stream: asyncio.StreamReader, name: str) -> None:
        assert self._log is not None
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line longer than the limit: write what is buffered
                line = await stream.read(READ_LIMIT)
            except (ConnectionError, OSError):
                return
            if not line:
                return
            logs.write_record(self._log, name, line)

    async def _reap(self) -> None:
        assert self._proc is not None
        rc = await self._proc.wait()
        self.finished_at = time.time()
        self._signal(signal.SIGKILL)  # the rest of the "container" dies with its main process
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._pumps, return_exceptions=True), 2.0)
        for t in self._pumps:
            t.cancel()
        if self._log is not None:
            self._log.close()
        self.returncode = rc
        self._exited.set()

    async def write_stdin(self, data: bytes | None) -> None:
        """Feed the container's stdin (``kubectl attach -i``); None = that attach ended, which
        closes a ``stdinOnce`` container's stdin and leaves any other's open."""
        pipe = self._proc.stdin if self._proc is not None else None
        if pipe is None or pipe.is_closing():
            return
        try:
            if data is None:
                if self.stdin_once:
                    pipe.close()
                return
            pipe.write(data)
            await pipe.drain()
        except (ConnectionError, OSError) as e:  # the process is gone or closed its stdin
            counters["stdin_write_failed"] += 1
            log.info("stdin of %s: %s", self.argv[-1] if self.argv else "?", e)

    @property
    def running(self) -> bool:
        return self._proc is not None and not self._exited.is_set()

    async def wait(self) -> int:
        """The container exit code once the process and its output are done."""
        await self._exited.wait()
        assert self.returncode is not None
        return exit_code(self.returncode)

    def _signal(self, sig: int) -> None:
        if self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def stop(self, grace: float) -> int | None:
        """SIGTERM the group, SIGKILL it after ``grace`` seconds; returns the exit code."""
        if self._proc is None:
            return None
        self.stopping = True
        if not self._exited.is_set():
            if grace > 0:
                self._signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._exited.wait(), grace)
            if not self._exited.is_set():
                self._signal(signal.SIGKILL)
        return await self.wait()

    def kill(self) -> None:
        self.stopping = True
        self._signal(signal.SIGKILL)


def die_with_parent() -> None:
    """In the child before exec: get SIGKILL if turnout itself dies, so no pod outlives it.

    A normal `turnout down` stops pods gracefully first; this only covers a killed turnout.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
