"""The kubelet's link to the API: schedules pods onto the one node and hands them to the runtime.

`ApiKubeletClient` is the runtime's view of the control plane; `PodController` turns pod events
into `sync_pod` / `delete_pod` calls; `KubeletLogs` serves `kubectl logs` from the runtime's files.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable

from turnout.controllers.base import Controller, Key
from turnout.controllers.events import Recorder
from turnout.kube import errors, svcenv
from turnout.runtime import logs as runtime_logs
from turnout.runtime.kubelet import Kubelet
from turnout.store.db import Event
from turnout.store.objects import Objects
from turnout.types import Obj

NODE = "turnout"


class ApiKubeletClient:
    def __init__(self, objects: Objects) -> None:
        self.objects = objects
        self.store = objects.store
        self.events = Recorder(objects, "kubelet", NODE)

    def get_object(self, key: str, namespace: str, name: str) -> Obj | None:
        return self.store.get(key, namespace, name)

    def service_env(self, namespace: str) -> dict[str, str]:
        svcs = list(self.store.iter("services", namespace))
        if namespace != "default":
            k = self.store.peek("services", "default", "kubernetes")
            if k is not None:
                svcs.append(k)
        return svcenv.service_env(svcs)

    async def update_pod_status(self, namespace: str, name: str, status: Obj) -> None:
        pod = self.store.get("pods", namespace, name)
        if pod is None or pod.get("status") == status:
            return
        pod["status"] = status
        self.store.update("pods", pod)

    async def pod_terminated(self, namespace: str, name: str) -> None:
        rt = self.objects.registry.by_key("pods")
        assert rt is not None
        self.objects.finalize(rt, namespace, name)

    async def record_event(self, involved: Obj, type_: str, reason: str, message: str) -> None:
        obj = {"kind": involved.get("kind", "Pod"), "apiVersion": involved.get("apiVersion", "v1"),
               "metadata": {"name": involved.get("name"), "namespace": involved.get("namespace"),
                            "uid": involved.get("uid")}}
        self.events.record(obj, type_, reason, message, involved.get("fieldPath", ""))


class PodController(Controller):
    name = "kubelet"
    resync_seconds = 10.0

    def __init__(self, objects: Objects, kubelet: Kubelet) -> None:
        super().__init__(objects)
        self.kubelet = kubelet
        self.scheduler_events = Recorder(objects, "default-scheduler")

    def all_keys(self) -> Iterable[Key]:
        return [(p["metadata"]["namespace"], p["metadata"]["name"])
                for p in self.store.iter("pods")]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == "pods":
            yield (ev.namespace, ev.name)

    async def reconcile(self, key: Key) -> None:
        ns, name = key
        pod = self.store.get("pods", ns, name)
        if pod is None:
            await self.kubelet.delete_pod(ns, name)
            return
        if not pod["spec"].get("nodeName"):
            pod["spec"]["nodeName"] = NODE
            try:
                pod = self.store.update("pods", pod, expect_rv=pod["metadata"]["resourceVersion"])
            except errors.ApiError:
                self.enqueue(key)
                return
            self.scheduler_events.record(pod, "Normal", "Scheduled",
                                         f"Successfully assigned {ns}/{name} to {NODE}")
        await self.kubelet.sync_pod(pod)


class KubeletLogs:
    """`LogSource` for the API, reading the runtime's per-container log files."""

    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet

    def read(self, namespace: str, pod: str, container: str, *, previous: bool,
             timestamps: bool, tail: int | None, since_seconds: int | None,
             limit_bytes: int | None) -> bytes:
        path = self.kubelet.log_path(namespace, pod, container, previous)
        if previous and not path.exists():
            raise errors.bad_request(f'previous terminated container "{container}" in pod '
                                     f'"{pod}" not found')
        return runtime_logs.read_log(path, timestamps=timestamps, tail=tail,
                                     since_seconds=since_seconds, limit_bytes=limit_bytes)

    def follow(self, namespace: str, pod: str, container: str, *, timestamps: bool,
               tail: int | None, since_seconds: int | None) -> AsyncIterator[bytes]:
        path = self.kubelet.log_path(namespace, pod, container)
        done: Callable[[], bool] = lambda: not self.kubelet.container_running(  # noqa: E731
            namespace, pod, container)
        return runtime_logs.follow_log(path, timestamps=timestamps, tail=tail,
                                       since_seconds=since_seconds, done=done)


