"""Tables for custom resources: a CRD's additionalPrinterColumns, as apiextensions-apiserver prints.

Columns come from the CRD (`ResourceType.columns`); with none, the server's default is a single
AGE column. Istio's networking kinds, which turnout serves without a CRD, get the columns Istio's
own CRDs declare. Cells are evaluated with a small JSONPath subset: `.a.b`, `.a[0].b`, `.a[*].b`,
`.a[?(@.k=="v")].b`; as on the real server only the first match is printed. Pure, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from turnout.kube.printers.common import (
    CREATED_DESC,
    NAME,
    Cells,
    Printer,
    col,
    go_json,
    human_duration,
    name,
    parse_time,
)
from turnout.types import Obj

_ISTIO_AGE_DESC = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC. Populated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/api-conventions.md#metadata"
)


def _pc(name_: str, path: str, desc: str, type_: str = "string") -> Obj:
    return {"name": name_, "type": type_, "jsonPath": path, "description": desc}


_ISTIO_AGE = _pc("Age", ".metadata.creationTimestamp", _ISTIO_AGE_DESC, "date")

ISTIO_COLUMNS: dict[str, tuple[Obj, ...]] = {
    "VirtualService": (
        _pc("Gateways", ".spec.gateways",
            "The names of gateways and sidecars that should apply these routes"),
        _pc("Hosts", ".spec.hosts", "The destination hosts to which traffic is being sent"),
        _ISTIO_AGE,
    ),
    "DestinationRule": (
        _pc("Host", ".spec.host", "The name of a service from the service registry"),
        _ISTIO_AGE,
    ),
    "ServiceEntry": (
        _pc("Hosts", ".spec.hosts", "The hosts associated with the ServiceEntry"),
        _pc("Location", ".spec.location", "Whether the service is external to the mesh or part "
            "of the mesh (MESH_EXTERNAL or MESH_INTERNAL)"),
        _pc("Resolution", ".spec.resolution",
            "Service resolution mode for the hosts (NONE, STATIC, or DNS)"),
        _ISTIO_AGE,
    ),
    "WorkloadEntry": (
        _ISTIO_AGE,
        _pc("Address", ".spec.address", "Address associated with the network endpoint."),
    ),
}
"""Istio kinds whose CRDs declare printer columns; Gateway, Sidecar, EnvoyFilter declare none."""

DEFAULT_COLUMNS: tuple[Obj, ...] = (
    _pc("Age", ".metadata.creationTimestamp", CREATED_DESC, "date"),
)
"""What apiextensions-apiserver serves for a CRD version without additionalPrinterColumns."""


# --- JSONPath subset --------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\.(?P<field>(?:[^.\[\\]|\\.)+)            # .name (a dot inside a name is written \.)
      | \[(?P<index>-?\d+)\]                        # [0]
      | \[(?P<star>\*)\]                            # [*]
      | \[['"](?P<quoted>[^'"]*)['"]\]              # ['a.b']
      | \[\?\(@(?P<fpath>(?:\.[\w-]+)+)\s*==\s*['"](?P<fval>[^'"]*)['"]\)\]  # [?(@.k=="v")]
    """,
    re.VERBOSE,
)

Step = tuple[str, Any]


def parse_path(path: str) -> list[Step]:
    """Steps of a JSONPath such as `.spec.hosts` or `{.status.conditions[0].type}`."""
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1]
    if p.startswith("$"):
        p = p[1:]
    steps: list[Step] = []
    pos = 0
    while pos < len(p):
        m = _TOKEN.match(p, pos)
        if m is None:
            raise ValueError(f"unsupported JSONPath {path!r} at {p[pos:]!r}")
        if m.group("field") is not None:
            steps.append(("field", m.group("field").replace("\\.", ".")))
        elif m.group("index") is not None:
            steps.append(("index", int(m.group("index"))))
        elif m.group("star") is not None:
            steps.append(("star", None))
        elif m.group("quoted") is not None:
            steps.append(("field", m.group("quoted")))
        else:
            steps.append(("filter", (m.group("fpath").split(".")[1:], m.group("fval"))))
        pos = m.end()
    return steps


def find(obj: Any, path: str | Sequence[Step]) -> list[Any]:
    """Every value the path selects, in document order (an absent field selects nothing)."""
    steps = parse_path(path) if isinstance(path, str) else path
    current = [obj]
    for kind, arg in steps:
        nxt: list[Any] = []
        for v in current:
            if kind == "field":
                if isinstance(v, dict) and arg in v:
                    nxt.append(v[arg])
            elif kind == "index":
                if isinstance(v, list) and -len(v) <= arg < len(v):
                    nxt.append(v[arg])
            elif kind == "star":
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v.values())
            elif isinstance(v, list):
                keys, want = arg
                for item in v:
                    got = find(item, [("field", k) for k in keys])
                    if got and _text(got[0]) == want:
                        nxt.append(item)
        current = nxt
    return current


def _text(value: Any) -> str:
    """A value as Go's jsonpath prints it: objects and lists as JSON, scalars with fmt.Print."""
    if isinstance(value, dict | list):
        return go_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    return str(value)


def cell(type_: str, value: Any, now: datetime) -> Any:
    """`cellForJSONValue` of apiextensions' table convertor; None where the server emits null."""
    if value is None:
        return None
    if type_ == "string":
        return _text(value)
    if type_ == "integer":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
        return None
    if type_ == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return None
    if type_ == "boolean":
        return value if isinstance(value, bool) else None
    if type_ == "date":
        if not isinstance(value, str):
            return None
        t = parse_time(value)
        if t is None:
            return "<invalid>"
        return human_duration(now - t)
    return None


def printer(columns: Sequence[Obj]) -> Printer:
    """The Table printer for a custom resource with these additionalPrinterColumns."""
    cols = list(columns) or list(DEFAULT_COLUMNS)
    defs = [NAME]
    paths: list[tuple[str, list[Step] | None]] = []
    for c in cols:
        path = str(c.get("jsonPath") or c.get("JSONPath") or "")
        desc = c.get("description") or (
            f"Custom resource definition column (in JSONPath format): {path}")
        defs.append(col(str(c.get("name", "")), str(c.get("type", "string")), str(desc),
                        priority=int(c.get("priority") or 0), fmt=str(c.get("format") or "")))
        try:
            paths.append((str(c.get("type", "string")), parse_path(path)))
        except ValueError:
            paths.append((str(c.get("type", "string")), None))

    def row(obj: Obj, now: datetime) -> Cells:
        cells: Cells = [name(obj)]
        for type_, steps in paths:
            found = find(obj, steps) if steps is not None else []
            cells.append(cell(type_, found[0], now) if found else None)
        return cells

    return Printer(columns=tuple(defs), row=row)
