"""Validation of Services, Secrets, ConfigMaps and Ingresses, as kube-apiserver does it.

Split from `validation` (workloads and pods) to keep each module one idea; the entry points
stay in `validation`. Pure, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json

from turnout.kube import selectors as sel
from turnout.kube.errors import Cause
from turnout.kube.fielderrors import (
    PROTOCOLS,
    GoRepr,
    _go_intstr,
    _msgs,
    _port_num,
    duplicate,
    forbidden,
    invalid_value,
    is_valid_port_name,
    not_supported,
    required,
    too_long,
    validate_labels,
)
from turnout.types import JSON, Obj

# --- services -------------------------------------------------------------------------------

SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
NODE_PORT_RANGE = (30000, 32767)


def validate_service(obj: Obj) -> list[Cause]:
    spec = obj.get("spec") or {}
    out: list[Cause] = []
    stype = spec.get("type", "ClusterIP")
    if stype not in SERVICE_TYPES:
        out.append(not_supported("spec.type", stype, SERVICE_TYPES))
    headless = spec.get("clusterIP") == "None"
    ports = spec.get("ports") or []
    if not ports and not headless and stype != "ExternalName":
        out.append(required("spec.ports"))
    if stype == "ExternalName":
        ext = spec.get("externalName") or ""
        if not ext:
            out.append(required("spec.externalName"))
        else:
            out += _msgs("spec.externalName", ext, sel.is_dns1123_subdomain(ext.rstrip(".")))
    for i, ip in enumerate(spec.get("clusterIPs") or ([spec["clusterIP"]]
                                                      if spec.get("clusterIP") else [])):
        if ip != "None":
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                out.append(invalid_value(f"spec.clusterIPs[{i}]", ip,
                                         "must be a valid IP address, (e.g. 10.9.8.7 or "
                                         "2001:db8::ffff)"))
    names: set[str] = set()
    seen: set[tuple[str, int]] = set()
    node_ports: set[tuple[str, int]] = set()
    for i, p in enumerate(ports):
        pp = f"spec.ports[{i}]"
        name = p.get("name") or ""
        if len(ports) > 1 and not name:
            out.append(required(f"{pp}.name"))
        elif name:
            out += _msgs(f"{pp}.name", name, sel.is_dns1123_label(name))
            if name in names:
                out.append(duplicate(f"{pp}.name", name))
            names.add(name)
        port = p.get("port")
        out += _port_num(port, f"{pp}.port")
        proto = p.get("protocol", "TCP")
        if proto not in PROTOCOLS:
            out.append(not_supported(f"{pp}.protocol", proto, PROTOCOLS))
        tp = p.get("targetPort")
        if isinstance(tp, str):
            out += _msgs(f"{pp}.targetPort", tp, is_valid_port_name(tp))
        elif isinstance(tp, int) and tp != 0:
            out += _port_num(tp, f"{pp}.targetPort")
        np = p.get("nodePort")
        if np:
            if stype in ("ClusterIP", "ExternalName"):
                out.append(forbidden(f"{pp}.nodePort",
                                     f"may not be used when `type` is '{stype}'"))
            elif not NODE_PORT_RANGE[0] <= np <= NODE_PORT_RANGE[1]:
                out.append(invalid_value(
                    f"{pp}.nodePort", np, "provided port is not in the valid range. The range "
                    f"of valid ports is {NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}"))
            if (proto, np) in node_ports:
                out.append(duplicate(f"{pp}.nodePort", np))
            node_ports.add((proto, np))
        if isinstance(port, int):
            if (proto, port) in seen:
                out.append(duplicate(pp, GoRepr(_go_service_port(p))))
            seen.add((proto, port))
    out += validate_labels(spec.get("selector"), "spec.selector")
    aff = spec.get("sessionAffinity", "None")
    if aff not in ("ClientIP", "None"):
        out.append(not_supported("spec.sessionAffinity", aff, ["ClientIP", "None"]))
    return out


def _go_service_port(p: Obj) -> str:
    return (f'core.ServicePort{{Name:{json.dumps(p.get("name", ""))}, '
            f'Protocol:{json.dumps(p.get("protocol", "TCP"))}, AppProtocol:(*string)(nil), '
            f'Port:{p.get("port")}, TargetPort:{_go_intstr(p.get("targetPort", 0)).text}, '
            f'NodePort:{p.get("nodePort", 0)}}}')


# --- config ---------------------------------------------------------------------------------

MAX_SECRET_SIZE = 1024 * 1024


def is_config_map_key(key: str) -> list[str]:
    errs = []
    if len(key) > 253:
        errs.append(sel.max_len_error(253))
    if not key or any(not (c.isascii() and (c.isalnum() or c in "-._")) for c in key):
        errs.append(sel.regex_error("a valid config key must consist of alphanumeric "
                                    "characters, '-', '_' or '.'", "[-._a-zA-Z0-9]+",
                                    "key.name", "KEY_NAME", "key-name"))
    if key == ".":
        errs.append("must not be '.'")
    elif key == "..":
        errs.append("must not be '..'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _decoded_len(v: JSON) -> int:
    try:
        return len(base64.b64decode(str(v)))
    except (binascii.Error, ValueError):
        return len(str(v))


def validate_secret(obj: Obj) -> list[Cause]:
    out: list[Cause] = []
    data, string_data = obj.get("data") or {}, obj.get("stringData") or {}
    keys = list(data) + [k for k in string_data if k not in data]
    for k in keys:
        out += _msgs(f"data[{k}]", k, is_config_map_key(k))
    size = sum(_decoded_len(v) for v in data.values()) + sum(
        len(str(v).encode()) for v in string_data.values())
    if size > MAX_SECRET_SIZE:
        out.append(too_long("data", MAX_SECRET_SIZE))
    stype = obj.get("type", "Opaque")
    need = {"kubernetes.io/tls": ["tls.crt", "tls.key"],
            "kubernetes.io/dockerconfigjson": [".dockerconfigjson"],
            "kubernetes.io/dockercfg": [".dockercfg"]}.get(stype, [])
    for k in need:
        if k not in keys:
            out.append(required(f"data[{k}]"))
    if stype == "kubernetes.io/service-account-token":
        ann = (obj.get("metadata") or {}).get("annotations") or {}
        if not ann.get("kubernetes.io/service-account.name"):
            out.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    return out


def validate_configmap(obj: Obj) -> list[Cause]:
    out: list[Cause] = []
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    for k in data:
        out += _msgs(f"data[{k}]", k, is_config_map_key(k))
    for k in binary:
        out += _msgs(f"binaryData[{k}]", k, is_config_map_key(k))
        if k in data:
            out.append(invalid_value(f"data[{k}]", k, "duplicate of key present in binaryData"))
    size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in data.items()) + sum(
        len(str(k).encode()) + _decoded_len(v) for k, v in binary.items())
    if size > MAX_SECRET_SIZE:
        out.append(too_long("[]", MAX_SECRET_SIZE))  # the real server names no field: "[]"
    return out


# --- networking -----------------------------------------------------------------------------

PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]


def _ingress_backend(b: Obj, path: str) -> list[Cause]:
    svc, res = b.get("service"), b.get("resource")
    if svc is not None and res is not None:
        return [invalid_value(path, "", "cannot set both `service` and `resource` backends")]
    if svc is None:
        return [] if res is not None else [
            invalid_value(path, "", "one of `service` or `resource` must be specified")]
    out: list[Cause] = []
    name = svc.get("name") or ""
    if not name:
        out.append(required(f"{path}.service.name"))
    else:
        out += _msgs(f"{path}.service.name", name, sel.is_dns1035_label(name))
    port = svc.get("port") or {}
    if port.get("name") and port.get("number"):
        out.append(invalid_value(path, "", "cannot set both port name & port number"))
    elif port.get("name"):
        out += _msgs(f"{path}.service.port.name", port["name"], is_valid_port_name(port["name"]))
    elif port.get("number"):
        out += _port_num(port["number"], f"{path}.service.port.number")
    else:
        out.append(required(path, "port name or number is required"))
    return out


def validate_ingress(obj: Obj) -> list[Cause]:
    spec = obj.get("spec") or {}
    out: list[Cause] = []
    if spec.get("defaultBackend") is not None:
        out += _ingress_backend(spec["defaultBackend"], "spec.defaultBackend")
    for i, rule in enumerate(spec.get("rules") or ()):
        rp = f"spec.rules[{i}]"
        host = rule.get("host") or ""
        if host:
            bare = host[2:] if host.startswith("*.") else host
            out += _msgs(f"{rp}.host", host, sel.is_dns1123_subdomain(bare))
        http = rule.get("http")
        if http is None:
            continue
        paths = http.get("paths") or []
        if not paths:
            out.append(required(f"{rp}.http.paths"))
        for j, p in enumerate(paths):
            pp = f"{rp}.http.paths[{j}]"
            ptype = p.get("pathType")
            if ptype is None:
                out.append(required(f"{pp}.pathType", "pathType must be specified"))
            elif ptype not in PATH_TYPES:
                out.append(not_supported(f"{pp}.pathType", ptype, PATH_TYPES))
            elif ptype in ("Exact", "Prefix") and not str(p.get("path", "")).startswith("/"):
                out.append(invalid_value(f"{pp}.path", p.get("path", ""),
                                         "must be an absolute path"))
            out += _ingress_backend(p.get("backend") or {}, f"{pp}.backend")
    return out


