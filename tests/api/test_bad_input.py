"""The bad-input corpus: every malformed parameter, header or body over every endpoint is a 4xx
with the real server's `Status` body, names the object and field where there is one, and leaves
the store exactly as it was (a dump before and after compares equal)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.helpers import client, dump, request
from turnout.kube import listoptions
from turnout.store.objects import Objects

NS = "bad"
CM = f"/api/v1/namespaces/{NS}/configmaps"
PODS = f"/api/v1/namespaces/{NS}/pods"
SVCS = f"/api/v1/namespaces/{NS}/services"
DEPLOYS = f"/apis/apps/v1/namespaces/{NS}/deployments"
VS = f"/apis/networking.istio.io/v1/namespaces/{NS}/virtualservices"
DR = f"/apis/networking.istio.io/v1/namespaces/{NS}/destinationrules"
NSS = "/api/v1/namespaces"
STATUS_KEYS = ["kind", "apiVersion", "metadata", "status", "message"]


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    body: Any = None
    content_type: str = "application/json"
    mentions: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"[:90]


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def deployment(name: str = "web", **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    base = {"replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {**base, **spec}}


def vs(http: Any) -> dict[str, Any]:
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "v2"}, "spec": {"hosts": ["web"], "http": http}}


def cases() -> list[Case]:
    out: list[Case] = []
    # --- list and watch query parameters, on several kinds --------------------------------------
    lists = [CM, PODS, DEPLOYS, VS, NSS, "/api/v1/pods"]
    ints = ["abc", "1.5", "0x10", "1e3", " 1", "--1", "99999999999999999999", "١٢"]
    for p in lists:
        for v in ints[:5]:
            out.append(Case("GET", f"{p}?watch=true&timeoutSeconds={v}",
                            mentions=("timeoutSeconds",)))
            out.append(Case("GET", f"{p}?limit={v}", mentions=("limit",)))
    for v in ints[5:]:
        out.append(Case("GET", f"{CM}?timeoutSeconds={v}", mentions=("timeoutSeconds",)))
        out.append(Case("GET", f"{CM}?limit={v}", mentions=("limit",)))
    for name in ("watch", "allowWatchBookmarks", "sendInitialEvents"):
        for v in ("maybe", "yes", "2", "on"):
            out.append(Case("GET", f"{CM}?{name}={v}", mentions=(name,)))
    for v in ("abc", "-1", "1.0", "0x1", "1 "):
        out.append(Case("GET", f"{CM}?resourceVersion={v}", mentions=("resourceVersion",)))
        out.append(Case("GET", f"{CM}?watch=1&resourceVersion={v}",
                        mentions=("resourceVersion",)))
    out += [
        # watch-list and resourceVersionMatch rules (422 on ListOptions)
        Case("GET", f"{CM}?watch=1&sendInitialEvents=true", mentions=("resourceVersionMatch",)),
        Case("GET", f"{CM}?watch=1&resourceVersionMatch=NotOlderThan",
             mentions=("resourceVersionMatch",)),
        Case("GET", f"{CM}?watch=1&sendInitialEvents=true&resourceVersionMatch=Exact",
             mentions=("resourceVersionMatch",)),
        Case("GET", f"{CM}?sendInitialEvents=true&resourceVersionMatch=NotOlderThan",
             mentions=("sendInitialEvents",)),
        Case("GET", f"{CM}?sendInitialEvents=false", mentions=("sendInitialEvents",)),
        Case("GET", f"{CM}?resourceVersionMatch=NotOlderThan", mentions=("resourceVersionMatch",)),
        Case("GET", f"{CM}?resourceVersionMatch=Exact&resourceVersion=0",
             mentions=("resourceVersionMatch",)),
        Case("GET", f"{CM}?resourceVersionMatch=Sometime&resourceVersion=1",
             mentions=("resourceVersionMatch",)),
        Case("GET", f"{CM}?resourceVersionMatch=Exact&resourceVersion=1&continue=x",
             mentions=("resourceVersionMatch",)),
    ]
    # continue tokens
    tokens = ["abc!", "%%%", _b64("not json"), _b64("[]"), _b64('{"v":"other","rv":1,"start":"a"}'),
              _b64('{"v":"meta.k8s.io/v1","rv":0,"start":"a"}'),
              _b64('{"v":"meta.k8s.io/v1","rv":-7,"start":"a"}'),
              _b64('{"v":"meta.k8s.io/v1","rv":"1","start":"a"}'),
              _b64('{"v":"meta.k8s.io/v1","rv":1,"start":"/etc"}'),
              _b64('{"v":"meta.k8s.io/v1","rv":1,"start":""}'),
              _b64('{"v":"meta.k8s.io/v1","rv":1,"start":"../x"}'),
              _b64('{"v":"meta.k8s.io/v1","rv":1}')]
    for t in tokens:
        out.append(Case("GET", f"{CM}?limit=1&continue={t}", mentions=("continue",)))
    out.append(Case("GET", f"{PODS}?continue={tokens[2]}", mentions=("continue",)))
    # selectors
    for sel in ("a in (", "=x", "a==b==c", "!", "a b", "x in (a,b", "a,,b", "a!", "(a)", "a=b c"):
        out.append(Case("GET", f"{CM}?labelSelector={sel}"))
        out.append(Case("GET", f"{CM}?watch=1&labelSelector={sel}"))
    for sel in ("metadata.unknown=x", "spec.nodeName", "a=b=c", "status.phase=Running",
                "metadata.name=\\q"):
        out.append(Case("GET", f"{CM}?fieldSelector={sel}"))
        out.append(Case("GET", f"{CM}?watch=true&fieldSelector={sel}"))
    out.append(Case("DELETE", f"{CM}?labelSelector=a in (", body={}))
    out.append(Case("DELETE", f"{CM}?fieldSelector=nope=1", body={}))
    # --- logs -----------------------------------------------------------------------------------
    log = f"{PODS}/p1/log"
    for name in ("tailLines", "sinceSeconds", "limitBytes"):
        for v in ("abc", "1.5", "", "x1"):
            if v:
                out.append(Case("GET", f"{log}?{name}={v}", mentions=(name,)))
    out += [Case("GET", f"{log}?tailLines=-1", mentions=("tailLines", "p1")),
            Case("GET", f"{log}?sinceSeconds=0", mentions=("sinceSeconds", "p1")),
            Case("GET", f"{log}?sinceSeconds=-5", mentions=("sinceSeconds",)),
            Case("GET", f"{log}?limitBytes=0", mentions=("limitBytes",)),
            Case("GET", f"{log}?sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z",
                 mentions=("sinceTime",)),
            Case("GET", f"{log}?follow=maybe", mentions=("follow",)),
            Case("GET", f"{log}?previous=nah", mentions=("previous",)),
            Case("GET", f"{log}?timestamps=2", mentions=("timestamps",)),
            Case("GET", f"{log}?container=nope", mentions=("nope", "p1")),
            Case("GET", f"{PODS}/missing/log", mentions=("missing",)),
            Case("POST", log, body={})]
    # --- delete ---------------------------------------------------------------------------------
    one = f"{CM}/cm1"
    for v in ("abc", "1.5", "ten"):
        out.append(Case("DELETE", f"{one}?gracePeriodSeconds={v}",
                        mentions=("gracePeriodSeconds",)))
        out.append(Case("DELETE", f"{PODS}/p1?gracePeriodSeconds={v}",
                        mentions=("gracePeriodSeconds",)))
    out += [
        Case("DELETE", one, body={"gracePeriodSeconds": "x"}, mentions=("gracePeriodSeconds",)),
        Case("DELETE", one, body={"gracePeriodSeconds": 1.5}, mentions=("gracePeriodSeconds",)),
        Case("DELETE", one, body={"propagationPolicy": "Sideways"},
             mentions=("propagationPolicy",)),
        Case("DELETE", f"{one}?propagationPolicy=Sideways", mentions=("propagationPolicy",)),
        Case("DELETE", one, body={"propagationPolicy": 5}, mentions=("propagationPolicy",)),
        Case("DELETE", one, body={"orphanDependents": "yes"}, mentions=("orphanDependents",)),
        Case("DELETE", one, body={"orphanDependents": True, "propagationPolicy": "Foreground"},
             mentions=("propagationPolicy",)),
        Case("DELETE", one, body={"dryRun": ["Some"]}, mentions=("dryRun",)),
        Case("DELETE", one, body={"dryRun": "All"}, mentions=("dryRun",)),
        Case("DELETE", f"{one}?dryRun=Some", mentions=("dryRun",)),
        Case("DELETE", one, body={"preconditions": {"uid": "nope"}}, mentions=("cm1", "UID")),
        Case("DELETE", one, body={"preconditions": {"resourceVersion": "1"}}, mentions=("cm1",)),
        Case("DELETE", one, body={"preconditions": "x"}, mentions=("preconditions",)),
        Case("DELETE", one, body={"preconditions": {"uid": 5}}, mentions=("preconditions",)),
        Case("DELETE", one, body=[1]), Case("DELETE", one, body="text"),
        Case("DELETE", one, body="{", mentions=("unexpected end of JSON input",)),
        Case("DELETE", f"{CM}/missing", mentions=("missing",)),
        Case("DELETE", f"{PODS}/p1", body=b"k8s\x00garbage",
             content_type="application/vnd.kubernetes.protobuf"),
        Case("DELETE", f"{CM}?gracePeriodSeconds=x", body={}, mentions=("gracePeriodSeconds",)),
    ]
    # --- create ---------------------------------------------------------------------------------
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c2"}, "data": {"a": "b"}}
    out += [
        Case("POST", CM, body=[]), Case("POST", CM, body="str"), Case("POST", CM, body=5),
        Case("POST", CM, body="null"), Case("POST", CM, body=None),
        Case("POST", CM, body="{", mentions=("unexpected end of JSON input",)),
        Case("POST", CM, body="a: [", content_type="application/yaml", mentions=("yaml: line",)),
        Case("POST", CM, body=b"\xff\xfe", mentions=("invalid character 'ÿ'",)),
        Case("POST", CM, body="NaN"),
        Case("POST", CM, body={**cm, "metadata": []}, mentions=("metadata",)),
        Case("POST", CM, body={**cm, "kind": "Secret"}, mentions=("Secret",)),
        Case("POST", CM, body={**cm, "apiVersion": "apps/v1"}, mentions=("apps/v1",)),
        Case("POST", CM, body={**cm, "metadata": {}}, mentions=("metadata.name",)),
        Case("POST", CM, body={**cm, "metadata": {"name": "Bad_Name"}},
             mentions=("metadata.name", "Bad_Name")),
        Case("POST", CM, body={**cm, "metadata": {"name": "x" * 300}}, mentions=("metadata.name",)),
        Case("POST", CM, body={**cm, "metadata": {"name": 5}}, mentions=("name",)),
        Case("POST", CM, body={**cm, "metadata": {"name": "c3", "namespace": "other"}},
             mentions=("namespace",)),
        Case("POST", CM, body={**cm, "metadata": {"name": "c3", "labels": ["a"]}},
             mentions=("labels",)),
        Case("POST", CM, body={**cm, "metadata": {"name": "c3", "labels": {"a": 1}}},
             mentions=("labels",)),
        Case("POST", CM, body={**cm, "metadata": {"name": "c3", "labels": {"-a": "b"}}},
             mentions=("metadata.labels",)),
        Case("POST", CM, body={**cm, "metadata": {"name": "c3", "annotations": {"a": 1}}},
             mentions=("annotations",)),
        Case("POST", CM, body={**cm, "data": ["x"]}, mentions=("data",)),
        Case("POST", CM, body={**cm, "data": {"a": 1}}, mentions=("data",)),
        Case("POST", CM, body={**cm, "data": {"bad key!": "x"}}, mentions=("data",)),
        Case("POST", CM, body={**cm, "data": {"a": "x" * (1024 * 1024 + 1)}},
             mentions=("ConfigMap", "c2")),
        Case("POST", CM, body=json.dumps(cm).encode() + b" " * (3 * 1024 * 1024),
             mentions=("limit",)),
        Case("POST", CM, body="[" * 20000 + "]" * 20000),
        Case("POST", CM, body=cm, content_type="text/plain", mentions=("text/plain",)),
        Case("POST", CM, body=cm, content_type="application/cbor"),
        Case("POST", CM, body=b"garbage", content_type="application/vnd.kubernetes.protobuf"),
        Case("POST", CM, body=b"k8s\x00\x0a\xff",
             content_type="application/vnd.kubernetes.protobuf"),
        Case("POST", f"{CM}?dryRun=Maybe", body=cm, mentions=("dryRun",)),
        Case("POST", f"{CM}?fieldManager={'m' * 129}", body=cm, mentions=("fieldManager",)),
        Case("POST", f"{CM}?fieldManager=a%01b", body=cm, mentions=("fieldManager",)),
        Case("POST", f"{CM}?fieldValidation=Loud", body=cm, mentions=("fieldValidation",)),
        Case("POST", f"{CM}?fieldValidation=Strict", body={**cm, "extra": 1}, mentions=("extra",)),
        Case("POST", "/api/v1/namespaces/nope/configmaps", body=cm, mentions=("nope",)),
        Case("POST", CM, body={**cm, "metadata": {"name": "cm1"}}, mentions=("cm1",)),
        Case("POST", DEPLOYS, body=deployment(replicas="x"), mentions=("replicas",)),
        Case("POST", DEPLOYS, body=deployment(replicas=-1), mentions=("spec.replicas", "web")),
        Case("POST", DEPLOYS, body=deployment(replicas=1.5), mentions=("replicas",)),
        Case("POST", DEPLOYS, body=deployment(selector={"matchLabels": {"app": "other"}}),
             mentions=("selector",)),
        Case("POST", DEPLOYS, body=deployment(selector="app=web"), mentions=("selector",)),
        Case("POST", DEPLOYS, body=deployment(template={"spec": {"containers": []}}),
             mentions=("containers",)),
        Case("POST", DEPLOYS, body=deployment(template=[]), mentions=("template",)),
        Case("POST", DEPLOYS, body=deployment(strategy={"type": "Sideways"}),
             mentions=("strategy",)),
        Case("POST", DEPLOYS, body={**deployment(), "spec": "x"}, mentions=("spec",)),
        Case("POST", PODS, body={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p9"},
                                 "spec": {"containers": [{"name": "c"}]}}, mentions=("image",)),
        Case("POST", PODS, body={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p9"},
                                 "spec": {"containers": [{"name": "c", "image": "x",
                                                          "ports": [{"containerPort": "x"}]}]}},
             mentions=("containerPort",)),
        Case("POST", PODS, body={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p9"},
                                 "spec": {"containers": "c"}}, mentions=("containers",)),
        Case("POST", SVCS, body={"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s9"},
                                 "spec": {"ports": [{"port": 70000}]}}, mentions=("port",)),
        Case("POST", SVCS, body={"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s9"},
                                 "spec": {"type": "Odd", "ports": [{"port": 80}]}},
             mentions=("type",)),
        Case("POST", SVCS, body={"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s9"},
                                 "spec": {"type": "NodePort",
                                          "ports": [{"port": 80, "nodePort": 1}]}},
             mentions=("nodePort",)),
        Case("POST", VS, body=vs([{"route": [{"destination": {"host": "web"}, "weight": -5}]}]),
             mentions=("weight",)),
        Case("POST", VS, body=vs("x"), mentions=("http",)),
        Case("POST", VS, body=vs([{"match": [{"uri": {"regex": "("}}],
                                   "route": [{"destination": {"host": "web"}}]}]),
             mentions=("regex",)),
        Case("POST", DR, body={"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                               "metadata": {"name": "d"},
                               "spec": {"host": "web", "trafficPolicy": {
                                   "loadBalancer": {"simple": "FASTEST"}}}},
             mentions=("simple",)),
        Case("POST", NSS, body={"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": "UPPER"}}, mentions=("UPPER",)),
        Case("POST", NSS, body={"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": NS}}, mentions=(NS,)),
    ]
    # --- update ---------------------------------------------------------------------------------
    out += [
        Case("PUT", one, body={**cm, "metadata": {"name": "other"}}, mentions=("other", "cm1")),
        Case("PUT", one, body=[]),
        Case("PUT", one, body="{", mentions=("unexpected end of JSON input",)),
        Case("PUT", one, body={**cm, "metadata": {"name": "cm1", "resourceVersion": "1"}},
             mentions=("cm1", "modified")),
        Case("PUT", f"{CM}/missing", body={**cm, "metadata": {"name": "missing"}},
             mentions=("missing",)),
        Case("PUT", one, body={**cm, "metadata": {"name": "cm1"}, "data": [1]}, mentions=("data",)),
        Case("PUT", f"{one}?dryRun=x", body=cm, mentions=("dryRun",)),
        Case("PUT", f"{one}?fieldValidation=Loud", body=cm, mentions=("fieldValidation",)),
        Case("PUT", f"{DEPLOYS}/web", body=deployment(replicas=-3), mentions=("replicas",)),
        Case("PUT", f"{DEPLOYS}/web", body=deployment(
            selector={"matchLabels": {"app": "changed"}},
            template={"metadata": {"labels": {"app": "changed"}},
                      "spec": {"containers": [{"name": "c", "image": "x"}]}}),
             mentions=("selector",)),
        Case("PUT", f"{DEPLOYS}/web/status", body=[]),
        Case("PUT", f"{SVCS}/svc1", body={"apiVersion": "v1", "kind": "Service",
                                          "metadata": {"name": "svc1"},
                                          "spec": {"ports": [{"port": "x"}]}},
             mentions=("port",)),
    ]
    # --- patch ----------------------------------------------------------------------------------
    merge, smp, jp = ("application/merge-patch+json", "application/strategic-merge-patch+json",
                      "application/json-patch+json")
    apply_ct = "application/apply-patch+yaml"
    dep = f"{DEPLOYS}/web"
    out += [
        Case("PATCH", one, body={"data": {"a": "b"}}, content_type="text/plain"),
        Case("PATCH", one, body={"data": {"a": "b"}}, content_type="application/json"),
        Case("PATCH", one, body={"data": {"a": "b"}}, content_type=""),
        Case("PATCH", one, body=[1], content_type=merge),
        Case("PATCH", one, body="{", content_type=merge,
             mentions=("unexpected end of JSON input",)),
        Case("PATCH", one, body={"data": ["x"]}, content_type=merge, mentions=("data",)),
        Case("PATCH", one, body={"metadata": {"name": "renamed"}}, content_type=merge),
        Case("PATCH", one, body={"data": 5}, content_type=smp, mentions=("data",)),
        Case("PATCH", one, body=[], content_type=smp),
        Case("PATCH", one, body={"$patch": "bogus"}, content_type=smp),
        Case("PATCH", one, body={"op": "add"}, content_type=jp),
        Case("PATCH", one, body=[{"op": "explode", "path": "/data"}], content_type=jp),
        Case("PATCH", one, body=[{"op": "add", "path": "data/x", "value": "1"}], content_type=jp),
        Case("PATCH", one, body=[{"op": "remove", "path": "/nothing/here"}], content_type=jp),
        Case("PATCH", one, body=[{"op": "test", "path": "/data/a", "value": "zzz"}],
             content_type=jp),
        Case("PATCH", one, body=[{"op": "replace", "path": "/data", "value": [1]}],
             content_type=jp, mentions=("data",)),
        Case("PATCH", one, body=[{"op": "move", "from": "/nope", "path": "/data/b"}],
             content_type=jp),
        Case("PATCH", one, body=["x"], content_type=jp),
        Case("PATCH", one, body=[{"op": "add", "path": "/metadata/labels/a",
                                  "value": 1}], content_type=jp, mentions=("labels",)),
        Case("PATCH", f"{CM}/missing", body={"data": {}}, content_type=merge,
             mentions=("missing",)),
        Case("PATCH", f"{VS}/v1", body={"spec": {}}, content_type=smp),
        Case("PATCH", f"{VS}/v1", body={"spec": {"http": [{"route": [
            {"destination": {"host": "web"}, "weight": -1}]}]}}, content_type=merge,
             mentions=("weight",)),
        Case("PATCH", dep, body={"spec": {"replicas": -1}}, content_type=smp,
             mentions=("spec.replicas", "web")),
        Case("PATCH", dep, body={"spec": {"replicas": "many"}}, content_type=merge,
             mentions=("replicas",)),
        Case("PATCH", dep, body={"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": ""}]}}}}, content_type=smp, mentions=("image",)),
        Case("PATCH", f"{dep}?force=true", body={"spec": {"replicas": 2}}, content_type=merge,
             mentions=("force",)),
        Case("PATCH", dep, body={"apiVersion": "apps/v1", "kind": "Deployment",
                                 "metadata": {"name": "web"}}, content_type=apply_ct,
             mentions=("fieldManager",)),
        Case("PATCH", f"{dep}?fieldManager=m", body="a: [", content_type=apply_ct,
             mentions=("yaml: line",)),
        Case("PATCH", f"{dep}?fieldManager=m", body={"metadata": {"name": "web"}},
             content_type=apply_ct, mentions=("Kind",)),
        Case("PATCH", f"{dep}?fieldManager=m", body={"apiVersion": "v1", "kind": "Pod",
                                                      "metadata": {"name": "web"}},
             content_type=apply_ct, mentions=("Pod",)),
        Case("PATCH", f"{dep}?fieldManager=m", body={"apiVersion": "apps/v1",
                                                      "kind": "Deployment",
                                                      "metadata": {"name": "other"}},
             content_type=apply_ct, mentions=("other",)),
        Case("PATCH", f"{dep}?fieldManager=m", body=[1], content_type=apply_ct),
        Case("PATCH", f"{dep}?fieldManager=m", body={
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 5}}, content_type=apply_ct,
             mentions=("conflict", "spec.replicas", "tests")),
        Case("PATCH", f"{dep}?fieldManager=m", body={
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": -2}}, content_type=apply_ct, mentions=("replicas",)),
        Case("PATCH", f"{dep}?fieldManager=m&force=maybe", body={}, content_type=apply_ct,
             mentions=("force",)),
        Case("PATCH", f"{dep}/scale", body={"spec": {"replicas": -1}}, content_type=merge,
             mentions=("replicas",)),
        Case("PATCH", f"{dep}/scale", body={"spec": {"replicas": "x"}}, content_type=merge,
             mentions=("replicas",)),
        Case("PUT", f"{dep}/scale", body=[], mentions=("scale",)),
        Case("PUT", f"{dep}/scale", body={"spec": {"replicas": -4}}, mentions=("replicas",)),
        Case("DELETE", f"{dep}/scale"),
        Case("PATCH", f"{DEPLOYS}/missing/scale", body={"spec": {"replicas": 1}},
             content_type=merge, mentions=("missing",)),
        Case("PATCH", f"{PODS}/p1", body={"spec": {"containers": [{"name": "c",
                                                                    "image": 7}]}},
             content_type=smp, mentions=("image",)),
        Case("PATCH", f"{NSS}/{NS}", body={"metadata": {"labels": {"bad key!": "x"}}},
             content_type=merge, mentions=("labels",)),
    ]
    # --- paths, methods, headers ----------------------------------------------------------------
    out += [
        Case("GET", "/apis/nope.example.com/v1/things"), Case("GET", "/api/v1/nonsense"),
        Case("GET", "/api/v1/namespaces/bad/nodes"), Case("GET", f"{CM}/cm1/unknownsub"),
        Case("GET", "/api/v9/pods"), Case("GET", "/apis/apps/v9/deployments"),
Case("GET", "/openapi/v3/apis/nope/v1"),
        Case("GET", "/a/b/c/d"), Case("POST", f"{CM}/cm1", body=cm),
        Case("PUT", CM, body=cm), Case("PATCH", CM, body={}, content_type=merge),
        Case("GET", f"{CM}/missing", mentions=("missing",)),
        Case("GET", f"{DEPLOYS}/missing", mentions=("missing", "deployments.apps")),
        Case("GET", f"{CM}/%00"),
        Case("GET", CM, headers=(("Authorization", "Bearer wrong"),)),
        Case("GET", CM, headers=(("Authorization", "Basic dTpw"),)),
        Case("GET", CM, headers=(("Authorization", ""),)),
        Case("POST", CM, body=cm, headers=(("Authorization", "Bearer"),)),
        Case("DELETE", one, headers=(("Authorization", "bearer  "),)),
    ]
    return out + decoding_cases()


def alias_bomb(levels: int = 7) -> str:
    """Each level: nine aliases of the previous one (9**7 scalars from ~300 bytes)."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: bomb}",
             "l0: &l0 [1,1,1,1,1,1,1,1,1]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def decoding_cases() -> list[Case]:
    """Bodies that must not decode, and the limits of patches, CRDs, logs and evictions."""
    yaml_ct, apply_ct = "application/yaml", "application/apply-patch+yaml"
    json_patch = "application/json-patch+json"
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    cm = {"metadata": {"name": "new"}}
    return [
        Case("POST", CM, body=alias_bomb(), content_type=yaml_ct,
             mentions=("excessive aliasing",)),
        Case("PATCH", f"{CM}/cm1?fieldManager=m", body=alias_bomb().replace("bomb", "cm1"),
             content_type=apply_ct, mentions=("excessive aliasing",)),
        Case("POST", CM, body="metadata: &a {name: x, self: *a}\n", content_type=yaml_ct,
             mentions=("contains itself",)),
        Case("POST", CM, body=b"metadata: {name: \xff}\n", content_type=yaml_ct,
             mentions=("UTF-8",)),
        Case("POST", CM, body='{"metadata": {"name": }}', mentions=(
            "invalid character '}' looking for beginning of value", "must be of type ConfigMap")),
        Case("POST", CM, body='{"metadata" {}}', mentions=("after object key",)),
        Case("POST", CM, body='{"metadata": {"name": "x"}} x', mentions=("top-level value",)),
        Case("POST", CM, body='{"data": {"a": NaN}}', mentions=("invalid character 'N'",)),
        Case("POST", CM, body=b'{"metadata": \xff}', mentions=("invalid character",)),
        Case("POST", CM, body=json.dumps(cm).encode("utf-16"), mentions=("invalid character",),
             content_type="application/json; charset=utf-16"),
        Case("POST", CM, body="[" * 20000 + "]" * 20000, mentions=("exceeded max depth",)),
        Case("PATCH", f"{CM}/cm1", body=[{"op": "test", "path": "/data/a", "value": "b"}] * 10002,
             content_type=json_patch, mentions=("maximum operations", "10000", "10002")),
        Case("PATCH", f"{CM}/cm1", body=[{"op": "add", "path": "/data/b", "value": "x" * 1000}] +
             [{"op": "copy", "from": "/data", "path": f"/data/c{i}"} for i in range(16)],
             content_type=json_patch, mentions=("accumulated size",)),
        Case("PATCH", f"{CM}/cm1", body='[{"op": "add", "path": "/data/x" "value": 1}]',
             content_type=json_patch, mentions=("invalid character",)),
        Case("POST", crds, body={"apiVersion": "apiextensions.k8s.io/v1",
                                 "kind": "CustomResourceDefinition", "metadata": {"name": "x"},
                                 "spec": {"group": "x"}},
             mentions=("metadata.name", "spec.names.plural", "spec.names.kind", "spec.scope",
                       "spec.versions")),
        Case("POST", crds, body={
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "things.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"plural": "things", "kind": "Thing"},
                     "versions": [{"name": "v1", "served": True, "storage": False},
                                  {"name": "v2", "served": True, "storage": False}]}},
             mentions=("exactly one version marked as storage", "schemas are required")),
        Case("GET", f"{PODS}/p1/log?sinceTime=yesterday", mentions=("yesterday",)),
        Case("GET", f"{PODS}/p1/log?sinceTime=2024-01-01", mentions=("2024-01-01",)),
        Case("PUT", f"{DEPLOYS}/web/scale", body={"spec": {"replicas": "many"}},
             mentions=("cannot unmarshal string", "replicas")),
        Case("POST", f"{PODS}/p1/eviction", body={"apiVersion": "policy/v1", "kind": "Eviction",
                                                  "metadata": {"name": "other"}},
             mentions=("does not match",)),
        Case("POST", f"{PODS}/missing/eviction", body={"apiVersion": "policy/v1",
                                                       "kind": "Eviction",
                                                       "metadata": {"name": "missing"}},
             mentions=("missing",)),
        Case("GET", f"{PODS}/p1/eviction"),
        Case("POST", f"{CM}?fieldValidation=Strict", body={"metadata": {"name": "n"},
                                                           "extra": {"foo": "bar"}},
             mentions=('unknown field "extra"',)),
    ]


CASES = cases()


def world() -> Objects:
    from tests.api.helpers import world as base

    o = base()
    rt = o.registry.by_key
    ns = rt("namespaces")
    assert ns is not None
    o.create(ns, "", {"metadata": {"name": NS}})
    for key, body in (
        ("configmaps", {"metadata": {"name": "cm1"}, "data": {"a": "b"}}),
        ("pods", {"metadata": {"name": "p1"},
                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
        ("services", {"metadata": {"name": "svc1"}, "spec": {"ports": [{"port": 80}]}}),
        ("deployments.apps", deployment()),
        ("virtualservices.networking.istio.io",
         {"metadata": {"name": "v1"}, "spec": {"hosts": ["web"], "http": [
             {"route": [{"destination": {"host": "web"}}]}]}}),
    ):
        r = rt(key)
        assert r is not None
        o.create(r, NS, body, manager="tests")
    return o


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 200, len(CASES)


@pytest.fixture(scope="module")
def api() -> Any:
    return client(world())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_a_4xx_status_and_changes_nothing(api: Any, case: Case) -> None:
    c, o = api
    before = dump(o)
    r = request(c, case.method, case.path, case.body, content_type=case.content_type,
                headers=dict(case.headers))
    after = dump(o)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:500])
    assert after == before, "the store changed"
    assert r.content.endswith(b"}\n")
    status = r.json()
    keys = list(status)
    assert keys[:5] == STATUS_KEYS and keys[-1] == "code", keys
    assert status["status"] == "Failure" and status["code"] == r.status_code
    assert status["reason"] and status["message"]
    assert b'": ' not in r.content.split(b'"message"')[0]  # compact, as Go writes it
    for word in case.mentions:
        assert word in status["message"] or any(
            word in (cause.get("field", "") + cause.get("message", ""))
            for cause in status.get("details", {}).get("causes", [])), (word, status)


def test_a_future_resource_version_is_the_cachers_504() -> None:
    c, o = client(world())
    rv = o.store.resource_version + 100
    r = request(c, "GET", f"{CM}?watch=1&resourceVersion={rv}")
    assert r.status_code == 504 and r.json()["reason"] == "Timeout"
    assert r.json()["message"] == f"Too large resource version: {rv}, current: {rv - 100}"
    assert listoptions.parse({"limit": "-5"}).limit == 0
