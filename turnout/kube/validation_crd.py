"""Validation of CustomResourceDefinitions (apiextensions.k8s.io/v1), as kube-apiserver's
apiextensions validation does it (k8s.io/apiextensions-apiserver pkg/apis/apiextensions/validation).

A CRD the real server refuses must not be accepted here and reported `NamesAccepted`: the name is
`<plural>.<group>`, the group a domain with a dot, plural and kind given and well formed, scope
Cluster or Namespaced, at least one version, exactly one storage version, version names unique
DNS-1035 labels, at least one served, and in v1 every version carries a structural schema root.
listKind and singular are defaulted by the server before validation, so they are not required.

Pure: no I/O.
"""

from __future__ import annotations

from turnout.kube import selectors as sel
from turnout.kube.errors import Cause
from turnout.kube.fielderrors import GoRepr, _msgs, invalid_value, not_supported, required
from turnout.types import Obj

_VERSIONS_NIL = GoRepr("[]apiextensions.CustomResourceDefinitionVersion(nil)")
_VERSIONS = GoRepr("[]apiextensions.CustomResourceDefinitionVersion{...}")


def _names(names: Obj, path: str) -> list[Cause]:
    out: list[Cause] = []
    plural = str(names.get("plural") or "")
    kind = str(names.get("kind") or "")
    if not plural:
        out.append(required(f"{path}.plural"))
    else:
        out += _msgs(f"{path}.plural", plural, sel.is_dns1035_label(plural))
    singular = str(names.get("singular") or "")
    if singular:
        out += _msgs(f"{path}.singular", singular, sel.is_dns1035_label(singular))
    if not kind:
        out.append(required(f"{path}.kind"))
    else:
        errs = sel.is_dns1035_label(kind.lower())
        if errs:
            out.append(invalid_value(f"{path}.kind", kind, "may have mixed case, but should "
                                     "otherwise match: " + ",".join(errs)))
    for i, short in enumerate(names.get("shortNames") or ()):
        out += _msgs(f"{path}.shortNames[{i}]", str(short), sel.is_dns1035_label(str(short)))
    return out


def _versions(versions: list[Obj], path: str) -> list[Cause]:
    out: list[Cause] = []
    seen: set[str] = set()
    unique = True
    for i, v in enumerate(versions):
        vp = f"{path}[{i}]"
        name = str(v.get("name") or "")
        if not name:
            out.append(required(f"{vp}.name"))
        else:
            out += _msgs(f"{vp}.name", name, sel.is_dns1035_label(name))
        unique = unique and name not in seen
        seen.add(name)
        root = (v.get("schema") or {}).get("openAPIV3Schema")
        if root is None:
            out.append(required(f"{vp}.schema.openAPIV3Schema", "schemas are required"))
        elif isinstance(root, dict) and not root.get("type"):
            out.append(required(f"{vp}.schema.openAPIV3Schema.type", "must not be empty at "
                                "the root"))
    value = _VERSIONS if versions else _VERSIONS_NIL
    if not unique:
        out.append(invalid_value(path, value, "must contain unique version names"))
    if sum(1 for v in versions if v.get("storage") is True) != 1:
        out.append(invalid_value(path, value, "must have exactly one version marked as storage "
                                 "version"))
    if versions and not any(v.get("served") is True for v in versions):
        out.append(invalid_value(path, value, "must have at least one version served"))
    if not versions:
        out.append(required(path, "must have at least one version"))
    return out


def validate_crd(obj: Obj) -> list[Cause]:
    spec = obj.get("spec") or {}
    names: Obj = spec["names"] if isinstance(spec.get("names"), dict) else {}
    group = str(spec.get("group") or "")
    plural = str(names.get("plural") or "")
    out: list[Cause] = []
    name = str((obj.get("metadata") or {}).get("name") or "")
    if name != f"{plural}.{group}":
        out.append(invalid_value("metadata.name", name,
                                 'must be spec.names.plural+"."+spec.group'))
    if not group:
        out.append(required("spec.group"))
    else:
        out += _msgs("spec.group", group, sel.is_dns1123_subdomain(group))
        if "." not in group:
            out.append(invalid_value("spec.group", group, "should be a domain with at least "
                                     "one dot"))
    out += _names(names, "spec.names")
    scope = spec.get("scope") or ""
    if scope not in ("Cluster", "Namespaced"):
        out.append(not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    versions = [v for v in spec.get("versions") or () if isinstance(v, dict)]
    return out + _versions(versions, "spec.versions")
