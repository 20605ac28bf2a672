"""Namespaces and garbage collection: objects go away when what they belong to goes away.

- A new namespace gets its `default` ServiceAccount and `kube-root-ca.crt` ConfigMap.
- A terminating namespace has every object in it deleted (pods gracefully), then is removed.
- An object whose every ownerReference points at an object that no longer exists is deleted
  (background propagation), the way the real garbage collector does it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from turnout.controllers.base import Controller, Key
from turnout.kube import errors
from turnout.store.db import Event
from turnout.store.objects import DeleteOptions
from turnout.types import Obj

FOREGROUND = "foregroundDeletion"
"""The finalizer of an owner deleted with propagationPolicy Foreground: it stays (with its
deletionTimestamp) until its dependents are gone."""
CA_PEM = "-----BEGIN CERTIFICATE-----\nturnout-local-cluster\n-----END CERTIFICATE-----\n"


class NamespaceController(Controller):
    name = "namespace-controller"
    resync_seconds = 5.0

    def all_keys(self) -> Iterable[Key]:
        return [("", n["metadata"]["name"]) for n in self.store.iter("namespaces")]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.key == "namespaces":
            yield ("", ev.name)
        elif ev.namespace and ev.type == "DELETED":
            ns = self.store.peek("namespaces", "", ev.namespace)
            if ns is not None and ns["metadata"].get("deletionTimestamp"):
                yield ("", ev.namespace)

    async def reconcile(self, key: Key) -> None:
        name = key[1]
        ns = self.store.peek("namespaces", "", name)
        if ns is None:
            return
        reg = self.objects.registry
        if not ns["metadata"].get("deletionTimestamp"):
            self._ensure(reg.by_key("serviceaccounts"), name, {
                "apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": name}})
            self._ensure(reg.by_key("configmaps"), name, {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "kube-root-ca.crt", "namespace": name,
                             "annotations": {"kubernetes.io/description": "Contains a CA bundle "
                                             "that can be used to verify the kube-apiserver "
                                             "when using internal endpoints."}},
                "data": {"ca.crt": CA_PEM}})
            return
        remaining = 0
        for key_, obj_name in self.store.namespaces_in_use(name):
            rt = reg.by_key(key_)
            if rt is None:
                continue
            remaining += 1
            obj = self.store.peek(key_, name, obj_name)
            if obj is not None and not obj["metadata"].get("deletionTimestamp"):
                try:
                    self.objects.delete(rt, name, obj_name)
                except errors.ApiError as e:
                    if e.code != 404:
                        raise
        if remaining == 0 or not self.store.namespaces_in_use(name):
            ns_type = reg.by_key("namespaces")
            assert ns_type is not None
            self.objects.finalize(ns_type, "", name)

    def _ensure(self, rt: Any, ns: str, obj: Obj) -> None:
        if rt is None or self.store.peek(rt.key, ns, obj["metadata"]["name"]) is not None:
            return
        try:
            self.objects.create(rt, ns, obj)
        except errors.ApiError as e:
            if e.code not in (403, 404, 409):
                raise


class GarbageCollector(Controller):
    """Deletes dependents whose owners are all gone."""

    name = "garbage-collector"
    resync_seconds = 20.0

    def all_keys(self) -> Iterable[Key]:
        return [("", "*")]

    def keys_for(self, ev: Event) -> Iterable[Key]:
        if ev.type == "DELETED" or FOREGROUND in (ev.obj.get("metadata") or {}).get(
                "finalizers", ()):
            yield ("", "*")

    async def reconcile(self, key: Key) -> None:
        live: set[str] = set()
        dependents: list[tuple[str, Obj]] = []
        foreground: list[tuple[str, Obj]] = []
        reg = self.objects.registry
        for rt in reg.all():
            for obj in self.store.iter(rt.key):
                live.add(obj["metadata"].get("uid", ""))
                if obj["metadata"].get("ownerReferences"):
                    dependents.append((rt.key, obj))
                if obj["metadata"].get("deletionTimestamp") and \
                        FOREGROUND in (obj["metadata"].get("finalizers") or ()):
                    foreground.append((rt.key, obj))
        for k, owner in foreground:
            self._foreground(k, owner, dependents)
        for k, obj in dependents:
            refs = obj["metadata"]["ownerReferences"]
            if any(r.get("uid") in live for r in refs) or obj["metadata"].get("deletionTimestamp"):
                continue
            dep_type = reg.by_key(k)
            if dep_type is None:
                continue
            try:
                self.objects.delete(dep_type, obj["metadata"].get("namespace", ""),
                                    obj["metadata"]["name"])
            except errors.ApiError as e:
                if e.code != 404:
                    raise

    def _foreground(self, key: str, owner: Obj, dependents: list[tuple[str, Obj]]) -> None:
        """Delete an owner's dependents (in the foreground too); once none is left, drop the
        finalizer, which deletes the owner."""
        uid = owner["metadata"].get("uid")
        mine = [(k, o) for k, o in dependents
                if any(r.get("uid") == uid for r in o["metadata"]["ownerReferences"])]
        reg = self.objects.registry
        for k, obj in mine:
            rt = reg.by_key(k)
            if rt is None or obj["metadata"].get("deletionTimestamp"):
                continue
            try:
                self.objects.delete(rt, obj["metadata"].get("namespace", ""),
                                    obj["metadata"]["name"], DeleteOptions("Foreground"))
            except errors.ApiError as e:
                if e.code != 404:
                    raise
        owner_type = reg.by_key(key)
        if mine or owner_type is None:
            return
        owner = copy.deepcopy(owner)  # the store's own copy is not ours to change
        meta = owner["metadata"]
        meta["finalizers"] = [f for f in meta.get("finalizers") or () if f != FOREGROUND]
        try:
            self.objects.update(owner_type, meta.get("namespace", ""), meta["name"], owner)
        except errors.ApiError as e:
            if e.code not in (404, 409):
                raise
