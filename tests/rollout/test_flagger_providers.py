"""Flagger's providers and options on the in-memory cluster, shaped like Flagger's own e2e
scenarios (test/kubernetes, test/istio, test/nginx): podinfo in namespace `test`."""

from __future__ import annotations

import json

from turnout.mesh import validation as mesh_validation
from turnout.rollout import flagger
from turnout.rollout.engine import HeaderMatch, Routes
from turnout.rollout.flagger_controller import CanaryController
from turnout.rollout.metrics import FakeMetrics, lognormal
from turnout.rollout.routers import flagger_istio
from turnout.rollout.routers.flagger_istio import Cookies
from turnout.rollout.webhooks import FakeCaller
from turnout.store.objects import Objects
from turnout.types import Obj

from .helpers import cluster, events, rt, settle

NS = "test"
KEY = (NS, "podinfo")
OK = lognormal(20.0, 0.2)
VS = "virtualservices.networking.istio.io"
ING = "ingresses.networking.k8s.io"


def podinfo(image: str = "ghcr.io/stefanprodan/podinfo:6.0.0") -> Obj:
    """test/workloads/deployment.yaml, abridged."""
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "podinfo", "namespace": NS,
                         "labels": {"app.kubernetes.io/name": "podinfo",
                                    "app.kubernetes.io/managed-by": "test-label-prefix"},
                         "annotations": {"app.kubernetes.io/instance": "test-annotation-prefix"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "podinfo"}},
                     "template": {"metadata": {"labels": {"app": "podinfo"}},
                                  "spec": {"containers": [{
                                      "name": "podinfod", "image": image,
                                      "ports": [{"name": "http", "containerPort": 9898},
                                                {"name": "http-metrics",
                                                 "containerPort": 9797},
                                                {"name": "grpc", "containerPort": 9999}]}]}}}}


def canary_obj(spec: Obj, analysis: Obj | None = None) -> Obj:
    a = {"interval": "15s", "threshold": 10, "iterations": 5,
         "metrics": [{"name": "request-success-rate", "interval": "1m",
                      "thresholdRange": {"min": 99}},
                     {"name": "request-duration", "interval": "30s",
                      "thresholdRange": {"max": 500}}]}
    return {"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": NS},
            "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                   "name": "podinfo"},
                     "progressDeadlineSeconds": 60, **spec,
                     "analysis": analysis if analysis is not None else a}}


def start(spec: Obj, analysis: Obj | None = None, extra: list[Obj] | None = None,
          dists: dict[str, object] | None = None) -> tuple[Objects, CanaryController]:
    o = cluster(NS, "ingress-nginx")
    for obj in extra or []:
        key = {"Service": "services", "Ingress": ING, "VirtualService": VS,
               "HorizontalPodAutoscaler": "horizontalpodautoscalers.autoscaling"}[obj["kind"]]
        o.create(rt(o, key), NS, obj)
    o.create(rt(o, "deployments.apps"), NS, podinfo())
    o.create(rt(o, "canaries.flagger.app"), NS, canary_obj(spec, analysis))
    metrics = FakeMetrics(dists=dists or {"podinfo": OK})  # type: ignore[arg-type]
    return o, CanaryController(o, metrics, hooks=FakeCaller())


def run(o: Objects, ctl: CanaryController, t0: float, t1: float) -> float:
    t = t0
    while t <= t1:
        ctl.sync(KEY, t)
        settle(o)
        t += 1.0
    return t


def until(o: Objects, ctl: CanaryController, t: float, phase: str,
          limit: float = 600) -> float:
    while t < limit and status(o).get("phase") != phase:
        t = run(o, ctl, t, t)
    assert status(o).get("phase") == phase, status(o)
    return t


def status(o: Objects) -> Obj:
    c = o.store.peek("canaries.flagger.app", NS, "podinfo")
    return dict((c or {}).get("status") or {})


def get(o: Objects, key: str, name: str) -> Obj:
    out: Obj = o.get(rt(o, key), NS, name)
    return out


def set_image(o: Objects, image: str) -> None:
    d = get(o, "deployments.apps", "podinfo")
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    o.update(rt(o, "deployments.apps"), NS, "podinfo", d)


def primary_image(o: Objects) -> str:
    d = get(o, "deployments.apps", "podinfo-primary")
    return str(d["spec"]["template"]["spec"]["containers"][0]["image"])


USER_SVC = {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "podinfo-svc", "namespace": NS},
            "spec": {"type": "ClusterIP", "selector": {"app": "podinfo"},
                     "ports": [{"name": "http", "port": 9898, "targetPort": "http"}]}}
KUBE = {"provider": "kubernetes",
        "service": {"port": 80, "targetPort": 9898, "name": "podinfo-svc",
                    "portDiscovery": True}}


def test_kubernetes_provider_is_blue_green_on_services() -> None:
    """test/kubernetes/test-deployment.sh's checks, then promotion after the iterations."""
    o, ctl = start(KUBE, extra=[USER_SVC])
    until(o, ctl, 0, "Initialized")
    svc = get(o, "services", "podinfo-svc")
    assert svc["spec"]["selector"] == {"app": "podinfo-primary"}
    assert svc["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/reconcile"] == \
        "disabled"
    assert svc["metadata"]["annotations"]["helm.toolkit.fluxcd.io/driftDetection"] == \
        "disabled"
    assert not svc["metadata"].get("ownerReferences")  # the user's Service stays the user's
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {
        "http": 80, "http-metrics": 9797, "grpc": 9999}  # portDiscovery
    primary = get(o, "deployments.apps", "podinfo-primary")
    assert primary["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "test-label-prefix"
    assert primary["metadata"]["annotations"]["app.kubernetes.io/instance"] == \
        "test-annotation-prefix"
    canary_svc = get(o, "services", "podinfo-svc-canary")
    assert canary_svc["spec"]["selector"] == {"app": "podinfo"}
    assert not o.store.peek(VS, NS, "podinfo-svc")  # no mesh objects
    set_image(o, "ghcr.io/stefanprodan/podinfo:6.0.1")
    t = until(o, ctl, 10, "Progressing")
    t = until(o, ctl, t, "Succeeded")
    assert primary_image(o).endswith(":6.0.1")
    hist = status(o)["turnout"]["history"]
    assert len(hist) == 1 + 5 + 1  # pre-rollout tick, 5 iterations, the promotion tick
    assert t - 10 >= 7 * 15


def test_kubernetes_provider_sets_default_iterations_and_ignores_match() -> None:
    p = flagger.plan({"provider": "kubernetes",
                      "analysis": {"match": [{"headers": {"x": {"exact": "1"}}}]}})
    assert [type(s).__name__ for s in p.steps].count("Analyze") == 12
    assert not any(type(s).__name__ == "SetHeaderRoute" for s in p.steps)


def test_skip_analysis_promotes_once_ready_and_a_bad_image_fails_at_the_deadline() -> None:
    """test/istio/test-skip-analysis.sh."""
    o, ctl = start({"service": {"port": 9898, "portDiscovery": True}, "skipAnalysis": True},
                   {"interval": "15s", "threshold": 15, "maxWeight": 30, "stepWeight": 10})
    until(o, ctl, 0, "Initialized")
    set_image(o, "ghcr.io/stefanprodan/podinfo:6.0.1")
    until(o, ctl, 10, "Succeeded")
    assert primary_image(o).endswith(":6.0.1")
    assert any(e["message"] == "Promotion completed! Canary analysis was skipped for "
                               "podinfo.test" for e in events(o, NS))
    set_image(o, "stefanprodan/potato:1.0.0")
    ctl.sync(KEY, 100)
    d = o.store.peek("deployments.apps", NS, "podinfo")
    assert d is not None
    d["status"] = {"observedGeneration": d["metadata"]["generation"], "replicas": 1,
                   "updatedReplicas": 1, "availableReplicas": 0}
    o.store.update("deployments.apps", d)
    for t in range(101, 170):
        ctl.sync(KEY, t)  # no settle: the canary never becomes available
    assert status(o)["phase"] == "Failed"
    assert "ProgressDeadlineExceeded" in status(o)["conditions"][0]["message"]
    assert primary_image(o).endswith(":6.0.1")


ISTIO_CANARY = {"service": {
    "port": 9898, "portDiscovery": True,
    "apex": {"annotations": {"test": "annotations-test"}, "labels": {"test": "labels-test"}},
    "headers": {"request": {"add": {"x-envoy-upstream-rq-timeout-ms": "15000"}}}}}


def test_istio_apex_metadata_and_rendered_virtual_service() -> None:
    """test/istio/test-canary.sh's metadata checks; the VS carries service.headers."""
    o, ctl = start(ISTIO_CANARY, {"interval": "15s", "threshold": 15, "maxWeight": 30,
                                  "stepWeight": 10})
    until(o, ctl, 0, "Initialized")
    svc = get(o, "services", "podinfo")
    assert svc["metadata"]["annotations"]["test"] == "annotations-test"
    assert svc["metadata"]["labels"]["test"] == "labels-test"
    assert svc["spec"]["selector"]["app"] == "podinfo-primary"
    vs = get(o, VS, "podinfo")
    assert vs["metadata"]["labels"]["test"] == "labels-test"
    route = vs["spec"]["http"][0]
    assert route["headers"] == {"request": {"add": {"x-envoy-upstream-rq-timeout-ms": "15000"}}}
    assert route["route"][0] == {"destination": {"host": "podinfo-primary"}, "weight": 100}
    assert mesh_validation.validate_virtual_service(vs) == []
    set_image(o, "ghcr.io/stefanprodan/podinfo:6.0.1")
    seen = set()
    t = 10.0
    while status(o).get("phase") != "Succeeded" and t < 300:
        t = run(o, ctl, t, t)
        seen.add(get(o, VS, "podinfo")["spec"]["http"][0]["route"][1]["weight"])
    assert seen == {0, 10, 20, 30}


def test_istio_ab_testing_by_cookie() -> None:
    """The A/B part of test/istio/test-canary.sh."""
    match = [{"headers": {"cookie": {"regex": "^(.*?;)?(type=insider)(;.*)?$"}}}]
    o, ctl = start({"service": {"port": 80, "portName": "http-podinfo", "targetPort": "http",
                                "portDiscovery": True}},
                   {"interval": "10s", "threshold": 5, "iterations": 5, "match": match,
                    "metrics": []})
    until(o, ctl, 0, "Initialized")
    http = get(o, VS, "podinfo")["spec"]["http"]
    assert http[0]["match"] == match and len(http) == 2
    assert http[1]["route"] == [{"destination": {"host": "podinfo-primary"}, "weight": 100}]
    set_image(o, "ghcr.io/stefanprodan/podinfo:6.0.3")
    t = run(o, ctl, 10, 21)
    assert [d["weight"] for d in get(o, VS, "podinfo")["spec"]["http"][0]["route"]] == [0, 100]
    assert status(o)["canaryWeight"] == 0
    until(o, ctl, t, "Succeeded")
    assert [d["weight"] for d in get(o, VS, "podinfo")["spec"]["http"][0]["route"]] == [100, 0]


def test_session_affinity_cookies() -> None:
    aff = {"cookieName": "canary-flagger-cookie", "primaryCookieName": "primary-flagger-cookie"}
    spec = {"service": {"port": 80, "targetPort": 9898, "gateways": [
        "istio-system/istio-ingressgateway"], "hosts": ["*"]}}
    c = canary_obj(spec, {"interval": "15s", "stepWeight": 10, "maxWeight": 30,
                          "sessionAffinity": aff})
    c["metadata"]["namespace"] = NS
    c1 = flagger_istio.next_cookies(c["spec"], 10, Cookies(), lambda: "abcdefghij")
    assert c1 == Cookies("canary-flagger-cookie=abcdefghij",
                         "primary-flagger-cookie=abcdefghij")
    http = flagger_istio.render_spec(c, Routes(10), c1)["http"]
    assert [r.get("match") for r in http[:2]] == [
        [{"headers": {"cookie": {"regex": ".*canary-flagger-cookie.*abcdefghij.*"}}}],
        [{"headers": {"cookie": {"regex": ".*primary-flagger-cookie.*abcdefghij.*"}}}]]
    weighted = http[2]["route"]
    assert weighted[1]["headers"]["response"]["add"]["Set-Cookie"] == \
        "canary-flagger-cookie=abcdefghij; Max-Age=86400"
    assert weighted[0]["headers"]["response"]["add"]["Set-Cookie"] == \
        "primary-flagger-cookie=abcdefghij; Max-Age=15"
    c2 = flagger_istio.next_cookies(c["spec"], 0, c1, lambda: "x")
    assert c2.canary == "" and c2.previous == "canary-flagger-cookie=abcdefghij"
    after = flagger_istio.render_spec(c, Routes(0), c2)["http"]
    assert after[0]["headers"]["response"]["add"]["Set-Cookie"] == \
        "canary-flagger-cookie=abcdefghij; Max-Age=-1"
    vs = {"metadata": {"name": "podinfo"}, "spec": flagger_istio.render_spec(c, Routes(10), c1)}
    assert mesh_validation.validate_virtual_service(vs) == []


def test_session_affinity_on_the_cluster_keeps_cookies_in_status() -> None:
    spec = {"service": {"port": 80, "targetPort": 9898}}
    o, ctl = start(spec, {"interval": "15s", "stepWeight": 10, "maxWeight": 30, "metrics": [],
                          "sessionAffinity": {"cookieName": "canary-flagger-cookie"}})
    until(o, ctl, 0, "Initialized")
    set_image(o, "ghcr.io/stefanprodan/podinfo:6.0.1")
    run(o, ctl, 10, 26)
    assert status(o)["canaryWeight"] == 10
    cookie = status(o)["sessionAffinityCookie"]
    assert cookie.startswith("canary-flagger-cookie=") and len(cookie.split("=")[1]) == 10
    until(o, ctl, 27, "Succeeded")
    assert status(o)["previousSessionAffinityCookie"] == cookie
    assert "sessionAffinityCookie" not in status(o)


def test_delegation_writes_a_delegate_virtual_service_the_mesh_accepts() -> None:
    """`service.delegation`: a VirtualService with no hosts and no gateways, which a root
    VirtualService's `delegate` refers to; Istio's admission rules accept it."""
    o, ctl = start({"service": {"port": 80, "targetPort": 9898, "portDiscovery": True,
                                "delegation": True}},
                   {"interval": "15s", "threshold": 15, "maxWeight": 30, "stepWeight": 10})
    until(o, ctl, 0, "Initialized")
    vs = get(o, "virtualservices.networking.istio.io", "podinfo")
    assert vs["spec"]["hosts"] == [] and vs["spec"]["gateways"] == []
    assert vs["spec"]["http"][0]["route"][0]["destination"]["port"] == {"number": 80}
    assert mesh_validation.validate_virtual_service(vs) == []


def test_delegation_with_hosts_is_a_spec_error() -> None:
    o, ctl = start({"service": {"port": 80, "delegation": True, "hosts": ["a"]}})
    ctl.sync(KEY, 0)
    assert status(o)["conditions"][0]["message"].startswith("spec.service.delegation:")


INGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": "podinfo", "namespace": NS, "labels": {"app": "podinfo"},
                        "annotations": {"kubernetes.io/ingress.class": "nginx"}},
           "spec": {"rules": [{"host": "app.example.com", "http": {"paths": [
               {"pathType": "Prefix", "path": "/",
                "backend": {"service": {"name": "podinfo", "port": {"number": 80}}}}]}}]}}
NGINX = {"provider": "nginx", "service": {"port": 80, "targetPort": "http"},
         "ingressRef": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                        "name": "podinfo"}}


def test_nginx_canary_ingress_weights() -> None:
    """test/nginx/test-canary.sh: weights 20, 40 on the canary Ingress, then promotion."""
    o, ctl = start(NGINX, {"interval": "15s", "threshold": 5, "maxWeight": 40,
                           "stepWeight": 20, "metrics": []}, extra=[INGRESS])
    until(o, ctl, 0, "Initialized")
    can = get(o, ING, "podinfo-canary")
    ann = can["metadata"]["annotations"]
    assert ann["nginx.ingress.kubernetes.io/canary"] == "true"
    assert ann["nginx.ingress.kubernetes.io/canary-weight"] == "0"
    path = can["spec"]["rules"][0]["http"]["paths"][0]
    assert path["backend"]["service"]["name"] == "podinfo-canary"
    assert can["metadata"]["ownerReferences"][0]["kind"] == "Canary"
    set_image(o, "ghcr.io/stefanprodan/podinfo:6.0.1")
    seen = set()
    t = 10.0
    while status(o).get("phase") != "Succeeded" and t < 300:
        t = run(o, ctl, t, t)
        seen.add(get(o, ING, "podinfo-canary")["metadata"]["annotations"][
            "nginx.ingress.kubernetes.io/canary-weight"])
    assert seen == {"0", "20", "40"}
    assert primary_image(o).endswith(":6.0.1")


def test_nginx_ab_by_header() -> None:
    o, ctl = start(NGINX, {"interval": "15s", "threshold": 5, "iterations": 3, "metrics": [],
                           "match": [{"headers": {"x-user": {"exact": "insider"}}}]},
                   extra=[INGRESS])
    until(o, ctl, 0, "Initialized")
    set_image(o, "ghcr.io/stefanprodan/podinfo:6.0.2")
    t = run(o, ctl, 10, 26)
    ann = get(o, ING, "podinfo-canary")["metadata"]["annotations"]
    assert ann["nginx.ingress.kubernetes.io/canary-by-header"] == "x-user"
    assert ann["nginx.ingress.kubernetes.io/canary-by-header-value"] == "insider"
    until(o, ctl, t, "Succeeded")
    ann = get(o, ING, "podinfo-canary")["metadata"]["annotations"]
    assert "nginx.ingress.kubernetes.io/canary-by-header" not in ann


def test_nginx_router_maps_cookie_and_regex_matches() -> None:
    from turnout.rollout.routers import nginx
    r = nginx.NginxRoute(NS, "podinfo", "podinfo", "podinfo-canary")
    ann = nginx.render_canary_ingress(INGRESS, r, Routes(0, (
        HeaderMatch("cookie", "canary"), HeaderMatch("x-user", "^in.*", "regex"))))[
        "metadata"]["annotations"]
    assert ann[nginx.A + "canary-by-cookie"] == "canary"
    assert ann[nginx.A + "canary-by-header-pattern"] == "^in.*"


def test_nginx_without_the_apex_backend_is_a_spec_error() -> None:
    bad = json.loads(json.dumps(INGRESS))
    bad["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "web"
    o, ctl = start(NGINX, extra=[bad])
    ctl.sync(KEY, 0)
    assert status(o)["conditions"][0]["message"] == \
        "spec.ingressRef: backend podinfo not found in ingress podinfo"


def delete_canary(o: Objects) -> None:
    o.delete(rt(o, "canaries.flagger.app"), NS, "podinfo")


def test_revert_on_deletion_scales_the_target_back() -> None:
    """test/istio/test-canary.sh's first delete test."""
    o, ctl = start({"service": {"port": 9898}, "revertOnDeletion": True})
    until(o, ctl, 0, "Initialized")
    assert flagger.FINALIZER in get(o, "canaries.flagger.app", "podinfo")["metadata"][
        "finalizers"]
    assert get(o, "deployments.apps", "podinfo")["spec"]["replicas"] == 0
    delete_canary(o)
    assert status(o) and o.store.peek("canaries.flagger.app", NS, "podinfo")  # held
    run(o, ctl, 20, 24)
    assert o.store.peek("canaries.flagger.app", NS, "podinfo") is None
    assert get(o, "deployments.apps", "podinfo")["spec"]["replicas"] == 1
    assert any(e["message"] == "Terminating canary podinfo.test" for e in events(o, NS))


def test_revert_on_deletion_restores_the_users_service_and_virtual_service() -> None:
    """test/istio/test-canary.sh's second delete test: a Service and a VirtualService applied
    by the user before the Canary keep existing, as they were."""
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "podinfo", "namespace": NS, "labels": {"app": "podinfo"}},
           "spec": {"type": "ClusterIP", "selector": {"app": "podinfo"},
                    "ports": [{"name": "http", "port": 9898, "targetPort": "http"}]}}
    user_vs = {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
               "metadata": {"name": "podinfo", "namespace": NS},
               "spec": {"gateways": ["istio-system/ingressgateway"],
                        "hosts": ["app.example.com", "podinfo"],
                        "http": [{"route": [{"destination": {"host": "podinfo"}}]}]}}
    user_vs["metadata"]["annotations"] = {flagger.LAST_APPLIED: json.dumps(user_vs)}
    o, ctl = start({"service": {"port": 80, "portName": "http-podinfo", "targetPort": "http",
                                "portDiscovery": True}, "revertOnDeletion": True},
                   extra=[svc, user_vs])
    until(o, ctl, 0, "Initialized")
    taken = get(o, VS, "podinfo")
    assert taken["spec"]["http"][0]["route"][0]["destination"]["host"] == "podinfo-primary"
    assert get(o, "services", "podinfo")["spec"]["selector"] == {"app": "podinfo-primary"}
    delete_canary(o)
    run(o, ctl, 20, 24)
    assert o.store.peek("canaries.flagger.app", NS, "podinfo") is None
    assert get(o, VS, "podinfo")["spec"] == user_vs["spec"]
    assert get(o, "services", "podinfo")["spec"]["selector"] == {"app": "podinfo"}


def test_a_taken_over_virtual_service_without_last_applied_keeps_its_original() -> None:
    user_vs = {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
               "metadata": {"name": "podinfo", "namespace": NS},
               "spec": {"hosts": ["podinfo"],
                        "http": [{"route": [{"destination": {"host": "podinfo"}}]}]}}
    o, ctl = start({"service": {"port": 9898}, "revertOnDeletion": True}, extra=[user_vs])
    until(o, ctl, 0, "Initialized")
    ann = get(o, VS, "podinfo")["metadata"]["annotations"]
    assert json.loads(ann[flagger_istio.ORIGINAL]) == user_vs["spec"]
    delete_canary(o)
    run(o, ctl, 20, 24)
    restored = get(o, VS, "podinfo")
    assert restored["spec"] == user_vs["spec"]
    assert flagger_istio.ORIGINAL not in restored["metadata"]["annotations"]


def test_finalizer_follows_revert_on_deletion() -> None:
    o, ctl = start({"service": {"port": 9898}, "revertOnDeletion": True})
    ctl.sync(KEY, 0)
    c = get(o, "canaries.flagger.app", "podinfo")
    assert c["metadata"]["finalizers"] == [flagger.FINALIZER]
    c["spec"]["revertOnDeletion"] = False
    o.update(rt(o, "canaries.flagger.app"), NS, "podinfo", c)
    ctl.sync(KEY, 1)
    assert not get(o, "canaries.flagger.app", "podinfo")["metadata"].get("finalizers")


def test_destination_rules_carry_the_traffic_policy() -> None:
    policy = {"tls": {"mode": "ISTIO_MUTUAL"}}
    o, ctl = start({"service": {"port": 9898, "trafficPolicy": policy}})
    until(o, ctl, 0, "Initialized")
    for name in ("podinfo-primary", "podinfo-canary"):
        dr = get(o, "destinationrules.networking.istio.io", name)
        assert dr["spec"] == {"host": name, "trafficPolicy": policy}
        assert dr["metadata"]["ownerReferences"][0]["name"] == "podinfo"


def test_autoscaler_ref_gets_a_primary_copy_updated_on_promotion() -> None:
    """test/kubernetes/test-hpa.sh."""
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "podinfo", "namespace": NS},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                       "name": "podinfo"},
                    "minReplicas": 2, "maxReplicas": 4,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                        "type": "Utilization", "averageUtilization": 99}}}]}}
    key = "horizontalpodautoscalers.autoscaling"
    o, ctl = start({**KUBE, "autoscalerRef": {"apiVersion": "autoscaling/v2",
                                              "kind": "HorizontalPodAutoscaler",
                                              "name": "podinfo"}}, extra=[USER_SVC])
    o.create(rt(o, key), NS, hpa)
    until(o, ctl, 0, "Initialized")
    primary = get(o, key, "podinfo-primary")
    assert primary["spec"]["scaleTargetRef"]["name"] == "podinfo-primary"
    assert primary["spec"]["minReplicas"] == 2
    hpa = get(o, key, "podinfo")
    hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] = 50
    o.update(rt(o, key), NS, "podinfo", hpa)
    set_image(o, "ghcr.io/stefanprodan/podinfo:6.0.1")
    until(o, ctl, 10, "Succeeded")
    assert get(o, key, "podinfo-primary")["spec"]["metrics"][0]["resource"]["target"][
        "averageUtilization"] == 50


def test_keda_scaler_is_refused_by_name() -> None:
    o, ctl = start({**KUBE, "autoscalerRef": {"kind": "ScaledObject", "name": "podinfo"}})
    ctl.sync(KEY, 0)
    assert status(o)["conditions"][0]["message"].startswith("spec.autoscalerRef:")


def test_a_canary_naming_no_provider_takes_nginx_from_its_ingress_ref() -> None:
    assert flagger.provider({}) == "istio"
    assert flagger.provider({}, "kubernetes") == "kubernetes"
    assert flagger.provider({"ingressRef": {"name": "podinfo"}}) == "nginx"
    assert flagger.provider({"provider": "istio", "ingressRef": {"name": "podinfo"}}) == "istio"
