"""A tiny controller runtime: one dispatcher fans store events out to per-controller work queues.

Each controller maps an event to the keys it must reconcile (`keys_for`), and reconciles one key
at a time (`reconcile`); failures are logged and retried with back-off, and every controller also
resyncs everything periodically so nothing stays stuck on a missed event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterable

from turnout.kube import errors
from turnout.kube.resources import ResourceType
from turnout.store.db import Event
from turnout.store.objects import Objects

log = logging.getLogger("turnout.controllers")

# how often a controller met a race it tolerates (an object already gone, already created)
counters: Counter[str] = Counter()

Key = tuple[str, str]  # (namespace, name) of the object the controller reconciles


class Controller:
    name = "controller"
    resync_seconds = 30.0

    def __init__(self, objects: Objects) -> None:
        self.objects = objects
        self.store = objects.store
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._pending: set[Key] = set()
        self._retries: dict[Key, int] = {}

    # to override ------------------------------------------------------------------------------
    def keys_for(self, ev: Event) -> Iterable[Key]:
        return ()

    def all_keys(self) -> Iterable[Key]:
        return ()

    async def reconcile(self, key: Key) -> None:
        raise NotImplementedError

    # helpers -----------------------------------------------------------------------------------
    def delete_if_present(self, rt: ResourceType, namespace: str, name: str) -> bool:
        """Delete an object this controller owns; False if it was already gone."""
        try:
            self.objects.delete(rt, namespace, name)
        except errors.ApiError as e:
            if e.code != 404:
                raise
            log.debug("%s: %s %s/%s already gone", self.name, rt.plural, namespace, name)
            counters[f"{self.name}:already_gone"] += 1
            return False
        return True

    # machinery ---------------------------------------------------------------------------------
    def enqueue(self, key: Key) -> None:
        if key not in self._pending:
            self._pending.add(key)
            self._queue.put_nowait(key)

    def on_event(self, ev: Event) -> None:
        for k in self.keys_for(ev):
            self.enqueue(k)

    async def run(self) -> None:
        for k in self.all_keys():
            self.enqueue(k)
        resync = asyncio.create_task(self._resync())
        try:
            while True:
                key = await self._queue.get()
                self._pending.discard(key)
                try:
                    await self.reconcile(key)
                    self._retries.pop(key, None)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # a reconcile bug must not stop the controller
                    n = self._retries.get(key, 0) + 1
                    self._retries[key] = n
                    level = logging.DEBUG if getattr(e, "code", 0) == 409 else logging.WARNING
                    log.log(level, "%s: reconcile %s failed (%s); retry %d", self.name, key, e, n)
                    asyncio.get_running_loop().call_later(min(0.05 * 2 ** n, 5.0),
                                                          self.enqueue, key)
        finally:
            resync.cancel()

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.resync_seconds)
            for k in self.all_keys():
                self.enqueue(k)


class Manager:
    """Runs controllers and feeds them every store event."""

    def __init__(self, objects: Objects, controllers: list[Controller]) -> None:
        self.objects = objects
        self.controllers = controllers
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        since = self.objects.store.resource_version
        for c in self.controllers:
            self._tasks.append(asyncio.create_task(c.run(), name=c.name))
        self._tasks.append(asyncio.create_task(self._dispatch(since), name="dispatch"))

    async def _dispatch(self, since: int) -> None:
        async for ev in self.objects.store.watch(since):
            for c in self.controllers:
                try:
                    c.on_event(ev)
                except Exception:
                    log.exception("%s: event handler failed", c.name)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
