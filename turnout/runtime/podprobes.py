"""Probes and port checks of a pod's containers: a mixin of the pod worker.

Readiness, liveness and startup probes run while a container's process runs; exec probes run in
the container's own mount namespace, so they see its volumes. A container whose declared port is
held by another process gets an event naming the holder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import TYPE_CHECKING

from turnout.runtime import mountns, ports, probes, status
from turnout.runtime.process import ContainerProcess
from turnout.types import Obj

if TYPE_CHECKING:
    from turnout.runtime.pod import Context

IMPLICIT_READY_TIMEOUT = 10.0
PORT_HINT = ("pods share this machine's network, so listen on $(POD_IP) instead of 0.0.0.0 "
             "(for example --host=$(POD_IP))")


def grace_seconds(pod: Obj) -> float:
    meta = pod.get("metadata") or {}
    if meta.get("deletionGracePeriodSeconds") is not None:
        return float(meta["deletionGracePeriodSeconds"])
    value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return 30.0 if value is None else float(value)


def in_container(handler: Obj, proc: ContainerProcess) -> Obj:
    """An exec handler (probe or hook) that runs in the container's mount namespace."""
    command = (handler.get("exec") or {}).get("command")
    if not command or proc.pid is None or not mountns.in_private_namespace(proc.pid):
        return handler
    return {**handler, "exec": {"command": mountns.enter_argv(proc.pid, list(command))}}


class ProbesMixin:
    ctx: Context
    pod: Obj
    ip: str
    procs: dict[str, ContainerProcess]
    _background: set[asyncio.Task[int | None]]

    def changed(self) -> None:
        raise NotImplementedError

    async def _event(self, type_: str, reason: str, message: str, container: str | None = None,
                     init: bool = False) -> None:
        raise NotImplementedError

    async def _stop_container(self, name: str, proc: ContainerProcess, grace: float
                              ) -> int | None:
        raise NotImplementedError

    # probes -------------------------------------------------------------------------------

    def _start_probes(self, c: Obj, rec: status.ContainerRecord, proc: ContainerProcess,
                      container_env: dict[str, str], cwd: str) -> list[asyncio.Task[None]]:
        started = asyncio.Event()
        if rec.started:
            started.set()
        tasks = []
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = c.get(kind)
            if probe:
                tasks.append(asyncio.create_task(
                    self._probe_loop(kind, probe, c, rec, proc, container_env, cwd, started)))
        return tasks

    async def _probe_loop(self, kind: str, probe: Obj, c: Obj, rec: status.ContainerRecord,
                          proc: ContainerProcess, container_env: dict[str, str], cwd: str,
                          started: asyncio.Event) -> None:
        name = c["name"]
        settings = probes.Settings.of(probe)
        label = {"startupProbe": "Startup", "readinessProbe": "Readiness",
                 "livenessProbe": "Liveness"}[kind]
        if kind != "startupProbe":
            await started.wait()
        await asyncio.sleep(settings.initial_delay)
        tracker = probes.Tracker(settings, healthy=kind == "livenessProbe")
        hinted = False
        while proc.running:
            ok, message = await probes.check(in_container(probe, proc), pod_ip=self.ip,
                                             container=c, env=container_env, cwd=cwd)
            if not proc.running:
                return
            verdict = tracker.observe(ok)
            if not ok:
                detail = message
                if not hinted and "connection refused" in message:
                    hinted = True
                    held = await self._warn_held_ports(c, wildcard_only=False)
                    detail = f"{message}; {held}" if held else message
                await self._event("Warning", "Unhealthy", f"{label} probe failed: {detail}",
                                  name)
            if kind == "readinessProbe" and verdict is not None:
                rec.ready = verdict
                self.changed()
            elif kind == "startupProbe":
                if ok:
                    rec.started = True
                    rec.ready = not c.get("readinessProbe")
                    started.set()
                    self.changed()
                    return
                if tracker.failures >= settings.failure_threshold:
                    await self._kill_unhealthy(name, proc, "startup")
                    return
            elif kind == "livenessProbe" and verdict is False:
                await self._kill_unhealthy(name, proc, "liveness")
                return
            await asyncio.sleep(settings.period)

    async def _ready_when_listening(self, name: str, rec: status.ContainerRecord,
                                    port: int) -> None:
        """Ready once `port` accepts a TCP connection on the pod's IP (bounded)."""
        deadline = time.monotonic() + IMPLICIT_READY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(self.ip, port), 1.0)
            except (OSError, TimeoutError):
                await asyncio.sleep(0.02)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            break
        else:
            await self._event("Warning", "NotListening",
                              f"container {name} declares port {port} but nothing listened on "
                              f"{self.ip}:{port} within {IMPLICIT_READY_TIMEOUT:.0f} s; marked "
                              "Ready anyway (add a readinessProbe to say when it is)", name)
        rec.ready = True
        self.changed()

    async def _kill_unhealthy(self, name: str, proc: ContainerProcess, which: str) -> None:
        await self._event("Normal", "Killing",
                          f"Container {name} failed {which} probe, will be restarted", name)
        task = asyncio.create_task(self._stop_container(name, proc, grace_seconds(self.pod)))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # port conflicts -----------------------------------------------------------------------

    async def _warn_held_ports(self, c: Obj, *, wildcard_only: bool) -> str:
        """Warn (event) about declared ports held by others; returns the message or ""."""
        declared = [int(p["containerPort"]) for p in c.get("ports") or ()
                    if p.get("containerPort") and (p.get("protocol") or "TCP") == "TCP"]
        if not declared:
            return ""
        own = {p.pid for p in self.procs.values() if p.pid}
        found = await asyncio.to_thread(self._holders, declared, wildcard_only, own)
        if not found:
            return ""
        message = "; ".join(found) + "; " + PORT_HINT
        await self._event("Warning", "PortConflict", message, c["name"])
        return message

    def _holders(self, declared: list[int], wildcard_only: bool, own: set[int]) -> list[str]:
        out = []
        for port in declared:
            for h in ports.holders(port, self.ip, any_address=not wildcard_only):
                if wildcard_only and h.address not in ports.WILDCARDS:
                    continue
                owner = self.ctx.owner_of(h.pid) if h.pid else None
                if h.pid is not None and _session(h.pid) in own:
                    continue
                who = owner or (f"process {h.pid} ({h.process})" if h.pid else "another process")
                out.append(f"port {port} is already in use on {h.address} by {who}")
        return out


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


def first_tcp_port(c: Obj) -> int | None:
    """The first TCP containerPort a container declares, if any."""
    for p in c.get("ports") or []:
        if isinstance(p, dict) and str(p.get("protocol") or "TCP") == "TCP" and \
                isinstance(p.get("containerPort"), int):
            return int(p["containerPort"])
    return None
