"""Parse Kubernetes API request paths into what they address (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourcePath:
    group: str
    version: str
    plural: str
    namespace: str = ""
    name: str = ""
    subresource: str = ""


@dataclass(frozen=True)
class DiscoveryPath:
    """/api, /apis, /apis/<group>, /api/v1, /apis/<group>/<version>."""

    group: str | None = None
    version: str | None = None
    legacy: bool = False


def parse(path: str) -> ResourcePath | DiscoveryPath | None:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) == 1:
            return DiscoveryPath(legacy=True)
        group, version, rest = "", parts[1], parts[2:]
        if not rest:
            return DiscoveryPath(group="", version=version, legacy=True)
    elif parts[0] == "apis":
        if len(parts) == 1:
            return DiscoveryPath()
        if len(parts) == 2:
            return DiscoveryPath(group=parts[1])
        group, version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            return DiscoveryPath(group=group, version=version)
    else:
        return None
    return _resource(group, version, rest)


def _resource(group: str, version: str, rest: list[str]) -> ResourcePath | None:
    if rest[0] == "namespaces" and group == "":
        if len(rest) == 1:
            return ResourcePath(group, version, "namespaces")
        if len(rest) == 2:
            return ResourcePath(group, version, "namespaces", name=rest[1])
        if len(rest) == 3 and rest[2] in ("status", "finalize"):
            return ResourcePath(group, version, "namespaces", name=rest[1], subresource=rest[2])
    if rest[0] == "namespaces" and len(rest) >= 3:
        ns, tail = rest[1], rest[2:]
    else:
        ns, tail = "", rest
    if len(tail) > 3:
        return None
    plural = tail[0]
    name = tail[1] if len(tail) > 1 else ""
    sub = tail[2] if len(tail) > 2 else ""
    return ResourcePath(group, version, plural, ns, name, sub)
