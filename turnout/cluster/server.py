"""The cluster process: store, controllers, kubelet and the API server in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import uvicorn

from turnout import netshim
from turnout.api import stream
from turnout.api.app import ApiContext, make_app
from turnout.cluster import bootstrap, preflight, registry, tls
from turnout.cluster.settings import ClusterSettings
from turnout.cluster.state import StateDir
from turnout.controllers.base import Controller, Key, Manager
from turnout.controllers.deployment import DeploymentController
from turnout.controllers.endpoints import EndpointsController
from turnout.controllers.events import prune
from turnout.controllers.kinds import workload_controllers
from turnout.controllers.lifecycle import GarbageCollector, NamespaceController
from turnout.controllers.mesh import MeshController
from turnout.controllers.pods import ApiKubeletClient, KubeletLogs, PodController
from turnout.controllers.replicaset import ReplicaSetController
from turnout.controllers.volumes import CertgenStandIn, VolumeBinder
from turnout.demo import catalog as demo_catalog
from turnout.kube.resources import Registry
from turnout.mesh import proxy_env
from turnout.mesh.mesh import Mesh
from turnout.mesh.snapshot import MeshSettings
from turnout.rollout import controllers as rollout_controllers
from turnout.rollout.metrics import Arm
from turnout.runtime.catalog import Catalog
from turnout.runtime.exec import KubeletHost
from turnout.runtime.kubelet import Kubelet
from turnout.store.db import Event, Store
from turnout.store.objects import Objects
from turnout.telemetry.service import Telemetry
from turnout.types import Obj
from turnout.web.app import WebContext
from turnout.web.app import make_app as make_web_app

log = logging.getLogger("turnout")


class Cluster:
    """Everything but the HTTP listener; tests can run it in-process."""

    def __init__(self, state: StateDir, settings: ClusterSettings) -> None:
        state.ensure()
        self.state = state
        self.settings = settings
        self.port = settings.api_port
        self.store = Store(state.db)
        self.objects = Objects(self.store, Registry(),
                               ipaddress.ip_network(settings.service_network))
        bootstrap.bootstrap(self.objects)
        for moved in self.objects.readdress_services():
            log.info("Service %s: new ClusterIP in this cluster's network %s", moved,
                     settings.service_network)
        self.mesh_settings = MeshSettings(access_log_path=str(state.root / "access.log"),
                                          node_address=settings.node_address,
                                          node_port_offset=settings.node_port_offset)
        self.mesh = Mesh(state.root, self.mesh_settings)
        catalog = Catalog.default(state.root)
        demo_catalog.register(catalog)
        self.hosts_file = state.root / "hosts.json"
        self.kubelet = Kubelet(state.root, ApiKubeletClient(self.objects), catalog,
                               extra_env=self._pod_env, before_stop=self._drain,
                               before_start=self._network_ready,
                               pod_network=settings.pod_network)
        self.mesh_controller = MeshController(self.objects, self.mesh, self.mesh_settings,
                                              self.hosts_file)
        self.telemetry = Telemetry(state.root, state.root / "access.log",
                                   metrics_port=settings.metrics_port or None)
        self.manager = Manager(self.objects, [
            NamespaceController(self.objects),
            DeploymentController(self.objects),
            ReplicaSetController(self.objects),
            *workload_controllers(self.objects),
            EndpointsController(self.objects),
            GarbageCollector(self.objects),
            VolumeBinder(self.objects),
            CertgenStandIn(self.objects),
            PodController(self.objects, self.kubelet),
            self.mesh_controller,
            TelemetryFeeder(self.objects, self.telemetry),
            *rollout_controllers(self.objects, TelemetryMetrics(self.telemetry)),
        ])
        self.api = ApiContext(self.objects, state.token(), f"127.0.0.1:{self.port}",
                              logs=KubeletLogs(self.kubelet), telemetry=self.telemetry)
        self._housekeeping: asyncio.Task[None] | None = None

    def _pod_env(self, pod: Obj) -> dict[str, str]:
        """What every pod gets from the cluster: its proxy, and Service names for TCP clients."""
        meta = pod["metadata"]
        ip = self.kubelet.pod_ip(meta["namespace"], meta["name"])
        with_ip = {**pod, "status": {**(pod.get("status") or {}), "podIP": ip}}
        env = netshim.pod_env(self.hosts_file, meta["namespace"])
        if self.telemetry.metrics_port:
            env["TURNOUT_METRICS_URL"] = f"http://127.0.0.1:{self.telemetry.metrics_port}/metrics"
        env.update(proxy_env.pod_proxy_env(with_ip, self.mesh_settings))
        return env

    async def _network_ready(self, pod: Obj) -> None:
        """The pod's IP is stored: wait until Envoy runs a config with its proxy listener."""
        await self.mesh_controller.wait_applied(self.store.resource_version)

    def node_ports(self) -> list[tuple[str, int]]:
        """(namespace/name, nodePort) of every stored NodePort Service but the built-in ones."""
        builtin = {(s.gateway_namespace, s.gateway_service),
                   (s.nginx_namespace, s.nginx_service)} if (s := self.mesh_settings) else set()
        out = []
        for svc in self.store.iter("services"):
            meta = svc["metadata"]
            if (meta.get("namespace"), meta.get("name")) in builtin:
                continue
            for p in (svc.get("spec") or {}).get("ports") or []:
                if isinstance(p, dict) and isinstance(p.get("nodePort"), int):
                    out.append((f"{meta.get('namespace')}/{meta.get('name')}", p["nodePort"]))
        return out

    async def _drain(self, pod: Obj) -> None:
        """A deleted pod leaves Envoy's endpoints before its process gets SIGTERM, so no request
        is sent to a stopping process (the kubelet bounds the wait)."""
        await self.mesh_controller.wait_applied(self.store.resource_version)
        await asyncio.sleep(0.05)  # let in-flight connections finish their current request

    async def start(self) -> None:
        netshim.resolve_in_process(self.hosts_file)
        await self.telemetry.start()
        await self.mesh.start()
        await self.manager.start()
        self._housekeeping = asyncio.create_task(self._housekeep())

    async def _housekeep(self) -> None:
        while True:
            await asyncio.sleep(60)
            try:
                prune(self.objects)
            except Exception:
                log.exception("event pruning failed")

    async def stop(self) -> None:
        self.api.stopping.set()
        if self._housekeeping:
            self._housekeeping.cancel()
        await self.manager.stop()
        await self.kubelet.shutdown()
        await self.mesh.stop()
        await self.telemetry.stop()
        self.store.close()


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after serving, which would kill us before pods and Envoy stop;
    the cluster handles signals itself and shuts everything down in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_exit(self) -> None:
        self.should_exit = True


class TelemetryMetrics:
    """A rollout's `MetricSource` over the cluster's own telemetry: latencies in ms with
    microsecond resolution, in the order the requests became known (`Telemetry.series`)."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    def samples(self, namespace: str, arm: Arm, since: timedelta,
                start: float | None = None) -> tuple[list[float], list[bool]]:
        return self.telemetry.series(namespace, since, start=start, workload=arm.workload,
                                     revision=arm.revision, service=arm.service,
                                     version=arm.version)


class TelemetryFeeder(Controller):
    """Keeps telemetry's pod directory current, so each request is tagged with its versions."""

    name = "telemetry-pods"

    def __init__(self, objects: Objects, telemetry: Telemetry) -> None:
        super().__init__(objects)
        self.telemetry = telemetry
        for pod in objects.store.iter("pods"):
            telemetry.update_pod(pod)

    def on_event(self, ev: Event) -> None:
        if ev.key == "pods":
            self.telemetry.update_pod(ev.obj, deleted=ev.type == "DELETED")

    async def reconcile(self, key: Key) -> None:
        return None


async def serve(state: StateDir, settings: ClusterSettings,
                on_ready: Callable[[float], None] | None = None) -> None:
    """Run the cluster until SIGTERM/SIGINT; raises `PortsTaken` before starting anything when
    one of its ports (API, dashboard, metrics, built-in and stored NodePorts) is held."""
    t0 = time.monotonic()
    port = settings.api_port
    cluster = Cluster(state, settings)
    taken = preflight.check(settings, cluster.node_ports())
    if taken:
        cluster.store.close()
        raise preflight.PortsTaken(state.root, taken)
    registry.register(state.root)
    state.write_kubeconfig(port)
    _, cert, key = tls.ensure(state.root)
    # exec, attach and port-forward take their connections from uvicorn (WebSocket and SPDY)
    http, ws = stream.protocols(cluster.objects, cluster.api.token, KubeletHost(cluster.kubelet))
    config = uvicorn.Config(make_app(cluster.api), host="127.0.0.1", port=port,
                            ssl_certfile=str(cert), ssl_keyfile=str(key),
                            log_level="warning", lifespan="off", access_log=False,
                            timeout_graceful_shutdown=2, http=http, ws=ws)
    server = _Server(config)
    dash_port = settings.dashboard_port
    web = make_web_app(WebContext(
        cluster.objects, cluster.telemetry, cluster.api.token,
        frozenset({f"127.0.0.1:{dash_port}", f"localhost:{dash_port}"})))
    dashboard = _Server(uvicorn.Config(web, host="127.0.0.1", port=dash_port, http="h11",
                                       ws="none", log_level="warning", lifespan="off",
                                       access_log=False, timeout_graceful_shutdown=1))
    loop = asyncio.get_running_loop()

    def request_exit() -> None:
        server.request_exit()
        dashboard.request_exit()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_exit)
    # the API answers only once the cluster runs (Envoy ready, controllers started): a client
    # that sees /version may use everything at once
    await cluster.start()
    serving = asyncio.create_task(server.serve())
    dashboard_task = asyncio.create_task(dashboard.serve())
    while not (server.started and dashboard.started) and not (serving.done()
                                                               or dashboard_task.done()):
        await asyncio.sleep(0.01)
    if not dashboard.started:  # lost a race for its port since the pre-flight check
        log.error("the dashboard could not listen on 127.0.0.1:%s; stopping", dash_port)
        server.request_exit()
    elif server.started:
        state.write_server(pid=os.getpid(), port=port, dashboard_port=dash_port,
                           started=time.time())
        if on_ready is not None:
            on_ready(time.monotonic() - t0)
    try:
        await serving
    finally:
        dashboard.request_exit()
        with contextlib.suppress(SystemExit):  # uvicorn exits this way when it cannot bind
            await dashboard_task
        await cluster.stop()
        info = state.read_server()
        if info.get("pid") == os.getpid():
            state.write_server(port=port, dashboard_port=dash_port)
