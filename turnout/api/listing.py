"""LIST as kube-apiserver answers it: resourceVersion semantics, `limit` / `continue` pages,
`remainingItemCount`, 410 Expired for a token whose snapshot is gone.

Pages of one list come from one snapshot (the resourceVersion in the continue token), rebuilt
from the store's event log, so a client paging through sees a consistent list even while objects
change, as with etcd; once the log no longer reaches that far the token has expired.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from turnout.kube import errors, listoptions, selectors
from turnout.kube.listoptions import ListOptions
from turnout.kube.resources import ResourceType
from turnout.store.objects import Objects
from turnout.types import Obj


@dataclass
class Page:
    items: list[Obj]
    resource_version: int
    continue_token: str = ""
    remaining: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def metadata(self) -> Obj:
        meta: Obj = {"resourceVersion": str(self.resource_version)}
        if self.continue_token:
            meta["continue"] = self.continue_token
        if self.remaining is not None:
            meta["remainingItemCount"] = self.remaining
        return meta


def _key_of(obj: Obj, namespaced: bool) -> tuple[str, str]:
    meta = obj["metadata"]
    return (meta.get("namespace", "") if namespaced else "", meta["name"])


def _start_key(start: str, namespaced: bool) -> tuple[str, str]:
    if namespaced and "/" in start:
        ns, _, name = start.partition("/")
        return ns, name
    return "", start


def page(objects: Objects, rt: ResourceType, namespace: str, opts: ListOptions,
         version: str = "") -> Page:
    store = objects.store
    lsel = selectors.parse_label_selector(opts.label_selector) if opts.label_selector else None
    fsel = selectors.parse_field_selector(opts.field_selector, rt.kind, rt.group) \
        if opts.field_selector else None
    ns = namespace if rt.namespaced and namespace else None
    current = store.resource_version
    start: tuple[str, str] | None = None
    rv = current
    source: list[Obj] | None
    if opts.continue_token:
        token = listoptions.decode_continue(opts.continue_token)
        start = _start_key(token.start, rt.namespaced)
        if token.rv > current:
            raise listoptions.too_large_rv(token.rv, current)
        rv = current if token.rv == -1 else token.rv
        source = store.snapshot(rt.key, ns, rv)
        if source is None:
            raise listoptions.expired_continue(token.start)
    else:
        asked = opts.rv
        if asked is not None and asked > current:
            raise listoptions.too_large_rv(asked, current)
        if asked is not None and opts.resource_version_match == listoptions.EXACT:
            rv = asked
            source = store.snapshot(rt.key, ns, asked)
            if source is None:
                raise errors.gone("The resourceVersion for the provided list is too old.")
        else:
            source = list(store.iter(rt.key, ns))
    out: list[Obj] = []
    remaining = 0
    next_start = ""
    for obj in source:
        key = _key_of(obj, rt.namespaced)
        if start is not None and key < start:
            continue
        if lsel is not None and not lsel.matches(obj["metadata"].get("labels") or {}):
            continue
        if fsel is not None and not fsel.matches(obj):
            continue
        if opts.limit and len(out) >= opts.limit:
            if not next_start:
                next_start = listoptions.object_key(*key)
            remaining += 1
            continue
        item = copy.deepcopy(obj)
        if version and version in rt.versions:
            item["apiVersion"] = rt.api_version(version)
        out.append(item)
    result = Page(out, rv)
    if next_start:
        result.continue_token = listoptions.encode_continue(rv, next_start)
        if lsel is None and fsel is None:
            result.remaining = remaining
    return result
