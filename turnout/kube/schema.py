"""Field types of the built-in kinds, so the API decodes bodies the way kube-apiserver does.

kube-apiserver decodes JSON into Go structs: a wrong JSON type is a 400 (`json: cannot unmarshal
string into Go struct field DeploymentSpec.spec.replicas of type int32`), unknown fields are
dropped (or, with `fieldValidation=Strict`, a 400 `strict decoding error: unknown field ...`), and
strategic merge patch takes its list merge keys from struct tags. turnout has no Go structs, so
it keeps a compact copy of the Kubernetes v1.32 OpenAPI schema (`data/kube-schema.json.gz`, made
by `tools/gen_kube_schema.py`) and answers those questions from it.

Kinds are identified by `(group, kind)` (core group is ""), optionally with a version; without
one, the first version the data file lists for the kind (the preferred one) is used.
Pure: the only I/O is reading the packaged data file once.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from turnout.kube.errors import ApiError, bad_request
from turnout.types import JSON, Obj

DATA_FILE = "kube-schema.json.gz"

_GO_SCALARS = {
    "string": "string", "int32": "int32", "int64": "int64", "float64": "float64",
    "bool": "bool", "bytes": "[]uint8", "time": "v1.Time", "intstr": "intstr.IntOrString",
    "quantity": "resource.Quantity", "any": "interface {}",
}


@dataclass(frozen=True)
class FieldSchema:
    """The schema of one field (or of a whole kind, for the root).

    `type` is one of: object, array, map, string, int32, int64, float64, bool, bytes (base64
    `[]byte`), time, intstr (int-or-string), quantity, any (free-form, never checked).
    """

    type: str
    ref: str = ""
    """Definition name for objects, e.g. io.k8s.api.apps.v1.DeploymentSpec."""
    item: FieldSchema | None = None
    """Element schema of an array, value schema of a map."""
    merge_key: str | None = None
    strategy: str = ""
    """x-kubernetes-patch-strategy: "", merge, replace, retainKeys or "merge,retainKeys"."""

    @property
    def properties(self) -> dict[str, FieldSchema]:
        return _props(self.ref) if self.type == "object" else {}

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(_defs()[self.ref].get("r", ())) if self.type == "object" else ()

    @property
    def go_struct(self) -> str:
        """Go struct name, as in `Go struct field DeploymentSpec.spec.replicas`."""
        return self.ref.rsplit(".", 1)[-1]

    @property
    def go_type(self) -> str:
        """Go type as Go prints it in decode errors: `[]v1.Container`, `map[string]string`..."""
        if self.type == "object":
            parts = self.ref.split(".")
            return f"{parts[-2]}.{parts[-1]}"
        if self.type == "array":
            assert self.item is not None
            return "[]" + self.item.go_type
        if self.type == "map":
            assert self.item is not None
            return "map[string]" + self.item.go_type
        return _GO_SCALARS[self.type]

    def child(self, name: str) -> FieldSchema | None:
        """Schema of a field of an object / a value of a map / an item of an array."""
        if self.type == "object":
            return self.properties.get(name)
        if self.type in ("map", "array"):
            return self.item
        if self.type == "any":
            return ANY
        return None

    @property
    def patch_strategies(self) -> tuple[str, ...]:
        return tuple(s for s in self.strategy.split(",") if s)


ANY = FieldSchema("any")


@cache
def _doc() -> Obj:
    raw = resources.files("turnout.kube").joinpath("data", DATA_FILE).read_bytes()
    doc: Obj = json.loads(gzip.decompress(raw))
    return doc


def _defs() -> dict[str, Any]:
    d: dict[str, Any] = _doc()["defs"]
    return d


@cache
def _props(ref: str) -> dict[str, FieldSchema]:
    return {k: _field(v) for k, v in _defs()[ref].get("p", {}).items()}


def _field(spec: Any) -> FieldSchema:
    if isinstance(spec, str):
        if spec.startswith("@"):
            return FieldSchema("object", ref=spec[1:])
        return FieldSchema(spec)
    base = _field(spec["t"])
    key = spec.get("k")
    strategy = spec.get("s", "")
    if spec.get("a"):
        return FieldSchema("array", item=base, merge_key=key, strategy=strategy)
    if spec.get("m"):
        return FieldSchema("map", item=base, merge_key=key, strategy=strategy)
    return FieldSchema(base.type, ref=base.ref, item=base.item, merge_key=key, strategy=strategy)


def kubernetes_version() -> str:
    """Kubernetes release the schema was taken from, e.g. v1.32.0."""
    return str(_doc()["kubernetes"])


@cache
def kind_schema(group: str, kind: str, version: str | None = None) -> FieldSchema | None:
    """Root schema of a built-in kind; None for kinds the data file does not know (CRDs)."""
    kinds: dict[str, str] = _doc()["kinds"]
    if version is not None:
        ref = kinds.get(f"{group}/{version}/{kind}")
    else:
        ref = next((r for k, r in kinds.items()
                    if k.startswith(f"{group}/") and k.endswith(f"/{kind}")
                    and k.count("/") == 2), None)
    return FieldSchema("object", ref=ref) if ref else None


def field_schema(group: str, kind: str, path: Sequence[str],
                 version: str | None = None) -> FieldSchema | None:
    """Schema at `path` (field names; array indexes and map keys may appear or be omitted).

    `field_schema("apps", "Deployment", ["spec", "template", "spec", "containers", "ports"])`
    is the containerPort list; a digit step into an array selects the item.
    """
    cur = kind_schema(group, kind, version)
    for step in path:
        if cur is None:
            return None
        if cur.type == "array" and not step.isdigit():
            cur = cur.item
            if cur is None:
                return None
        cur = cur.child(step)
    return cur


def merge_key(group: str, kind: str, path: tuple[str, ...]) -> tuple[str | None, str]:
    """(merge key, patch strategy) of the list at `path`; (None, "") when unknown or not a list."""
    fs = field_schema(group, kind, path)
    if fs is None:
        return None, ""
    return fs.merge_key, fs.strategy


# --- decoding: what Go's encoding/json would say ---------------------------------------------

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_QUANTITY_MSG = ("quantities must match the regular expression "
                 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _json_kind(v: JSON) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


json_kind = _json_kind
"""How Go's decoder names a JSON value's type in `cannot unmarshal <kind> into ...`."""


def _go_number(v: int | float) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v)) if "e" not in repr(v) else repr(v)
    return repr(v)


def go_base64_error(s: str) -> int | None:
    """Offset Go's base64.StdEncoding reports for `s` (`illegal base64 data at input byte N`)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    src = s.encode()
    si, n = 0, len(src)
    while True:
        j = 0
        while j < 4:
            if si == n:
                if j == 0:
                    return None
                return si - j
            ch = chr(src[si])
            si += 1
            if ch in alphabet:
                j += 1
                continue
            if ch in "\r\n":
                continue
            if ch != "=":
                return si - 1
            if j in (0, 1):
                return si - 1
            if j == 2:
                while si < n and chr(src[si]) in "\r\n":
                    si += 1
                if si == n:
                    return n
                if chr(src[si]) != "=":
                    return si - 1
                si += 1
            while si < n and chr(src[si]) in "\r\n":
                si += 1
            return si if si < n else None


def _type_error(v: JSON, fs: FieldSchema) -> str | None:
    """The Go type error for value `v` in a field of schema `fs`, or a custom-unmarshal error."""
    if v is None or fs.type == "any":
        return None
    k = _json_kind(v)
    t = fs.type
    ok = {
        "object": k == "object", "map": k == "object", "array": k == "array",
        "string": k == "string", "bool": k == "bool", "bytes": k == "string",
        "time": k == "string", "float64": k == "number",
        "intstr": k in ("string", "number"), "quantity": k in ("string", "number"),
    }.get(t)
    if t in _INT_RANGES:
        if k == "number":
            lo, hi = _INT_RANGES[t]
            if (isinstance(v, float) and not v.is_integer()) or not lo <= v <= hi:
                return f"number {_go_number(v)}"
            return None
        return k
    if not ok:
        return k
    return None


def _custom_error(v: JSON, fs: FieldSchema) -> str | None:
    if fs.type == "quantity":
        if isinstance(v, str) and not _QUANTITY.match(v.strip()):
            return _QUANTITY_MSG
    elif fs.type == "intstr" and isinstance(v, (int, float)) and not isinstance(v, bool):
        if isinstance(v, float) and not v.is_integer():
            return f"json: cannot unmarshal number {_go_number(v)} into Go value of type int32"
    elif fs.type == "bytes" and isinstance(v, str):
        off = go_base64_error(v)
        if off is not None:
            return f"illegal base64 data at input byte {off}"
    return None


@dataclass
class _Walk:
    first_error: str | None = None
    unknown: list[str] | None = None


def _walk(v: JSON, fs: FieldSchema, struct: str, gopath: str, path: str, w: _Walk) -> None:
    if v is None:
        return
    bad = _type_error(v, fs)
    if bad is not None:
        if w.first_error is None:
            if fs.type == "intstr":  # custom UnmarshalJSON: no struct field in the message
                w.first_error = f"json: cannot unmarshal {bad} into Go value of type int32"
            elif fs.type == "quantity":
                w.first_error = _QUANTITY_MSG
            else:
                w.first_error = (f"json: cannot unmarshal {bad} into Go struct field "
                                 f"{struct}.{gopath} of type {fs.go_type}")
        return
    custom = _custom_error(v, fs)
    if custom is not None:
        if w.first_error is None:
            w.first_error = custom
        return
    if fs.type == "object":
        props = fs.properties
        for name, sub in v.items():
            child = props.get(name)
            gp = f"{gopath}.{name}" if gopath else name
            p = f"{path}.{name}" if path else name
            if child is None:
                if w.unknown is not None:
                    w.unknown.append(p)
                continue
            _walk(sub, child, fs.go_struct, gp, p, w)
    elif fs.type in ("array", "map"):
        assert fs.item is not None
        items: Iterator[tuple[str, JSON]] = (
            ((f"[{i}]", x) for i, x in enumerate(v)) if fs.type == "array"
            else ((f"[{key}]", x) for key, x in v.items()))
        for suffix, sub in items:
            _walk(sub, fs.item, struct, gopath, path + suffix, w)


def decode_errors(obj: Obj, group: str, kind: str, strict: bool,
                  version: str | None = None) -> ApiError | None:
    """The 400 BadRequest kube-apiserver answers when decoding `obj` fails, else None.

    Type errors always fail; unknown fields fail only when `strict` (fieldValidation=Strict).
    Unknown kinds (custom resources) are not checked here.
    """
    root = kind_schema(group, kind, version)
    if root is None:
        return None
    w = _Walk(unknown=[] if strict else None)
    _walk(obj, root, root.go_struct, "", "", w)
    ver = version or _preferred_version(group, kind)
    prefix = f'{kind} in version "{ver}" cannot be handled as a {kind}: '
    if w.first_error is not None:
        return bad_request(prefix + w.first_error)
    if w.unknown:
        listed = ", ".join(f'unknown field "{p}"' for p in w.unknown)
        return bad_request(prefix + "strict decoding error: " + listed)
    return None


def unknown_fields(obj: Obj, group: str, kind: str, version: str | None = None) -> list[str]:
    """Paths of fields the schema does not know (`spec.template.spec.containers[0].foo`).

    kube-apiserver returns them as `unknown field "..."` warnings with fieldValidation=Warn.
    """
    root = kind_schema(group, kind, version)
    if root is None:
        return []
    w = _Walk(unknown=[])
    _walk(obj, root, root.go_struct, "", "", w)
    return w.unknown or []


def prune_unknown(obj: Obj, group: str, kind: str, version: str | None = None) -> Obj:
    """A copy of `obj` without unknown fields, as a Go struct round trip would drop them."""
    root = kind_schema(group, kind, version)
    if root is None:
        return obj
    out = _prune(obj, root)
    assert isinstance(out, dict)
    return out


def _prune(v: JSON, fs: FieldSchema) -> JSON:
    if fs.type == "object" and isinstance(v, dict):
        props = fs.properties
        return {k: _prune(x, props[k]) for k, x in v.items() if k in props}
    if fs.type == "array" and isinstance(v, list) and fs.item is not None:
        return [_prune(x, fs.item) for x in v]
    if fs.type == "map" and isinstance(v, dict) and fs.item is not None:
        return {k: _prune(x, fs.item) for k, x in v.items()}
    if isinstance(v, (dict, list)):
        return json.loads(json.dumps(v))
    return v


def _preferred_version(group: str, kind: str) -> str:
    for key in _doc()["kinds"]:
        g, v, k = key.split("/")
        if g == group and k == kind:
            return str(v)
    return "v1"
