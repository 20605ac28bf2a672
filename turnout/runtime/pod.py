"""One pod's supervisor: init containers in order, then app containers with restarts and probes.

A :class:`PodWorker` owns its processes and its container records; it pushes status through the
client whenever the computed status changes (several changes in a burst are sent once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from turnout.runtime import backoff, env, logs, status
from turnout.runtime.catalog import Catalog, ImageError, Launch
from turnout.runtime.client import KubeletClient
from turnout.runtime.podlife import LifecycleMixin
from turnout.runtime.podprobes import first_tcp_port, grace_seconds
from turnout.runtime.podvolumes import MountPoints
from turnout.runtime.process import ContainerProcess
from turnout.runtime.volumes import VolumeError
from turnout.types import Obj

__all__ = ["Context", "PodWorker", "grace_seconds"]

log = logging.getLogger(__name__)
counters = {"drain_failed": 0, "stop_failed": 0}

HOST_ENV = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "PYTHONPATH",
            "VIRTUAL_ENV", "SYSTEMROOT")
EARLY_EXIT = 10.0
"""A container that exits within this many seconds is checked for port conflicts."""
NETWORK_READY_TIMEOUT = 10.0


@dataclass
class Context:
    """Settings and services shared by all pod workers of one kubelet."""

    state_dir: Path
    client: KubeletClient
    catalog: Catalog
    node_name: str
    host_ip: str
    extra_env: Callable[[Obj], dict[str, str]] | None
    backoff_initial: float
    backoff_max: float
    owner_of: Callable[[int], str | None]
    """pid → "pod ns/name (container c)" if the process belongs to one of our pods."""
    log_dir: Callable[[str, str], Path]
    on_gone: Callable[[PodWorker], Awaitable[None]]
    """Called after ``pod_terminated``: the kubelet forgets the worker and frees its address."""
    cpu_capacity: float = field(default_factory=lambda: float(os.cpu_count() or 1))
    before_stop: Callable[[Obj], Awaitable[None]] | None = None
    """Awaited before a deleted pod's containers get SIGTERM: the mesh drains it first."""
    before_start: Callable[[Obj], Awaitable[None]] | None = None
    """Awaited (bounded) once the pod's IP is stored and before any container starts: the
    pod's network (its proxy listener) is up first, as with Istio's
    holdApplicationUntilProxyStarts."""
    points: MountPoints = field(default_factory=MountPoints)
    namespaces: tuple[bool, str] = (False, "not checked")
    """Whether containers get private mount namespaces, and why not."""
    hosts: Callable[[], Mapping[str, str]] = dict
    """The cluster's Service name map (see :func:`turnout.netshim.hosts_map`)."""
    node_hosts: list[str] = field(default_factory=list)


def ref(pod: Obj, container: str | None = None, init: bool = False) -> Obj:
    meta = pod.get("metadata") or {}
    out: Obj = {"kind": "Pod", "apiVersion": "v1", "namespace": meta.get("namespace", "default"),
                "name": meta.get("name"), "uid": meta.get("uid", "")}
    if meta.get("resourceVersion"):
        out["resourceVersion"] = meta["resourceVersion"]
    if container:
        out["fieldPath"] = f"spec.{'initContainers' if init else 'containers'}{{{container}}}"
    return out


class PodWorker(LifecycleMixin):
    def __init__(self, ctx: Context, pod: Obj, ip: str) -> None:
        self.ctx = ctx
        self.pod = pod
        meta = pod["metadata"]
        self.namespace = str(meta.get("namespace") or "default")
        self.name = str(meta["name"])
        self.uid = str(meta.get("uid") or "")
        self.ip = ip
        spec = pod.get("spec") or {}
        self.policy = str(spec.get("restartPolicy") or "Always")
        old = pod.get("status") or {}
        old_counts = {c.get("name"): int(c.get("restartCount") or 0)
                      for c in [*(old.get("containerStatuses") or ()),
                                *(old.get("initContainerStatuses") or ())]}
        inits = spec.get("initContainers") or []
        first = "PodInitializing" if inits else "ContainerCreating"
        self.inits = [status.ContainerRecord(c["name"], c.get("image", ""),
                                             {"waiting": {"reason": "PodInitializing"}},
                                             restart_count=old_counts.get(c["name"], 0))
                      for c in inits]
        self.apps = [
            status.ContainerRecord(c["name"], c.get("image", ""), {"waiting": {"reason": first}},
                                   restart_count=old_counts.get(c["name"], 0))
            for c in spec.get("containers") or []
        ]
        self.start_time = old.get("startTime") or status.now_rfc3339()
        self._prev_conditions: list[Obj] = list(old.get("conditions") or [])
        self.init_done = not inits
        self.init_failed = False
        self.procs: dict[str, ContainerProcess] = {}
        self._pulled: set[str] = set()
        self._dirty = asyncio.Event()
        self._last_sent: Obj | None = None
        self._main: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        self.done = asyncio.Event()
        self._background: set[asyncio.Task[int | None]] = set()
        self.sidecars = {c["name"] for c in inits if c.get("restartPolicy") == "Always"}
        self.failure: tuple[str, str] | None = None
        """(reason, message) when the pod cannot run at all (its volumes cannot be mounted)."""
        self._respec: set[str] = set()
        self._finishing = False
        self._halted = False
        self._loops: set[asyncio.Task[bool]] = set()
        self.volumes = self._new_volumes()

    # lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_loop())
        self._main = asyncio.create_task(self._run())
        self.changed()

    def update(self, pod: Obj) -> None:
        old, self.pod = self.pod, pod
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            if self._stopping is None:
                self._stopping = asyncio.create_task(self._delete(grace_seconds(pod)))
            return
        self._restart_changed(old, pod)

    async def _delete(self, grace: float) -> None:
        if self.ctx.before_stop is not None and self.procs:
            try:
                await asyncio.wait_for(self.ctx.before_stop(self.pod), timeout=min(grace, 5.0))
            except (TimeoutError, Exception) as e:  # draining is best effort; stopping is not
                counters["drain_failed"] += 1
                log.warning("pod %s/%s: draining before stop: %r", self.namespace, self.name, e)
        try:
            await self.stop(grace)
        except Exception:  # the object must still go: its processes are killed below
            counters["stop_failed"] += 1
            log.exception("pod %s/%s: stop failed", self.namespace, self.name)
            for proc in self.procs.values():
                proc.kill()
        await self._send()
        await self._terminated_in_api()
        await self.ctx.on_gone(self)

    async def stop(self, grace: float) -> None:
        """Stop every container (SIGTERM, SIGKILL after ``grace``) and the supervisor."""
        await self._halt()
        deadline = time.monotonic() + grace
        # app containers first, then sidecars in reverse order, as the kubelet does
        apps = [(n, p) for n, p in self.procs.items() if n not in self.sidecars]
        sides = [(n, p) for n, p in reversed(self.procs.items()) if n in self.sidecars]
        for group in (apps, *([s] for s in sides)):
            for name, _ in group:
                await self._event("Normal", "Killing", f"Stopping container {name}", name,
                                  name in self.sidecars)
            left = max(deadline - time.monotonic(), 0.0) if grace > 0 else 0.0
            codes = await asyncio.gather(*(self._stop_container(n, p, left) for n, p in group))
            for (name, proc), code in zip(group, codes, strict=True):
                rec = self._record(name)
                if rec is not None and code is not None and "running" in rec.state:
                    rec.state = {"terminated": self._terminated(proc, code)}
                    rec.ready = False
                    rec.started = False
        self.volumes.cleanup()
        self.changed()
        self.done.set()

    async def close(self) -> None:
        """Final flush and stop of the status sender."""
        await self._send()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher

    def _record(self, name: str) -> status.ContainerRecord | None:
        return next((r for r in [*self.inits, *self.apps] if r.name == name), None)

    # status -------------------------------------------------------------------------------

    def changed(self) -> None:
        self._dirty.set()

    def current_status(self) -> Obj:
        # a volume that can never be set up keeps the pod Pending (the kubelet retries
        # FailedMount; a Failed pod would be replaced by its ReplicaSet again and again)
        phase = status.phase(self.init_done, self.init_failed, self.apps, self.policy)
        now = status.now_rfc3339()
        sidecars = [r for r in self.inits if r.name in self.sidecars]
        conds = status.conditions(init_done=self.init_done, inits=self.inits,
                                  apps=[*sidecars, *self.apps], pod_phase=phase,
                                  prev=self._prev_conditions, now=now)
        self._prev_conditions = conds
        reason, message = self.failure or ("", "")
        return status.pod_status(phase_=phase, pod_ip=self.ip, host_ip=self.ctx.host_ip,
                                 start_time=self.start_time, inits=self.inits, apps=self.apps,
                                 conds=conds, reason=reason, message=message)

    async def _send(self) -> None:
        current = self.current_status()
        if current == self._last_sent:
            return
        self._last_sent = current
        try:
            await self.ctx.client.update_pod_status(self.namespace, self.name, current)
        except Exception:
            log.exception("status update for pod %s/%s failed", self.namespace, self.name)

    async def _flush_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(0.02)  # let a burst of changes coalesce
            self._dirty.clear()
            await self._send()

    async def _event(self, type_: str, reason: str, message: str, container: str | None = None,
                     init: bool = False) -> None:
        try:
            await self.ctx.client.record_event(ref(self.pod, container, init), type_, reason,
                                               message)
        except Exception:
            log.exception("event for pod %s/%s failed", self.namespace, self.name)

    # supervision --------------------------------------------------------------------------

    async def _run(self) -> None:
        await self._network_ready()
        if not await self._setup_volumes():
            return
        spec = self.pod.get("spec") or {}
        sidecars: list[asyncio.Task[bool]] = []
        try:
            for c, rec in zip(spec.get("initContainers") or [], self.inits, strict=True):
                if c["name"] in self.sidecars:
                    # a sidecar keeps running; the next container starts once it has started
                    sidecars.append(asyncio.create_task(self._container_loop(c, rec, True)))
                    while not rec.started:
                        await asyncio.sleep(0.05)
                    self._loops.add(sidecars[-1])
                elif not await self._container_loop(c, rec, init=True):
                    self.init_failed = True
                    self.changed()
                    return
            self.init_done = True
            for rec in self.apps:
                rec.state = {"waiting": {"reason": "ContainerCreating"}}
            self.changed()
            await asyncio.gather(*(self._container_loop(c, rec, init=False)
                                   for c, rec in zip(spec.get("containers") or [], self.apps,
                                                     strict=True)))
            # every app container is done for good (restartPolicy Never/OnFailure): the
            # sidecars stop too, so the pod can complete
            self._finishing = True
            await self._stop_sidecars()
            await asyncio.gather(*sidecars, return_exceptions=True)
        finally:
            for t in sidecars:
                t.cancel()

    async def _network_ready(self) -> None:
        if self.ctx.before_start is None:
            return
        await self._send()  # the store learns the pod's IP, so the mesh can give it a listener
        try:
            await asyncio.wait_for(self.ctx.before_start(self.pod), NETWORK_READY_TIMEOUT)
        except TimeoutError:
            log.warning("pod %s/%s: network not ready after %.0f s; starting its containers "
                        "anyway", self.namespace, self.name, NETWORK_READY_TIMEOUT)
            await self._event("Warning", "NetworkNotReady",
                              f"the pod's proxy listener was not up after "
                              f"{NETWORK_READY_TIMEOUT:.0f} s; containers started anyway")

    def _base_env(self) -> dict[str, str]:
        base = {k: os.environ[k] for k in HOST_ENV if k in os.environ}
        base.update(self.ctx.client.service_env(self.namespace))
        if self.ctx.extra_env is not None:
            base.update(self.ctx.extra_env(self.pod))
        base["HOSTNAME"] = self.name
        base["POD_IP"] = self.ip
        return base

    async def _prepare(self, c: Obj, rec: status.ContainerRecord, init: bool
                       ) -> tuple[Launch, dict[str, str]]:
        """Resolve image and environment, waiting (with back-off) until both succeed."""
        name, image = c["name"], c.get("image", "")
        wait = backoff.BackOff(self.ctx.backoff_initial, self.ctx.backoff_max)
        while True:
            delay = max(wait.next_delay(0.0), min(self.ctx.backoff_initial, 1.0))
            first_pull = name not in self._pulled
            if first_pull:
                await self._event("Normal", "Pulling", f'Pulling image "{image}"', name, init)
            try:
                image_env = self.ctx.catalog.check(image, c.get("command"), _mounted(c))
            except ImageError as e:
                await self._image_failed(rec, image, str(e), delay, init)
                continue
            try:
                facts = env.PodFacts(self.ip, self.ctx.host_ip, self.ctx.node_name,
                                     cpu_capacity=self.ctx.cpu_capacity)
                base = {**self._base_env(), **image_env}
                resolved = env.resolve_env(c, self.pod, facts, self.ctx.client.get_object, base)
                command, args = env.command_line(c, resolved)
                launch = self.ctx.catalog.resolve(image, command, args, mounted=_mounted(c))
            except ImageError as e:
                await self._image_failed(rec, image, str(e), delay, init)
                continue
            except env.EnvError as e:
                await self._config_error(rec, str(e), init, delay)
                continue
            if first_pull:
                self._pulled.add(name)
                await self._event("Normal", "Pulled",
                                  f'Successfully pulled image "{image}" in 0s (0s including '
                                  f"waiting): {launch.how}", name, init)
            else:
                await self._event("Normal", "Pulled",
                                  f'Container image "{image}" already present on machine',
                                  name, init)
            return launch, resolved

    async def _image_failed(self, rec: status.ContainerRecord, image: str, message: str,
                            delay: float, init: bool) -> None:
        rec.state = {"waiting": {"reason": "ErrImagePull", "message": message}}
        self.changed()
        await self._event("Warning", "Failed", f'Failed to pull image "{image}": {message}',
                          rec.name, init)
        await self._event("Warning", "Failed", "Error: ErrImagePull", rec.name, init)
        await asyncio.sleep(min(delay, 1.0))
        rec.state = {"waiting": {"reason": "ImagePullBackOff",
                                 "message": f'Back-off pulling image "{image}": ErrImagePull: '
                                            f"{message}"}}
        self.changed()
        await self._event("Normal", "BackOff", f'Back-off pulling image "{image}"', rec.name,
                          init)
        await self._event("Warning", "Failed", "Error: ImagePullBackOff", rec.name, init)
        await asyncio.sleep(delay)

    def _terminated(self, proc: ContainerProcess, code: int, message: str = "") -> Obj:
        term: Obj = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": status.now_rfc3339(proc.started_at),
            "finishedAt": status.now_rfc3339(proc.finished_at),
            "containerID": f"turnout://{proc.pid}",
        }
        if message:
            term["message"] = message
        return term

    async def _container_loop(self, c: Obj, rec: status.ContainerRecord, init: bool) -> bool:
        """Run one container until the restart policy lets it rest; True if it succeeded."""
        name = c["name"]
        sidecar = init and name in self.sidecars
        policy = self.policy if not init else ("Never" if self.policy == "Never" else "OnFailure")
        if sidecar:
            policy = "Always"
        crash = backoff.BackOff(self.ctx.backoff_initial, self.ctx.backoff_max)
        current = self.ctx.log_dir(self.namespace, self.name) / f"{name}.log"
        previous = self.ctx.log_dir(self.namespace, self.name) / f"{name}.previous.log"
        while True:
            c = self._spec_of(name, init) or c
            rec.image = str(c.get("image") or "")
            launch, container_env = await self._prepare(c, rec, init)
            await self._warn_held_ports(c, wildcard_only=True)
            cwd = launch.working_dir or self._workdir(c)
            try:
                argv = self.volumes.wrap(launch.argv, c, self._field_path(name, init),
                                         container_env, cwd)
            except (VolumeError, OSError) as e:
                await self._config_error(rec, str(e), init)
                continue
            if self._halted:  # being deleted: a swallowed cancellation must not start anything
                raise asyncio.CancelledError
            proc = ContainerProcess(argv, container_env, cwd, current,
                                    stdin=bool(c.get("stdin")),
                                    stdin_once=bool(c.get("stdinOnce")))
            self.procs[name] = proc
            message = ""
            try:
                pid = await proc.start()
            except OSError as e:
                code = 128
                message = f"failed to start container process {launch.argv[0]!r}: {e.strerror}"
                proc.started_at = proc.finished_at = time.time()
                await self._event("Warning", "Failed", f"Error: {message}", name, init)
            else:
                rec.container_id = f"turnout://{pid}"
                await self._event("Normal", "Created", f"Created container {name}", name, init)
                await self._event("Normal", "Started", f"Started container {name}", name, init)
                if not await self._post_start(c, proc, container_env, cwd, init):
                    self._kill_after_hook(name, proc)
                rec.state = {"running": {"startedAt": status.now_rfc3339(proc.started_at)}}
                has_startup = bool(c.get("startupProbe")) and (not init or sidecar)
                rec.started = not has_startup
                implicit = (not init or sidecar) and not c.get("readinessProbe") and rec.started
                port = first_tcp_port(c) if implicit else None
                # without a readiness probe, Ready waits for the first declared port to accept
                # connections: a process needs a moment to bind, and a Ready pod gets traffic
                rec.ready = implicit and port is None
                self.changed()
                watchers = [] if init and not sidecar else \
                    self._start_probes(c, rec, proc, container_env, cwd)
                if port is not None:
                    watchers.append(asyncio.create_task(self._ready_when_listening(
                        name, rec, port)))
                try:
                    code = await proc.wait()
                finally:
                    for w in watchers:
                        w.cancel()
            ran_for = (proc.finished_at or time.time()) - proc.started_at
            if code != 0 and ran_for < EARLY_EXIT and not proc.stopping:
                held = await self._warn_held_ports(c, wildcard_only=False)
                message = "; ".join(m for m in (message, held) if m)
            terminated = self._terminated(proc, code, message)
            if proc.pid is None:
                terminated["reason"] = "StartError"
            if init and code == 0:
                rec.ready = True
            else:
                rec.ready = False
            rec.started = False
            respec = name in self._respec
            self._respec.discard(name)
            restart = respec or policy == "Always" or (policy == "OnFailure" and code != 0)
            if not restart or (sidecar and self._finishing):
                rec.state = {"terminated": terminated}
                self.changed()
                return code == 0
            rec.last_state = {"terminated": terminated}
            delay = 0.0 if respec else crash.next_delay(ran_for)
            if delay > 0:
                pod_id = f"{self.name}_{self.namespace}({self.uid})"
                rec.state = {"waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {backoff.go_duration(delay)} restarting failed "
                               f"container={name} pod={pod_id}",
                }}
                self.changed()
                await self._event("Warning", "BackOff",
                                  f"Back-off restarting failed container {name} in pod {pod_id}",
                                  name, init)
                await asyncio.sleep(delay)
            else:
                rec.state = {"waiting": {"reason": "ContainerCreating"}}
                self.changed()
            logs.rotate(current, previous)
            rec.restart_count += 1

    def _workdir(self, c: Obj) -> str:
        wd = c.get("workingDir")
        if wd and Path(wd).is_dir():
            return str(wd)
        path = self.ctx.log_dir(self.namespace, self.name).parent / "root"
        path.mkdir(parents=True, exist_ok=True)
        return str(path)


def _mounted(c: Obj) -> list[str]:
    """The paths where a container sees its volumes."""
    return [str(vm.get("mountPath") or "") for vm in c.get("volumeMounts") or ()
            if vm.get("mountPath")]
