"""Discovery documents: legacy (APIVersions/APIGroupList/APIResourceList) and aggregated.

Aggregated discovery is answered only in a version the client listed in Accept (kubectl 1.29 lists
only v2beta1 and fails on a v2 answer); legacy is the fallback everyone understands.
"""

from __future__ import annotations

import hashlib

from turnout.kube.resources import Registry, ResourceType
from turnout.types import Obj

SUB_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"],
             "log": ["get"], "eviction": ["create"]}
SUB_KINDS = {"scale": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
             "eviction": {"group": "policy", "version": "v1", "kind": "Eviction"}}
"""Subresources whose object is not their resource's kind (kubectl drain looks for
pods/eviction with group policy and kind Eviction)."""


def _gv(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def _hash(rt: ResourceType) -> str:
    return hashlib.sha256(rt.key.encode()).hexdigest()[:11]


def api_versions(server_address: str) -> Obj:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": server_address}]}


def _group_obj(group: str, versions: list[str]) -> Obj:
    return {
        "name": group,
        "versions": [{"groupVersion": _gv(group, v), "version": v} for v in versions],
        "preferredVersion": {"groupVersion": _gv(group, versions[0]), "version": versions[0]},
    }


def api_group_list(reg: Registry) -> Obj:
    groups = [_group_obj(g, vs) for g, vs in reg.groups().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(reg: Registry, group: str) -> Obj | None:
    vs = reg.groups().get(group)
    if not vs or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_obj(group, vs)}


def api_resource_list(reg: Registry, group: str, version: str) -> Obj | None:
    types = reg.in_group_version(group, version)
    if not types:
        return None
    resources: list[Obj] = []
    for rt in types:
        r: Obj = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                  "kind": rt.kind, "verbs": list(rt.verbs), "storageVersionHash": _hash(rt)}
        if rt.short_names:
            r["shortNames"] = list(rt.short_names)
        if rt.categories:
            r["categories"] = list(rt.categories)
        resources.append(r)
        for sub in rt.subresources:
            sr: Obj = {"name": f"{rt.plural}/{sub}", "singularName": "",
                       "namespaced": rt.namespaced, "kind": rt.kind, "verbs": SUB_VERBS[sub]}
            if sub in SUB_KINDS:
                sr.update(SUB_KINDS[sub])
            resources.append(sr)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": _gv(group, version), "resources": resources}


def aggregated_version(accept: str) -> str | None:
    """'v2' or 'v2beta1' if the client asked for aggregated discovery in that version."""
    for part in accept.split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == \
                "APIGroupDiscoveryList" and params.get("v") in ("v2", "v2beta1"):
            return params["v"]
    return None


def aggregated(reg: Registry, legacy: bool, version: str) -> Obj:
    items: list[Obj] = []
    for group, versions in reg.groups().items():
        if (group == "") != legacy:
            continue
        vitems = []
        for v in versions:
            res = []
            for rt in reg.in_group_version(group, v):
                r: Obj = {
                    "resource": rt.plural,
                    "responseKind": {"group": group, "version": v, "kind": rt.kind},
                    "scope": "Namespaced" if rt.namespaced else "Cluster",
                    "singularResource": rt.singular,
                    "verbs": list(rt.verbs),
                }
                if rt.short_names:
                    r["shortNames"] = list(rt.short_names)
                if rt.categories:
                    r["categories"] = list(rt.categories)
                subs = []
                for sub in rt.subresources:
                    kind = SUB_KINDS.get(sub) or {"group": group, "version": v, "kind": rt.kind}
                    subs.append({"subresource": sub, "responseKind": kind,
                                 "verbs": SUB_VERBS[sub]})
                if subs:
                    r["subresources"] = subs
                res.append(r)
            vitems.append({"version": v, "resources": res, "freshness": "Current"})
        items.append({"metadata": {"name": group, "creationTimestamp": None},
                      "versions": vitems})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}",
            "metadata": {}, "items": items}


def aggregated_content_type(version: str) -> str:
    return f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
