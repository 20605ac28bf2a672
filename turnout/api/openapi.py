"""Minimal OpenAPI v3 documents: enough for `kubectl apply` to leave validation to the server.

Each group/version document lists one `patch` operation per kind with its
`x-kubernetes-group-version-kind` and a `fieldValidation` parameter, so kubectl sends
`fieldValidation=Strict` and trusts our answer. `requestBody` is left out on purpose: kubectl then
builds strategic merge patches from its compiled-in types rather than from our (empty) schemas.
"""

from __future__ import annotations

import hashlib
import json

from turnout.kube.resources import Registry
from turnout.types import Obj


def _path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def document(reg: Registry, group: str, version: str) -> Obj | None:
    types = reg.in_group_version(group, version)
    if not types:
        return None
    paths: Obj = {}
    schemas: Obj = {}
    base = "/" + _path(group, version)
    for rt in types:
        gvk = {"group": group, "version": version, "kind": rt.kind}
        ns = "/namespaces/{namespace}" if rt.namespaced else ""
        paths[f"{base}{ns}/{rt.plural}/{{name}}"] = {
            "patch": {
                "operationId": f"patch{rt.kind}",
                "parameters": [
                    {"name": "fieldValidation", "in": "query",
                     "schema": {"type": "string", "uniqueItems": True}},
                    {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                    {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            }
        }
        prefix = f"io.turnout.{group or 'core'}.{version}"
        schemas[f"{prefix}.{rt.kind}"] = {
            "type": "object",
            "x-kubernetes-group-version-kind": [gvk],
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": schemas}}


def doc_hash(doc: Obj) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64].upper()


def root(reg: Registry) -> Obj:
    paths: Obj = {}
    for group, versions in reg.groups().items():
        for v in versions:
            doc = document(reg, group, v)
            if doc is not None:
                p = _path(group, v)
                paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash={doc_hash(doc)}"}
    return {"paths": paths}
