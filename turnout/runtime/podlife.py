"""A pod's volumes, ``/etc/hosts``, lifecycle hooks and spec changes, as a mixin of
:class:`~turnout.runtime.pod.PodWorker`.

- Volumes are set up before the first container starts; a missing ConfigMap keeps the pod in
  ContainerCreating with FailedMount events (retried), a volume that can never work (a refused
  hostPath, no mount namespaces on this machine) keeps it Pending with
  CreateContainerConfigError, a reason and a message (never Failed: its ReplicaSet would replace
  it again and again).
- ``postStart`` runs right after a container's process starts (it is Running only once the hook
  is done); ``preStop`` runs before SIGTERM, within the grace period.
- A bare Pod whose container image (or command/args) changes gets that container restarted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from turnout.netshim import etchosts
from turnout.runtime import backoff, env, hooks, mountns, status
from turnout.runtime.podprobes import ProbesMixin, grace_seconds, in_container
from turnout.runtime.podvolumes import PodVolumes
from turnout.runtime.process import ContainerProcess
from turnout.runtime.volumes import VolumeError
from turnout.types import Obj

log = logging.getLogger(__name__)
PRESTOP_EXTRA = 2.0
"""Seconds of SIGTERM grace left after a preStop hook that used the whole period (kubelet)."""
MOUNT_RETRY_MAX = 16.0
LAUNCH_TIMEOUT = 5.0
HALT_TIMEOUT = 10.0
TERMINATED_RETRIES = 5
counters = {"hook_failed": 0, "volume_sync_failed": 0, "halt_timeout": 0, "supervisor_failed": 0,
            "terminate_failed": 0}


class LifecycleMixin(ProbesMixin):
    namespace: str
    name: str
    uid: str
    inits: list[status.ContainerRecord]
    apps: list[status.ContainerRecord]
    sidecars: set[str]
    failure: tuple[str, str] | None
    volumes: PodVolumes
    _respec: set[str]
    _halted: bool
    _main: asyncio.Task[None] | None
    _loops: set[asyncio.Task[bool]]

    # stopping -------------------------------------------------------------------------------

    async def _halt(self) -> None:
        """End the supervisor and its sidecar loops before the containers are stopped.

        One ``cancel()`` is not enough: ``asyncio.wait_for`` (Python < 3.12) swallows the
        cancellation when its inner task finished in the same loop turn (a pod deleted just as
        the mesh reports its listener up), and the supervisor would go on to start the
        containers of a deleted pod. So: no container starts once halted, and the tasks are
        cancelled again until they have ended (bounded).
        """
        self._halted = True
        tasks: list[asyncio.Task[Any]] = [t for t in (self._main, *self._loops) if t is not None]
        deadline = time.monotonic() + HALT_TIMEOUT
        while any(not t.done() for t in tasks) and time.monotonic() < deadline:
            for t in tasks:
                t.cancel()
            await asyncio.wait(tasks, timeout=0.2)
        for t in tasks:
            if not t.done():
                counters["halt_timeout"] += 1
                log.warning("pod %s/%s: supervisor still running after %.0f s of cancelling",
                            self.namespace, self.name, HALT_TIMEOUT)
            elif not t.cancelled() and t.exception() is not None:
                counters["supervisor_failed"] += 1
                log.error("pod %s/%s: supervisor failed", self.namespace, self.name,
                          exc_info=t.exception())

    async def _terminated_in_api(self) -> None:
        """Tell the API the pod is gone (its object is removed), retrying a failed write: a pod
        left Terminating for good is worse than a late one."""
        for attempt in range(TERMINATED_RETRIES):
            try:
                await self.ctx.client.pod_terminated(self.namespace, self.name)
                return
            except Exception:
                counters["terminate_failed"] += 1
                log.exception("pod %s/%s: removing the object failed (attempt %d)",
                              self.namespace, self.name, attempt + 1)
                await asyncio.sleep(0.2 * 2 ** attempt)

    # specs ----------------------------------------------------------------------------------

    def _spec_of(self, name: str, init: bool) -> Obj | None:
        spec = self.pod.get("spec") or {}
        return next((c for c in spec.get("initContainers" if init else "containers") or ()
                     if c.get("name") == name), None)

    def _field_path(self, name: str, init: bool) -> str:
        spec = self.pod.get("spec") or {}
        group = "initContainers" if init else "containers"
        names = [c.get("name") for c in spec.get(group) or ()]
        return f"spec.{group}[{names.index(name) if name in names else 0}]"

    async def _config_error(self, rec: status.ContainerRecord, message: str, init: bool,
                            delay: float = 1.0) -> None:
        rec.state = {"waiting": {"reason": "CreateContainerConfigError", "message": message}}
        self.changed()
        await self._event("Warning", "Failed", f"Error: {message}", rec.name, init)
        await asyncio.sleep(delay)

    def _restart_changed(self, old: Obj, new: Obj) -> None:
        """Restart app containers whose image, command or args changed (a bare Pod's image is
        mutable; the kubelet kills and recreates the container)."""
        before = {c.get("name"): c for c in (old.get("spec") or {}).get("containers") or ()}
        for c in (new.get("spec") or {}).get("containers") or ():
            name = c.get("name")
            was = before.get(name)
            if was is None or all(was.get(k) == c.get(k) for k in ("image", "command", "args")):
                continue
            proc = self.procs.get(str(name))
            if proc is None or not proc.running:
                continue
            self._respec.add(str(name))
            task = asyncio.create_task(self._replace(str(name), proc))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _replace(self, name: str, proc: ContainerProcess) -> int | None:
        await self._event("Normal", "Killing",
                          f"Container {name} definition changed, will be restarted", name)
        return await self._stop_container(name, proc, grace_seconds(self.pod))

    # volumes and names ----------------------------------------------------------------------

    def _new_volumes(self) -> PodVolumes:
        pod_dir = self.ctx.log_dir(self.namespace, self.name).parent
        return PodVolumes(pod=self.pod, pod_dir=pod_dir, state_dir=Path(self.ctx.state_dir),
                          lookup=self.ctx.client.get_object, facts=self._facts,
                          points=self.ctx.points, namespaces=self.ctx.namespaces)

    def _facts(self) -> env.PodFacts:
        return env.PodFacts(self.ip, self.ctx.host_ip, self.ctx.node_name,
                            cpu_capacity=self.ctx.cpu_capacity)

    async def _setup_volumes(self) -> bool:
        """Until every volume is ready (True), or one never can be (False: the pod failed)."""
        self.refresh_hosts()
        wait = backoff.BackOff(1.0, MOUNT_RETRY_MAX)
        while True:
            try:
                await asyncio.to_thread(self.volumes.prepare)
                return True
            except VolumeError as e:
                which = f'volume "{e.volume}" : ' if e.volume else ""
                message = f"MountVolume.SetUp failed for {which}{e}"
                await self._event("Warning", "FailedMount", message)
                if e.permanent:
                    await self._fail("FailedMount", message)
                    return False
                for rec in self.apps:
                    rec.state = {"waiting": {"reason": "ContainerCreating", "message": message}}
                self.changed()
                await asyncio.sleep(max(wait.next_delay(0.0), 1.0))

    async def _fail(self, reason: str, message: str) -> None:
        self.failure = (reason, message)
        for rec in [*self.inits, *self.apps]:
            rec.state = {"waiting": {"reason": "CreateContainerConfigError", "message": message}}
        self.changed()

    def refresh_hosts(self) -> None:
        """Write the pod's ``/etc/hosts`` (in place, so the containers' bind mounts see it)."""
        if not self.volumes.namespaces:
            return
        self.volumes.write_hosts(etchosts.render(hosts=self.ctx.hosts(),
                                                 namespace=self.namespace, pod_ip=self.ip,
                                                 pod=self.pod, node=self.ctx.node_hosts))

    async def sync_volumes(self, hosts_changed: bool) -> None:
        """One kubelet sync: volume contents from their sources, and the hosts file."""
        if hosts_changed:
            self.refresh_hosts()
        if self.failure is not None or not self.volumes.sources:
            return
        try:
            errors = await asyncio.to_thread(self.volumes.sync, self.pod)
        except Exception:
            counters["volume_sync_failed"] += 1
            log.exception("pod %s/%s: volume sync failed", self.namespace, self.name)
            return
        for e in errors:
            await self._event("Warning", "FailedMount",
                              f'MountVolume.SetUp failed for volume "{e.volume}" : {e}')

    # hooks ------------------------------------------------------------------------------------

    async def _launched(self, proc: ContainerProcess) -> None:
        """Until the container's program runs in its namespace with its mounts (bounded), so
        hooks and probes see what it sees."""
        deadline = time.monotonic() + LAUNCH_TIMEOUT
        while proc.pid is not None and proc.running and time.monotonic() < deadline:
            if mountns.launched(proc.pid):
                return
            await asyncio.sleep(0.005)

    async def _post_start(self, c: Obj, proc: ContainerProcess, container_env: dict[str, str],
                          cwd: str, init: bool) -> bool:
        await self._launched(proc)
        handler = (c.get("lifecycle") or {}).get("postStart")
        if not handler:
            return True
        ok, message = await hooks.run(in_container(handler, proc), pod_ip=self.ip,
                                      container=c, env=container_env, cwd=cwd,
                                      timeout=hooks.HOOK_TIMEOUT)
        if not ok:
            counters["hook_failed"] += 1
            await self._event("Warning", "FailedPostStartHook",
                              f'{hooks.describe(handler)} for Container "{c["name"]}" in Pod '
                              f'"{self.name}_{self.namespace}({self.uid})" failed - error: '
                              f"{message}", c["name"], init)
        return ok

    def _kill_after_hook(self, name: str, proc: ContainerProcess) -> None:
        task = asyncio.create_task(proc.stop(0.0))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _stop_container(self, name: str, proc: ContainerProcess, grace: float
                              ) -> int | None:
        """preStop (if any, within ``grace``), then SIGTERM and SIGKILL after the rest."""
        start = time.monotonic()
        init = name in self.sidecars
        c = self._spec_of(name, init) or {}
        handler = (c.get("lifecycle") or {}).get("preStop")
        if handler and grace > 0 and proc.running:
            try:
                ok, message = await hooks.run(in_container(handler, proc), pod_ip=self.ip,
                                              container=c, env=proc.env, cwd=proc.cwd,
                                              timeout=grace)
            except Exception as e:  # a hook must never keep a pod from stopping
                counters["hook_failed"] += 1
                log.exception("preStop hook of %s/%s %s", self.namespace, self.name, name)
                ok, message = False, str(e)
            if not ok:
                counters["hook_failed"] += 1
                await self._event("Warning", "FailedPreStopHook",
                                  f'{hooks.describe(handler)} for Container "{name}" in Pod '
                                  f'"{self.name}_{self.namespace}({self.uid})" failed - error: '
                                  f"{message}", name, init)
            grace = max(grace - (time.monotonic() - start), PRESTOP_EXTRA)
        return await proc.stop(grace)

    async def _stop_sidecars(self) -> None:
        for name in reversed([r.name for r in self.inits if r.name in self.sidecars]):
            proc = self.procs.get(name)
            if proc is not None and proc.running:
                await self._stop_container(name, proc, grace_seconds(self.pod))
