"""Decode JSON and YAML request bodies as kube-apiserver's decoders do, errors included.

Why not `json.loads` / `yaml.safe_load` directly: their errors leak Python wording
(`Expecting value: line 1 column 27`, `'utf-8' codec can't decode`), Python's `json` guesses
UTF-16/32 from the bytes where Go only reads UTF-8, and PyYAML expands aliases without limit, so
a few hundred bytes of `&a [*a, *a, …]` become hundreds of megabytes once the object is encoded.
Here JSON syntax errors are worded like Go's `encoding/json`, invalid UTF-8 inside strings
becomes U+FFFD as in Go, and YAML documents are checked on their node graph *before* anything
is built: excessive aliasing is refused with go-yaml's rule and message, a self-containing
anchor too.

Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

MAX_DEPTH = 10000
"""apimachinery pkg/util/json: unstructured JSON deeper than this is refused."""

# go-yaml v3 decode.go: the share of alias-expanded nodes allowed, by decoded node count
_ALIAS_RATIO_LOW = 400_000
_ALIAS_RATIO_HIGH = 4_000_000


class DecodeError(ValueError):
    """A body that does not decode; the message is the Go decoder's own wording."""


def _allowed_alias_ratio(decode_count: int) -> float:
    if decode_count <= _ALIAS_RATIO_LOW:
        return 0.99
    if decode_count >= _ALIAS_RATIO_HIGH:
        return 0.10
    span = _ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW
    return 0.99 - 0.89 * ((decode_count - _ALIAS_RATIO_LOW) / span)


# --- JSON -------------------------------------------------------------------------------------


def _quote_char(c: str) -> str:
    """Go's encoding/json quoteChar: how a scanner error shows the offending byte."""
    if c == "'":
        return "'\\''"
    if c == '"':
        return "'\"'"
    if 0xDC80 <= ord(c) <= 0xDCFF:  # an undecodable byte (surrogateescape): Go shows rune(b)
        c = chr(ord(c) - 0xDC00)
    if c.isprintable():
        return f"'{c}'"
    return "'" + json.dumps(c)[1:-1].replace("\\u00", "\\x") + "'"


def _context(text: str, pos: int) -> str:
    """'object' or 'array': the innermost container open at `pos` (for ',' errors)."""
    stack: list[str] = []
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text[:pos]):
        tok = m.group()
        if tok in "[{":
            stack.append(tok)
        elif tok in "]}" and stack:
            stack.pop()
    return "array" if stack and stack[-1] == "[" else "object"


def _go_json_error(e: json.JSONDecodeError) -> str:
    doc, pos, msg = e.doc, e.pos, e.msg
    if msg.startswith("Unterminated string") or pos >= len(doc):
        return "unexpected end of JSON input"
    if msg.startswith("Invalid \\escape") and pos + 1 < len(doc):
        pos += 1  # Python points at the backslash, Go at the letter after it
    ch = _quote_char(doc[pos])
    if msg.startswith("Expecting property name"):
        return f"invalid character {ch} looking for beginning of object key string"
    if msg.startswith("Expecting ':'"):
        return f"invalid character {ch} after object key"
    if msg.startswith("Expecting ','"):
        where = "array element" if _context(doc, pos) == "array" else "object key:value pair"
        return f"invalid character {ch} after {where}"
    if msg.startswith("Extra data"):
        return f"invalid character {ch} after top-level value"
    if msg.startswith("Invalid control character"):
        return f"invalid character {ch} in string literal"
    if msg.startswith("Invalid \\escape") or msg.startswith("Invalid \\u"):
        return f"invalid character {ch} in string escape code"
    return f"invalid character {ch} looking for beginning of value"


def _no_constant(name: str) -> Any:
    raise DecodeError(f"invalid character '{name[0]}' looking for beginning of value")


def _replace_surrogates(v: Any) -> Any:
    if isinstance(v, str):
        return re.sub("[\udc80-\udcff]", "\ufffd", v)
    if isinstance(v, list):
        return [_replace_surrogates(x) for x in v]
    if isinstance(v, dict):
        return {_replace_surrogates(k): _replace_surrogates(x) for k, x in v.items()}
    return v


def loads_json(raw: bytes) -> Any:
    """JSON as Go reads it: UTF-8 only, no NaN/Infinity, Go's error wording."""
    try:
        text, lossy = raw.decode("utf-8"), False
    except UnicodeDecodeError:
        text, lossy = raw.decode("utf-8", "surrogateescape"), True
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise DecodeError(_go_json_error(e)) from None
    except RecursionError:
        raise DecodeError(f"exceeded max depth of {MAX_DEPTH}") from None
    return _replace_surrogates(data) if lossy else data


def depth(data: Any) -> int:
    """Nesting depth of decoded JSON, iteratively (no recursion limit)."""
    level_count, level = 0, [data]
    while level:
        level_count += 1
        nxt: list[Any] = []
        for d in level:
            if isinstance(d, dict):
                nxt.extend(d.values())
            elif isinstance(d, list):
                nxt.extend(d)
        level = nxt
    return level_count


# --- YAML -------------------------------------------------------------------------------------


def _check_aliases(root: yaml.Node) -> None:
    """Refuse what go-yaml refuses, on the node graph, before anything is built.

    PyYAML composes an alias as the anchored node itself, so the graph is a DAG (or has a
    cycle: `&a [*a]`). go-yaml counts every node it decodes with aliases expanded (`total`) and
    those decoded inside an alias expansion (`aliased` = total - nodes written in the text).
    """
    expanded: dict[int, int] = {}  # id(node) -> size of its subtree with aliases expanded
    on_path: set[int] = set()
    edges = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        kids = _children(node)
        if done:
            on_path.discard(nid)
            expanded[nid] = 1 + sum(expanded[id(k)] for k in kids)
            continue
        if nid in expanded:
            continue
        on_path.add(nid)
        edges += len(kids)
        stack.append((node, True))
        for k in kids:
            if id(k) in on_path:
                raise DecodeError(f"yaml: anchor '{k.anchor or ''}' value contains itself"
                                  if hasattr(k, "anchor") else
                                  "yaml: anchor value contains itself")
            if id(k) not in expanded:
                stack.append((k, False))
    distinct = len(expanded)
    references = edges - (distinct - 1)  # edges beyond each node's own definition
    written = distinct + references
    total = expanded[id(root)]
    aliased = total - written
    if aliased > 100 and total > 1000 and aliased / total > _allowed_alias_ratio(total):
        raise DecodeError("yaml: document contains excessive aliasing")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def loads_yaml(raw: bytes) -> Any:
    """One YAML document, as sigs.k8s.io/yaml decodes it, with go-yaml's alias limits."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        if not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise DecodeError("yaml: invalid leading UTF-8 octet") from None
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(raw)
        node = loader.get_single_node()
        if node is None:
            return None
        _check_aliases(node)
        return loader.construct_document(node)
    except yaml.reader.ReaderError as e:
        encoding = isinstance(e.character, bytes) or "decode" in e.reason or \
            "truncated" in e.reason
        why = "invalid leading UTF-8 octet" if encoding else "control characters are not allowed"
        raise DecodeError(f"yaml: {why}") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise DecodeError(f"yaml: {line}{e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise DecodeError("yaml: " + str(e).splitlines()[0]) from None
    except RecursionError:
        raise DecodeError(f"exceeded max depth of {MAX_DEPTH}") from None
    finally:
        if loader is not None:
            loader.dispose()
