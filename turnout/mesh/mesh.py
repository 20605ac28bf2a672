"""The object the controller drives: start Envoy, apply snapshots make-before-break, stop.

`apply` translates a snapshot and writes the changes in an order that never routes to something
Envoy does not have yet:

1. RDS files of new route tables (and EDS files of new clusters): nobody reads them yet;
2. CDS with old + new clusters (endpoints inline unless `eds_files`) — wait until active;
3. with `eds_files`: EDS of existing clusters whose endpoints changed — wait;
4. LDS — wait; 5. RDS of existing tables that changed — wait;
6. CDS without stale clusters (break last), then delete stale files.

Each wait reads Envoy's admin `config_dump` for the version just written. A version that does not
arrive means Envoy rejected the update (it keeps the last good config): the `update_rejected`
counters and the tail of Envoy's log are logged as an error and `apply` moves on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from turnout.mesh import envoy, xds
from turnout.mesh.snapshot import MeshSettings, Snapshot
from turnout.mesh.translate import EnvoyConfig
from turnout.mesh.translate.isolate import Rejected, translate_isolated
from turnout.types import Obj

log = logging.getLogger("turnout.mesh")

CDS_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


class Mesh:
    def __init__(self, state_dir: Path, settings: MeshSettings) -> None:
        self.state_dir = Path(state_dir)
        if not settings.access_log_path:
            settings = replace(settings,
                               access_log_path=str(self.state_dir.resolve() / "access.log"))
        self.settings = settings
        self.layout = xds.Layout(self.state_dir.resolve() / "xds")
        self.envoy: envoy.EnvoyProcess | None = None
        self.config: EnvoyConfig | None = None
        self.rejections = 0
        self._lock = asyncio.Lock()

    @property
    def admin_url(self) -> str:
        return self.envoy.admin_url if self.envoy else ""

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.layout.ensure()
        # a cluster starts Envoy empty: files left by an earlier run may hold listeners on
        # addresses this run does not own (the cluster moved to another port set); the mesh
        # controller pushes the whole configuration right after start. (A crashed Envoy is
        # restarted by its supervisor with the files as they are.)
        for path in (self.layout.cds, self.layout.lds):
            xds.write_atomic(path, xds.versioned([])[1])
        for stale in (*self.layout.cds.parent.parent.glob("eds/*.json"),
                      *self.layout.cds.parent.parent.glob("rds/*.json")):
            stale.unlink(missing_ok=True)
        boot = self.state_dir / "envoy-bootstrap.json"
        boot.write_text(json.dumps(xds.bootstrap(self.layout, self.settings), indent=1))
        self.envoy = envoy.EnvoyProcess(envoy.find_envoy(self.settings.envoy_path), boot,
                                        self.state_dir, self.settings.concurrency)
        await self.envoy.start()

    async def stop(self) -> None:
        if self.envoy:
            await self.envoy.stop()
            self.envoy = None

    async def apply(self, snap: Snapshot) -> tuple[Rejected, ...]:
        """Translate and deliver ``snap``; the routing objects left out because they cannot be
        translated are returned (everything else is delivered without them)."""
        snap = replace(snap, settings=self.settings)
        # off the event loop: a large mesh takes a while to translate, the API must not stall
        config, rejected = await asyncio.to_thread(translate_isolated, snap)
        new = xds.with_sources(config, self.layout, self.settings.eds_files)
        async with self._lock:
            await self._deliver(self.config, new)
            self.config = new
        return rejected

    # -- delivery --------------------------------------------------------------------------------
    async def _deliver(self, old: EnvoyConfig | None, new: EnvoyConfig) -> None:
        old_clusters = old.clusters if old else {}
        old_routes = old.routes if old else {}
        old_eds = old.endpoints if old else {}
        lay = self.layout
        eds = self.settings.eds_files
        # 1. files nobody reads yet
        for name, cla in new.endpoints.items():
            if eds and name not in old_clusters:
                self._write_one(lay.eds(name), cla)
        for name, rc in new.routes.items():
            if name not in old_routes:
                self._write_one(lay.rds(name), rc)
        # 2. CDS: old + new
        union = {**old_clusters, **new.clusters}
        touched = {n for n, c in new.clusters.items() if old_clusters.get(n) != c}
        if union != old_clusters:
            version = self._write_many(lay.cds, list(union.values()))
            await self._wait("CDS", lambda: self._clusters_at(version, touched, set()))
        # 3. endpoints of existing clusters
        changed_eds = {n: c for n, c in new.endpoints.items()
                       if eds and n in old_clusters and old_eds.get(n) != c}
        for n, c in changed_eds.items():
            self._write_one(lay.eds(n), c)
        if changed_eds:
            await self._wait("EDS", lambda: self._eds_at(changed_eds))
        # 4. listeners
        old_listeners = old.listeners if old else {}
        if old is None or old_listeners != new.listeners:
            version = self._write_many(lay.lds, list(new.listeners.values()))
            changed = {n for n, lis in new.listeners.items() if old_listeners.get(n) != lis}
            gone = set(old_listeners) - set(new.listeners)
            await self._wait("LDS", lambda: self._listeners_at(version, changed, gone))
        # 5. routes of existing tables
        versions = {n: self._write_one(lay.rds(n), rc) for n, rc in new.routes.items()
                    if n in old_routes and old_routes[n] != rc}
        if versions:
            await self._wait("RDS", lambda: self._routes_at(versions))
        # 6. break last
        stale = set(union) - set(new.clusters)
        if stale:
            version = self._write_many(lay.cds, list(new.clusters.values()))
            await self._wait("CDS", lambda: self._clusters_at(version, set(), stale))
        for name in set(old_clusters) - set(new.clusters):
            xds.remove_resource_file(lay.eds(name))
        for name in set(old_routes) - set(new.routes):
            xds.remove_resource_file(lay.rds(name))

    def _write_one(self, path: Path, resource: Obj) -> str:
        version, doc = xds.versioned([resource])
        if xds.read_version(path) != version:
            xds.write_atomic(path, doc)
        return version

    def _write_many(self, path: Path, resources: list[Obj]) -> str:
        version, doc = xds.versioned(sorted(resources, key=lambda r: str(r.get("name"))))
        if xds.read_version(path) != version:
            xds.write_atomic(path, doc)
        return version

    async def _wait(self, what: str, done: Callable[[], Awaitable[bool]]) -> None:
        deadline = time.monotonic() + self.settings.apply_timeout
        while time.monotonic() < deadline:
            try:
                if await done():
                    return
            except Exception as exc:  # admin briefly unavailable (e.g. Envoy restarting)
                log.debug("waiting for %s: %s", what, exc)
            await asyncio.sleep(0.02)
        self.rejections += 1
        rejected: dict[str, int] = {}
        if self.envoy:
            try:
                rejected = {k: v for k, v in
                            (await self.envoy.counters("update_rejected")).items() if v}
            except Exception:  # best effort diagnostics
                rejected = {}
        tail = self.envoy.log_tail(10) if self.envoy else ""
        log.error("envoy did not accept the %s update within %.1fs (rejected counters: %s); it "
                  "keeps serving its last good configuration. Envoy log tail:\n%s", what,
                  self.settings.apply_timeout, rejected or "none", tail)

    async def _clusters_at(self, version: str, changed: set[str], gone: set[str]) -> bool:
        """Unchanged clusters keep the version they were last updated at: check the rest."""
        assert self.envoy
        got = {c["cluster"]["name"]: c.get("version_info")
               for c in await self.envoy.config_dump("dynamic_active_clusters")}
        return all(got.get(n) == version for n in changed) and not gone & set(got)

    async def _eds_at(self, expected: dict[str, Obj]) -> bool:
        """EDS has no per-resource version in config_dump: compare the endpoint sets."""
        assert self.envoy
        got = {c.get("endpoint_config", {}).get("cluster_name"): _addresses(c["endpoint_config"])
               for c in await self.envoy.config_dump("dynamic_endpoint_configs", True)
               if "endpoint_config" in c}
        return all(got.get(n) == _addresses(cla) for n, cla in expected.items())

    async def _listeners_at(self, version: str, changed: set[str], gone: set[str]) -> bool:
        """Envoy applies each listener on its own: one that fails (say its address is taken)
        shows up with an `error_state` while the others go live; that counts as settled."""
        assert self.envoy
        active: dict[str, str] = {}
        warming: set[str] = set()
        failed: dict[str, str] = {}
        for lis in await self.envoy.config_dump("dynamic_listeners"):
            name = str(lis.get("name"))
            if "warming_state" in lis:
                warming.add(name)
            if "active_state" in lis:
                active[name] = lis["active_state"].get("version_info")
            if "error_state" in lis:
                failed[name] = str(lis["error_state"].get("details", "rejected"))
        settled = all((active.get(n) == version and n not in warming) or n in failed
                      for n in changed)
        if settled and not gone & set(active):
            for name in sorted(set(failed) & changed):
                self.rejections += 1
                log.error("envoy could not apply listener %s: %s", name, failed[name])
            return True
        return False

    async def _routes_at(self, versions: dict[str, str]) -> bool:
        assert self.envoy
        got = {c.get("route_config", {}).get("name"): c.get("version_info")
               for c in await self.envoy.config_dump("dynamic_route_configs")}
        return all(got.get(n) == v for n, v in versions.items())


def _addresses(cla: Obj) -> set[tuple[str, int]]:
    out = set()
    for group in cla.get("endpoints") or []:
        for e in group.get("lb_endpoints") or []:
            sa = e["endpoint"]["address"]["socket_address"]
            out.add((str(sa["address"]), int(sa["port_value"])))
    return out
