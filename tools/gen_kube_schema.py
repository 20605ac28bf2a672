"""Generate turnout/kube/data/kube-schema.json.gz from the `kubernetes-validate` JSON schemas.

Dev-time only (`pip install kubernetes-validate`; it is not a runtime dependency). The API needs,
for every built-in kind it serves, the field types (to decode strictly like kube-apiserver), the
required fields and the strategic-merge-patch annotations. The upstream schema is 4 MB of
descriptions; this keeps only what turnout uses and shares each definition once by its ref name.

Compact format (version 1):

    {"format": 1, "kubernetes": "v1.32.0",
     "kinds": {"apps/v1/Deployment": "io.k8s.api.apps.v1.Deployment", ...},
     "defs":  {"io.k8s.api.apps.v1.Deployment": {"p": {field: FIELD, ...}, "r": [required...]}}}

    FIELD = "string" | "int32" | "int64" | "float64" | "bool" | "bytes" | "time" | "intstr"
          | "quantity" | "any" | "@<def name>"            (a plain type)
          | {"t": FIELD, "a": 1?, "m": 1?, "k": merge key?, "s": patch strategy?}
            "a": array of t; "m": map (string keys) of t; else t itself with a strategy.

Usage: python tools/gen_kube_schema.py [k8s-version]   (default v1.32.0)
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]

from turnout.kube.resources import BUILTIN, ISTIO_NET

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "turnout" / "kube" / "data" / "kube-schema.json.gz"

SCALAR_DEFS = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "intstr",
    "io.k8s.apimachinery.pkg.api.resource.Quantity": "quantity",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": "time",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "time",
    "io.k8s.apimachinery.pkg.runtime.RawExtension": "any",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": "any",
}


def _types(s: dict[str, Any]) -> set[str]:
    t = s.get("type")
    if t is None:
        return set()
    return {t} if isinstance(t, str) else set(t) - {"null"}


class Builder:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.src = defs
        self.out: dict[str, Any] = {}

    def ref(self, name: str) -> str:
        if name in SCALAR_DEFS:
            return SCALAR_DEFS[name]
        d = self.src[name]
        if "properties" not in d:
            # empty structs, JSON, JSONSchemaPropsOr*: free-form or a scalar
            ts = _types(d)
            if ts and ts <= {"string"}:
                return "time" if d.get("format") == "date-time" else "string"
            return "any"
        if name not in self.out:
            self.out[name] = {}  # placeholder against recursion
            props = {k: self.field(v) for k, v in sorted(d["properties"].items())}
            body: dict[str, Any] = {"p": props}
            if d.get("required"):
                body["r"] = sorted(d["required"])
            self.out[name] = body
        return "@" + name

    def field(self, s: dict[str, Any]) -> Any:
        strategy = s.get("x-kubernetes-patch-strategy")
        key = s.get("x-kubernetes-patch-merge-key")
        if "$ref" in s:
            base: Any = self.ref(s["$ref"].rsplit("/", 1)[1])
            extra: dict[str, Any] = {}
        else:
            ts = _types(s)
            extra = {}
            if "array" in ts:
                base = self.field(s.get("items") or {})
                extra["a"] = 1
            elif "object" in ts and "additionalProperties" in s:
                base = self.field(s["additionalProperties"])
                extra["m"] = 1
            elif "object" in ts:
                base = "any"
            elif ts == {"string"}:
                fmt = s.get("format")
                base = {"byte": "bytes", "date-time": "time"}.get(fmt or "", "string")
            elif ts == {"integer"}:
                base = "int32" if s.get("format") == "int32" else "int64"
            elif ts == {"number"}:
                base = "float64"
            elif ts == {"boolean"}:
                base = "bool"
            else:
                base = "any"
        if key:
            extra["k"] = key
        if strategy:
            extra["s"] = strategy
        if not extra:
            return base
        return {"t": base, **extra}


def main(version: str = "v1.32.0") -> None:
    pkg = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    src = json.loads((pkg / f"{version}-local" / "_definitions.json").read_text())["$defs"]
    by_gvk: dict[tuple[str, str, str], str] = {}
    for name, d in src.items():
        for gvk in d.get("x-kubernetes-group-version-kind") or ():
            by_gvk.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    b = Builder(src)
    kinds: dict[str, str] = {}
    for rt in BUILTIN:
        if rt.group == ISTIO_NET:
            continue
        for v in rt.versions:
            name = by_gvk.get((rt.group, v, rt.kind))
            if name is None:
                print(f"missing {rt.group}/{v}/{rt.kind}", file=sys.stderr)
                continue
            b.ref(name)
            kinds[f"{rt.group}/{v}/{rt.kind}"] = name
    doc = {"format": 1, "kubernetes": version, "kinds": kinds, "defs": dict(sorted(b.out.items()))}
    raw = json.dumps(doc, separators=(",", ":"), sort_keys=False).encode()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the file byte-identical between runs
    OUT.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    print(f"{OUT.relative_to(ROOT)}: {len(kinds)} kinds, {len(b.out)} defs, "
          f"{len(raw)} bytes json, {OUT.stat().st_size} bytes gzip")


if __name__ == "__main__":
    main(*sys.argv[1:])
