"""Objects in SQLite with Kubernetes resourceVersion semantics and an in-memory watch log.

Every object lives in memory (a one-machine cluster holds thousands, not millions) and is written
through to SQLite (WAL) so it survives `turnout down` / `turnout up`. Each write takes the next
global resourceVersion and appends an event to a bounded log; watchers resume from any version
still in the log and get 410 Gone for older ones, as from a compacted etcd.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import json
import sqlite3
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from turnout.kube import errors
from turnout.types import Obj

LOG_SIZE = 20000


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    key: str
    namespace: str
    name: str
    obj: Obj


ObjKey = tuple[str, str, str]


def _ident(key: str) -> tuple[str, str]:
    plural, _, group = key.partition(".")
    return plural, group


class Store:
    """Synchronous object store for use from one event loop; watchers are async iterators."""

    def __init__(self, path: Path | None, log_size: int = LOG_SIZE) -> None:
        self._db = sqlite3.connect(str(path) if path else ":memory:", isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS objects (key TEXT, namespace TEXT, name TEXT, "
            "rv INTEGER, body TEXT, PRIMARY KEY (key, namespace, name))")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
        self._objects: dict[ObjKey, Obj] = {}
        for key, ns, name, body in self._db.execute(
                "SELECT key, namespace, name, body FROM objects"):
            self._objects[(key, ns, name)] = json.loads(body)
        row = self._db.execute("SELECT v FROM meta WHERE k='rv'").fetchone()
        self._rv = int(row[0]) if row else 0
        self._log: deque[Event] = deque(maxlen=log_size)
        # Writers are normally the event loop; a controller may write from a worker thread
        # (e.g. an analysis run waiting on an HTTP metric), so writes are serialised and
        # watchers are woken on their own loop.
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._oldest = self._rv  # watches from versions older than this get 410 Gone
        self._waiters: set[asyncio.Event] = set()

    # --- reads ----------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def get(self, key: str, namespace: str, name: str) -> Obj | None:
        obj = self._objects.get((key, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def peek(self, key: str, namespace: str, name: str) -> Obj | None:
        """The stored object itself, not a copy: callers must not mutate it."""
        return self._objects.get((key, namespace, name))

    def list(self, key: str, namespace: str | None = None) -> builtins.list[Obj]:
        return [copy.deepcopy(o) for o in self.iter(key, namespace)]

    def iter(self, key: str, namespace: str | None = None) -> Iterable[Obj]:
        """Stored objects without copying (read-only), sorted by namespace and name."""
        with self._lock:
            items = [(k, o) for k, o in self._objects.items()
                     if k[0] == key and (namespace is None or k[1] == namespace)]
        items.sort(key=lambda kv: (kv[0][1], kv[0][2]))
        return [o for _, o in items]

    def namespaces_in_use(self, namespace: str) -> builtins.list[tuple[str, str]]:
        with self._lock:
            return [(k[0], k[2]) for k in self._objects if k[1] == namespace]

    # --- writes ---------------------------------------------------------------------------------

    def create(self, key: str, obj: Obj) -> Obj:
        with self._lock:
            return self._create(key, obj)

    def _create(self, key: str, obj: Obj) -> Obj:
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        if (key, ns, name) in self._objects:
            plural, group = _ident(key)
            raise errors.already_exists(plural, group, name)
        return self._write("ADDED", key, ns, name, obj)

    def update(self, key: str, obj: Obj, expect_rv: str | None = None) -> Obj:
        with self._lock:
            return self._update(key, obj, expect_rv)

    def _update(self, key: str, obj: Obj, expect_rv: str | None) -> Obj:
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        cur = self._objects.get((key, ns, name))
        plural, group = _ident(key)
        if cur is None:
            raise errors.not_found(plural, group, name)
        if expect_rv and expect_rv != cur["metadata"]["resourceVersion"]:
            raise errors.conflict(plural, group, name,
                                  "the object has been modified; please apply your changes to "
                                  "the latest version and try again")
        return self._write("MODIFIED", key, ns, name, obj)

    def delete(self, key: str, namespace: str, name: str) -> Obj:
        with self._lock:
            return self._delete(key, namespace, name)

    def _delete(self, key: str, namespace: str, name: str) -> Obj:
        cur = self._objects.get((key, namespace, name))
        if cur is None:
            plural, group = _ident(key)
            raise errors.not_found(plural, group, name)
        self._rv += 1
        gone = copy.deepcopy(cur)
        gone["metadata"]["resourceVersion"] = str(self._rv)
        del self._objects[(key, namespace, name)]
        self._db.execute("BEGIN")
        self._db.execute("DELETE FROM objects WHERE key=? AND namespace=? AND name=?",
                         (key, namespace, name))
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(self._rv),))
        self._db.execute("COMMIT")
        self._append(Event(self._rv, "DELETED", key, namespace, name, gone))
        return copy.deepcopy(gone)

    def _write(self, type_: str, key: str, ns: str, name: str, obj: Obj) -> Obj:
        self._rv += 1
        stored = copy.deepcopy(obj)
        stored["metadata"]["resourceVersion"] = str(self._rv)
        self._objects[(key, ns, name)] = stored
        self._db.execute("BEGIN")
        self._db.execute("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)",
                         (key, ns, name, self._rv, json.dumps(stored, separators=(",", ":"))))
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(self._rv),))
        self._db.execute("COMMIT")
        self._append(Event(self._rv, type_, key, ns, name, stored))
        return copy.deepcopy(stored)

    def _append(self, ev: Event) -> None:
        if len(self._log) == self._log.maxlen:
            self._oldest = self._log[0].rv
        self._log.append(ev)
        loop = self._loop
        on_loop = False
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            pass
        for w in list(self._waiters):
            if on_loop or loop is None:
                w.set()
            else:
                loop.call_soon_threadsafe(w.set)

    def close(self) -> None:
        self._db.close()

    # --- watch ----------------------------------------------------------------------------------

    def events_since(self, rv: int) -> builtins.list[Event]:
        """Logged events after `rv`; raises 410 Gone if `rv` is older than the log holds."""
        with self._lock:
            if rv < self._oldest:
                raise errors.gone(f"too old resource version: {rv} ({self._oldest})")
            return [e for e in self._log if e.rv > rv]

    @property
    def oldest_resource_version(self) -> int:
        """Watches and snapshots from versions older than this get 410 Gone."""
        return self._oldest

    def snapshot(self, key: str, namespace: str | None, rv: int) -> builtins.list[Obj] | None:
        """The objects of `key` as they were at `rv` (read-only, in list order), rebuilt from
        the event log; None when the log no longer reaches back to `rv`."""
        with self._lock:
            if rv < self._oldest:
                return None
            if rv >= self._rv:
                return builtins.list(self.iter(key, namespace))
            current = {(k[1], k[2]): o for k, o in self._objects.items()
                       if k[0] == key and (namespace is None or k[1] == namespace)}
            before: dict[tuple[str, str], Event] = {}
            after: dict[tuple[str, str], Event] = {}
            for ev in self._log:
                if ev.key != key or (namespace is not None and ev.namespace != namespace):
                    continue
                ident = (ev.namespace, ev.name)
                if ev.rv <= rv:
                    before[ident] = ev
                elif ident not in after:
                    after[ident] = ev
            for ident, first in after.items():
                prior = before.get(ident)
                if prior is not None:
                    if prior.type == "DELETED":
                        current.pop(ident, None)
                    else:
                        current[ident] = prior.obj
                elif first.type == "ADDED":
                    current.pop(ident, None)
                else:
                    return None  # changed after rv, its state at rv is older than the log
        return [current[i] for i in sorted(current)]

    async def watch(self, since_rv: int) -> AsyncIterator[Event]:
        """Every event after `since_rv`, forever (the caller filters and stops)."""
        last = since_rv
        self._loop = asyncio.get_running_loop()
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            while True:
                waiter.clear()
                for ev in self.events_since(last):
                    last = ev.rv
                    yield ev
                await waiter.wait()
        finally:
            self._waiters.discard(waiter)

