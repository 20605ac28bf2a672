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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from turnout.runtime import backoff, env, logs, ports, probes, status
from turnout.runtime.catalog import Catalog, ImageError, Launch
from turnout.runtime.client import KubeletClient
from turnout.runtime.process import ContainerProcess
from turnout.types import Obj

log = logging.getLogger(__name__)

HOST_ENV = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "PYTHONPATH",
            "VIRTUAL_ENV", "SYSTEMROOT")
EARLY_EXIT = 10.0
NETWORK_READY_TIMEOUT = 10.0
IMPLICIT_READY_TIMEOUT = 10.0
"""A container that exits within this many seconds is checked for port conflicts."""
PORT_HINT = ("pods share this machine's network, so listen on $(POD_IP) instead of 0.0.0.0 "
             "(for example --host=$(POD_IP))")


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


def ref(pod: Obj, container: str | None = None, init: bool = False) -> Obj:
    meta = pod.get("metadata") or {}
    out: Obj = {"kind": "Pod", "apiVersion": "v1", "namespace": meta.get("namespace", "default"),
                "name": meta.get("name"), "uid": meta.get("uid", "")}
    if meta.get("resourceVersion"):
        out["resourceVersion"] = meta["resourceVersion"]
    if container:
        out["fieldPath"] = f"spec.{'initContainers' if init else 'containers'}{{{container}}}"
    return out


def grace_seconds(pod: Obj) -> float:
    meta = pod.get("metadata") or {}
    if meta.get("deletionGracePeriodSeconds") is not None:
        return float(meta["deletionGracePeriodSeconds"])
    value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return 30.0 if value is None else float(value)


class PodWorker:
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
        self.inits = [status.ContainerRecord(c["name"], c.get("image", "")) for c in inits]
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

    # lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_loop())
        self._main = asyncio.create_task(self._run())
        self.changed()

    def update(self, pod: Obj) -> None:
        self.pod = pod
        if (pod.get("metadata") or {}).get("deletionTimestamp") and self._stopping is None:
            self._stopping = asyncio.create_task(self._delete(grace_seconds(pod)))

    async def _delete(self, grace: float) -> None:
        if self.ctx.before_stop is not None and self.procs:
            try:
                await asyncio.wait_for(self.ctx.before_stop(self.pod), timeout=min(grace, 5.0))
            except (TimeoutError, Exception):  # draining is best effort; stopping is not
                pass
        await self.stop(grace)
        await self._send()
        await self.ctx.client.pod_terminated(self.namespace, self.name)
        await self.ctx.on_gone(self)

    async def stop(self, grace: float) -> None:
        """Stop every container (SIGTERM, SIGKILL after ``grace``) and the supervisor."""
        if self._main is not None:
            self._main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._main
        procs = list(self.procs.items())
        if procs:
            for name, _ in procs:
                await self._event("Normal", "Killing", f"Stopping container {name}", name)
        codes = await asyncio.gather(*(p.stop(grace) for _, p in procs))
        for (name, proc), code in zip(procs, codes, strict=True):
            rec = self._record(name)
            if rec is not None and code is not None and "running" in rec.state:
                rec.state = {"terminated": self._terminated(proc, code)}
                rec.ready = False
                rec.started = False
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
        phase = status.phase(self.init_done, self.init_failed, self.apps, self.policy)
        now = status.now_rfc3339()
        conds = status.conditions(init_done=self.init_done, inits=self.inits, apps=self.apps,
                                  pod_phase=phase, prev=self._prev_conditions, now=now)
        self._prev_conditions = conds
        return status.pod_status(phase_=phase, pod_ip=self.ip, host_ip=self.ctx.host_ip,
                                 start_time=self.start_time, inits=self.inits, apps=self.apps,
                                 conds=conds)

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
        spec = self.pod.get("spec") or {}
        for c, rec in zip(spec.get("initContainers") or [], self.inits, strict=True):
            if not await self._container_loop(c, rec, init=True):
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
                image_env = self.ctx.catalog.check(image, c.get("command"))
            except ImageError as e:
                await self._image_failed(rec, image, str(e), delay, init)
                continue
            try:
                facts = env.PodFacts(self.ip, self.ctx.host_ip, self.ctx.node_name,
                                     cpu_capacity=self.ctx.cpu_capacity)
                base = {**self._base_env(), **image_env}
                resolved = env.resolve_env(c, self.pod, facts, self.ctx.client.get_object, base)
                command, args = env.command_line(c, resolved)
                launch = self.ctx.catalog.resolve(image, command, args)
            except ImageError as e:
                await self._image_failed(rec, image, str(e), delay, init)
                continue
            except env.EnvError as e:
                rec.state = {"waiting": {"reason": "CreateContainerConfigError",
                                         "message": str(e)}}
                self.changed()
                await self._event("Warning", "Failed", f"Error: {e}", name, init)
                await asyncio.sleep(delay)
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
        policy = self.policy if not init else ("Never" if self.policy == "Never" else "OnFailure")
        crash = backoff.BackOff(self.ctx.backoff_initial, self.ctx.backoff_max)
        current = self.ctx.log_dir(self.namespace, self.name) / f"{name}.log"
        previous = self.ctx.log_dir(self.namespace, self.name) / f"{name}.previous.log"
        while True:
            launch, container_env = await self._prepare(c, rec, init)
            await self._warn_held_ports(c, wildcard_only=True)
            cwd = launch.working_dir or self._workdir(c)
            proc = ContainerProcess(launch.argv, container_env, cwd, current)
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
                rec.state = {"running": {"startedAt": status.now_rfc3339(proc.started_at)}}
                has_startup = bool(c.get("startupProbe")) and not init
                rec.started = not has_startup
                implicit = not init and not c.get("readinessProbe") and rec.started
                port = _first_tcp_port(c) if implicit else None
                # without a readiness probe, Ready waits for the first declared port to accept
                # connections: a process needs a moment to bind, and a Ready pod gets traffic
                rec.ready = implicit and port is None
                self.changed()
                await self._event("Normal", "Created", f"Created container {name}", name, init)
                await self._event("Normal", "Started", f"Started container {name}", name, init)
                watchers = [] if init else self._start_probes(c, rec, proc, container_env, cwd)
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
            restart = policy == "Always" or (policy == "OnFailure" and code != 0)
            if not restart:
                rec.state = {"terminated": terminated}
                self.changed()
                return code == 0
            rec.last_state = {"terminated": terminated}
            delay = crash.next_delay(ran_for)
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
            ok, message = await probes.check(probe, pod_ip=self.ip, container=c,
                                             env=container_env, cwd=cwd)
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
        task = asyncio.create_task(proc.stop(grace_seconds(self.pod)))
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


def _first_tcp_port(c: Obj) -> int | None:
    """The first TCP containerPort a container declares, if any."""
    for p in c.get("ports") or []:
        if isinstance(p, dict) and str(p.get("protocol") or "TCP") == "TCP" and \
                isinstance(p.get("containerPort"), int):
            return int(p["containerPort"])
    return None
