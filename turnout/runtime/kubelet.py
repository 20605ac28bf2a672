"""The kubelet: keeps one :class:`~turnout.runtime.pod.PodWorker` per pod the API server holds.

``sync_pod`` is called for every add/update (and for every pod when turnout starts again);
``delete_pod`` when the object is gone. Pod IPs are leased from a file in the state directory so
an ``up`` after ``down`` gives pods their old addresses back.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from turnout.netshim import etchosts
from turnout.runtime import backoff, ipam, mountns
from turnout.runtime.catalog import Catalog
from turnout.runtime.client import KubeletClient
from turnout.runtime.ipam import AddressPool
from turnout.runtime.pod import Context, PodWorker, grace_seconds
from turnout.types import Obj

BACKOFF_ENV = "TURNOUT_BACKOFF_SECONDS"
SYNC_SECONDS = 1.0
"""How often volume contents and pods' hosts files follow their sources (the kubelet's sync
period is a minute; seconds let an edited ConfigMap reach its pods while a user watches)."""
log = logging.getLogger(__name__)
counters = {"sync_failed": 0, "hosts_read_failed": 0, "log_claim_failed": 0}


def _key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


class Kubelet:
    def __init__(self, state_dir: Path, client: KubeletClient, catalog: Catalog, *,
                 node_name: str = "turnout", host_ip: str = "127.0.0.1",
                 extra_env: Callable[[Obj], dict[str, str]] | None = None,
                 backoff_seconds: float | None = None,
                 before_stop: Callable[[Obj], Awaitable[None]] | None = None,
                 before_start: Callable[[Obj], Awaitable[None]] | None = None,
                 pod_network: str = str(ipam.NETWORK),
                 hosts_file: Path | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.client = client
        self.catalog = catalog
        self.node_name = node_name
        self.host_ip = host_ip
        if backoff_seconds is None:
            backoff_seconds = float(os.environ.get(BACKOFF_ENV) or backoff.DEFAULT_INITIAL)
        self.pool = AddressPool(self.state_dir / "runtime" / "pod-ips.json",
                                ipaddress.IPv4Network(pod_network))
        self.ctx = Context(
            state_dir=self.state_dir, client=client, catalog=catalog, node_name=node_name,
            host_ip=host_ip, extra_env=extra_env, backoff_initial=backoff_seconds,
            backoff_max=backoff_seconds * (backoff.DEFAULT_MAX / backoff.DEFAULT_INITIAL),
            owner_of=self.owner_of, log_dir=self._log_dir, on_gone=self._gone,
            before_stop=before_stop, before_start=before_start,
            namespaces=mountns.available(), hosts=self.hosts, node_hosts=_node_hosts(),
        )
        if not self.ctx.namespaces[0]:
            log.warning("pods run without private mount namespaces (%s): pods that mount "
                        "volumes fail; Service names resolve only in Python programs",
                        self.ctx.namespaces[1])
        self.hosts_file = hosts_file or self.state_dir / "hosts.json"
        self._hosts: dict[str, str] = {}
        self._hosts_mtime = -1.0
        self._hosts_version = 0
        self.workers: dict[str, PodWorker] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self._sync: asyncio.Task[None] | None = None

    def hosts(self) -> dict[str, str]:
        """The cluster's Service name map, re-read when its file changed."""
        self._reload_hosts()
        return self._hosts

    def _reload_hosts(self) -> bool:
        try:
            mtime = self.hosts_file.stat().st_mtime
        except FileNotFoundError:
            return False
        if mtime == self._hosts_mtime:
            return False
        try:
            self._hosts = {str(k): str(v) for k, v in json.loads(self.hosts_file.read_text())
                           .items()}
        except (OSError, ValueError, AttributeError) as e:
            counters["hosts_read_failed"] += 1
            log.warning("cannot read the Service name map %s: %s", self.hosts_file, e)
            return False
        self._hosts_mtime = mtime
        self._hosts_version += 1
        return True

    async def _sync_loop(self) -> None:
        seen = -1
        while True:
            await asyncio.sleep(SYNC_SECONDS)
            try:
                self._reload_hosts()
                changed, seen = seen != self._hosts_version, self._hosts_version
                for worker in list(self.workers.values()):
                    await worker.sync_volumes(changed)
            except Exception:
                counters["sync_failed"] += 1
                log.exception("kubelet sync failed")

    def _log_dir(self, namespace: str, name: str) -> Path:
        return self.state_dir / "pods" / namespace / name / "logs"

    def _claim_logs(self, namespace: str, name: str, uid: str) -> None:
        """A pod's logs belong to its uid: a new pod of the same name starts with none (the
        same pod after a restart of turnout keeps them)."""
        logs = self._log_dir(namespace, name)
        owner = logs / ".uid"
        try:
            if owner.exists() and owner.read_text() != uid:
                for f in logs.glob("*.log"):
                    f.unlink()
            logs.mkdir(parents=True, exist_ok=True)
            owner.write_text(uid)
        except OSError as e:
            counters["log_claim_failed"] += 1
            log.warning("logs of %s/%s: %s", namespace, name, e)

    def log_path(self, namespace: str, pod: str, container: str, previous: bool = False) -> Path:
        suffix = ".previous.log" if previous else ".log"
        return self._log_dir(namespace, pod) / f"{container}{suffix}"

    def pod_ip(self, namespace: str, name: str) -> str | None:
        return self.pool.get(_key(namespace, name))

    def container_running(self, namespace: str, pod: str, container: str) -> bool:
        """Whether the container has a live process (lets ``logs -f`` know when to end)."""
        worker = self.workers.get(_key(namespace, pod))
        proc = worker.procs.get(container) if worker else None
        return proc is not None and proc.running

    def owner_of(self, pid: int) -> str | None:
        """"pod ns/name (container c)" when ``pid`` runs in one of our pods' process groups."""
        try:
            sid = os.getsid(pid)
        except OSError:
            return None
        for worker in self.workers.values():
            for cname, proc in worker.procs.items():
                if proc.pid in (pid, sid):
                    return f"pod {worker.namespace}/{worker.name} (container {cname}, pid {pid})"
        return None

    async def sync_pod(self, pod: Obj) -> None:
        """Start, update or begin deleting a pod; returns at once."""
        meta = pod.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        name = str(meta["name"])
        key = _key(namespace, name)
        uid = str(meta.get("uid") or "")
        worker = self.workers.get(key)
        if worker is not None and worker.uid != uid:
            await self._forget(key, grace=0.0)
            worker = None
        if worker is not None:
            worker.update(pod)
            return
        deleting = bool(meta.get("deletionTimestamp"))
        phase = (pod.get("status") or {}).get("phase")
        if deleting:
            await self.client.pod_terminated(namespace, name)
            self.pool.release(key)
            return
        if phase in ("Succeeded", "Failed"):
            return  # finished before turnout restarted: nothing to run again
        if self._sync is None:
            self._sync = asyncio.create_task(self._sync_loop())
        self._claim_logs(namespace, name, uid)
        ip = self.pool.allocate(key, uid)
        worker = PodWorker(self.ctx, pod, ip)
        self.workers[key] = worker
        worker.start()

    async def delete_pod(self, namespace: str, name: str) -> None:
        """The object is gone: kill its processes now and free its address."""
        key = _key(namespace, name)
        await self._forget(key, grace=0.0)
        self.pool.release(key)

    async def _forget(self, key: str, grace: float) -> None:
        worker = self.workers.pop(key, None)
        if worker is None:
            return
        await worker.stop(grace)
        await worker.close()

    async def _gone(self, worker: PodWorker) -> None:
        key = _key(worker.namespace, worker.name)
        if self.workers.get(key) is worker:
            del self.workers[key]
            self.pool.release(key)
        task = asyncio.create_task(worker.close())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop all pods (SIGTERM, SIGKILL after their grace period, or ``grace``)."""
        workers = list(self.workers.items())
        self.workers.clear()
        if self._sync is not None:
            self._sync.cancel()

        async def stop(w: PodWorker) -> None:
            await w.stop(grace_seconds(w.pod) if grace is None else grace)
            await w.close()

        await asyncio.gather(*(stop(w) for _, w in workers))
        for task in list(self._stopping):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _node_hosts() -> list[str]:
    try:
        return etchosts.node_lines(Path("/etc/hosts").read_text())
    except OSError:
        return []
