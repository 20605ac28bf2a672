"""ControllerRevisions: the template history of StatefulSets and DaemonSets.

Each distinct pod template becomes a `ControllerRevision` named `<owner>-<hash>` whose `data` is
the strategic merge patch that restores it (`{"spec": {"template": {..., "$patch": "replace"}}}`),
as the real controllers store it, so `kubectl rollout history|undo` work. Going back to an earlier
template reuses its revision object with a new, higher `revision` number.
"""

from __future__ import annotations

import copy
import logging

from turnout.controllers.base import counters
from turnout.controllers.workloads import controller_ref, owned_by, template_hash
from turnout.kube import errors
from turnout.store.objects import Objects
from turnout.types import Obj

log = logging.getLogger("turnout.controllers.revisions")

CR = "controllerrevisions.apps"
REVISION_HASH = "controller-revision-hash"


def clean_template(template: Obj) -> Obj:
    t = copy.deepcopy(template)
    meta = t.get("metadata") or {}
    (meta.get("labels") or {}).pop(REVISION_HASH, None)
    return t


def revision_data(template: Obj) -> Obj:
    return {"spec": {"template": {**clean_template(template), "$patch": "replace"}}}


def template_of(revision: Obj) -> Obj:
    t = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    t.pop("$patch", None)
    return t


def revision_hash(template: Obj) -> str:
    return template_hash(revision_data(template))


def match(revisions: list[Obj], template: Obj) -> Obj | None:
    want = revision_data(template)
    return next((r for r in revisions if r.get("data") == want), None)


def prunable(revisions: list[Obj], in_use: set[str], limit: int) -> list[str]:
    """Names of the oldest revisions beyond `limit` that no pod or status refers to."""
    idle = sorted((r for r in revisions if r["metadata"]["name"] not in in_use),
                  key=lambda r: int(r.get("revision") or 0))
    return [r["metadata"]["name"] for r in idle[: max(0, len(idle) - limit)]]


class Revisions:
    """Reads and writes one owner's ControllerRevisions."""

    def __init__(self, objects: Objects) -> None:
        self.objects = objects
        self.rt = objects.registry.by_key(CR)

    def of(self, owner: Obj) -> list[Obj]:
        meta = owner["metadata"]
        return [r for r in self.objects.store.iter(CR, meta["namespace"])
                if owned_by(r, meta["uid"])]

    def ensure(self, owner: Obj, revisions: list[Obj], hash_label: str) -> Obj:
        """The revision of `owner`'s current template, created or renumbered as newest."""
        assert self.rt is not None
        template = owner["spec"].get("template") or {}
        newest = max((int(r.get("revision") or 0) for r in revisions), default=0)
        found = match(revisions, template)
        if found is not None:
            if int(found.get("revision") or 0) < newest:
                found = copy.deepcopy(found)
                found["revision"] = newest + 1
                found = self.objects.store.update(CR, found)
            return found
        h = revision_hash(template)
        meta = owner["metadata"]
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels[hash_label] = h
        rev: Obj = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                    "metadata": {"name": f"{meta['name']}-{h}", "namespace": meta["namespace"],
                                 "labels": labels, "ownerReferences": [controller_ref(owner)]},
                    "data": revision_data(template), "revision": newest + 1}
        try:
            return self.objects.create(self.rt, meta["namespace"], rev)
        except errors.ApiError as e:
            if e.code != 409:
                raise
            log.info("revision %s exists with another template; taking it over", h)
            counters["revisions:hash_collision"] += 1
            existing = self.objects.store.get(CR, meta["namespace"], rev["metadata"]["name"])
            assert existing is not None
            existing.update({"data": rev["data"], "revision": newest + 1})
            return self.objects.store.update(CR, existing)

    def prune(self, owner: Obj, revisions: list[Obj], in_use: set[str]) -> None:
        assert self.rt is not None
        limit = int(owner["spec"].get("revisionHistoryLimit", 10))
        for name in prunable(revisions, in_use, limit):
            try:
                self.objects.delete(self.rt, owner["metadata"]["namespace"], name)
            except errors.ApiError as e:
                if e.code != 404:
                    raise
                log.debug("revision %s already gone", name)
                counters["revisions:already_gone"] += 1
