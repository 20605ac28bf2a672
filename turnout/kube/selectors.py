"""Label and field selectors, parsed, matched and printed like kube-apiserver does.

Lists, watches, Services, Deployments and ReplicaSets all select objects by labels, and kubectl
sends `labelSelector=` / `fieldSelector=` query strings; the error messages (`unable to parse
requirement: ...`, `field label not supported: ...`) are the real server's. The label-syntax
rules (qualified names, label values, DNS-1123 names) live here too because selectors and
object validation share them. Pure, no I/O.

Selector objects (metav1.LabelSelector): `from_label_selector_obj(None)` selects *nothing*
(a workload without a selector owns no pods) while `{}` selects *everything*, as in
apimachinery's `LabelSelectorAsSelector`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from turnout.kube.errors import ApiError, bad_request
from turnout.types import JSON, Obj

# --- label syntax (k8s.io/apimachinery/pkg/util/validation) ---------------------------------

QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
QUALIFIED_NAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start "
                      "and end with an alphanumeric character")
LABEL_VALUE_FMT = f"({QUALIFIED_NAME_FMT})?"
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, "
                   "'-', '_' or '.', and must start and end with an alphanumeric character")
DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric "
                     "characters or '-', and must start and end with an alphanumeric character")
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                         "characters, '-' or '.', and must start and end with an alphanumeric "
                         "character")
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                     "start with an alphabetic character, and end with an alphanumeric character")


def _full(fmt: str) -> Callable[[str], bool]:
    rx = re.compile(f"^(?:{fmt})$")
    return lambda s: rx.match(s) is not None and "\n" not in s


_is_qname = _full(QUALIFIED_NAME_FMT)
_is_label_value = _full(LABEL_VALUE_FMT)
_is_dns_label = _full(DNS1123_LABEL_FMT)
_is_dns_subdomain = _full(DNS1123_SUBDOMAIN_FMT)
_is_dns1035 = _full(DNS1035_LABEL_FMT)


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery's RegexError wording (note the double space it produces between examples)."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    ex = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {ex}regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _is_dns_label(value):
        if _is_dns_subdomain(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _is_dns_subdomain(value):
        errs.append(regex_error(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _is_dns1035(value):
        errs.append(regex_error(DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """Label keys and annotation keys: `[prefix/]name`."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _is_qname(name):
        errs.append("name part " + regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT,
                                               "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _is_label_value(value):
        errs.append(regex_error(LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


# --- label selectors ------------------------------------------------------------------------

_OPS_STR = {"=": "=", "==": "==", "!=": "!=", "in": " in ", "notin": " notin ", ">": ">",
            "<": "<"}


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    """One of =, ==, !=, in, notin, exists, !, >, < (`!` is does-not-exist)."""
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op, has = self.operator, self.key in labels
        if op in ("=", "==", "in"):
            return has and labels[self.key] in self.values
        if op in ("!=", "notin"):
            return not has or labels[self.key] not in self.values
        if op == "exists":
            return has
        if op == "!":
            return not has
        if op in (">", "<") and has:
            try:
                have, want = int(labels[self.key]), int(self.values[0])
            except ValueError:
                return False
            return have > want if op == ">" else have < want
        return False

    def __str__(self) -> str:
        if self.operator == "exists":
            return self.key
        if self.operator == "!":
            return "!" + self.key
        vals = ",".join(sorted(self.values)) if len(self.values) > 1 else "".join(self.values)
        if self.operator in ("in", "notin"):
            vals = f"({vals})"
        return self.key + _OPS_STR[self.operator] + vals


@dataclass(frozen=True)
class LabelSelector:
    """AND of requirements; `nothing` selects no object at all (a nil metav1.LabelSelector)."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        ls = labels or {}
        return all(r.matches(ls) for r in self.requirements)

    def empty(self) -> bool:
        """True when it selects everything."""
        return not self.nothing and not self.requirements

    def exact(self, key: str) -> str | None:
        """The single value `key` must have (`k=v`, `k==v`, `k in (v)`), if any."""
        for r in self.requirements:
            if r.key == key:
                ok = r.operator in ("=", "==", "in") and len(r.values) == 1
                return r.values[0] if ok else None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)


def _field_invalid(path: str, value: str, msg: str) -> str:
    return f'{path}: Invalid value: "{value}": {msg}'


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens (kind, literal) like apimachinery's label selector lexer."""
    special = "=!(),><"
    symbols = {")": ")", ",": ",", "!": "!", "==": "==", "=": "=", ">": ">", "<": "<",
               "!=": "!=", "(": "("}
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            out.append(("end", ""))
            return out
        if text[i] in special:
            buf, last = "", ""
            while i < n and text[i] in special:
                if buf + text[i] in symbols:
                    buf += text[i]
                    last = buf
                    i += 1
                elif last:
                    break
                else:
                    buf += text[i]
                    i += 1
            if not last:
                out.append(("error", f"error expected: keyword found '{buf}'"))
                return out
            out.append((symbols[last], last))
        else:
            start = i
            while i < n and text[i] not in special and text[i] not in " \t\r\n":
                i += 1
            word = text[start:i]
            out.append((word if word in ("in", "notin") else "id", word))


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        tok, lit = self.items[min(self.pos, len(self.items) - 1)]
        if values and tok in ("in", "notin"):
            tok = "id"
        return tok, lit

    def take(self, values: bool = True) -> tuple[str, str]:
        t = self.peek(values)
        self.pos += 1
        return t

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.peek()
            if tok in ("id", "!"):
                reqs.append(self.requirement())
                t, lit2 = self.take()
                if t == "end":
                    return reqs
                if t == ",":
                    t2, l2 = self.peek()
                    if t2 not in ("id", "!"):
                        raise ValueError(f"found '{l2}', expected: identifier after ','")
                else:
                    raise ValueError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok == "end":
                return reqs
            else:
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        try:
            return self._requirement()
        except ValueError as e:
            raise ValueError(f"unable to parse requirement: {e}") from None

    def _requirement(self) -> Requirement:
        tok, key = self.take()
        op = ""
        if tok == "!":
            op = "!"
            tok, key = self.take()
        if tok != "id":
            raise ValueError(f"found '{key}', expected: identifier")
        errs = is_qualified_name(key)
        if errs:
            raise ValueError(_field_invalid("<nil>", key, "; ".join(errs)))
        if op == "!" or self.peek()[0] in ("end", ","):
            return Requirement(key, op or "exists")
        tok, lit = self.take(values=False)
        if tok not in ("in", "notin", "=", "==", "!=", ">", "<"):
            raise ValueError(f"found '{lit}', expected: in, notin, =, ==, !=, gt, lt")
        values = self.values() if tok in ("in", "notin") else self.exact_value()
        vals = tuple(sorted(set(values)))
        for i, v in enumerate(vals):
            verrs = is_valid_label_value(v)
            if verrs:
                raise ValueError(_field_invalid(f"values[{i}][{key}]", v, "; ".join(verrs)))
        if tok in (">", "<"):
            try:
                int(vals[0])
            except ValueError:
                raise ValueError(_field_invalid("values[0]", vals[0], "for 'Gt', 'Lt' operators, "
                                                "the value must be an integer")) from None
        return Requirement(key, tok, vals)

    def exact_value(self) -> list[str]:
        tok, _ = self.peek()
        if tok in ("end", ","):
            return [""]
        tok, lit = self.take()
        if tok == "id":
            return [lit]
        raise ValueError(f"found '{lit}', expected: identifier")

    def values(self) -> list[str]:
        tok, lit = self.take()
        if tok != "(":
            raise ValueError(f"found '{lit}' expected: '('")
        tok, lit = self.peek()
        if tok == ")":
            self.take()
            return [""]
        if tok not in ("id", ","):
            raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")
        out: list[str] = []
        while True:
            tok, lit = self.take()
            if tok == "id":
                out.append(lit)
                t2, l2 = self.peek()
                if t2 == ",":
                    continue
                if t2 == ")":
                    self.take()
                    return out
                raise ValueError(f"found '{l2}', expected: ',' or ')'")
            if tok == ",":
                if not out:
                    out.append("")
                t2, _ = self.peek()
                if t2 == ")":
                    out.append("")
                    self.take()
                    return out
                if t2 == ",":
                    self.take()
                    out.append("")
                continue
            raise ValueError(f"found '{lit}', expected: ',', or identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a `labelSelector` query string; errors are ApiError 400 with the server's words."""
    try:
        reqs = _LabelParser(text).parse()
    except ValueError as e:
        raise bad_request(str(e)) from None
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def from_label_selector_obj(sel: Obj | None) -> LabelSelector:
    """metav1.LabelSelector → LabelSelector; None selects nothing, `{}` selects everything.

    Raises ApiError 400 for an operator other than In/NotIn/Exists/DoesNotExist."""
    if sel is None:
        return NOTHING
    reqs: list[Requirement] = []
    for k, v in (sel.get("matchLabels") or {}).items():
        reqs.append(Requirement(k, "=", (str(v),)))
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in sel.get("matchExpressions") or ():
        op = ops.get(expr.get("operator", ""))
        if op is None:
            raise bad_request(f'"{expr.get("operator", "")}" is not a valid label selector '
                              f"operator")
        reqs.append(Requirement(expr.get("key", ""), op, tuple(expr.get("values") or ())))
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def selector_to_string(sel: Obj | None) -> str:
    """The string form a ReplicaSet's `status.selector` / a scale subresource shows."""
    return str(from_label_selector_obj(sel))


def format_label_selector(sel: Obj | None) -> str:
    """kubectl describe's form: `<none>` for an empty selector."""
    return selector_to_string(sel) or "<none>"


# --- field selectors ------------------------------------------------------------------------

_META = ("metadata.name", "metadata.namespace")
_EVENT = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
          "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
          "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type")
_EVENTS_V1 = ("regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
              "regarding.apiVersion", "regarding.resourceVersion", "regarding.fieldPath",
              "reason", "reportingController", "type")
SELECTABLE_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): (*_META, "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                          "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                          "status.podIP", "status.nominatedNodeName"),
    ("", "Event"): (*_META, *_EVENT),
    ("events.k8s.io", "Event"): (*_META, *_EVENTS_V1),
    ("", "Secret"): (*_META, "type"),
    ("", "Namespace"): ("metadata.name", "status.phase"),
    ("", "Node"): ("metadata.name", "spec.unschedulable"),
    ("", "ReplicationController"): (*_META, "status.replicas"),
    ("apps", "ReplicaSet"): (*_META, "status.replicas"),
    ("apps", "StatefulSet"): (*_META, "status.successful"),
    ("batch", "Job"): (*_META, "status.successful"),
}
"""Fields each kind can be selected by; kinds not listed take only metadata.name/namespace."""

_BOOL_FIELDS = {"spec.unschedulable", "spec.hostNetwork"}
_INT_FIELDS = {"status.replicas", "status.successful"}


def field_value(obj: Obj, name: str) -> str:
    """The string a field selector compares for `name` (bools `true`/`false`, ints in decimal)."""
    path = "source.component" if name == "source" else name
    cur: JSON = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if name in _BOOL_FIELDS:
        return "true" if cur is True else "false"
    if name in _INT_FIELDS:
        return str(cur if isinstance(cur, int) else 0)
    return "" if cur is None else str(cur)


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str
    """`=`, `==` or `!=`."""
    value: str

    def matches(self, obj: Obj) -> bool:
        have = field_value(obj, self.field)
        return have != self.value if self.operator == "!=" else have == self.value

    def __str__(self) -> str:
        esc = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{self.operator}{esc}"


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = field(default=())

    def matches(self, obj: Obj) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def exact(self, name: str) -> str | None:
        """The value `name` must equal, if the selector pins it (e.g. metadata.name=x)."""
        for r in self.requirements:
            if r.field == name and r.operator != "!=":
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _split_terms(text: str) -> list[str]:
    terms, buf, escaped = [], "", False
    for ch in text:
        if escaped:
            buf += ch
            escaped = False
        elif ch == "\\":
            buf += ch
            escaped = True
        elif ch == ",":
            terms.append(buf)
            buf = ""
        else:
            buf += ch
    terms.append(buf)
    return terms


def _unescape(value: str) -> str:
    out, i = "", 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=":
                raise bad_request("invalid field selector: invalid escape sequence: "
                                  + value[i:i + 2])
            out += value[i + 1]
            i += 2
            continue
        if ch in ",=":
            raise bad_request(f"invalid field selector: unescaped character in value: {ch}")
        out += ch
        i += 1
    return out


def parse_field_selector(text: str, kind: str, group: str = "") -> FieldSelector:
    """Parse a `fieldSelector` for objects of (group, kind); ApiError 400 on bad syntax or a
    field the kind cannot be selected by (custom kinds: metadata.name/namespace only)."""
    reqs: list[FieldRequirement] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        for i in range(len(part)):
            op = next((o for o in ("!=", "==", "=") if part.startswith(o, i)), None)
            if op is not None:
                reqs.append(FieldRequirement(part[:i], op, _unescape(part[i + len(op):])))
                break
        else:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
    allowed = SELECTABLE_FIELDS.get((group, kind))
    for r in reqs:
        if allowed is None:
            if r.field not in _META:
                raise unsupported_field(r.field, default_conversion=True)
        elif r.field not in allowed:
            raise unsupported_field(r.field, default_conversion=False)
    return FieldSelector(tuple(reqs))


def unsupported_field(name: str, default_conversion: bool) -> ApiError:
    """Kinds with their own field-label conversion say `field label not supported`; the rest
    (Deployments, Services, custom resources...) use apimachinery's default conversion."""
    if default_conversion:
        return bad_request(f'"{name}" is not a known field selector: only "metadata.name", '
                           f'"metadata.namespace"')
    return bad_request(f"field label not supported: {name}")
