"""File-based xDS: where each resource lives on disk and how it is written (no gRPC server).

Envoy reloads a file-sourced resource when a file is *moved* onto its path, so every write is a
temp file + `os.rename` in the same directory. CDS and LDS use `path_config_source` with
`watched_directory`; every route table (RDS) is its own file (Envoy wants exactly one resource per
RDS/EDS subscription).

Endpoints: every file subscription costs Envoy one inotify instance (two with a watched
directory), and Linux allows 128 per user by default, shared by every process of that user. One
EDS file per cluster exhausted that on a busy machine (Envoy aborts: "Consider increasing
fs.inotify.max_user_instances"). So by default the translated ClusterLoadAssignments are delivered
inline in CDS (`load_assignment` of a STATIC cluster; only clusters whose endpoints changed are
replaced); `MeshSettings.eds_files=True` delivers them as per-cluster EDS files instead.
Ordering (make-before-break) is `mesh.Mesh`'s job; this module only knows the layout.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

from turnout.mesh.regex import MAX_PROGRAM_SIZE
from turnout.mesh.snapshot import MeshSettings
from turnout.mesh.translate import EnvoyConfig, naming
from turnout.types import Obj


def _digest(obj: object) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


class Layout:
    """Paths of the xDS files under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cds = root / "cds" / "cds.json"
        self.lds = root / "lds" / "lds.json"

    def eds(self, cluster: str) -> Path:
        return self.root / "eds" / f"{naming.file_slug(cluster)}.json"

    def rds(self, route_config: str) -> Path:
        return self.root / "rds" / f"{naming.file_slug(route_config)}.json"

    def ensure(self) -> None:
        for d in (self.cds.parent, self.lds.parent, self.root / "eds", self.root / "rds"):
            d.mkdir(parents=True, exist_ok=True)


def config_source(path: Path, watch_directory: bool = False) -> Obj:
    source: Obj = {"path": str(path)}
    if watch_directory:
        source["watched_directory"] = {"path": str(path.parent)}
    return {"resource_api_version": "V3", "path_config_source": source}


def with_sources(config: EnvoyConfig, layout: Layout, eds_files: bool = False) -> EnvoyConfig:
    """Attach file config sources to RDS users; endpoints inline (or EDS files if asked)."""
    clusters = {}
    for name, c in config.clusters.items():
        c = json.loads(json.dumps(c))
        if c.get("type") == "EDS":
            if eds_files:
                c["eds_cluster_config"]["eds_config"] = config_source(layout.eds(name))
            else:
                cla = {k: v for k, v in config.endpoints[name].items() if k != "@type"}
                c.pop("eds_cluster_config")
                c["type"] = "STATIC"
                c["load_assignment"] = cla
        clusters[name] = c
    listeners = {}
    for name, lis in config.listeners.items():
        lis = json.loads(json.dumps(lis))
        for fc in lis.get("filter_chains", []):
            for f in fc.get("filters", []):
                rds = f.get("typed_config", {}).get("rds")
                if rds is not None:
                    rds["config_source"] = config_source(layout.rds(rds["route_config_name"]))
        listeners[name] = lis
    return replace(config, clusters=clusters, listeners=listeners)


def versioned(resources: list[Obj]) -> tuple[str, Obj]:
    """A DiscoveryResponse for `resources` and its content-derived version."""
    version = _digest(resources)
    return version, {"version_info": version, "resources": resources}


def write_atomic(path: Path, doc: Obj) -> None:
    """Write by temp file + rename in the same directory: Envoy reloads on the move."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(doc, sort_keys=True))
    os.rename(tmp, path)


def remove_resource_file(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def read_version(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text()).get("version_info"))
    except (OSError, ValueError, AttributeError):
        return None


def bootstrap(layout: Layout, settings: MeshSettings) -> Obj:
    return {
        "node": {"id": "turnout", "cluster": "turnout"},
        "admin": {"address": {"socket_address": {"address": settings.admin_address,
                                                 "port_value": settings.admin_port}}},
        "dynamic_resources": {"cds_config": config_source(layout.cds, watch_directory=True),
                              "lds_config": config_source(layout.lds, watch_directory=True)},
        # as Istio's bootstrap: Envoy's default RE2 program-size limit (100) rejects ordinary
        # patterns such as a UUID path; admission checks the same limit (`regex.error`)
        "layered_runtime": {"layers": [{"name": "turnout", "static_layer": {
            "re2.max_program_size.error_level": MAX_PROGRAM_SIZE}}]},
    }
