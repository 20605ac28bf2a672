"""The three PATCH formats kube-apiserver accepts, applied to plain JSON objects.

- `merge_patch`: RFC 7386 JSON merge patch (`application/merge-patch+json`; what kubectl sends
  for custom resources and for `kubectl label`).
- `json_patch`: RFC 6902 JSON patch (`application/json-patch+json`), with the errors and status
  codes kube-apiserver gives (400 for an undecodable patch, 422 when an operation fails).
- `strategic_merge_patch`: Kubernetes' strategic merge patch (`kubectl apply`/`edit`/`patch`
  on built-in kinds): lists merged by the merge keys of the schema (`turnout.kube.schema`),
  directives `$patch`, `$retainKeys`, `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`,
  and the element order rules of apimachinery's strategicpatch package.

Inputs are never mutated; every function returns a new object. Pure, no I/O.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from turnout.kube import schema
from turnout.kube.errors import ApiError, Cause, bad_request
from turnout.kube.schema import ANY, FieldSchema
from turnout.types import JSON, Obj

# --- RFC 7386 -------------------------------------------------------------------------------


def merge_patch(target: Obj, patch: JSON) -> Obj:
    """RFC 7386: objects merge recursively, `null` deletes, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        raise bad_request("Invalid JSON Patch")
    out = _merge7386(target, patch)
    assert isinstance(out, dict)
    return out


def _merge7386(target: JSON, patch: JSON) -> JSON:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = _merge7386(result.get(k), v)
    return result


# --- RFC 6902 -------------------------------------------------------------------------------


def _op_failed(message: str) -> ApiError:
    """kube-apiserver wraps a failed operation as a generic 422 whose cause carries the detail."""
    return ApiError(422, "Invalid",
                    "the server rejected our request due to an error in our request",
                    causes=[Cause("", message, "UnexpectedServerResponse")])


def _pointer(path: JSON) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise _op_failed(f'doc is missing path: "{path}": missing value')
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _container(doc: JSON, parts: list[str]) -> JSON:
    """The object/list holding the last token of `parts`, or raise KeyError."""
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict):
            cur = cur[p]
        elif isinstance(cur, list):
            cur = cur[_index(p, len(cur) - 1)]
        else:
            raise KeyError(p)
    if not isinstance(cur, (dict, list)):
        raise KeyError(parts[-1])
    return cur


def _index(token: str, maximum: int) -> int:
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise KeyError(token)
    i = int(token)
    if i > maximum:
        raise IndexError(i)
    return i


def _get(doc: JSON, parts: list[str]) -> JSON:
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            cur = cur[p]
        elif isinstance(cur, list):
            cur = cur[_index(p, len(cur) - 1)]
        else:
            raise KeyError(p)
    return cur


def _add(doc: JSON, parts: list[str], value: JSON, path: str, op: str) -> JSON:
    if not parts:
        return value
    try:
        con = _container(doc, parts)
    except (KeyError, IndexError):
        raise _op_failed(f'{op} operation does not apply: doc is missing path: "{path}": '
                         f"missing value") from None
    key = parts[-1]
    if isinstance(con, dict):
        con[key] = value
        return doc
    try:
        i = len(con) if key == "-" else _index(key, len(con))
    except (KeyError, IndexError):
        raise _op_failed(f"error in {op} for path: '{path}': Unable to access invalid index: "
                         f"{key}: invalid index referenced") from None
    con.insert(i, value)
    return doc


def _remove(doc: JSON, parts: list[str], path: str, op: str) -> JSON:
    try:
        con = _container(doc, parts) if parts else None
    except (KeyError, IndexError):
        con = None
    if con is None:
        raise _op_failed(f'{op} operation does not apply: doc is missing path: "{path}": '
                         f"missing value")
    key = parts[-1]
    if isinstance(con, dict):
        if key not in con:
            raise _op_failed(f"error in {op} for path: '{path}': Unable to remove nonexistent "
                             f"key: {key}: missing value")
        return con.pop(key)
    try:
        return con.pop(_index(key, len(con) - 1))
    except (KeyError, IndexError):
        raise _op_failed(f"error in {op} for path: '{path}': Unable to access invalid index: "
                         f"{key}: invalid index referenced") from None


MAX_JSON_PATCH_OPS = 10000
"""kube-apiserver's maxJSONPatchOperations (handlers/patch.go)."""
MAX_COPY_GROWTH = 3 * 1024 * 1024
"""json-patch's AccumulatedCopySizeLimit as kube-apiserver sets it."""


def json_patch(target: Obj, ops: JSON) -> Obj:
    """Apply an RFC 6902 patch. Raises ApiError 400 if `ops` is not a list of objects, 422 when
    an operation fails (missing path, failed `test`, unknown op), like kube-apiserver."""
    if not isinstance(ops, list) or not all(isinstance(o, dict) for o in ops):
        kind = "object" if isinstance(ops, dict) else type(ops).__name__
        raise bad_request(f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch")
    if len(ops) > MAX_JSON_PATCH_OPS:
        raise ApiError(413, "RequestEntityTooLarge",
                       "Request entity too large: The allowed maximum operations in a JSON "
                       f"patch is {MAX_JSON_PATCH_OPS}, got {len(ops)}")
    doc: JSON = copy.deepcopy(target)
    copied = 0
    for o in ops:
        op = o.get("op")
        path = o.get("path", "")
        parts = _pointer(path)
        value = copy.deepcopy(o.get("value"))
        if op == "add":
            doc = _add(doc, parts, value, path, "add")
        elif op == "remove":
            _remove(doc, parts, path, "remove")
        elif op == "replace":
            try:
                con = _container(doc, parts) if parts else None
            except (KeyError, IndexError):
                con = None
            if not parts:
                doc = value
            elif con is None or (isinstance(con, list) and not _valid_index(parts[-1], con)):
                raise _op_failed(f"replace operation does not apply: doc is missing key: {path}: "
                                 f"missing value")
            elif isinstance(con, dict):
                con[parts[-1]] = value  # like kube's json-patch v4, a missing key is added
            else:
                con[int(parts[-1])] = value
        elif op in ("move", "copy"):
            src = o.get("from", "")
            sparts = _pointer(src)
            try:
                val = _get(doc, sparts)
            except (KeyError, IndexError):
                raise _op_failed(f"{op} operation does not apply: doc is missing from path: "
                                 f"{src}: missing value") from None
            if op == "move":
                _remove(doc, sparts, src, "move")
            else:  # copies can double the document each time: json-patch caps their growth
                copied += len(json.dumps(val, separators=(",", ":")))
                if copied > MAX_COPY_GROWTH:
                    raise _op_failed("Unable to complete the copy, the accumulated size "
                                     f"increase of copy is {copied}, exceeding the limit "
                                     f"{MAX_COPY_GROWTH}")
            doc = _add(doc, parts, copy.deepcopy(val), path, op)
        elif op == "test":
            try:
                cur = _get(doc, parts)
            except (KeyError, IndexError):
                cur = None
            if not _json_equal(cur, o.get("value")):
                raise _op_failed(f"testing value {path} failed: test failed")
        else:
            raise _op_failed(f"Unexpected kind: {op if isinstance(op, str) else 'unknown'}")
    if not isinstance(doc, dict):
        raise _op_failed("the patched document is not an object")
    return doc


def _valid_index(token: str, con: list[Any]) -> bool:
    try:
        _index(token, len(con) - 1)
    except (KeyError, IndexError):
        return False
    return True


def _json_equal(a: JSON, b: JSON) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# --- strategic merge patch ------------------------------------------------------------------

_PATCH = "$patch"
_RETAIN = "$retainKeys"
_ORDER = "$setElementOrder/"
_DELETE_PRIM = "$deleteFromPrimitiveList/"


class _Deleted:
    """Returned by the map merge for `$patch: delete`: the caller drops the key."""


_DELETED = _Deleted()


def strategic_merge_patch(target: Obj, patch: JSON, group: str, kind: str) -> Obj:
    """Kubernetes strategic merge patch of a built-in kind (`group` "" is core).

    Kinds the schema does not know are patched with an all-free-form schema: maps merge, lists
    are replaced, directives still apply. Malformed directives raise ApiError 400.
    """
    if not isinstance(patch, dict):
        raise bad_request("json: cannot unmarshal array into Go value of type "
                          "map[string]interface {}")
    root = schema.kind_schema(group, kind) or ANY
    out = _merge_map(copy.deepcopy(target), copy.deepcopy(patch), root)
    return {} if isinstance(out, _Deleted) else out


def _merge_map(original: Obj, patch: Obj, fs: FieldSchema) -> Obj | _Deleted:
    directive = patch.pop(_PATCH, None)
    if directive == "replace":
        return _clean_map(patch, fs)
    if directive == "delete":
        return _DELETED
    if directive not in (None, "merge"):
        raise bad_request(f"Unknown patch type: {directive} in map: {_go_map(patch)}")

    retain = patch.pop(_RETAIN, None)
    if retain is not None:
        if not isinstance(retain, list):
            raise bad_request("invalid patch format of retainKeys")
        for k in [k for k in original if k not in retain]:
            del original[k]

    orders = {k[len(_ORDER):]: v for k, v in patch.items() if k.startswith(_ORDER)}
    deletions = {k[len(_DELETE_PRIM):]: v for k, v in patch.items() if k.startswith(_DELETE_PRIM)}
    for name, order in orders.items():
        if not isinstance(order, list):
            raise bad_request("invalid patch format of setElementOrder list")
        child = fs.child(name) or ANY
        if name in patch:
            pv = patch.pop(name)
            if isinstance(original.get(name), list) and isinstance(pv, list):
                merged = _merge_list(original[name], pv, child, order)
            elif pv is None:
                original.pop(name, None)
                continue
            else:
                merged = _clean(pv, child)
                if isinstance(merged, list):
                    merged = _normalize(merged, order, [], _ident(child))
        elif isinstance(original.get(name), list):
            merged = _normalize(original[name], order, original[name], _ident(child))
        else:
            continue
        original[name] = merged

    for k, pv in patch.items():
        if k.startswith("$"):
            continue
        child = fs.child(k) or ANY
        if pv is None:
            original.pop(k, None)
            continue
        ov = original.get(k)
        if isinstance(ov, dict) and isinstance(pv, dict):
            if "replace" in child.patch_strategies:
                merged_map: Obj | _Deleted = _clean_map(pv, child)
            else:
                merged_map = _merge_map(ov, pv, child)
            if isinstance(merged_map, _Deleted):
                original.pop(k, None)
            else:
                original[k] = merged_map
        elif isinstance(ov, list) and isinstance(pv, list):
            original[k] = _merge_list(ov, pv, child, None)
        else:
            new = _clean(pv, child)
            if isinstance(new, _Deleted):
                original.pop(k, None)
            else:
                original[k] = new

    for name, values in deletions.items():
        if not isinstance(values, list):
            raise bad_request("invalid patch format of primitive list")
        if isinstance(original.get(name), list):
            original[name] = [x for x in original[name] if x not in values]
    return original


def _clean(v: JSON, fs: FieldSchema) -> Any:
    """A patch value with no original counterpart: drop directives and null fields."""
    if isinstance(v, dict):
        return _merge_map({}, v, fs)
    if isinstance(v, list):
        item = fs.item or ANY
        out = []
        for x in v:
            if isinstance(x, dict) and _PATCH in x:
                continue
            c = _clean(x, item)
            if not isinstance(c, _Deleted):
                out.append(c)
        return out
    return v


def _clean_map(v: Obj, fs: FieldSchema) -> Obj:
    out = _clean(v, fs)
    return out if isinstance(out, dict) else {}


def _ident(fs: FieldSchema) -> Callable[[JSON], str]:
    key = fs.merge_key

    def ident(x: JSON) -> str:
        if key and isinstance(x, dict):
            return json.dumps(x.get(key), sort_keys=True)
        return json.dumps(x, sort_keys=True)

    return ident


def _merge_list(original: list[Any], patch: list[Any], fs: FieldSchema,
                order: list[Any] | None) -> list[Any]:
    item = fs.item or ANY
    ident = _ident(fs)
    if "merge" not in fs.patch_strategies:
        merged = _clean(patch, fs)
        return merged if order is None else _normalize(merged, order, original, ident)
    if not any(isinstance(x, dict) for x in original + patch):
        merged = []
        seen: set[str] = set()
        for x in original + patch:
            if ident(x) not in seen:
                seen.add(ident(x))
                merged.append(x)
        return _normalize(merged, order if order is not None else patch, original, ident)

    key = fs.merge_key
    if not key:
        raise bad_request("cannot merge lists without merge key")
    server_order = list(original)
    kept = list(original)
    rest: list[Obj] = []
    replace = False
    for it in patch:
        if not isinstance(it, dict):
            raise bad_request("unable to find api field in struct for the list of maps")
        d = it.get(_PATCH)
        if d is None:
            rest.append(it)
        elif d == "delete":
            if key not in it:
                raise bad_request(f"map: {_go_map(it)} does not contain declared merge key: {key}")
            kept = [o for o in kept if not (isinstance(o, dict) and o.get(key) == it[key])]
        elif d == "replace":
            replace = True
        elif d == "merge":
            raise bad_request("merging lists cannot yet be specified in the patch")
        else:
            raise bad_request(f"Unknown patch type: {d} in map: {_go_map(it)}")
    if replace:
        merged = [_clean(x, item) for x in rest]
        return _normalize(merged, order if order is not None else rest, [], ident)
    merged = kept
    for it in rest:
        if key not in it:
            raise bad_request(f"map: {_go_map(it)} does not contain declared merge key: {key}")
        pos = next((i for i, o in enumerate(merged)
                    if isinstance(o, dict) and o.get(key) == it[key]), None)
        if pos is None:
            new = _clean(it, item)
            merged.append(new)
        else:
            res = _merge_map(merged[pos], it, item)
            if isinstance(res, _Deleted):
                del merged[pos]
            else:
                merged[pos] = res
    return _normalize(merged, order if order is not None else rest, server_order, ident)


def _normalize(merged: list[Any], patch_order: list[Any],
               server_order: list[Any], ident: Callable[[JSON], str]) -> list[Any]:
    """Order like apimachinery's normalizeElementOrder: items named by the patch (or by
    `$setElementOrder`) follow the patch order; the other, server-only items keep their
    server order; the two runs interleave by position in the server list."""
    pidx: dict[str, int] = {}
    for i, x in enumerate(patch_order):
        pidx.setdefault(ident(x), i)
    sidx: dict[str, int] = {}
    for i, x in enumerate(server_order):
        sidx.setdefault(ident(x), i)
    right = sorted((m for m in merged if ident(m) in pidx), key=lambda m: pidx[ident(m)])
    left = [m for m in merged if ident(m) not in pidx]
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li, ri = sidx.get(ident(left[i])), sidx.get(ident(right[j]))
            if li is not None and ri is not None and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _go_map(m: Obj) -> str:
    """Go's %v of a map, as in strategicpatch error messages."""
    inner = " ".join(f"{k}:{v}" for k, v in sorted(m.items()))
    return f"map[{inner}]"
