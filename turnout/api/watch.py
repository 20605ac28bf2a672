"""Watch streams: resume from a resourceVersion, filter, bookmark, time out.

A stream is an async iterator of newline-terminated JSON events. Its first item is produced before
the HTTP response starts, so a too-old resourceVersion becomes a proper 410 Gone `Status`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from turnout.kube import errors, selectors, tables
from turnout.kube.resources import ResourceType
from turnout.store.db import Event
from turnout.store.objects import Objects
from turnout.types import Obj


@dataclass(frozen=True)
class WatchSpec:
    rt: ResourceType
    namespace: str
    version: str
    resource_version: str
    label_selector: str
    field_selector: str
    timeout_seconds: float | None
    bookmarks: bool
    table: bool
    include_object: str
    send_initial: bool
    initial_bookmark: bool

    @classmethod
    def from_query(cls, rt: ResourceType, namespace: str, version: str, q: dict[str, str],
                   table: bool) -> WatchSpec:
        timeout = q.get("timeoutSeconds")
        rv = q.get("resourceVersion", "")
        return cls(rt=rt, namespace=namespace, version=version, resource_version=rv,
                   label_selector=q.get("labelSelector", ""),
                   field_selector=q.get("fieldSelector", ""),
                   timeout_seconds=float(timeout) if timeout else None,
                   bookmarks=q.get("allowWatchBookmarks") == "true", table=table,
                   include_object=q.get("includeObject", "Metadata"),
                   send_initial=q.get("sendInitialEvents") == "true" or rv in ("", "0"),
                   initial_bookmark=q.get("sendInitialEvents") == "true")


def _line(type_: str, obj: Obj) -> bytes:
    return (json.dumps({"type": type_, "object": obj}, separators=(",", ":")) + "\n").encode()


def check(objects: Objects, spec: WatchSpec) -> None:
    """Raise the errors a watch must answer before streaming (bad selectors, 410 Gone)."""
    if spec.label_selector:
        selectors.parse_label_selector(spec.label_selector)
    if spec.field_selector:
        selectors.parse_field_selector(spec.field_selector, spec.rt.kind, spec.rt.group)
    if not spec.send_initial:
        try:
            rv = int(spec.resource_version)
        except ValueError as e:
            raise errors.bad_request(f"invalid resource version: {spec.resource_version}") from e
        objects.store.events_since(rv)


async def stream(objects: Objects, spec: WatchSpec, *, bookmark_seconds: float,
                 stopping: asyncio.Event) -> AsyncIterator[bytes]:
    rt = spec.rt
    lsel = selectors.parse_label_selector(spec.label_selector) if spec.label_selector else None
    fsel = selectors.parse_field_selector(spec.field_selector, rt.kind, rt.group) \
        if spec.field_selector else None
    store = objects.store
    ns = spec.namespace if rt.namespaced else ""

    def matches(obj: Obj) -> bool:
        if lsel is not None and not lsel.matches(obj["metadata"].get("labels") or {}):
            return False
        return fsel is None or fsel.matches(obj)

    first_table = [True]

    def render(type_: str, obj: Obj) -> bytes:
        if spec.version:
            obj = {**obj, "apiVersion": rt.api_version(spec.version)}
        if spec.table and type_ != "BOOKMARK":
            obj = tables.watch_table(rt, obj, now=datetime.now(UTC), first=first_table[0],
                                     include_object=spec.include_object)
            first_table[0] = False
        return _line(type_, obj)

    if spec.send_initial:
        since = store.resource_version
        initial = [o for o in store.iter(rt.key, ns or None) if matches(o)]
    else:
        try:
            since = int(spec.resource_version)
        except ValueError as e:
            raise errors.bad_request(f"invalid resource version: {spec.resource_version}") from e
        store.events_since(since)  # 410 Gone check
        initial = []
    seen = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in initial}
    if not spec.send_initial:
        seen = {(o["metadata"].get("namespace", ""), o["metadata"]["name"])
                for o in store.iter(rt.key, ns or None) if matches(o)}
    deadline = time.monotonic() + spec.timeout_seconds if spec.timeout_seconds else None
    chunks = [render("ADDED", o) for o in initial]
    if spec.bookmarks and spec.initial_bookmark:
        chunks.append(_bookmark(rt, spec, since, initial_done=True))
    if chunks:
        yield b"".join(chunks)

    events = store.watch(since)
    next_bookmark = time.monotonic() + bookmark_seconds
    try:
        while not stopping.is_set():
            timeout = max(0.0, next_bookmark - time.monotonic())
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - time.monotonic()))
            try:
                ev: Event = await asyncio.wait_for(events.__anext__(), timeout=timeout)
            except TimeoutError:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                if spec.bookmarks:
                    yield _bookmark(rt, spec, store.resource_version)
                next_bookmark = time.monotonic() + bookmark_seconds
                continue
            if ev.key != rt.key or (ns and ev.namespace != ns):
                continue
            ident = (ev.namespace, ev.name)
            if ev.type == "DELETED":
                if ident in seen or matches(ev.obj):
                    seen.discard(ident)
                    yield render("DELETED", ev.obj)
                continue
            if matches(ev.obj):
                type_ = "ADDED" if ident not in seen else ev.type
                seen.add(ident)
                yield render(type_, ev.obj)
            elif ident in seen:
                seen.discard(ident)
                yield render("DELETED", ev.obj)
    finally:
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]


def _bookmark(rt: ResourceType, spec: WatchSpec, rv: int, initial_done: bool = False) -> bytes:
    meta: Obj = {"resourceVersion": str(rv)}
    if initial_done:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return _line("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version(spec.version or None),
                              "metadata": meta})
