"""The write path every writer goes through — the HTTP API and the controllers alike.

Defaulting, validation, uid/generation/timestamps, optimistic concurrency, ClusterIP and NodePort
allocation (:mod:`turnout.store.service_addresses`), graceful deletion (pods, finalizers,
namespaces) and CRD registration live here, so a controller creating a Pod gets exactly what
`kubectl create` would.
"""

from __future__ import annotations

import builtins
import copy
import ipaddress
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from turnout.kube import defaults, errors, patch, schema, selectors
from turnout.kube.resources import Registry, ResourceType
from turnout.store import ownership, service_addresses
from turnout.store.admission import Admission
from turnout.store.db import Store
from turnout.store.service_addresses import SERVICE_NET
from turnout.types import Obj

NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/json-patch+json": "json",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply",
}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class DeleteOptions:
    propagation: str = "Background"
    grace_seconds: int | None = None
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False

    @classmethod
    def from_json(cls, body: Obj | None, query: dict[str, str]) -> DeleteOptions:
        body = body or {}
        pre = body.get("preconditions") or {}
        grace = body.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
        return cls(
            propagation=str(body.get("propagationPolicy") or query.get("propagationPolicy")
                            or ("Orphan" if body.get("orphanDependents") else "Background")),
            grace_seconds=int(grace) if grace is not None else None,
            precondition_uid=pre.get("uid"),
            precondition_rv=pre.get("resourceVersion"),
            dry_run=bool(body.get("dryRun") or query.get("dryRun")),
        )


Warnings = builtins.list[str] | None
"""Where a write reports the unknown fields it dropped (None: drop them silently)."""


class Objects:
    def __init__(self, store: Store, registry: Registry,
                 service_network: ipaddress.IPv4Network | ipaddress.IPv6Network = SERVICE_NET,
                 admission: Admission | None = None) -> None:
        self.store = store
        self.registry = registry
        self.admission = admission if admission is not None else Admission()
        """The one admission chain of this store: every write, whoever makes it."""
        self.service_network = service_network
        self.addresses = service_addresses.ServiceAddresses(store, service_network)
        self.on_crd_change: list[Callable[[], None]] = []
        for crd in store.iter("customresourcedefinitions.apiextensions.k8s.io"):
            registry.sync_crd(crd)

    # --- reads ----------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str, version: str = "") -> Obj:
        obj = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return _as_version(obj, rt, version)

    def list(self, rt: ResourceType, namespace: str = "", label_selector: str = "",
             field_selector: str = "", version: str = "") -> tuple[list[Obj], int]:
        lsel = selectors.parse_label_selector(label_selector) if label_selector else None
        fsel = selectors.parse_field_selector(field_selector, rt.kind, rt.group) \
            if field_selector else None
        out = []
        for obj in self.store.iter(rt.key, namespace if rt.namespaced and namespace else None):
            if lsel is not None and not lsel.matches(obj["metadata"].get("labels") or {}):
                continue
            if fsel is not None and not fsel.matches(obj):
                continue
            out.append(_as_version(copy.deepcopy(obj), rt, version))
        return out, self.store.resource_version

    # --- create ---------------------------------------------------------------------------------

    def create(self, rt: ResourceType, namespace: str, body: Any, *, dry_run: bool = False,
               strict: bool = False, version: str = "", manager: str | None = None,
               applied: bool = False, warnings: Warnings = None) -> Obj:
        """`manager` names the field manager of an API write; `applied`: the body is the
        result of a server-side apply and carries its managedFields. Unknown fields of
        built-in kinds are dropped, each named in `warnings` when given
        (fieldValidation=Warn); `strict` refuses them instead."""
        obj = self._check_body(rt, body, version)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise errors.bad_request("the namespace of the provided object does not match "
                                         "the namespace sent on the request")
            ns = namespace or body_ns or "default"
            meta["namespace"] = ns
            nsobj = self.store.peek("namespaces", "", ns)
            if nsobj is None:
                raise errors.not_found("namespaces", "", ns)
            if nsobj["metadata"].get("deletionTimestamp"):
                raise errors.ApiError(
                    403, "Forbidden",
                    f'{rt.plural} "{meta.get("name") or meta.get("generateName", "")}" is '
                    f"forbidden: unable to create new content in namespace {ns} because it is "
                    "being terminated")
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = str(meta["generateName"]) + "".join(
                secrets.choice(NAME_ALPHABET) for _ in range(5))
        self._validate(rt, obj, strict=strict)
        obj = _prune(rt, obj, warnings)
        obj = defaults.apply(obj, rt.group, rt.kind)
        meta = obj["metadata"]
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_iso()
        defaults.with_uid(obj, rt.group, rt.kind)
        meta.pop("resourceVersion", None)
        meta.pop("deletionTimestamp", None)
        if _has_generation(rt):
            meta["generation"] = 1
        self._allocate(rt, obj, None)
        self._validate(rt, obj, strict=False)
        if rt.key == "customresourcedefinitions.apiextensions.k8s.io":
            _crd_status(obj)
        if not applied:
            ownership.record(rt, None, obj, manager, version)
        if dry_run:
            return _as_version(obj, rt, version)
        stored = self.store.create(rt.key, obj)
        self._after_write(rt, stored)
        return _as_version(stored, rt, version)

    # --- update ---------------------------------------------------------------------------------

    def update(self, rt: ResourceType, namespace: str, name: str, body: Any, *,
               subresource: str = "", dry_run: bool = False, strict: bool = False,
               version: str = "", manager: str | None = None,
               warnings: Warnings = None) -> Obj:
        obj = self._check_body(rt, body, version)
        meta = obj.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request("the name of the object "
                                     f"({meta['name']}) does not match the name on the URL "
                                     f"({name})")
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = namespace
        old = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if old is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return self._replace(rt, old, obj, subresource=subresource, dry_run=dry_run,
                             strict=strict, expect_rv=meta.get("resourceVersion"),
                             version=version, manager=manager, warnings=warnings)

    def _replace(self, rt: ResourceType, old: Obj, obj: Obj, *, subresource: str,
                 dry_run: bool, strict: bool, expect_rv: str | None, version: str,
                 manager: str | None = None, applied: bool = False,
                 warnings: Warnings = None) -> Obj:
        if subresource == "status":
            new = copy.deepcopy(old)
            new["status"] = obj.get("status", {})
            if expect_rv:
                new["metadata"]["resourceVersion"] = expect_rv
            obj = new
        elif subresource:
            raise errors.method_not_allowed(f"subresource {subresource} cannot be updated")
        else:
            # status is ignored on the main resource for kinds with a status subresource
            if "status" in rt.subresources and "status" in old:
                obj["status"] = old["status"]
        self._validate(rt, obj, strict=strict, old=old)
        obj = _prune(rt, obj, warnings)
        obj = defaults.apply(obj, rt.group, rt.kind)
        meta = obj["metadata"]
        ometa = old["metadata"]
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if k in ometa:
                meta[k] = ometa[k]
            else:
                meta.pop(k, None)
        if _has_generation(rt):
            gen = int(ometa.get("generation", 1))
            meta["generation"] = gen + 1 if defaults.spec_changed(old, obj) else gen
        self._allocate(rt, obj, old)
        self._validate(rt, obj, strict=False, old=old)
        if rt.key == "customresourcedefinitions.apiextensions.k8s.io":
            _crd_status(obj)
        if not applied:
            ownership.record(rt, old, obj, manager, version, subresource)
        if expect_rv and expect_rv != ometa.get("resourceVersion"):
            raise errors.conflict(rt.plural, rt.group, ometa["name"],
                                  "the object has been modified; please apply your changes to "
                                  "the latest version and try again")
        if _same(old, obj) and meta.get("managedFields") == ometa.get("managedFields"):
            return _as_version(old, rt, version)
        if dry_run:
            return _as_version(obj, rt, version)
        stored = self.store.update(rt.key, obj, expect_rv=expect_rv)
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and \
                rt.key not in ("pods", "namespaces"):
            stored = self.store.delete(rt.key, meta.get("namespace", ""), meta["name"])
        self._after_write(rt, stored)
        return _as_version(stored, rt, version)

    # --- patch ----------------------------------------------------------------------------------

    def patch(self, rt: ResourceType, namespace: str, name: str, content_type: str, body: Any,
              *, subresource: str = "", dry_run: bool = False, strict: bool = False,
              version: str = "", force: bool = False, manager: str | None = None,
              warnings: Warnings = None) -> Obj:
        ptype = PATCH_TYPES.get(content_type.split(";")[0].strip())
        if ptype is None:
            raise errors.unsupported_media_type(content_type)
        ns = namespace if rt.namespaced else ""
        old = self.store.get(rt.key, ns, name)
        if ptype == "apply":
            return self._apply(rt, namespace, name, old, body, subresource=subresource,
                               dry_run=dry_run, strict=strict, version=version, force=force,
                               manager=manager or "unknown", warnings=warnings)
        if old is None:
            raise errors.not_found(rt.plural, rt.group, name)
        if ptype == "strategic" and not rt.builtin:
            raise errors.unsupported_media_type(content_type)
        target = _as_version(copy.deepcopy(old), rt, version)
        if subresource == "scale":
            return self._patch_scale(rt, old, ptype, body, dry_run=dry_run)
        if ptype == "json":
            if not isinstance(body, list):
                raise errors.bad_request("json patch must be a list of operations")
            new = patch.json_patch(target, body)
        elif not isinstance(body, dict):
            raise errors.bad_request("patch body must be a JSON object")
        elif ptype == "strategic":
            new = patch.strategic_merge_patch(target, body, rt.group, rt.kind)
        else:
            new = patch.merge_patch(target, body)
        if not isinstance(new, dict):
            raise errors.bad_request("patch result is not an object")
        new.setdefault("metadata", {})
        if not isinstance(new["metadata"], dict):
            raise errors.bad_request("metadata: must be an object")
        if new["metadata"].get("name", name) != name:
            raise errors.bad_request("the name of the object "
                                     f"({new['metadata'].get('name')}) does not match the name "
                                     f"on the URL ({name})")
        new["metadata"]["name"] = name
        if rt.namespaced:
            new["metadata"]["namespace"] = namespace
        expect = None
        if isinstance(body, dict):
            expect = (body.get("metadata") or {}).get("resourceVersion")
        return self._replace(rt, old, new, subresource=subresource, dry_run=dry_run,
                             strict=strict, expect_rv=expect, version=version, manager=manager,
                             warnings=warnings)

    def _apply(self, rt: ResourceType, namespace: str, name: str, old: Obj | None, body: Any,
               *, subresource: str, dry_run: bool, strict: bool, version: str, force: bool,
               manager: str, warnings: Warnings = None) -> Obj:
        """Server-side apply (`application/apply-patch+yaml`)."""
        config = ownership.check_config(rt, body, version)
        if not strict:  # unknown fields own nothing: drop them before managedFields are computed
            config = _prune(rt, config, warnings)
        cname = (config.get("metadata") or {}).get("name")
        if cname is not None and cname != name:
            raise errors.bad_request(f"the name of the object ({cname}) does not match the "
                                     f"name on the URL ({name})")
        if subresource not in ("", "status"):
            raise errors.method_not_allowed(f"subresource {subresource} cannot be applied")
        if old is None:
            if subresource:
                raise errors.not_found(rt.plural, rt.group, name)
            new = ownership.apply(rt, None, config, manager, version, force=force)
            new["metadata"]["name"] = name
            return self.create(rt, namespace, new, dry_run=dry_run, strict=strict,
                               version=version, applied=True)
        live = _as_version(copy.deepcopy(old), rt, version)
        new = ownership.apply(rt, live, config, manager, version, force=force,
                              subresource=subresource)
        new["metadata"]["name"] = name
        if rt.namespaced:
            new["metadata"]["namespace"] = namespace
        if subresource == "status":
            new["metadata"] = {**old["metadata"],
                               "managedFields": new["metadata"].get("managedFields", [])}
        expect = (config.get("metadata") or {}).get("resourceVersion")
        return self._replace(rt, old, new, subresource=subresource, dry_run=dry_run,
                             strict=strict, expect_rv=expect, version=version, applied=True)

    # --- scale ----------------------------------------------------------------------------------

    def scale(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        obj = self.get(rt, namespace, name)
        return _scale_of(obj)

    def update_scale(self, rt: ResourceType, namespace: str, name: str, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("scale body must be an object")
        return self._patch_scale(rt, self.get(rt, namespace, name), "merge",
                                 {"spec": body.get("spec") or {}}, dry_run=False)

    def _patch_scale(self, rt: ResourceType, old: Obj, ptype: str, body: Any,
                     dry_run: bool) -> Obj:
        scale = _scale_of(old)
        new_scale = patch.json_patch(scale, body) if ptype == "json" else \
            patch.merge_patch(scale, body)
        replicas = (new_scale.get("spec") or {}).get("replicas")
        if replicas is not None and (not isinstance(replicas, int) or isinstance(replicas, bool)):
            raise errors.bad_request(
                'Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal '
                f"{schema.json_kind(replicas)} into Go struct field ScaleSpec.spec.replicas of "
                "type int32")
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid("Scale", "autoscaling", old["metadata"]["name"], [
                errors.Cause("spec.replicas", f"Invalid value: {replicas}: must be greater "
                             "than or equal to 0")])
        obj = copy.deepcopy(old)
        obj["spec"]["replicas"] = replicas
        updated = self._replace(rt, old, obj, subresource="", dry_run=dry_run, strict=False,
                                expect_rv=None, version="")
        return _scale_of(updated)

    # --- delete ---------------------------------------------------------------------------------

    def delete(self, rt: ResourceType, namespace: str, name: str,
               opts: DeleteOptions | None = None, version: str = "") -> Obj:
        opts = opts or DeleteOptions()
        ns = namespace if rt.namespaced else ""
        old = self.store.get(rt.key, ns, name)
        if old is None:
            raise errors.not_found(rt.plural, rt.group, name)
        meta = old["metadata"]
        if opts.precondition_uid and opts.precondition_uid != meta.get("uid"):
            raise errors.conflict(rt.plural, rt.group, name,
                                  f"Precondition failed: UID in precondition: "
                                  f"{opts.precondition_uid}, UID in object meta: {meta.get('uid')}")
        if opts.precondition_rv and opts.precondition_rv != meta.get("resourceVersion"):
            raise errors.conflict(rt.plural, rt.group, name,
                                  "the object has been modified; please apply your changes to "
                                  "the latest version and try again")
        if opts.dry_run:
            return _as_version(old, rt, version)
        if opts.propagation == "Orphan":
            self._orphan_dependents(meta.get("uid", ""))
        graceful = self._graceful(rt, old, opts)
        if graceful is not None:
            return _as_version(graceful, rt, version)
        gone = self.store.delete(rt.key, ns, name)
        self._after_delete(rt, gone)
        return _as_version(gone, rt, version)

    def _graceful(self, rt: ResourceType, old: Obj, opts: DeleteOptions) -> Obj | None:
        """Mark for deletion instead of removing, where something must finish first."""
        meta = old["metadata"]
        if meta.get("deletionTimestamp"):
            if rt.key == "pods" and opts.grace_seconds == 0:
                return None  # force delete of a terminating pod
            return old
        pending = bool(meta.get("finalizers"))
        if rt.key == "pods":
            grace = opts.grace_seconds
            if grace is None:
                grace = int(old.get("spec", {}).get("terminationGracePeriodSeconds", 30))
            if grace == 0 and opts.grace_seconds == 0 and not pending:
                return None
            if not old.get("status", {}).get("podIP") and old["status"].get("phase") == \
                    "Pending" and not pending:
                return None  # never started: nothing to stop
            meta["deletionGracePeriodSeconds"] = grace
            pending = True
        elif rt.key == "namespaces":
            old.setdefault("status", {})["phase"] = "Terminating"
            pending = True
        elif opts.propagation == "Foreground":  # the garbage collector deletes the dependents
            meta["finalizers"] = [*(meta.get("finalizers") or []), "foregroundDeletion"]
            pending = True
        if not pending:
            return None
        meta["deletionTimestamp"] = now_iso()
        return self.store.update(rt.key, old)

    def finalize(self, rt: ResourceType, namespace: str, name: str) -> None:
        """Remove an object whose graceful deletion has finished (pods, namespaces)."""
        ns = namespace if rt.namespaced else ""
        if self.store.peek(rt.key, ns, name) is not None:
            gone = self.store.delete(rt.key, ns, name)
            self._after_delete(rt, gone)

    def _orphan_dependents(self, uid: str) -> None:
        if not uid:
            return
        for rt in self.registry.all():
            for obj in list(self.store.iter(rt.key)):
                refs = obj["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == uid for r in refs):
                    new = copy.deepcopy(obj)
                    new["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    if not new["metadata"]["ownerReferences"]:
                        del new["metadata"]["ownerReferences"]
                    self.store.update(rt.key, new)

    # --- internals ------------------------------------------------------------------------------

    def _check_body(self, rt: ResourceType, body: Any, version: str) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        obj = copy.deepcopy(body)
        want_av = rt.api_version(version or None)
        av, kind = obj.get("apiVersion"), obj.get("kind")
        if kind and kind != rt.kind:
            raise errors.bad_request(
                f"the object provided is unrecognized (kind {kind} does not match {rt.kind})")
        if av and av != want_av and not (av.split("/")[0] == rt.group
                                        and av.split("/")[-1] in rt.versions):
            raise errors.bad_request(
                f"the API version in the data ({av}) does not match the expected API version "
                f"({want_av})")
        obj["apiVersion"] = rt.api_version()
        obj["kind"] = rt.kind
        return obj

    def _validate(self, rt: ResourceType, obj: Obj, *, strict: bool,
                  old: Obj | None = None) -> None:
        self.admission.validate(rt, obj, strict=strict, old=old)

    def _allocate(self, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        if rt.key == "services":
            self.addresses.allocate(obj, old)

    def readdress_services(self) -> tuple[str, ...]:
        """New ClusterIPs for Services outside this cluster's Service network (it moved to
        another port set); returns "ns/name old -> new"."""
        return self.addresses.readdress()

    def _after_write(self, rt: ResourceType, obj: Obj) -> None:
        if rt.key == "customresourcedefinitions.apiextensions.k8s.io":
            self.registry.sync_crd(obj)
            for cb in self.on_crd_change:
                cb()

    def _after_delete(self, rt: ResourceType, obj: Obj) -> None:
        if rt.key == "customresourcedefinitions.apiextensions.k8s.io":
            defined = self.registry.by_key(
                f"{obj['spec']['names']['plural']}.{obj['spec']['group']}")
            self.registry.drop_crd(obj["metadata"]["name"])
            if defined is not None and self.registry.by_key(defined.key) is None:
                for o in list(self.store.iter(defined.key)):
                    self.store.delete(defined.key, o["metadata"].get("namespace", ""),
                                      o["metadata"]["name"])
            for cb in self.on_crd_change:
                cb()


def _has_generation(rt: ResourceType) -> bool:
    return rt.key not in ("pods", "events", "endpoints", "secrets", "configmaps",
                          "serviceaccounts", "events.events.k8s.io")


def _prune(rt: ResourceType, obj: Obj, warnings: list[str] | None) -> Obj:
    """`obj` without the fields its built-in schema does not know, as a Go struct round trip
    drops them; each is reported in `warnings` (fieldValidation=Warn) when given."""
    if not rt.builtin:
        return obj
    unknown = schema.unknown_fields(obj, rt.group, rt.kind)
    if not unknown:
        return obj
    if warnings is not None:
        warnings.extend(f'unknown field "{p}"' for p in unknown if
                        f'unknown field "{p}"' not in warnings)
    return schema.prune_unknown(obj, rt.group, rt.kind)


def _same(old: Obj, new: Obj) -> bool:
    a = copy.deepcopy(old)
    b = copy.deepcopy(new)
    for o in (a, b):
        o["metadata"].pop("resourceVersion", None)
        o["metadata"].pop("managedFields", None)
    return a == b


def _as_version(obj: Obj, rt: ResourceType, version: str) -> Obj:
    if version and version in rt.versions:
        obj["apiVersion"] = rt.api_version(version)
    return obj


def _scale_of(obj: Obj) -> Obj:
    meta = obj["metadata"]
    status = obj.get("status") or {}
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                          "creationTimestamp") if k in meta},
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
        "status": {"replicas": status.get("replicas", 0),
                   "selector": selectors.selector_to_string(
                       obj.get("spec", {}).get("selector") or {})},
    }


def _crd_status(crd: Obj) -> None:
    names = (crd.get("spec") or {}).get("names") or {}
    ts = now_iso()
    crd["status"] = {
        "acceptedNames": names,
        "storedVersions": [v["name"] for v in (crd.get("spec") or {}).get("versions") or []
                           if v.get("storage")],
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": ts},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": ts},
        ],
    }
