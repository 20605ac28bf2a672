"""Decode Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) to JSON dicts.

kubectl's typed-client commands send their bodies as protobuf and never fall back to JSON:
verified by capture with kubectl 1.32 and 1.37, every `kubectl create` subcommand (namespace,
configmap, secret, deployment, service, job, cronjob, serviceaccount, role, rolebinding,
clusterrole, clusterrolebinding, quota, poddisruptionbudget, priorityclass, ingress), `create
token` (a TokenRequest POSTed to serviceaccounts/NAME/token) and `drain --disable-eviction` (a
DeleteOptions body on DELETE pods/NAME). `kubectl run`, `apply`, `drain`'s evictions and patches
send JSON. turnout stores and serves JSON. This module turns such a body into
the object kubectl would have sent as JSON (what `--dry-run=client -o json` prints), so the API
can treat both alike. Responses stay JSON: clients accept them.

Wire format: the 4 bytes `k8s\\x00`, then a `runtime.Unknown` message (1 typeMeta {1 apiVersion,
2 kind}, 2 raw = the typed object's own protobuf encoding, 3 contentEncoding, 4 contentType).
Message layouts come from `data/proto_schema.json.gz`, extracted from kubectl's embedded
descriptors by `tools/gen_proto_schema.py`. Fields the schema does not know (added by a newer
Kubernetes than the schema's) are skipped.

How the Go JSON encoder is mirrored (proto2 only carries what the Go value holds):
- a Go pointer field present on the wire appears even when zero (`replicas: 0`, `suspend: false`);
- a non-pointer scalar that is zero ("", 0, false) is left out, as `omitempty` does, unless the
  field is required in the OpenAPI schema (its json tag has no omitempty);
- a non-pointer struct always appears (`status: {}`, `resources: {}`), as Go writes it; an
  embedded `json:",inline"` struct (Volume.volumeSource, Probe.handler, IngressRule's
  ingressRuleValue) is merged into its parent; JSON names come from the Go json tags;
- an empty meta.v1.Time / MicroTime is `None` (`creationTimestamp: null`), RawExtension and
  FieldsV1 without bytes are `None`;
- a repeated or map field with no element is absent. Go writes `null` for the few such fields
  without omitempty (e.g. Role `rules`); absent and null mean the same to the API.
Special values: IntOrString → int or str, Quantity → its string, Time → RFC3339 seconds,
MicroTime → RFC3339 with microseconds, Duration → Go duration string, bytes → base64,
RawExtension / FieldsV1 → parsed JSON (or a nested protobuf object).

Pure: no I/O beyond reading the packaged schema once.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import struct
from collections.abc import Callable
from functools import cache
from importlib import resources

from turnout.kube.errors import ApiError, bad_request
from turnout.types import JSON, Obj

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
DATA_FILE = "proto_schema.json.gz"

_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_TIME = _META + "Time"
_MICRO_TIME = _META + "MicroTime"
_DURATION = _META + "Duration"
_FIELDS_V1 = _META + "FieldsV1"
_INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITIES = ("k8s.io.apimachinery.pkg.api.resource.Quantity",
               "k8s.io.apimachinery.pkg.api.resource.QuantityValue")
_RAW_EXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension"
_MAX_DEPTH = 64
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class _Truncated(Exception):
    """Internal: the data ends inside a field."""


def is_protobuf(content_type: str) -> bool:
    """True for a `Content-Type` naming the Kubernetes protobuf encoding (parameters ignored)."""
    return content_type.split(";", 1)[0].strip().lower() == CONTENT_TYPE


@cache
def _schema() -> Obj:
    raw = resources.files("turnout.kube").joinpath("data", DATA_FILE).read_bytes()
    doc: Obj = json.loads(gzip.decompress(raw))
    if doc.get("format") != 1:
        raise RuntimeError(f"{DATA_FILE}: unsupported format {doc.get('format')!r}")
    return doc


def schema_source() -> str:
    """Which kubectl the message layouts were extracted from (e.g. `kubectl v1.33.1`)."""
    return str(_schema()["source"])


def message_for(api_version: str, kind: str) -> str | None:
    """The protobuf message full name for a kind, or None when it is not a built-in kind."""
    kinds: dict[str, str] = _schema()["kinds"]
    return kinds.get(f"{api_version}/{kind}") or kinds.get(f"*/{kind}")


def decode(body: bytes) -> Obj:
    """A protobuf request body → the JSON object, with `apiVersion` and `kind` first.

    Raises ApiError 400 BadRequest for a missing magic prefix, truncated or malformed data, an
    unsupported content encoding, or a kind the schema does not know.
    """
    if not body.startswith(MAGIC):
        raise bad_request("protobuf body does not start with the Kubernetes magic prefix "
                          "'k8s\\x00'")
    try:
        unknown = _parse_unknown(body[len(MAGIC):])
    except _Truncated:
        raise bad_request("protobuf body is truncated (runtime.Unknown envelope)") from None
    api_version, kind, raw, encoding = unknown
    if encoding:
        raise bad_request(f"protobuf body: unsupported contentEncoding {encoding!r}")
    if not kind:
        raise bad_request("protobuf body: the runtime.Unknown envelope names no kind")
    message = message_for(api_version, kind)
    if message is None:
        raise bad_request(f'protobuf body: no kind "{kind}" is registered for version '
                          f'"{api_version}"')
    obj: Obj = {"apiVersion": api_version, "kind": kind}
    obj.update(decode_message(raw, message))
    return obj


def decode_delete_options(body: bytes) -> Obj:
    """A protobuf DeleteOptions body (client-go typed `Delete`, e.g. `kubectl drain
    --disable-eviction`) → its JSON form. Raises ApiError 400 if it is another kind."""
    obj = decode(body)
    if obj["kind"] != "DeleteOptions":
        raise bad_request(f"protobuf body: expected DeleteOptions, got {obj['kind']}")
    return obj


def decode_message(data: bytes, message: str) -> Obj:
    """The protobuf encoding of one message (no envelope) → its JSON object."""
    try:
        value = _message(data, message, 0)
    except _Truncated:
        raise bad_request(f"protobuf body is truncated inside {_short(message)}") from None
    if not isinstance(value, dict):
        raise bad_request(f"protobuf body: {_short(message)} is not an object")
    return value


# ---- wire level ---------------------------------------------------------------------------------

def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise _Truncated
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise bad_request("protobuf body: malformed varint")


def _fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for every field; value is an int or the payload bytes."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise bad_request("protobuf body: field number 0")
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            if pos + 8 > len(data):
                raise _Truncated
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise _Truncated
            value, pos = data[pos:pos + size], pos + size
        elif wire == 5:
            if pos + 4 > len(data):
                raise _Truncated
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        else:
            raise bad_request(f"protobuf body: unsupported wire type {wire} (field {number})")
        out.append((number, wire, value))
    return out


def _parse_unknown(data: bytes) -> tuple[str, str, bytes, str]:
    api_version = kind = encoding = ""
    raw = b""
    for number, wire, value in _fields(data):
        if wire != 2 or not isinstance(value, bytes):
            continue
        if number == 1:
            for sub, sub_wire, sub_value in _fields(value):
                if sub_wire == 2 and isinstance(sub_value, bytes) and sub in (1, 2):
                    text = _text(sub_value, "typeMeta")
                    if sub == 1:
                        api_version = text
                    else:
                        kind = text
        elif number == 2:
            raw = value
        elif number == 3:
            encoding = _text(value, "contentEncoding")
    return api_version, kind, raw, encoding


def _text(value: bytes, where: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request(f"protobuf body: {where} is not valid UTF-8") from None


# ---- typed level --------------------------------------------------------------------------------

_VARINT_TYPES = ("int32", "int64", "uint32", "uint64", "bool", "sint32", "sint64")


def _scalar(kind: str, wire: int, value: int | bytes, name: str) -> JSON:
    if kind in ("string", "bytes"):
        if not isinstance(value, bytes) or wire != 2:
            raise _wire_error(name)
        if kind == "string":
            return _text(value, name)
        return base64.b64encode(value).decode("ascii")
    if not isinstance(value, int):
        raise _wire_error(name)
    if kind in _VARINT_TYPES:
        if wire != 0:
            raise _wire_error(name)
        if kind == "bool":
            return value != 0
        if kind in ("sint32", "sint64"):
            return (value >> 1) ^ -(value & 1)
        if kind in ("int32", "int64"):
            value &= (1 << 64) - 1
            if value >= 1 << 63:
                value -= 1 << 64
            if kind == "int32":
                value = ((value + (1 << 31)) % (1 << 32)) - (1 << 31)
        return value
    if kind in ("double", "fixed64", "sfixed64"):
        if wire != 1:
            raise _wire_error(name)
        if kind == "double":
            return float(struct.unpack("<d", value.to_bytes(8, "little"))[0])
        return value - (1 << 64) if kind == "sfixed64" and value >= 1 << 63 else value
    if kind in ("float", "fixed32", "sfixed32"):
        if wire != 5:
            raise _wire_error(name)
        if kind == "float":
            return float(struct.unpack("<f", value.to_bytes(4, "little"))[0])
        return value - (1 << 32) if kind == "sfixed32" and value >= 1 << 31 else value
    raise bad_request(f"protobuf body: unsupported scalar type {kind!r} (field {name})")


def _packed(kind: str, payload: bytes, name: str) -> list[JSON]:
    out: list[JSON] = []
    pos = 0
    size = {"double": 8, "fixed64": 8, "sfixed64": 8, "float": 4, "fixed32": 4, "sfixed32": 4}
    while pos < len(payload):
        if kind in size:
            width = size[kind]
            if pos + width > len(payload):
                raise _Truncated
            raw = int.from_bytes(payload[pos:pos + width], "little")
            pos += width
            out.append(_scalar(kind, 1 if width == 8 else 5, raw, name))
        else:
            raw, pos = _varint(payload, pos)
            out.append(_scalar(kind, 0, raw, name))
    return out


def _wire_error(name: str) -> ApiError:
    return bad_request(f"protobuf body: field {name} has an unexpected wire type")


def _is_zero(value: JSON) -> bool:
    return value is False or value == "" or (type(value) in (int, float) and value == 0)


def _message(data: bytes, message: str, depth: int) -> JSON:
    """Decode one message, then turn the special apimachinery types into their JSON values."""
    if depth > _MAX_DEPTH:
        raise bad_request("protobuf body: objects nested too deeply")
    special = _SPECIAL.get(message)
    if special is not None:
        return special(data, depth)
    spec: Obj | None = _schema()["messages"].get(message)
    if spec is None:
        raise bad_request(f"protobuf body: unknown message type {_short(message)}")
    fields: dict[str, Obj] = spec["f"]
    out: Obj = {}
    for number, wire, value in _fields(data):
        field = fields.get(str(number))
        if field is None:
            continue  # unknown field: newer than the schema
        name: str = field["n"]
        kind: str = field["t"]
        if kind == "map":
            if not isinstance(value, bytes) or wire != 2:
                raise _wire_error(name)
            key, item = _map_entry(field, value, depth)
            out.setdefault(name, {})[key] = item
        elif field.get("r"):
            items = out.setdefault(name, [])
            if kind == "message":
                if not isinstance(value, bytes) or wire != 2:
                    raise _wire_error(name)
                items.append(_message(value, field["m"], depth + 1))
            elif wire == 2 and kind not in ("string", "bytes") and isinstance(value, bytes):
                items.extend(_packed(kind, value, name))
            else:
                items.append(_scalar(kind, wire, value, name))
        elif kind == "message":
            if not isinstance(value, bytes) or wire != 2:
                raise _wire_error(name)
            decoded = _message(value, field["m"], depth + 1)
            if field.get("i") and isinstance(decoded, dict):
                out.update(decoded)  # Go `json:",inline"`: the fields belong to the parent
            else:
                out[name] = decoded
        else:
            scalar = _scalar(kind, wire, value, name)
            if _is_zero(scalar) and not field.get("p") and not field.get("z"):
                out.pop(name, None)
            else:
                out[name] = scalar
    if spec.get("l"):
        return out.get("items", [])
    return out


def _map_entry(field: Obj, data: bytes, depth: int) -> tuple[str, JSON]:
    key: JSON = ""
    item: JSON = None
    for number, wire, value in _fields(data):
        if number == 1:
            key = _scalar(field["k"], wire, value, field["n"])
        elif number == 2:
            if field["v"] == "message":
                if not isinstance(value, bytes) or wire != 2:
                    raise _wire_error(field["n"])
                item = _message(value, field["m"], depth + 1)
            else:
                item = _scalar(field["v"], wire, value, field["n"])
    if item is None:  # value left out on the wire: the zero value of its type
        item = _message(b"", field["m"], depth + 1) if field["v"] == "message" else (
            _scalar(field["v"], 2, b"", field["n"]) if field["v"] in ("string", "bytes")
            else _scalar(field["v"], 0, 0, field["n"]) if field["v"] in _VARINT_TYPES
            else 0)
    return str(key), item


def _short(message: str) -> str:
    return message.rsplit(".", 2)[-2] + "." + message.rsplit(".", 1)[-1]


# ---- apimachinery types with their own JSON form ------------------------------------------------

def _ints(data: bytes) -> dict[int, int]:
    return {n: v for n, w, v in _fields(data) if w == 0 and isinstance(v, int)}


def _signed(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _timestamp(data: bytes, micro: bool) -> JSON:
    if not data:
        return None  # Go's zero time: JSON null
    ints = _ints(data)
    seconds, nanos = _signed(ints.get(1, 0)), _signed(ints.get(2, 0))
    try:
        when = _EPOCH + dt.timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError:
        raise bad_request("protobuf body: timestamp out of range") from None
    if micro:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(data: bytes, depth: int) -> JSON:
    return _timestamp(data, micro=False)


def _micro_time(data: bytes, depth: int) -> JSON:
    return _timestamp(data, micro=True)


def _duration(data: bytes, depth: int) -> JSON:
    return go_duration(_signed(_ints(data).get(1, 0)))


def go_duration(nanos: int) -> str:
    """Go's `time.Duration.String()`: `1h2m3.5s`, `150ms`, `0s`."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    n = abs(nanos)
    if n < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if n >= size:
                return sign + _decimal(n, size) + unit
    hours, rest = divmod(n, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _decimal(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = f"{frac:0{len(str(unit)) - 1}d}".rstrip("0")
    return f"{whole}.{digits}"


def _int_or_string(data: bytes, depth: int) -> JSON:
    kind = int_val = 0
    str_val = ""
    for number, wire, value in _fields(data):
        if number == 1 and wire == 0 and isinstance(value, int):
            kind = _signed(value)
        elif number == 2 and wire == 0 and isinstance(value, int):
            int_val = int(_scalar("int32", 0, value, "intVal"))
        elif number == 3 and wire == 2 and isinstance(value, bytes):
            str_val = _text(value, "strVal")
    return str_val if kind == 1 else int_val


def _quantity(data: bytes, depth: int) -> JSON:
    text = "0"
    for number, wire, value in _fields(data):
        if number == 1 and wire == 2 and isinstance(value, bytes):
            text = _text(value, "quantity") or "0"
    return text


def _raw_json(data: bytes, depth: int) -> JSON:
    raw = b""
    for number, wire, value in _fields(data):
        if number == 1 and wire == 2 and isinstance(value, bytes):
            raw = value
    if not raw:
        return None
    if raw.startswith(MAGIC):
        if depth > _MAX_DEPTH:
            raise bad_request("protobuf body: objects nested too deeply")
        return decode(raw)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise bad_request("protobuf body: an embedded raw object is neither JSON nor "
                          "Kubernetes protobuf") from None


_SPECIAL: dict[str, Callable[[bytes, int], JSON]] = {
    _TIME: _time,
    _MICRO_TIME: _micro_time,
    _DURATION: _duration,
    _INT_OR_STRING: _int_or_string,
    _RAW_EXTENSION: _raw_json,
    _FIELDS_V1: _raw_json,
    **{q: _quantity for q in _QUANTITIES},
}
