"""Shared pieces of the server-side printers: column definitions, time and label formatting.

Every printer renders cells exactly as kube-apiserver's printers do (pkg/printers/internalversion),
so kubectl shows the same text against turnout as against a real cluster. Pure, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from turnout.kube.printers.descriptions import FIELD
from turnout.types import Obj

Cells = list[Any]
RowFn = Callable[[Obj, datetime], Cells]

NAME_DESC = FIELD["ObjectMeta.name"]
CREATED_DESC = FIELD["ObjectMeta.creationTimestamp"]


@dataclass(frozen=True)
class Printer:
    """Column definitions plus the function that turns one object into that row's cells."""

    columns: tuple[Obj, ...]
    row: RowFn
    conditions: Callable[[Obj], list[Obj]] | None = None


def col(name: str, type_: str = "string", desc: str = "", *, priority: int = 0,
        fmt: str = "") -> Obj:
    """One `TableColumnDefinition`; all five fields are always present on the wire."""
    return {"name": name, "type": type_, "format": fmt, "description": desc, "priority": priority}


NAME = col("Name", "string", NAME_DESC, fmt="name")
AGE = col("Age", "string", CREATED_DESC)


def field(key: str) -> str:
    """The API reference text of `Type.field`, as the real server's SwaggerDoc() gives it."""
    return FIELD[key]


# --- time -------------------------------------------------------------------------------------

def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (metav1.Time or MicroTime) as an aware datetime; None if unset."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def human_duration(d: timedelta) -> str:
    """apimachinery's `duration.HumanDuration`: 2-3 significant figures (`90s`, `2m30s`, `5d3h`)."""
    micros = d // timedelta(microseconds=1)
    secs = abs(micros) // 1_000_000 * (1 if micros >= 0 else -1)  # truncate toward zero, as Go
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        s = secs % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def since(value: Any, now: datetime) -> str:
    """`translateTimestampSince`: `<unknown>` for an unset time, else the human age."""
    t = parse_time(value)
    if t is None:
        return "<unknown>"
    return human_duration(now - t)


def age(obj: Obj, now: datetime) -> str:
    return since(meta(obj).get("creationTimestamp"), now)


def rfc3339(value: Any) -> str:
    """A `metav1.Time` cell as Go marshals it (seconds precision, UTC, `Z`)."""
    t = parse_time(value)
    if t is None:
        return "0001-01-01T00:00:00Z"
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- object access ----------------------------------------------------------------------------

def meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def name(obj: Obj) -> str:
    return str(meta(obj).get("name", ""))


def spec(obj: Obj) -> Obj:
    s = obj.get("spec")
    return s if isinstance(s, dict) else {}


def status(obj: Obj) -> Obj:
    s = obj.get("status")
    return s if isinstance(s, dict) else {}


def dig(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]…, or None as soon as a step is missing or not an object."""
    cur = obj
    for p in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def sub(obj: Any, key: str) -> Obj:
    """obj[key] when that is an object, else an empty dict."""
    v = obj.get(key) if isinstance(obj, dict) else None
    return v if isinstance(v, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


# --- labels and selectors ---------------------------------------------------------------------

def format_labels(labels: Any) -> str:
    """`labels.FormatLabels`: `k=v,k2=v2` sorted by key, `<none>` when empty."""
    if not isinstance(labels, Mapping) or not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def selector_string(selector: Any) -> str:
    """`LabelSelectorAsSelector(sel).String()`: requirements sorted by key; "" for none/empty."""
    if not isinstance(selector, Mapping):
        return ""
    reqs: list[tuple[str, str]] = []
    for k, v in (selector.get("matchLabels") or {}).items():
        reqs.append((k, f"{k}={v}"))
    for e in selector.get("matchExpressions") or []:
        key = str(e.get("key", ""))
        op = e.get("operator", "")
        values = ",".join(sorted(str(v) for v in e.get("values") or []))
        if op == "In":
            reqs.append((key, f"{key} in ({values})"))
        elif op == "NotIn":
            reqs.append((key, f"{key} notin ({values})"))
        elif op == "Exists":
            reqs.append((key, key))
        elif op == "DoesNotExist":
            reqs.append((key, f"!{key}"))
        else:
            return "<error>"
    reqs.sort(key=lambda r: r[0])
    return ",".join(r[1] for r in reqs)


def format_label_selector(selector: Any) -> str:
    """`metav1.FormatLabelSelector`: like selector_string but `<none>` when it is empty."""
    return selector_string(selector) or "<none>"


def layout_containers(containers: Any) -> tuple[str, str]:
    """`layoutContainerCells`: comma-joined container names and images."""
    cs = [c for c in as_list(containers) if isinstance(c, dict)]
    return (",".join(str(c.get("name", "")) for c in cs),
            ",".join(str(c.get("image", "")) for c in cs))


def pod_template_containers(obj: Obj) -> Any:
    return dig(obj, "spec", "template", "spec", "containers")


def list_with_more(items: Iterable[str], maximum: int, *, empty: str) -> str:
    """`a,b,c + N more...` after `maximum` entries, `empty` when there are none."""
    all_items = list(items)
    shown = ",".join(all_items[:maximum])
    if len(all_items) > maximum:
        return f"{shown} + {len(all_items) - maximum} more..."
    return shown or empty


def int_or_string(value: Any) -> str:
    """`intstr.IntOrString.String()`."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(int(value))
    return str(value)


def go_json(value: Any) -> str:
    """Compact JSON as Go's `json.Marshal` writes it (sorted keys, HTML characters escaped)."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# --- the printer of kinds without one: apiserver's default table convertor --------------------

DEFAULT = Printer(
    columns=(NAME, col("Created At", "date", CREATED_DESC)),
    row=lambda obj, now: [name(obj), rfc3339(meta(obj).get("creationTimestamp"))],
)
