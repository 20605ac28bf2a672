"""Per-pod names of headless Services (`web-0.web:8080`) route to that pod, from every pod."""

from __future__ import annotations

from typing import Any

from turnout.mesh.translate import EnvoyConfig, translate
from turnout.telemetry import records
from turnout.telemetry.identity import Directory
from turnout.types import Obj

from .. import helpers as h

WEB = {"app": "web"}


def sts_pod(i: int, ns: str = "wl", ready: bool = True, subdomain: str = "web") -> Obj:
    p = h.pod(f"web-{i}", ns, f"127.77.9.{i + 1}", WEB, ready=ready,
              ports=[{"name": "http", "containerPort": 8080}])
    p["spec"].update(hostname=f"web-{i}", subdomain=subdomain)
    return p


def headless(ports: list[Obj] | None = None, **spec: Any) -> Obj:
    svc = h.service("web", "wl", "None", ports or [{"port": 8080, "name": "http"}], WEB)
    svc["spec"].update(spec)
    return svc


def world(*extra: Obj, svc: Obj | None = None, injected: bool = False) -> list[Obj]:
    return [h.namespace("wl", injected), h.namespace("other", injected),
            svc or headless(), sts_pod(0), sts_pod(1), sts_pod(2),
            h.pod("client", "wl", "127.77.9.50", {}), h.pod("far", "other", "127.77.9.51", {}),
            *extra]


def config(objs: list[Obj]) -> EnvoyConfig:
    return translate(h.snap(objs))


def lands(cfg: EnvoyConfig, src: str, url: str) -> tuple[str, tuple[str, ...]]:
    out = h.send(cfg, src, url)
    assert out.status is None, out
    (dest,) = out.destinations
    assert dest.exists
    return dest.cluster, dest.endpoints


POD2 = "outbound|8080||web-2.web.wl.svc.cluster.local"


def test_per_pod_names_reach_that_pod_in_every_qualified_form() -> None:
    for injected in (False, True):
        cfg = config(world(injected=injected))
        for name in ("web-2.web", "web-2.web.wl", "web-2.web.wl.svc",
                     "web-2.web.wl.svc.cluster.local"):
            assert lands(cfg, "127.77.9.50", f"http://{name}:8080/") == (
                POD2, ("127.77.9.3:8080 (web-2.wl)",)), (injected, name)
        assert lands(cfg, "127.77.9.50", "http://web-0.web:8080/")[1] == (
            "127.77.9.1:8080 (web-0.wl)",)
        # another namespace: qualified forms only, as with a pod's DNS search path
        assert lands(cfg, "127.77.9.51", "http://web-2.web.wl:8080/")[0] == POD2
        assert h.send(cfg, "127.77.9.51", "http://web-2.web:8080/").route_name == "passthrough"


def test_the_service_name_of_a_headless_service_reaches_its_ready_pods() -> None:
    objs = world()
    objs[4] = sts_pod(1, ready=False)
    cluster, eps = lands(config(objs), "127.77.9.50", "http://web:8080/")
    assert cluster.endswith("|web.wl.svc.cluster.local")
    assert eps == ("127.77.9.1:8080 (web-0.wl)", "127.77.9.3:8080 (web-2.wl)")


def test_the_pod_port_is_the_one_a_client_uses() -> None:
    # service port 80 → targetPort 8080: the per-pod name answers at the pod's port, as DNS
    # to the pod address would; a named targetPort resolves against the pod's container ports
    for target in (8080, "http"):
        cfg = config(world(svc=headless([{"port": 80, "name": "http", "targetPort": target}])))
        assert lands(cfg, "127.77.9.50", "http://web-1.web:8080/")[1] == (
            "127.77.9.2:8080 (web-1.wl)",)
        assert h.send(cfg, "127.77.9.50", "http://web-1.web/").route_name == "passthrough"


def test_only_published_pods_get_names() -> None:
    objs = world()
    objs[5] = sts_pod(2, ready=False)
    cfg = config(objs)
    assert POD2 not in cfg.clusters
    assert h.send(cfg, "127.77.9.50", "http://web-2.web:8080/").route_name == "passthrough"
    objs[2] = headless(publishNotReadyAddresses=True)
    cfg = config(objs)
    assert lands(cfg, "127.77.9.50", "http://web-2.web:8080/")[0] == POD2
    # a pod whose subdomain names no headless Service, or a Service with a ClusterIP: no names
    assert not [c for c in config(world(sts_pod(7, subdomain="nope"))).clusters
                if c.startswith("outbound|8080||web-7")]
    cfg = config(world(svc=h.service("web", "wl", "127.77.200.9",
                                     [{"port": 8080, "name": "http"}], WEB)))
    assert not [c for c in cfg.clusters if "web-0" in c]


def test_per_pod_clusters_are_eds_with_one_endpoint_and_only_for_http_ports() -> None:
    cfg = config(world())
    assert cfg.clusters[POD2]["type"] == "EDS"
    lb = cfg.endpoints[POD2]["endpoints"][0]["lb_endpoints"]
    assert [e["endpoint"]["address"]["socket_address"] for e in lb] == [
        {"address": "127.77.9.3", "port_value": 8080}]
    tcp = config(world(svc=headless([{"port": 5432, "name": "tcp-pg"}])))
    assert not [c for c in tcp.clusters if "web-" in c]


def test_a_per_pod_short_name_wins_over_a_service_of_the_same_name() -> None:
    # Service `web-0` in namespace `web` is `web-0.web` too: Envoy rejects duplicate domains;
    # from namespace `wl` the DNS search path finds the pod first, from elsewhere the Service
    objs = world(h.namespace("web"),
                 h.service("web-0", "web", "127.77.200.7", [{"port": 8080}], {"x": "y"}))
    for table in config(objs).routes.values():
        domains = [d for vh in table["virtual_hosts"] for d in vh["domains"]]
        assert len(domains) == len(set(domains)), table["name"]
    cfg = config(objs)
    assert h.send(cfg, "127.77.9.51", "http://web-0.web:8080/").virtual_host == (
        "web-0.web.svc.cluster.local:8080")
    assert lands(cfg, "127.77.9.50", "http://web-0.web:8080/")[0] == (
        "outbound|8080||web-0.web.wl.svc.cluster.local")


def test_mesh_pods_retry_and_telemetry_names_the_pod_and_the_service() -> None:
    cfg = config(world(injected=True))
    out = h.send(cfg, "127.77.9.50", "http://web-2.web:8080/")
    assert out.route is not None and "retry_policy" in out.route["route"]
    assert out.route_name == "svc/wl/web/8080"
    directory = Directory()
    for p in world():
        directory.update(p, 0.0)
    rec = records.enrich({"start_time": "2026-01-01T00:00:00.000Z", "method": "GET",
                          "listener_kind": "pod", "source_namespace": "wl",
                          "source_name": "client", "upstream_host": "127.77.9.3:8080",
                          "upstream_cluster": POD2, "route_name": out.route_name,
                          "authority": "web-2.web:8080", "response_code": 200,
                          "duration_us": 1234}, directory)
    assert (rec.dest_pod, rec.dest_namespace, rec.dest_k8s_service) == (
        "web-2", "wl", "web.wl.svc.cluster.local")
    assert rec.source_pod == "client"
