"""Field errors as kube-apiserver words them (k8s.io/apimachinery/pkg/util/validation/field).

Shared by the per-kind validators: each constructor returns a `Cause` with the field path and the
exact message shape users know (`Required value`, `Invalid value: "x": ...`, `Unsupported value`),
and Go-syntax rendering of values for those messages. Pure, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from turnout.kube import selectors as sel
from turnout.kube.errors import Cause
from turnout.types import JSON, Obj

# --- field errors (k8s.io/apimachinery/pkg/util/validation/field) ---------------------------


def go_value(v: JSON) -> str:
    """A bad value as field.Error prints it: strings quoted, maps/lists in Go %#v syntax."""
    if isinstance(v, GoRepr):
        return v.text
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if v is None:
        return "null"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dict):
        return _go_string_map(v)
    return "[]string{" + ", ".join(json.dumps(str(x)) for x in v) + "}"


class GoRepr:
    """A value whose Go rendering is precomputed (structs)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _go_string_map(m: Mapping[str, Any] | None) -> str:
    if m is None:
        return "map[string]string(nil)"
    inner = ", ".join(f"{json.dumps(k)}:{json.dumps(str(v))}" for k, v in sorted(m.items()))
    return "map[string]string{" + inner + "}"


def _go_intstr(v: JSON) -> GoRepr:
    if isinstance(v, str):
        return GoRepr(f'intstr.IntOrString{{Type:1, IntVal:0, StrVal:{json.dumps(v)}}}')
    return GoRepr(f'intstr.IntOrString{{Type:0, IntVal:{int(v or 0)}, StrVal:""}}')


def _go_label_selector(s: Obj | None) -> GoRepr:
    s = s or {}
    exprs = s.get("matchExpressions")
    if exprs is None:
        ex = "[]v1.LabelSelectorRequirement(nil)"
    else:
        items = []
        for e in exprs:
            vals = e.get("values")
            vs = "[]string(nil)" if vals is None else go_value([str(x) for x in vals])
            items.append(f'v1.LabelSelectorRequirement{{Key:{json.dumps(e.get("key", ""))}, '
                         f'Operator:{json.dumps(e.get("operator", ""))}, Values:{vs}}}')
        ex = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    ml = s.get("matchLabels")
    return GoRepr(f"v1.LabelSelector{{MatchLabels:{_go_string_map(ml)}, MatchExpressions:{ex}}}")


def required(path: str, detail: str = "") -> Cause:
    return Cause(path, "Required value" + (f": {detail}" if detail else ""), "FieldValueRequired")


def invalid_value(path: str, value: JSON, detail: str) -> Cause:
    return Cause(path, f"Invalid value: {go_value(value)}: {detail}", "FieldValueInvalid")


def not_supported(path: str, value: JSON, supported: list[str]) -> Cause:
    listed = ", ".join(json.dumps(s) for s in supported)
    return Cause(path, f"Unsupported value: {go_value(value)}: supported values: {listed}",
                 "FieldValueNotSupported")


def duplicate(path: str, value: JSON) -> Cause:
    return Cause(path, f"Duplicate value: {go_value(value)}", "FieldValueDuplicate")


def forbidden(path: str, detail: str) -> Cause:
    return Cause(path, f"Forbidden: {detail}", "FieldValueForbidden")


def not_found(path: str, value: JSON) -> Cause:
    return Cause(path, f"Not found: {go_value(value)}", "FieldValueNotFound")


def too_long(path: str, limit: int) -> Cause:
    return Cause(path, f"Too long: may not be more than {limit} bytes", "FieldValueTooLong")


IMMUTABLE = "field is immutable"
NEGATIVE = "must be greater than or equal to 0"


def _nonneg(v: JSON, path: str) -> list[Cause]:
    return [invalid_value(path, v, NEGATIVE)] if isinstance(v, int) and v < 0 else []


def _msgs(path: str, value: str, msgs: list[str]) -> list[Cause]:
    return [invalid_value(path, value, m) for m in msgs]


def validate_labels(labels: JSON, path: str) -> list[Cause]:
    out: list[Cause] = []
    for k, v in (labels or {}).items():
        out += _msgs(path, k, sel.is_qualified_name(k))
        out += _msgs(path, str(v), sel.is_valid_label_value(str(v)))
    return out


PORT_RANGE = "must be between 1 and 65535, inclusive"


PROTOCOLS = ["SCTP", "TCP", "UDP"]


def is_valid_port_name(name: str) -> list[str]:
    errs = []
    if len(name) > 15:
        errs.append(sel.max_len_error(15))
    if not all(c.islower() or c.isdigit() or c == "-" for c in name) or not name.isascii():
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if not any(c.isalpha() for c in name):
        errs.append("must contain at least one letter (a-z)")
    if name.startswith("-") or name.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _port_num(v: JSON, path: str) -> list[Cause]:
    return [] if isinstance(v, int) and 1 <= v <= 65535 else [invalid_value(path, v, PORT_RANGE)]
