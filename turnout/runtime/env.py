"""Container environment resolution with Kubernetes semantics (pure, no I/O).

The kubelet builds a container's environment from several sources in a fixed order (service
variables, then ``envFrom``, then ``env``), expands ``$(VAR)`` references against what is already
defined, and refuses to start the container when a referenced Secret or ConfigMap (or key) is
missing. Keeping that logic here, away from processes, lets it be tested exhaustively.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from turnout.types import Obj

Lookup = Callable[[str, str, str], Obj | None]
"""``lookup(key, namespace, name)`` returns a stored object (key "secrets" or "configmaps")."""


class EnvError(Exception):
    """A container's configuration cannot be built (kubelet reason CreateContainerConfigError)."""


@dataclass(frozen=True)
class PodFacts:
    """Values ``fieldRef`` can read that live outside the pod object (or are not in it yet)."""

    pod_ip: str
    host_ip: str
    node_name: str
    cpu_capacity: float = 1.0
    """Node allocatable CPU cores: the value of an unset CPU limit."""
    memory_capacity: int = 1 << 30
    """Node allocatable memory in bytes: the value of an unset memory limit."""


def expand(text: str, mapping: Mapping[str, str]) -> str:
    """Expand ``$(VAR)`` like Kubernetes: ``$$`` escapes, unknown references stay verbatim."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close < 0:
                out.append("$(")
                i += 2
                continue
            name = text[i + 2 : close]
            out.append(mapping.get(name, f"$({name})"))
            i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def expand_all(items: Sequence[str] | None, mapping: Mapping[str, str]) -> list[str]:
    return [expand(str(s), mapping) for s in items or ()]


def decode_secret_value(value: str) -> str:
    """Secret ``data`` is base64; bytes that are not UTF-8 survive as surrogate escapes."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise EnvError(f"invalid base64 in secret data: {e}") from e
    return raw.decode("utf-8", "surrogateescape")


def source_data(kind: str, obj: Obj) -> dict[str, str]:
    data: dict[str, str] = {}
    if kind == "secrets":
        for k, v in (obj.get("data") or {}).items():
            data[k] = decode_secret_value(str(v))
        for k, v in (obj.get("stringData") or {}).items():
            data[k] = str(v)
    else:
        for k, v in (obj.get("binaryData") or {}).items():
            data[k] = decode_secret_value(str(v))
        for k, v in (obj.get("data") or {}).items():
            data[k] = str(v)
    return data


_NOUN = {"secrets": ("secret", "Secret"), "configmaps": ("configmap", "ConfigMap")}


def _key_ref(kind: str, ref: Obj, namespace: str, lookup: Lookup) -> str | None:
    name = str(ref.get("name") or "")
    key = str(ref.get("key") or "")
    optional = bool(ref.get("optional"))
    lower, title = _NOUN[kind]
    obj = lookup(kind, namespace, name)
    if obj is None:
        if optional:
            return None
        raise EnvError(f'{lower} "{name}" not found')
    data = source_data(kind, obj)
    if key not in data:
        if optional:
            return None
        raise EnvError(f"couldn't find key {key} in {title} {namespace}/{name}")
    return data[key]


_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['([^']*)'\]$")


def field_value(path: str, pod: Obj, facts: PodFacts) -> str:
    """The value of a downward-API ``fieldRef.fieldPath``."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", "default"),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName") or facts.node_name,
        "spec.serviceAccountName": spec.get("serviceAccountName")
        or spec.get("serviceAccount")
        or "default",
        "status.podIP": facts.pod_ip,
        "status.podIPs": facts.pod_ip,
        "status.hostIP": facts.host_ip,
        "status.hostIPs": facts.host_ip,
    }
    if path in simple:
        return str(simple[path])
    m = _SUBSCRIPT.match(path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = sorted((meta.get(path.split(".")[1]) or {}).items())
        return "\n".join(f'{k}="{v}"' for k, v in items)
    raise EnvError(f"unsupported fieldPath: {path}")


_SUFFIX = {
    "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
    "P": 1e15, "E": 1e18, "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40,
    "Pi": 2.0**50, "Ei": 2.0**60,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def parse_quantity(q: object) -> float:
    """A Kubernetes resource quantity ("500m", "1Gi", "2") as a float."""
    m = _QUANTITY.match(str(q).strip())
    if not m or m.group(2) not in _SUFFIX:
        raise EnvError(f"invalid quantity: {q!r}")
    return float(m.group(1)) * _SUFFIX[m.group(2)]


def resource_value(ref: Obj, container: Obj, facts: PodFacts) -> str:
    """``resourceFieldRef``: the container's request/limit divided by the divisor, rounded up."""
    resource = str(ref.get("resource") or "")
    kind, _, res = resource.partition(".")
    resources = container.get("resources") or {}
    value = (resources.get(kind) or {}).get(res)
    if value is None and kind == "requests":
        value = (resources.get("limits") or {}).get(res)
    if res not in ("cpu", "memory", "ephemeral-storage") or kind not in ("limits", "requests"):
        raise EnvError(f"unsupported resourceFieldRef: {resource}")
    if value is None:
        amount = (
            facts.cpu_capacity if res == "cpu"
            else float(facts.memory_capacity) if kind == "limits" else 0.0
        )
    else:
        amount = parse_quantity(value)
    divisor = parse_quantity(ref.get("divisor") or "1")
    if divisor <= 0:
        raise EnvError(f"invalid divisor for {resource}")
    return str(max(math.ceil(amount / divisor - 1e-9), 1 if res == "cpu" else 0))


def resolve_env(
    container: Obj,
    pod: Obj,
    facts: PodFacts,
    lookup: Lookup,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The container's environment: ``base`` (service and injected variables) < envFrom < env.

    Raises :class:`EnvError` with the kubelet's message when a required source is missing.
    """
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    env: dict[str, str] = dict(base or {})
    for source in container.get("envFrom") or ():
        prefix = str(source.get("prefix") or "")
        for kind, field in (("configmaps", "configMapRef"), ("secrets", "secretRef")):
            ref = source.get(field)
            if ref is None:
                continue
            name = str(ref.get("name") or "")
            obj = lookup(kind, namespace, name)
            if obj is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f'{_NOUN[kind][0]} "{name}" not found')
            for k, v in source_data(kind, obj).items():
                env[prefix + k] = v
    for var in container.get("env") or ():
        name = str(var.get("name") or "")
        value_from = var.get("valueFrom")
        value: str | None
        if value_from:
            value = _value_from(value_from, container, pod, facts, lookup, namespace)
            if value is None:
                continue
        else:
            value = expand(str(var.get("value") or ""), env)
        env[name] = value
    return env


def _value_from(
    source: Obj, container: Obj, pod: Obj, facts: PodFacts, lookup: Lookup, namespace: str
) -> str | None:
    if "secretKeyRef" in source:
        return _key_ref("secrets", source["secretKeyRef"], namespace, lookup)
    if "configMapKeyRef" in source:
        return _key_ref("configmaps", source["configMapKeyRef"], namespace, lookup)
    if "fieldRef" in source:
        return field_value(str(source["fieldRef"].get("fieldPath") or ""), pod, facts)
    if "resourceFieldRef" in source:
        return resource_value(source["resourceFieldRef"], container, facts)
    raise EnvError(f"unsupported valueFrom: {sorted(source)}")


def command_line(
    container: Obj, env: Mapping[str, str]
) -> tuple[list[str] | None, list[str] | None]:
    """The container's ``command`` and ``args`` after ``$(VAR)`` expansion (None when unset)."""
    command = container.get("command")
    args = container.get("args")
    return (
        expand_all(command, env) if command is not None else None,
        expand_all(args, env) if args is not None else None,
    )
