"""Server-side apply: field ownership (`metadata.managedFields`), apply merges, conflicts (pure).

A field set is a set of paths; a path is a tuple of fieldsV1 elements (`f:spec`, `f:replicas`,
`k:{"name":"web"}` for an item of a list keyed by its merge key). Lists with a merge key (by the
built-in schema: containers by name, ports by containerPort, ...) are merged item by item; other
lists are atomic, owned and replaced whole. What follows kube-apiserver (structured-merge-diff):

- an Update (create, update, non-apply patch) gives its manager every field it set or changed
  and takes those from the others; fields that disappear are nobody's;
- an Apply makes its manager own exactly the fields of its configuration: values merged into the
  live object, fields it owned before and no longer applies removed unless someone else owns them;
- applying a different value to a field another manager owns is a conflict (409, the real
  server's wording), unless forced, which takes the field over.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from turnout.kube import errors, schema
from turnout.kube.schema import ANY, FieldSchema
from turnout.types import Obj

Path = tuple[str, ...]
IGNORED_META = frozenset({"name", "namespace", "uid", "resourceVersion", "generation",
                          "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                          "managedFields", "selfLink", "generateName"})


def root_schema(group: str, kind: str) -> FieldSchema:
    return schema.kind_schema(group, kind) or ANY


def _key_element(item: Any, key: str | None) -> str | None:
    if key is None or not isinstance(item, dict) or key not in item:
        return None
    return "k:" + json.dumps({key: item[key]}, separators=(",", ":"), sort_keys=True)


def _list_key(fs: FieldSchema | None) -> str | None:
    if fs is None or fs.type != "array" or not fs.merge_key or "merge" not in fs.strategy:
        return None
    return fs.merge_key


def _keyed(items: list[Any], key: str | None) -> dict[str, Any] | None:
    """The items of an associative list by their key element; None if it cannot be keyed."""
    if key is None:
        return None
    out: dict[str, Any] = {}
    for it in items:
        el = _key_element(it, key)
        if el is None or el in out:
            return None
        out[el] = it
    return out


def _child(fs: FieldSchema | None, name: str) -> FieldSchema:
    if fs is None:
        return ANY
    return fs.child(name) or ANY


def field_set(obj: Obj, fs: FieldSchema, *, subresource: str = "") -> set[Path]:
    """The fields an object sets: leaves, atomic lists, and keyed list items (with theirs)."""
    out: set[Path] = set()
    for k, v in obj.items():
        if k in ("apiVersion", "kind"):
            continue
        if (k == "status") != (subresource == "status"):
            continue
        if k == "metadata" and isinstance(v, dict):
            meta = {mk: mv for mk, mv in v.items() if mk not in IGNORED_META}
            if meta:
                _walk(meta, _child(fs, k), ("f:metadata",), out)
            continue
        _walk(v, _child(fs, k), ("f:" + k,), out)
    return out


def _walk(v: Any, fs: FieldSchema, path: Path, out: set[Path]) -> None:
    if isinstance(v, dict) and v:
        for k, cv in v.items():
            _walk(cv, _child(fs, k), (*path, "f:" + k), out)
        return
    if isinstance(v, list) and v:
        keyed = _keyed(v, _list_key(fs))
        if keyed is not None:
            item_fs = fs.item or ANY
            for el, item in keyed.items():
                out.add((*path, el))
                _walk(item, item_fs, (*path, el), out)
            return
    out.add(path)


def _step(v: Any, el: str) -> Any:
    if el.startswith("f:"):
        return v.get(el[2:]) if isinstance(v, dict) else None
    if el.startswith("k:") and isinstance(v, list):
        want = json.loads(el[2:])
        for it in v:
            if isinstance(it, dict) and all(it.get(k) == w for k, w in want.items()):
                return it
    return None


_MISSING = object()


def value_at(obj: Any, path: Path) -> Any:
    cur = obj
    for el in path:
        if el.startswith("f:") and not (isinstance(cur, dict) and el[2:] in cur):
            return _MISSING
        cur = _step(cur, el)
        if cur is None and el.startswith("k:"):
            return _MISSING
    return cur


def remove(obj: Obj, path: Path) -> None:
    """Remove the field or list item at `path` (in place), and maps it leaves empty."""
    parents: list[tuple[Any, str]] = []
    cur: Any = obj
    for el in path[:-1]:
        nxt = _step(cur, el)
        if nxt is None:
            return
        parents.append((cur, el))
        cur = nxt
    last = path[-1]
    if last.startswith("f:") and isinstance(cur, dict):
        cur.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(cur, list):
        item = _step(cur, last)
        if item is not None:
            cur.remove(item)
    for parent, el in reversed(parents):
        child = _step(parent, el)
        if el.startswith("f:") and isinstance(parent, dict) and child in ({}, []):
            parent.pop(el[2:], None)
        else:
            break


def merge(live: Any, config: Any, fs: FieldSchema) -> Any:
    """`config` applied onto `live`: maps merged, keyed lists merged by key, the rest replaced."""
    if isinstance(live, dict) and isinstance(config, dict):
        out = dict(live)
        for k, v in config.items():
            out[k] = merge(live[k], v, _child(fs, k)) if k in live else copy.deepcopy(v)
        return out
    if isinstance(live, list) and isinstance(config, list):
        key = _list_key(fs)
        old = _keyed(live, key)
        new = _keyed(config, key)
        if old is not None and new is not None:
            item_fs = fs.item or ANY
            merged = [merge(it, new[el], item_fs) if el in new else it
                      for el, it in old.items()]
            merged += [copy.deepcopy(it) for el, it in new.items() if el not in old]
            return merged
    return copy.deepcopy(config)


# --- fieldsV1 -----------------------------------------------------------------------------------

def to_fields_v1(paths: Iterable[Path]) -> Obj:
    tree: Obj = {}
    members = set(paths)
    for p in sorted(members):
        node = tree
        for el in p:
            node = node.setdefault(el, {})
    for p in members:
        node = tree
        for el in p:
            node = node[el]
        if node:
            node["."] = {}
    return _sorted(tree)


def _sorted(tree: Obj) -> Obj:
    return {k: _sorted(tree[k]) for k in sorted(tree)}


def from_fields_v1(tree: Any, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    if not isinstance(tree, dict):
        return out
    if prefix and (not tree or "." in tree):
        out.add(prefix)
    for k, v in tree.items():
        if k != ".":
            out |= from_fields_v1(v, (*prefix, k))
    return out


def path_string(path: Path) -> str:
    """A path as structured-merge-diff prints it: `.spec.containers[name="web"].image`."""
    parts: list[str] = []
    for el in path:
        if el.startswith("f:"):
            parts.append("." + el[2:])
        elif el.startswith("k:"):
            keys = json.loads(el[2:])
            parts.append("[" + ",".join(f"{k}={json.dumps(v, separators=(',', ':'))}"
                                        for k, v in sorted(keys.items())) + "]")
        elif el.startswith("v:"):
            parts.append("[=" + el[2:] + "]")
        elif el.startswith("i:"):
            parts.append("[" + el[2:] + "]")
    return "".join(parts)


# --- managers -----------------------------------------------------------------------------------

@dataclass
class Manager:
    manager: str
    operation: str  # Apply | Update
    api_version: str
    time: str
    fields: set[Path] = field(default_factory=set)
    subresource: str = ""

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource)

    def describe(self) -> str:
        """As the real server prints a manager in a conflict."""
        out = json.dumps(self.manager)
        if self.subresource:
            out += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            out += f" using {self.api_version}"
        return out

    def to_json(self) -> Obj:
        entry: Obj = {"manager": self.manager, "operation": self.operation,
                      "apiVersion": self.api_version, "time": self.time,
                      "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(self.fields)}
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def read(obj: Obj) -> list[Manager]:
    """The managers recorded on an object (entries that do not parse are dropped)."""
    out: list[Manager] = []
    for e in (obj.get("metadata") or {}).get("managedFields") or []:
        if not isinstance(e, dict) or not isinstance(e.get("manager", ""), str):
            continue
        out.append(Manager(str(e.get("manager", "")), str(e.get("operation", "Update")),
                           str(e.get("apiVersion", "")), str(e.get("time", "")),
                           from_fields_v1(e.get("fieldsV1") or {}),
                           str(e.get("subresource", ""))))
    return out


def write(obj: Obj, managers: list[Manager]) -> None:
    entries = [m.to_json() for m in managers if m.fields]
    if entries:
        obj["metadata"]["managedFields"] = entries
    else:
        obj["metadata"].pop("managedFields", None)


def _changed(old: Obj | None, new: Obj, fields_new: set[Path]) -> set[Path]:
    if old is None:
        return set(fields_new)
    return {p for p in fields_new if value_at(old, p) != value_at(new, p)}


def record_update(old: Obj | None, new: Obj, managers: list[Manager], manager: str,
                  api_version: str, now: str, fs: FieldSchema,
                  subresource: str = "") -> list[Manager]:
    """Managers after a non-apply write of `new` (over `old`) by `manager`."""
    fields_new = field_set(new, fs, subresource=subresource)
    gone = set() if old is None else field_set(old, fs, subresource=subresource) - fields_new
    changed = _changed(old, new, fields_new)
    out: list[Manager] = []
    mine: Manager | None = None
    for m in managers:
        m = Manager(m.manager, m.operation, m.api_version, m.time, set(m.fields), m.subresource)
        if m.ident == (manager, "Update", subresource):
            mine = m
        else:
            m.fields -= changed
        m.fields -= {p for p in m.fields if any(p[:len(g)] == g for g in gone)}
        out.append(m)
    if changed:
        if mine is None:
            mine = Manager(manager, "Update", api_version, now, set(), subresource)
            out.append(mine)
        mine.fields |= changed
        mine.time, mine.api_version = now, api_version
    return [m for m in out if m.fields]


@dataclass(frozen=True)
class Conflict:
    manager: Manager
    path: Path


def conflict_error(conflicts: list[Conflict]) -> errors.ApiError:
    causes = [errors.Cause(path_string(c.path), f"conflict with {c.manager.describe()}",
                           "FieldManagerConflict") for c in conflicts]
    if len(conflicts) == 1:
        c = conflicts[0]
        msg = (f"Apply failed with 1 conflict: conflict with {c.manager.describe()}: "
               f"{path_string(c.path)}")
    else:
        by: dict[str, list[str]] = {}
        for c in conflicts:
            by.setdefault(c.manager.describe(), []).append(path_string(c.path))
        lines: list[str] = []
        for who in sorted(by):
            lines.append(f"conflicts with {who}:")
            lines += [f"- {p}" for p in by[who]]
        msg = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return errors.ApiError(409, "Conflict", msg, causes=causes)


def apply(live: Obj | None, config: Obj, managers: list[Manager], manager: str,
          api_version: str, now: str, fs: FieldSchema, *, force: bool,
          subresource: str = "") -> tuple[Obj, list[Manager]]:
    """The object and managers after `manager` applies `config` (409 on conflicts)."""
    base: Obj = live if live is not None else {}
    applied = field_set(config, fs, subresource=subresource)
    conflicts: list[Conflict] = []
    for m in managers:
        if m.ident == (manager, "Apply", subresource):
            continue
        for p in sorted(m.fields & applied):
            have, want = value_at(base, p), value_at(config, p)
            if p[-1].startswith("k:") and isinstance(have, dict):
                continue  # the item itself; its fields are compared one by one
            if have is not _MISSING and have != want:
                conflicts.append(Conflict(m, p))
    if conflicts and not force:
        raise conflict_error(conflicts)
    taken = {c.path for c in conflicts}
    previous: set[Path] = set()
    out: list[Manager] = []
    for m in managers:
        m = Manager(m.manager, m.operation, m.api_version, m.time, set(m.fields), m.subresource)
        if m.ident == (manager, "Apply", subresource):
            previous = m.fields
            continue
        m.fields -= taken
        out.append(m)
    new = merge(copy.deepcopy(base), {k: v for k, v in config.items()
                                      if k not in ("apiVersion", "kind")}, fs)
    for k in ("apiVersion", "kind"):
        if k in base or k in config:
            new[k] = config.get(k, base.get(k))
    others = set().union(*(m.fields for m in out)) if out else set()
    removed: list[Path] = []
    for p in sorted(previous - applied, key=len):
        if any(p[:len(r)] == r for r in removed):
            continue  # inside something already removed
        if p not in others and not any(o[:len(p)] == p for o in others | applied):
            remove(new, p)
            removed.append(p)
    out.append(Manager(manager, "Apply", api_version, now, applied, subresource))
    return new, [m for m in out if m.fields]
