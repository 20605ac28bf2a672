from __future__ import annotations

import pytest

from turnout.mesh import simulate
from turnout.mesh.translate import ingress, translate
from turnout.mesh.translate.registry import Registry
from turnout.types import Obj

from .. import helpers as h

A = "nginx.ingress.kubernetes.io/"
WEB = "kube|80||web.ing.svc.cluster.local"
V2 = "kube|80||webv2.ing.svc.cluster.local"


def ing(name: str, backend: str, ann: dict[str, str] | None = None, path: str = "/",
        path_type: str = "Prefix", host: str | None = None) -> Obj:
    rule: Obj = {"http": {"paths": [{"path": path, "pathType": path_type, "backend": {
        "service": {"name": backend, "port": {"number": 80}}}}]}}
    if host:
        rule["host"] = host
    return {"kind": "Ingress", "metadata": {"name": name, "namespace": "ing",
                                            "annotations": ann or {}},
            "spec": {"rules": [rule]}}


def base() -> list[Obj]:
    return [h.service("web", "ing", "127.77.200.4", [{"port": 80, "targetPort": 8080}],
                      {"app": "web"}),
            h.service("webv2", "ing", "127.77.200.5", [{"port": 80, "targetPort": 8080}],
                      {"app": "webv2"})]


def send(objs: list[Obj], path: str = "/", headers: dict[str, str] | None = None,
         host: str = "127.0.0.1:32000") -> simulate.Outcome:
    config = translate(h.snap(base() + objs))
    return simulate.simulate(config, "127.0.0.1", 32000,
                             simulate.Request(host, path, "GET", headers or {}))


def clusters(out: simulate.Outcome) -> dict[str, float]:
    return {d.cluster: d.probability for d in out.destinations}


def test_canary_weight_splits() -> None:
    out = send([ing("main", "web"), ing("c", "webv2", {A + "canary": "true",
                                                      A + "canary-weight": "30"})])
    assert clusters(out) == {WEB: 0.7, V2: pytest.approx(0.3)}
    assert out.route_name == "ingress-canary/ing/c/0/0/weight"


def test_canary_precedence_header_then_cookie_then_weight() -> None:
    canary = ing("c", "webv2", {A + "canary": "true", A + "canary-weight": "0",
                                A + "canary-by-header": "X-Canary",
                                A + "canary-by-cookie": "beta"})
    objs = [ing("main", "web"), canary]
    assert clusters(send(objs, headers={"x-canary": "always"})) == {V2: 1.0}
    assert clusters(send(objs, headers={"x-canary": "never", "cookie": "beta=always"})) == {
        WEB: 1.0}
    assert clusters(send(objs, headers={"cookie": "a=1; beta=always"})) == {V2: 1.0}
    assert clusters(send(objs, headers={"cookie": "beta=never"})) == {WEB: 1.0}
    assert clusters(send(objs)) == {WEB: 1.0}


def test_canary_by_header_value() -> None:
    canary = ing("c", "webv2", {A + "canary": "true", A + "canary-by-header": "x-env",
                                A + "canary-by-header-value": "staging"})
    objs = [ing("main", "web"), canary]
    assert clusters(send(objs, headers={"x-env": "staging"})) == {V2: 1.0}
    assert clusters(send(objs, headers={"x-env": "always"})) == {WEB: 1.0}


def test_path_types_and_longest_first() -> None:
    objs = [ing("root", "web"), ing("api", "webv2", path="/api", path_type="Prefix"),
            ing("exact", "webv2", path="/exact", path_type="Exact")]
    assert clusters(send(objs, "/api")) == {V2: 1.0}
    assert clusters(send(objs, "/api/x")) == {V2: 1.0}
    assert clusters(send(objs, "/apix")) == {WEB: 1.0}  # Prefix is per path element
    assert clusters(send(objs, "/exact")) == {V2: 1.0}
    assert clusters(send(objs, "/exact/x")) == {WEB: 1.0}


def test_host_rules_and_unknown_host() -> None:
    objs = [ing("shop", "webv2", host="shop.example.com")]
    assert clusters(send(objs, host="shop.example.com:32000")) == {V2: 1.0}
    assert send(objs, host="other.example.com").status == 404


def test_rewrite_target_replaces_the_uri_unless_equal_to_path() -> None:
    same = ingress.route_config(Registry(h.snap([*base(), ing("m", "web", {
        A + "rewrite-target": "/"})])))
    assert "regex_rewrite" not in same["virtual_hosts"][0]["routes"][0]["route"]
    cap = ingress.route_config(Registry(h.snap([*base(), ing("m", "web", {
        A + "rewrite-target": "/$2"}, path="/app(/|$)(.*)", path_type="ImplementationSpecific")])))
    rw = cap["virtual_hosts"][0]["routes"][0]["route"]["regex_rewrite"]
    assert rw == {"pattern": {"regex": "^.*?(?:/app(/|$)(.*)).*$"}, "substitution": "/\\2"}
    from turnout.mesh import regex
    assert regex.sub(rw["pattern"]["regex"], rw["substitution"], "/app/x/y") == "/x/y"


def test_default_backend_and_other_ingress_classes() -> None:
    default = {"kind": "Ingress", "metadata": {"name": "d", "namespace": "ing"},
               "spec": {"defaultBackend": {"service": {"name": "web",
                                                       "port": {"number": 80}}}}}
    other = ing("t", "webv2", path="/t")
    other["spec"]["ingressClassName"] = "traefik"
    out = send([default, other], "/t")
    assert clusters(out) == {WEB: 1.0}
    assert out.route_name == "ingress-default/ing/d"


def test_canary_in_another_namespace_joins_the_main_ingress_by_host_and_path() -> None:
    """ingress-nginx merges alternative backends by host and path, whatever the namespace (the
    lab's step 9: ns2's canary Ingress beside ns1's main one)."""
    other = h.service("web", "ing2", "127.77.200.6", [{"port": 80, "targetPort": 8080}],
                      {"app": "web2"})
    canary = ing("c", "web", {A + "canary": "true", A + "canary-weight": "50"})
    canary["metadata"]["namespace"] = "ing2"
    out = send([other, ing("main", "web"), canary])
    assert clusters(out) == {WEB: 0.5, "kube|80||web.ing2.svc.cluster.local": 0.5}
