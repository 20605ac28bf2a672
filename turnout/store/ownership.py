"""Field ownership on the write path: `metadata.managedFields` kept as kube-apiserver keeps it.

Writes made through the API carry a field manager (`fieldManager`, else the User-Agent's
program name); writes a controller makes in-process carry none and leave ownership as it was.
The rules themselves are pure, in `turnout.kube.managedfields`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from turnout.kube import errors, managedfields
from turnout.kube.resources import ResourceType
from turnout.types import Obj


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(rt: ResourceType, old: Obj | None, new: Obj, manager: str | None, version: str,
           subresource: str = "") -> None:
    """Set `new`'s managedFields after a create/update/patch by `manager` (in place)."""
    if old is not None:
        kept = (old.get("metadata") or {}).get("managedFields")
        if kept:
            new["metadata"]["managedFields"] = kept
        else:
            new["metadata"].pop("managedFields", None)
    else:
        new["metadata"].pop("managedFields", None)
    if not manager:
        return
    managers = managedfields.read(old) if old is not None else []
    updated = managedfields.record_update(
        old, new, managers, manager, rt.api_version(version or None), _now(),
        managedfields.root_schema(rt.group, rt.kind), subresource)
    managedfields.write(new, updated)


def check_config(rt: ResourceType, body: Any, version: str) -> Obj:
    """An apply configuration must be an object naming its apiVersion and kind."""
    if not isinstance(body, dict):
        raise errors.bad_request("the body of an apply patch must be a YAML or JSON object")
    if not body.get("kind") or not body.get("apiVersion"):
        missing = "Kind" if not body.get("kind") else "apiVersion"
        raise errors.bad_request(f"error decoding YAML: Object '{missing}' is missing in the "
                                 "apply configuration")
    if body["kind"] != rt.kind:
        raise errors.bad_request(f"the kind of the apply configuration ({body['kind']}) does "
                                 f"not match the kind on the URL ({rt.kind})")
    meta = body.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise errors.bad_request("metadata: must be an object")
    return body


def apply(rt: ResourceType, live: Obj | None, config: Obj, manager: str, version: str, *,
          force: bool, subresource: str = "") -> Obj:
    """The object after `manager` applies `config` over `live`, managedFields included."""
    managers = managedfields.read(live) if live is not None else []
    base = None
    if live is not None:
        base = {k: v for k, v in live.items()}
        base["metadata"] = {k: v for k, v in live["metadata"].items() if k != "managedFields"}
    new, updated = managedfields.apply(
        base, config, managers, manager, rt.api_version(version or None), _now(),
        managedfields.root_schema(rt.group, rt.kind), force=force, subresource=subresource)
    new.setdefault("metadata", {})
    managedfields.write(new, updated)
    return new
