"""Generate turnout/kube/data/proto_schema.json.gz from the protobuf descriptors inside kubectl.

Dev-time only: needs the PyPI `protobuf` package (`pip install protobuf`), which is not a runtime
dependency. kubectl's typed clients POST `application/vnd.kubernetes.protobuf` bodies; the runtime
decoder (`turnout/kube/protobuf.py`) needs, for every message, its fields by number. kubectl
binaries built with gogo-protobuf (up to about v1.33) embed every `k8s.io/api/*/generated.proto`
and apimachinery `generated.proto` as gzip-compressed `FileDescriptorProto`s; this tool finds the
gzip streams, parses them and keeps only what the decoder uses.

Compact format (version 1):

    {"format": 1, "source": "kubectl v1.33.1",
     "kinds": {"apps/v1/Deployment": "k8s.io.api.apps.v1.Deployment", ...,
               "*/DeleteOptions": "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"},
     "messages": {"k8s.io.api.apps.v1.Deployment": {"f": {"1": FIELD, ...}}, ...}}

    FIELD = {"n": json name, "t": scalar type | "message" | "map",
             "r": 1 if repeated, "p": 1 if a Go pointer (gogoproto nullable, the default),
             "z": 1 if a zero value is still written by Go's JSON (its json tag has no
                  omitempty),
             "i": 1 if the Go field is embedded with `json:",inline"` (its fields are the
                  parent's, e.g. Volume.volumeSource, Probe.handler),
             "m": message type (t == "message", or a map whose values are messages),
             "k": key type, "v": value type (t == "map")}
    A message may carry "l": 1 when Go models it as a plain slice of its single field `items`
    (e.g. meta.v1.Verbs, authentication ExtraValue): it is JSON as a list.

"*/Kind" entries are apimachinery meta.v1 kinds (DeleteOptions, ...), which every group version
registers under its own apiVersion.

JSON names, omitempty and inline come from the Go struct tags, which the binary also holds as
strings (`json:"rules,omitempty" protobuf:"bytes,3,rep,name=rules"`). Tag strings are shared
between structs, so a tag is matched to a field by (wire type, number, repeated, proto name);
where structs disagree, the JSON name is the proto name and `z` falls back to "required in
turnout's OpenAPI extract" (`turnout/kube/data/kube-schema.json.gz`).

Usage: python tools/gen_proto_schema.py [KUBECTL_BINARY]
       (default: the newest `kubectl.1.N` beside the kubectl found on PATH that embeds descriptors)
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

from google.protobuf import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    descriptor_pb2,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "turnout" / "kube" / "data" / "proto_schema.json.gz"
OPENAPI = ROOT / "turnout" / "kube" / "data" / "kube-schema.json.gz"

GZIP_MAGIC = b"\x1f\x8b\x08\x00\x00\x00\x00\x00"
GOGO_NULLABLE = 65001  # gogoproto.nullable extension number on FieldOptions
GOGO_CUSTOMNAME = 65004  # gogoproto.customname: the Go field name
TAG_RE = re.compile(rb'json:"([^"]*)"(?: [A-Za-z]+:"[^"]*")* '
                    rb'protobuf:"(\w+),(\d+)(?:,(opt|rep|req))?(?:,name=(\w+))?')

# Directory under k8s.io/api (and k8s.io/metrics) → API group name.
GROUPS = {
    "admission": "admission.k8s.io",
    "admissionregistration": "admissionregistration.k8s.io",
    "apidiscovery": "apidiscovery.k8s.io",
    "apiserverinternal": "internal.apiserver.k8s.io",
    "apps": "apps",
    "authentication": "authentication.k8s.io",
    "authorization": "authorization.k8s.io",
    "autoscaling": "autoscaling",
    "batch": "batch",
    "certificates": "certificates.k8s.io",
    "coordination": "coordination.k8s.io",
    "core": "",
    "discovery": "discovery.k8s.io",
    "events": "events.k8s.io",
    "extensions": "extensions",
    "flowcontrol": "flowcontrol.apiserver.k8s.io",
    "imagepolicy": "imagepolicy.k8s.io",
    "networking": "networking.k8s.io",
    "node": "node.k8s.io",
    "policy": "policy",
    "rbac": "rbac.authorization.k8s.io",
    "resource": "resource.k8s.io",
    "scheduling": "scheduling.k8s.io",
    "storage": "storage.k8s.io",
    "storagemigration": "storagemigration.k8s.io",
}

META = "k8s.io.apimachinery.pkg.apis.meta.v1"
META_KINDS = ("DeleteOptions", "CreateOptions", "UpdateOptions", "PatchOptions", "GetOptions",
              "ListOptions", "Status", "WatchEvent")

SCALARS = {
    descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE: "double",
    descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT: "float",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT64: "int64",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT64: "uint64",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT32: "int32",
    descriptor_pb2.FieldDescriptorProto.TYPE_FIXED64: "fixed64",
    descriptor_pb2.FieldDescriptorProto.TYPE_FIXED32: "fixed32",
    descriptor_pb2.FieldDescriptorProto.TYPE_BOOL: "bool",
    descriptor_pb2.FieldDescriptorProto.TYPE_STRING: "string",
    descriptor_pb2.FieldDescriptorProto.TYPE_BYTES: "bytes",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT32: "uint32",
    descriptor_pb2.FieldDescriptorProto.TYPE_ENUM: "int32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SFIXED32: "sfixed32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SFIXED64: "sfixed64",
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT32: "sint32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT64: "sint64",
}
MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED


def extract_descriptors(binary: bytes) -> list[descriptor_pb2.FileDescriptorProto]:
    """Every gzip-compressed k8s.io FileDescriptorProto embedded in a Go binary."""
    found: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    at = binary.find(GZIP_MAGIC)
    while at >= 0:
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(binary[at:at + 4_000_000])
            fd = descriptor_pb2.FileDescriptorProto()
            fd.ParseFromString(raw)
        except Exception:  # not a descriptor: some other gzip stream or a false magic
            fd = descriptor_pb2.FileDescriptorProto()
        if fd.name.startswith("k8s.io/") and fd.name.endswith("generated.proto"):
            found[fd.name] = fd
        at = binary.find(GZIP_MAGIC, at + 1)
    return [found[k] for k in sorted(found)]


TagKey = tuple[str, int, bool, str]
TagInfo = tuple[str, bool, bool]  # json name, omitempty, inline


def harvest_tags(binary: bytes) -> dict[TagKey, set[TagInfo]]:
    """Go struct tags that carry a protobuf tag, keyed by (wire, number, repeated, proto name)."""
    tags: dict[TagKey, set[TagInfo]] = {}
    for m in TAG_RE.finditer(binary):
        json_tag = m.group(1).decode()
        name, _, opts = json_tag.partition(",")
        options = opts.split(",")
        key = (m.group(2).decode(), int(m.group(3)), m.group(4) == b"rep",
               (m.group(5) or b"").decode())
        info = (name, "omitempty" in options or "omitzero" in options,
                name == "" and "inline" in options)
        tags.setdefault(key, set()).add(info)
    return tags


def _wire_name(field: descriptor_pb2.FieldDescriptorProto) -> str:
    t = descriptor_pb2.FieldDescriptorProto
    if field.type in (t.TYPE_MESSAGE, t.TYPE_STRING, t.TYPE_BYTES):
        return "bytes"
    if field.type in (t.TYPE_DOUBLE, t.TYPE_FIXED64, t.TYPE_SFIXED64):
        return "fixed64"
    if field.type in (t.TYPE_FLOAT, t.TYPE_FIXED32, t.TYPE_SFIXED32):
        return "fixed32"
    if field.type in (t.TYPE_SINT32, t.TYPE_SINT64):
        return "zigzag" + ("32" if field.type == t.TYPE_SINT32 else "64")
    return "varint"


def _customname(field: descriptor_pb2.FieldDescriptorProto) -> str:
    raw: bytes = field.options.SerializeToString()
    tag = _varint_bytes(GOGO_CUSTOMNAME << 3 | 2)
    at = raw.find(tag)
    if at < 0:
        return ""
    size = raw[at + len(tag)]
    return raw[at + len(tag) + 1:at + len(tag) + 1 + size].decode()


def _tag_info(field: descriptor_pb2.FieldDescriptorProto,
              tags: dict[TagKey, set[TagInfo]]) -> tuple[str | None, bool | None, bool]:
    """(json name, omitempty, inline) from the Go tags; None where they are ambiguous."""
    repeated = field.label == REPEATED
    key = (_wire_name(field), field.number, repeated, field.name)
    variants = tags.get(key, set())
    embedded = (field.type == MESSAGE
                and _customname(field) == field.type_name.rsplit(".", 1)[-1])
    named = any(k[1] == field.number and k[3] == field.name for k in tags)
    if not variants and embedded and not named:  # e.g. `protobuf:"bytes,1,req"`, no name
        variants = tags.get((key[0], key[1], key[2], ""), set())
    names = {v[0] for v in variants}
    empties = {v[1] for v in variants}
    inline = embedded and variants == {("", False, True)}
    return (names.pop() if len(names) == 1 and "" not in names else None,
            empties.pop() if len(empties) == 1 else None, inline)


def _nullable(field: descriptor_pb2.FieldDescriptorProto) -> bool:
    """gogoproto.nullable (default true) read from the option's unknown-field bytes."""
    raw = field.options.SerializeToString()
    tag = _varint_bytes(GOGO_NULLABLE << 3)
    at = raw.find(tag)
    return not (at >= 0 and raw[at + len(tag):at + len(tag) + 1] == b"\x00")


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _required(openapi: dict[str, Any], message: str) -> set[str]:
    """Required fields of the OpenAPI definition matching a proto message name."""
    if not message.startswith("k8s.io."):
        return set()
    definition = openapi.get("io.k8s." + message[len("k8s.io."):], {})
    return set(definition.get("r", []))


def build_schema(files: list[descriptor_pb2.FileDescriptorProto], openapi: dict[str, Any],
                 tags: dict[TagKey, set[TagInfo]], source: str) -> dict[str, Any]:
    messages: dict[str, Any] = {}
    map_entries: dict[str, descriptor_pb2.DescriptorProto] = {}
    for fd in files:
        for msg in fd.message_type:
            for nested in msg.nested_type:
                if nested.options.map_entry:
                    map_entries[f"{fd.package}.{msg.name}.{nested.name}"] = nested
    for fd in files:
        for msg in fd.message_type:
            full = f"{fd.package}.{msg.name}"
            required = _required(openapi, full)
            fields: dict[str, Any] = {}
            for f in msg.field:
                json_name, omitempty, inline = _tag_info(f, tags)
                out: dict[str, Any] = {"n": json_name or f.name}
                type_name = f.type_name.lstrip(".")
                if f.type == MESSAGE and type_name in map_entries:
                    entry = {e.number: e for e in map_entries[type_name].field}
                    out["t"] = "map"
                    out["k"] = SCALARS[entry[1].type]
                    value = entry[2]
                    if value.type == MESSAGE:
                        out["v"] = "message"
                        out["m"] = value.type_name.lstrip(".")
                    else:
                        out["v"] = SCALARS[value.type]
                elif f.type == MESSAGE:
                    out["t"] = "message"
                    out["m"] = type_name
                else:
                    out["t"] = SCALARS[f.type]
                if f.label == REPEATED and out["t"] != "map":
                    out["r"] = 1
                if _nullable(f) and f.label != REPEATED:
                    out["p"] = 1
                if omitempty is False or (omitempty is None and f.name in required):
                    out["z"] = 1
                if inline:
                    out["i"] = 1
                fields[str(f.number)] = out
            entry_out: dict[str, Any] = {"f": fields}
            only = list(msg.field)
            if (len(only) == 1 and only[0].name == "items" and only[0].label == REPEATED
                    and only[0].type != MESSAGE):
                entry_out["l"] = 1
            messages[full] = entry_out
    return {"format": 1, "source": source, "kinds": _kinds(files), "messages": messages}


def _kinds(files: list[descriptor_pb2.FileDescriptorProto]) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for fd in files:
        if fd.package == META:
            for msg in fd.message_type:
                if msg.name in META_KINDS:
                    kinds[f"*/{msg.name}"] = f"{META}.{msg.name}"
            continue
        m = re.fullmatch(r"k8s\.io\.(?:api|metrics\.pkg\.apis)\.(\w+)\.(v\w+)", fd.package)
        if not m:
            continue
        group_dir, version = m.groups()
        if group_dir == "metrics":
            group = "metrics.k8s.io"
        elif group_dir in GROUPS:
            group = GROUPS[group_dir]
        else:
            raise SystemExit(f"unknown API group directory {group_dir!r}: add it to GROUPS")
        api_version = f"{group}/{version}" if group else version
        for msg in fd.message_type:
            first = {f.number: f for f in msg.field}.get(1)
            if first is None or first.name != "metadata":
                continue
            if first.type_name.lstrip(".") in (f"{META}.ObjectMeta", f"{META}.ListMeta"):
                kinds[f"{api_version}/{msg.name}"] = f"{fd.package}.{msg.name}"
    return dict(sorted(kinds.items()))


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.name.split("kubectl", 1)[1]) or [0])


def default_binary() -> Path:
    """The newest kubectl.1.N beside the kubectl on PATH that embeds proto descriptors."""
    found = shutil.which("kubectl")
    if not found:
        raise SystemExit("no kubectl on PATH: pass the binary path")
    folder = Path(os.path.realpath(found)).parent
    candidates = sorted(folder.glob("kubectl.1.*"), key=_version_key, reverse=True)
    for candidate in [*candidates, Path(os.path.realpath(found))]:
        with candidate.open("rb") as fh:
            if b"k8s.io/api/core/v1/generated.proto" in fh.read():
                return candidate
    raise SystemExit("no kubectl with embedded proto descriptors found: pass the binary path")


def _client_version(binary: Path) -> str:
    try:
        out = subprocess.run([str(binary), "version", "--client", "-o", "json"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        return "kubectl " + str(json.loads(out)["clientVersion"]["gitVersion"])
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return "kubectl " + binary.name


def main(argv: list[str]) -> None:
    binary = Path(argv[1]) if len(argv) > 1 else default_binary()
    data = binary.read_bytes()
    files = extract_descriptors(data)
    if not any(fd.package == "k8s.io.api.core.v1" for fd in files):
        raise SystemExit(f"{binary}: no k8s.io/api/core/v1 descriptor found")
    openapi: dict[str, Any] = {}
    if OPENAPI.exists():
        openapi = json.loads(gzip.decompress(OPENAPI.read_bytes()))["defs"]
    schema = build_schema(files, openapi, harvest_tags(data), _client_version(binary))
    text = json.dumps(schema, separators=(",", ":"), sort_keys=True).encode()
    OUT.write_bytes(gzip.compress(text, 9, mtime=0))
    print(f"{OUT.relative_to(ROOT)}: {len(files)} files, {len(schema['messages'])} messages, "
          f"{len(schema['kinds'])} kinds, {OUT.stat().st_size} bytes ({schema['source']})")


if __name__ == "__main__":
    main(sys.argv)
