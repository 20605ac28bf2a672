"""Watch streams as kube-apiserver keeps them: open until the timeout, bookmarks, watch-list.

A stream is an async iterator of newline-terminated JSON events. It stays open until its
`timeoutSeconds` (by default minRequestTimeout × (1 + U[0,1)), 30 to 60 minutes) or the server
stops; quiet periods only produce BOOKMARKs when the client allows them. `sendInitialEvents=true`
(watch-list) sends the current state as ADDED events, then the `k8s.io/initial-events-end`
bookmark. A resourceVersion older than the event log holds is an ERROR event carrying a 410
Expired Status, as from the watch cache; one newer than the store's is a 504 before streaming.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from turnout.kube import errors, listoptions, selectors, tables
from turnout.kube.listoptions import ListOptions
from turnout.kube.resources import ResourceType
from turnout.store.db import Event
from turnout.store.objects import Objects
from turnout.types import Obj

log = logging.getLogger("turnout.api.watch")
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


@dataclass(frozen=True)
class WatchSpec:
    rt: ResourceType
    namespace: str
    version: str
    opts: ListOptions
    timeout_seconds: float
    table: bool
    include_object: str

    @classmethod
    def from_query(cls, rt: ResourceType, namespace: str, version: str, opts: ListOptions,
                   table: bool, include_object: str = "Metadata") -> WatchSpec:
        return cls(rt=rt, namespace=namespace, version=version, opts=opts,
                   timeout_seconds=listoptions.watch_timeout(opts), table=table,
                   include_object=include_object)

    @property
    def send_initial(self) -> bool:
        """Synthetic ADDED events first: watch-list, or the legacy RV "" / "0" watch."""
        sie = self.opts.send_initial_events
        return sie if sie is not None else self.opts.rv is None

    @property
    def initial_bookmark(self) -> bool:
        return bool(self.opts.send_initial_events) and self.opts.allow_bookmarks


def _line(type_: str, obj: Obj) -> bytes:
    return (json.dumps({"type": type_, "object": obj}, separators=(",", ":")) + "\n").encode()


def check(objects: Objects, spec: WatchSpec) -> None:
    """Raise the errors a watch answers before streaming: bad selectors, a future RV."""
    if spec.opts.label_selector:
        selectors.parse_label_selector(spec.opts.label_selector)
    if spec.opts.field_selector:
        selectors.parse_field_selector(spec.opts.field_selector, spec.rt.kind, spec.rt.group)
    rv = spec.opts.rv
    current = objects.store.resource_version
    if rv is not None and rv > current:
        raise listoptions.too_large_rv(rv, current)


async def stream(objects: Objects, spec: WatchSpec, *, bookmark_seconds: float,
                 stopping: asyncio.Event) -> AsyncIterator[bytes]:
    rt = spec.rt
    opts = spec.opts
    lsel = selectors.parse_label_selector(opts.label_selector) if opts.label_selector else None
    fsel = selectors.parse_field_selector(opts.field_selector, rt.kind, rt.group) \
        if opts.field_selector else None
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

    start = time.monotonic()
    deadline = start + spec.timeout_seconds
    rv = opts.rv
    if spec.send_initial or rv is None:
        since = store.resource_version
    else:
        since = rv
        if since < store.oldest_resource_version:
            yield _line("ERROR", errors.gone(
                f"too old resource version: {since} ({store.oldest_resource_version})").status())
            return
    current = [o for o in store.iter(rt.key, ns or None) if matches(o)]
    initial = current if spec.send_initial else []
    seen = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in current}
    chunks = [render("ADDED", o) for o in initial]
    if spec.initial_bookmark:
        chunks.append(_bookmark(rt, spec, since, initial_done=True))
    if chunks:
        yield b"".join(chunks)

    events = store.watch(since)
    last_rv = since
    pending: asyncio.Future[Any] | None = None
    next_bookmark = time.monotonic() + bookmark_seconds
    stop_task: asyncio.Future[Any] = asyncio.ensure_future(stopping.wait())
    try:
        while True:
            now = time.monotonic()
            if now >= deadline or stopping.is_set():
                return  # the server ends the stream normally, as kube-apiserver does
            if pending is None:
                pending = asyncio.ensure_future(events.__anext__())
            wait = min(next_bookmark, deadline) - now
            # asyncio.wait, not wait_for: a quiet period must not cancel the store's stream
            done, _ = await asyncio.wait({pending, stop_task}, timeout=max(0.0, wait),
                                         return_when=asyncio.FIRST_COMPLETED)
            if pending not in done:
                if time.monotonic() >= next_bookmark:
                    if opts.allow_bookmarks:
                        yield _bookmark(rt, spec, last_rv)
                    next_bookmark = time.monotonic() + bookmark_seconds
                continue
            ev: Event = pending.result()
            pending = None
            last_rv = ev.rv
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
        stop_task.cancel()
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        await events.aclose()  # type: ignore[attr-defined]


def _bookmark(rt: ResourceType, spec: WatchSpec, rv: int, initial_done: bool = False) -> bytes:
    meta: Obj = {"resourceVersion": str(rv)}
    if initial_done:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    return _line("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version(spec.version or None),
                              "metadata": meta})
