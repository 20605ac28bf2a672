"""What a pod's volumes contain and where each container sees them (pure, no I/O).

A kubelet turns ``spec.volumes`` into directories on the node and bind-mounts them at each
container's ``volumeMounts``. Here: the files a configMap, secret, downwardAPI or projected volume
holds (:func:`payload`), how each volume is backed (:func:`backing`), and a container's mount
list (:func:`plan`), with the kubelet's messages when something is missing. The I/O side lives in
:mod:`turnout.runtime.podvolumes`; the mounts are made by :mod:`turnout.runtime.mountns`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from turnout.runtime import env
from turnout.types import Obj

DEFAULT_MODE = 0o644
PLACEHOLDER_TOKEN = (b"turnout-placeholder-token: turnout issues no service account tokens to "
                     b"pods; this file stands in for one\n")
PROJECTED = ("configMap", "secret", "downwardAPI", "projected")
"""Volume kinds whose content the kubelet writes (always read-only in the container)."""


class VolumeError(Exception):
    """A volume cannot be set up; ``message`` reads like the kubelet's FailedMount events."""

    def __init__(self, message: str, *, volume: str = "", field: str = "",
                 permanent: bool = False) -> None:
        super().__init__(message)
        self.volume = volume
        self.field = field
        self.permanent = permanent
        """True when retrying cannot help (a refused hostPath, a bad path): the pod fails."""


@dataclass(frozen=True)
class File:
    """One file of a projected volume, relative to the volume's root."""

    path: str
    data: bytes
    mode: int = DEFAULT_MODE


@dataclass(frozen=True)
class Backing:
    """How the node holds a volume: ``kind`` is "payload" (written by the kubelet), "empty"
    (a fresh directory per pod), "host" (a host path) or "claim" (a PV's directory)."""

    name: str
    kind: str
    path: str = ""
    """hostPath: the host path; claim: the PersistentVolume's name."""
    read_only: bool = False
    host_type: str = ""


@dataclass(frozen=True)
class Mount:
    """One bind mount in a container's mount namespace."""

    source: str
    target: str
    read_only: bool


def kind_of(volume: Obj) -> str:
    for kind in (*PROJECTED, "emptyDir", "hostPath", "persistentVolumeClaim"):
        if kind in volume:
            return kind
    known = sorted(k for k in volume if k != "name")
    return known[0] if known else ""


# --- payloads ----------------------------------------------------------------------------------

def _data(kind: str, obj: Obj) -> dict[str, bytes]:
    """A ConfigMap's or Secret's keys as bytes (binary values survive as they were)."""
    return {k: v.encode("utf-8", "surrogateescape")
            for k, v in env.source_data(kind, obj).items()}


def check_path(path: str, where: str) -> str:
    """A file path inside a volume: relative, no ``..`` element (the API server's rule)."""
    p = str(path)
    if not p or p.startswith("/") or ".." in PurePosixPath(p).parts:
        raise VolumeError(f"{where}: Invalid value: {p!r}: must be a relative path without "
                          "'..'", field=where, permanent=True)
    return posixpath.normpath(p)


def _mode(value: object, default: int, where: str) -> int:
    if value is None:
        return default
    mode = int(str(value))
    if not 0 <= mode <= 0o777:
        raise VolumeError(f"{where}: Invalid value: {mode}: must be a number between 0 and "
                          "0777 (octal), both inclusive", field=where, permanent=True)
    return mode


def _keyed(kind: str, src: Obj, namespace: str, lookup: env.Lookup, default_mode: int,
           where: str) -> list[File]:
    """configMap / secret source: every key, or only ``items`` (key → path, mode)."""
    noun = "configmap" if kind == "configmaps" else "secret"
    name = str(src.get("name") or src.get("secretName") or "")
    obj = lookup(kind, namespace, name)
    if obj is None:
        if src.get("optional"):
            return []
        raise VolumeError(f'{noun} "{name}" not found')
    data = _data(kind, obj)
    items = src.get("items")
    if not items:
        return [File(check_path(k, where), v, default_mode) for k, v in sorted(data.items())]
    out = []
    for i, item in enumerate(items):
        key = str(item.get("key") or "")
        if key not in data:
            if src.get("optional"):
                continue
            raise VolumeError(f"{noun} references non-existent config key: {key}")
        out.append(File(check_path(str(item.get("path") or ""), f"{where}.items[{i}].path"),
                        data[key], _mode(item.get("mode"), default_mode,
                                         f"{where}.items[{i}].mode")))
    return out


def _downward(items: list[Obj], pod: Obj, facts: env.PodFacts, default_mode: int,
              where: str) -> list[File]:
    out = []
    containers = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or ()}
    for i, item in enumerate(items):
        path = check_path(str(item.get("path") or ""), f"{where}.items[{i}].path")
        try:
            if "fieldRef" in item:
                value = env.field_value(str(item["fieldRef"].get("fieldPath") or ""), pod, facts)
            elif "resourceFieldRef" in item:
                ref = item["resourceFieldRef"]
                container = containers.get(ref.get("containerName"))
                if container is None:
                    raise VolumeError(f"{where}.items[{i}].resourceFieldRef.containerName: "
                                      f"container {ref.get('containerName')!r} not found",
                                      permanent=True)
                value = env.resource_value(ref, container, facts)
            else:
                raise VolumeError(f"{where}.items[{i}]: needs fieldRef or resourceFieldRef",
                                  permanent=True)
        except env.EnvError as e:
            raise VolumeError(f"{where}.items[{i}]: {e}", permanent=True) from e
        out.append(File(path, value.encode(),
                        _mode(item.get("mode"), default_mode, f"{where}.items[{i}].mode")))
    return out


def payload(volume: Obj, index: int, pod: Obj, facts: env.PodFacts,
            lookup: env.Lookup) -> list[File]:
    """The files of a configMap, secret, downwardAPI or projected volume."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    kind = kind_of(volume)
    where = f"spec.volumes[{index}].{kind}"
    spec = volume.get(kind) or {}
    default = _mode(spec.get("defaultMode"), DEFAULT_MODE, f"{where}.defaultMode")
    if kind == "configMap":
        return _keyed("configmaps", spec, namespace, lookup, default, where)
    if kind == "secret":
        return _keyed("secrets", spec, namespace, lookup, default, where)
    if kind == "downwardAPI":
        return _downward(list(spec.get("items") or ()), pod, facts, default, where)
    if kind != "projected":
        return []
    out: list[File] = []
    for j, source in enumerate(spec.get("sources") or ()):
        at = f"{where}.sources[{j}]"
        if "configMap" in source:
            out += _keyed("configmaps", source["configMap"], namespace, lookup, default,
                          f"{at}.configMap")
        elif "secret" in source:
            out += _keyed("secrets", source["secret"], namespace, lookup, default,
                          f"{at}.secret")
        elif "downwardAPI" in source:
            out += _downward(list(source["downwardAPI"].get("items") or ()), pod, facts,
                             default, f"{at}.downwardAPI")
        elif "serviceAccountToken" in source:
            tok = source["serviceAccountToken"]
            out.append(File(check_path(str(tok.get("path") or "token"),
                                       f"{at}.serviceAccountToken.path"),
                            PLACEHOLDER_TOKEN, default))
        elif "clusterTrustBundle" in source or "podCertificate" in source:
            raise VolumeError(f"{at}: {sorted(source)[0]} sources are not supported by "
                              "turnout", permanent=True)
    return out


# --- backing and mount plans -------------------------------------------------------------------

def overlaps(path: str, protected: str) -> bool:
    """Whether exposing ``path`` would expose ``protected`` (same, inside, or an ancestor)."""
    a = PurePosixPath(posixpath.normpath(path))
    b = PurePosixPath(posixpath.normpath(protected))
    return a == b or b in a.parents or a in b.parents


def backing(volume: Obj, index: int, protected: str) -> Backing:
    """How a volume is held on the node; refuses a hostPath that would expose ``protected``
    (the cluster's state directory, with its token and database)."""
    name = str(volume.get("name") or "")
    kind = kind_of(volume)
    if kind in PROJECTED:
        return Backing(name, "payload", read_only=True)
    if kind == "emptyDir":
        return Backing(name, "empty")
    if kind == "hostPath":
        spec = volume["hostPath"] or {}
        path = str(spec.get("path") or "")
        field = f"spec.volumes[{index}].hostPath.path"
        if not path.startswith("/"):
            raise VolumeError(f"{field}: Invalid value: {path!r}: must be an absolute path",
                              volume=name, field=field, permanent=True)
        if overlaps(path, protected):
            raise VolumeError(f"{field}: Forbidden: {path!r} would expose the cluster's state "
                              "directory (its API token and database) to the pod",
                              volume=name, field=field, permanent=True)
        return Backing(name, "host", posixpath.normpath(path),
                       host_type=str(spec.get("type") or ""))
    if kind == "persistentVolumeClaim":
        spec = volume["persistentVolumeClaim"] or {}
        return Backing(name, "claim", str(spec.get("claimName") or ""),
                       read_only=bool(spec.get("readOnly")))
    raise VolumeError(f"spec.volumes[{index}]: volume type {kind or '(none)'!r} is not "
                      "supported by turnout (supported: configMap, secret, downwardAPI, "
                      "projected, emptyDir, hostPath, persistentVolumeClaim)",
                      volume=name, field=f"spec.volumes[{index}]", permanent=True)


def plan(container: Obj, where: str, sources: Mapping[str, tuple[str, bool]],
         container_env: Mapping[str, str]) -> list[Mount]:
    """A container's bind mounts, parents before children.

    ``sources`` maps a volume name to (its directory on the node, read-only); ``where`` is the
    container's field path (``spec.containers[0]``) for messages.
    """
    mounts = []
    for i, vm in enumerate(container.get("volumeMounts") or ()):
        at = f"{where}.volumeMounts[{i}]"
        name = str(vm.get("name") or "")
        if name not in sources:
            raise VolumeError(f"{at}.name: Not found: {name!r}", field=f"{at}.name",
                              permanent=True)
        target = str(vm.get("mountPath") or "")
        if not target.startswith("/"):
            target = "/" + target
        target = posixpath.normpath(target)
        if target == "/":
            raise VolumeError(f"{at}.mountPath: Invalid value: '/': turnout pods share the "
                              "node's root; mount somewhere below it", field=f"{at}.mountPath",
                              permanent=True)
        source, ro = sources[name]
        sub = str(vm.get("subPath") or "")
        if vm.get("subPathExpr"):
            sub = env.expand(str(vm["subPathExpr"]), container_env)
        if sub:
            sub = check_path(sub, f"{at}.subPath")
            source = posixpath.join(source, sub)
        mounts.append(Mount(source, target, ro or bool(vm.get("readOnly"))))
    return sorted(mounts, key=lambda m: m.target.count("/"))
