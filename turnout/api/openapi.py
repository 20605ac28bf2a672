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


V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"  # what kubectl asks
V2_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"  # a parseable mime


def _pb_string(field: int, value: str) -> bytes:
    data = value.encode()
    return bytes([(field << 3) | 2, len(data)]) + data


def v2_document(protobuf: bool) -> bytes:
    """An OpenAPI v2 document with no definitions.

    kubectl consults v2 only for kinds absent from v3 (an unknown kind, say); finding no schema
    there it skips client-side validation and reports the real problem ("no matches for kind").
    kubectl asks for the gnostic protobuf encoding: Document{swagger=1, info=2, paths=8}.
    """
    if not protobuf:
        return json.dumps({"swagger": "2.0", "info": {"title": "Kubernetes",
                                                       "version": "v1.32.0"},
                           "paths": {}}).encode()
    info = _pb_string(1, "Kubernetes") + _pb_string(2, "v1.32.0")
    return _pb_string(1, "2.0") + bytes([(2 << 3) | 2, len(info)]) + info + bytes([(8 << 3) | 2, 0])
