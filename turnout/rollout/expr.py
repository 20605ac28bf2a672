"""Argo Rollouts' condition language: expr-lang/expr v1.17 as Argo compiles and runs it.

Why this exists: an AnalysisRun's `successCondition` / `failureCondition` is an expr-lang
expression over the measurement `result` (`result[0] >= 0.95`, `all(result, {# > 0.9})`,
`result == 'It worked!'`). Argo compiles it with `expr.Env(env)`, so the static type of `result`
is the Go type its provider returned (Prometheus `[]float64` or `float64`, web JSON values, a raw
string), type-checks it, runs it, and treats any compile or run error as a measurement *Error*.
This module mirrors expr's Pratt parser (precedences, `not in`, chained comparisons, the `??`
mixing rule, predicates with `#`/`.`), the checks of its type checker wherever types are known,
and its runtime (numbers, equality, indexing, optional chaining, builtins), plus Argo's functions
`asInt`, `asFloat`, `isNaN`, `isInf`, `isNil` and `default`.

Values are Python's: None is nil, lists are slices, dicts are maps. Integers in `result` become
floats first, as Go's JSON decoding makes every number a float64.

Not supported (a clear error, never a silent guess): date and duration functions, bytes
literals, base64 and bitwise builtins, `$env` beyond `$env.result`, methods on values.

Pure: no I/O, no eval.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import re2

__all__ = ["ExprError", "compile_check", "evaluate"]


class ExprError(ValueError):
    """An expression that does not compile or fails to run; Argo makes the measurement Error."""

    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"could not evaluate {_quote(expression)}: {reason}")
        self.expression, self.reason = expression, reason


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


class _Fail(Exception):
    pass


class _ChainNil(Exception):
    """An optional member (`?.`) met nil: the whole chain is nil."""


# ---- lexer (expr parser/lexer) -------------------------------------------------------------

@dataclass(frozen=True)
class _Tok:
    kind: str  # num str ident op br eof
    value: Any
    pos: int

    def __str__(self) -> str:
        names = {"num": "Number", "str": "String", "ident": "Identifier", "op": "Operator",
                 "br": "Bracket", "eof": "EOF"}
        return f"{names[self.kind]}({json.dumps(str(self.value))})"


_WORD_OPS = {"not", "in", "or", "and", "matches", "contains", "startsWith", "endsWith", "let",
             "if", "else"}
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "\\": "\\", "'": "'", '"': '"', "`": "`", "?": "?"}
_NUMBER = re.compile(r"""
    (0[xX][0-9a-fA-F_]* | 0[oO][0-7_]* | 0[bB][01_]* | [0-9_]*)
    (\.(?!\.)[0-9_]*)?
    ([eE][+-]?[0-9_]*)?""", re.X)


def _alnum(c: str) -> bool:
    return c.isalnum() or c in "_$"


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1] if i + 1 < len(body) else ""
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in "xXuU" and e:
            if e == "u" and body[i + 2:i + 3] == "{":
                end = body.find("}", i + 3)
                digits = body[i + 3:end] if end > 0 else ""
                step = end + 1 - i
            else:
                digits = body[i + 2:i + 2 + {"x": 2, "X": 2, "u": 4, "U": 8}[e]]
                step = 2 + len(digits)
                if len(digits) != {"x": 2, "X": 2, "u": 4, "U": 8}[e]:
                    digits = ""
            if not digits or len(digits) > 8 or not all(d in "0123456789abcdefABCDEF"
                                                        for d in digits):
                raise _Fail("unable to unescape string")
            out.append(chr(int(digits, 16)))
            i += step
        elif e in "0123" and e and re.fullmatch(r"[0-7]{2}", body[i + 2:i + 4]):
            out.append(chr(int(body[i + 1:i + 4], 8)))
            i += 4
        else:
            raise _Fail("unable to unescape string")
    return "".join(out)


def _number(text: str, pos: int) -> _Tok:
    v = text.replace("_", "")
    low = v.lower()
    try:
        if low.startswith(("0x", "0o", "0b")):
            return _Tok("num", int(v[2:], {"x": 16, "o": 8, "b": 2}[low[1]]), pos)
        if "." in low or "e" in low:
            f = float(v)
            if math.isinf(f):
                raise _Fail(f"invalid float literal: {text} is out of range")
            return _Tok("num", f, pos)
        i = int(v, 10)
        if i >= 2**63:
            raise _Fail(f"invalid integer literal: {text} is out of range")
        return _Tok("num", i, pos)
    except ValueError:
        raise _Fail(f"bad number syntax: {json.dumps(text)}") from None


def _lex(src: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(src)
    while i < n:
        c, nxt = src[i], src[i + 1:i + 2]
        if c.isspace():
            i += 1
        elif c in "'\"":
            j = i + 1
            while j < n and src[j] != c:
                if src[j] == "\n":
                    break
                j += 2 if src[j] == "\\" else 1
            if j >= n or src[j] != c:
                raise _Fail("literal not terminated")
            out.append(_Tok("str", _unescape(src[i + 1:j]), i))
            i = j + 1
        elif c == "`":
            m = re.compile(r"`((?:[^`]|``)*)`").match(src, i)
            if not m:
                raise _Fail("literal not terminated")
            out.append(_Tok("str", m.group(1).replace("``", "`"), i))
            i = m.end()
        elif c.isdigit() or (c == "." and nxt.isdigit()):
            m = _NUMBER.match(src, i)
            assert m is not None
            j = m.end()
            if j < n and _alnum(src[j]):
                raise _Fail(f"bad number syntax: {json.dumps(src[i:j + 1])}")
            out.append(_number(src[i:j], i))
            i = j
        elif c == "/" and nxt in "/*" and nxt:
            end = src.find("\n", i) if nxt == "/" else src.find("*/", i + 2)
            if end < 0 and nxt == "*":
                raise _Fail("unclosed comment")
            i = n if end < 0 else end + (1 if nxt == "/" else 2)
        elif c == "#":
            out.append(_Tok("op", "#", i))
            j = i + 1
            while j < n and _alnum(src[j]):
                j += 1
            if j > i + 1:
                out.append(_Tok("ident", src[i + 1:j], i + 1))
            i = j
        elif c in "([{)]}":
            out.append(_Tok("br", c, i))
            i += 1
        elif c in ",;%+-^/":
            out.append(_Tok("op", c, i))
            i += 1
        else:
            pairs = {"?": ".?", "|": "|", ":": ":", ".": ".", "&": "&=*", "!": "&=*",
                     "=": "&=*", "*": "&=*", "<": "&=*", ">": "&=*"}
            if c in pairs:
                two = c + nxt if nxt and nxt in pairs[c] else c
                out.append(_Tok("op", two, i))
                i += len(two)
            elif _alnum(c):
                j = i
                while j < n and _alnum(src[j]):
                    j += 1
                word = src[i:j]
                out.append(_Tok("op" if word in _WORD_OPS else "ident", word, i))
                i = j
            else:
                raise _Fail(f"unrecognized character: {c!r}")
    out.append(_Tok("eof", "", n))
    return out


# ---- syntax tree -----------------------------------------------------------------------------

class _Node:
    pass


@dataclass
class _Lit(_Node):
    value: Any


@dataclass
class _Ident(_Node):
    name: str


@dataclass
class _Pointer(_Node):
    name: str


@dataclass
class _Unary(_Node):
    op: str
    node: _Node


@dataclass
class _Binary(_Node):
    op: str
    left: _Node
    right: _Node


@dataclass
class _Member(_Node):
    node: _Node
    prop: _Node
    optional: bool


@dataclass
class _Method(_Node):
    member: _Member


@dataclass
class _Chain(_Node):
    node: _Node


@dataclass
class _Slice(_Node):
    node: _Node
    lo: _Node | None
    hi: _Node | None


@dataclass
class _Call(_Node):
    name: str
    args: list[_Node]
    builtin: bool


@dataclass
class _Predicate(_Node):
    node: _Node


@dataclass
class _Array(_Node):
    items: list[_Node]


@dataclass
class _Map(_Node):
    pairs: list[tuple[_Node, _Node]]


@dataclass
class _Cond(_Node):
    cond: _Node
    yes: _Node
    no: _Node


@dataclass
class _Let(_Node):
    name: str
    value: _Node
    body: _Node


@dataclass
class _Seq(_Node):
    nodes: list[_Node]


# ---- parser (expr parser/parser.go, a Pratt parser) ------------------------------------------

_UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
_BINARY = {"|": 0, "or": 10, "||": 10, "and": 15, "&&": 15, "==": 20, "!=": 20, "<": 20,
           ">": 20, ">=": 20, "<=": 20, "in": 20, "matches": 20, "contains": 20,
           "startsWith": 20, "endsWith": 20, "..": 25, "+": 30, "-": 30, "*": 60, "/": 60,
           "%": 60, "**": 100, "^": 100, "??": 500}
_RIGHT = {"**", "^"}
_ORDER = {"<", ">", "<=", ">="}
_NEGATABLE = {"in", "matches", "contains", "startsWith", "endsWith"}
_EXPR, _PRED, _OPT = 1, 2, 4
_PREDICATES: dict[str, tuple[int, ...]] = {
    n: (_EXPR, _PRED) for n in ("all", "none", "any", "one", "filter", "map", "find", "findIndex",
                                "findLast", "findLastIndex", "groupBy")}
_PREDICATES.update({"count": (_EXPR, _PRED | _OPT), "sum": (_EXPR, _PRED | _OPT),
                    "sortBy": (_EXPR, _PRED, _EXPR | _OPT), "reduce": (_EXPR, _PRED, _EXPR | _OPT)})


class _Parser:
    def __init__(self, toks: list[_Tok]) -> None:
        self.toks, self.i, self.depth = toks, 0, 0

    @property
    def cur(self) -> _Tok:
        return self.toks[self.i]

    def at(self, kind: str, *values: str) -> bool:
        return self.cur.kind == kind and (not values or self.cur.value in values)

    def next(self) -> None:
        if self.cur.kind == "eof":
            raise _Fail("unexpected end of expression")
        self.i += 1

    def error(self, msg: str, tok: _Tok | None = None) -> _Fail:
        return _Fail(f"{msg} (column {(tok or self.cur).pos + 1})")

    def expect(self, kind: str, *values: str) -> None:
        if not self.at(kind, *values):
            raise self.error(f"unexpected token {self.cur}")
        self.next()

    def sequence(self) -> _Node:
        nodes = [self.expression(0)]
        while self.at("op", ";"):
            self.next()
            if self.at("eof"):
                break
            nodes.append(self.expression(0))
        return nodes[0] if len(nodes) == 1 else _Seq(nodes)

    def expression(self, prec: int) -> _Node:
        if prec == 0 and self.at("op", "let"):
            self.next()
            name = self.cur.value
            self.expect("ident")
            self.expect("op", "=")
            value = self.expression(0)
            self.expect("op", ";")
            return _Let(name, value, self.sequence())
        if prec == 0 and self.at("op", "if"):
            return self.conditional_if()
        left = self.primary()
        prev = ""
        while self.at("op"):
            tok, negate = self.cur, self.cur.value == "not"
            if negate:
                after = self.toks[self.i + 1]
                if not (after.kind == "op" and after.value in _NEGATABLE):
                    raise self.error(f"unexpected token {after}", after)
                if _BINARY[after.value] < prec:
                    break
                self.next()
                tok = after
            op = tok.value
            if op not in _BINARY or _BINARY[op] < prec:
                break
            self.next()
            if op == "|":
                name = self.cur
                self.expect("ident")
                left = self.call(name, [left])
            elif prev == "??" and op != "??":
                raise self.error(f"Operator ({op}) and coalesce expressions (??) cannot be "
                                 "mixed. Wrap either by parentheses.", tok)
            elif op in _ORDER:
                left = self.comparison(left, op)
            else:
                right = self.expression(_BINARY[op] + (0 if op in _RIGHT else 1))
                left = _Binary(op, left, right)
                if negate:
                    left = _Unary("not", left)
            prev = op
        if prec == 0:
            while self.at("op", "?"):
                self.next()
                if self.at("op", ":"):
                    self.next()
                    left = _Cond(left, left, self.expression(0))
                else:
                    yes = self.expression(0)
                    self.expect("op", ":")
                    left = _Cond(left, yes, self.expression(0))
        return left

    def conditional_if(self) -> _Node:
        self.next()
        cond = self.expression(0)
        self.expect("br", "{")
        yes = self.sequence()
        self.expect("br", "}")
        self.expect("op", "else")
        if self.at("op", "if"):
            return _Cond(cond, yes, self.conditional_if())
        self.expect("br", "{")
        no = self.sequence()
        self.expect("br", "}")
        return _Cond(cond, yes, no)

    def comparison(self, left: _Node, op: str) -> _Node:
        root: _Node | None = None
        while True:
            right = self.expression(_BINARY[op] + 1)
            node = _Binary(op, left, right)
            root = node if root is None else _Binary("&&", root, node)
            left = right
            if not (self.at("op") and self.cur.value in _ORDER):
                return root
            op = self.cur.value
            self.next()

    def primary(self) -> _Node:
        tok = self.cur
        if tok.kind == "op" and tok.value in _UNARY:
            self.next()
            return self.postfix(_Unary(tok.value, self.expression(_UNARY[tok.value])))
        if self.at("br", "("):
            self.next()
            node = self.sequence()
            self.expect("br", ")")
            return self.postfix(node)
        if self.depth > 0 and self.at("op", "#", "."):
            name = ""
            if self.at("op", "#"):
                self.next()
                if self.at("ident"):
                    name = self.cur.value
                    self.next()
            return self.postfix(_Pointer(name))
        return self.secondary()

    def secondary(self) -> _Node:
        tok = self.cur
        node: _Node
        if tok.kind == "ident":
            self.next()
            consts = {"true": True, "false": False, "nil": None}
            if tok.value in consts:
                return _Lit(consts[tok.value])
            node = self.call(tok, []) if self.at("br", "(") else _Ident(tok.value)
        elif tok.kind == "num":
            self.next()
            return _Lit(tok.value)
        elif tok.kind == "str":
            self.next()
            node = _Lit(tok.value)
        elif self.at("br", "["):
            self.next()
            items: list[_Node] = []
            while not self.at("br", "]"):
                if items:
                    self.expect("op", ",")
                    if self.at("br", "]"):
                        break
                items.append(self.expression(0))
            self.next()
            node = _Array(items)
        elif self.at("br", "{"):
            node = self.map_literal()
        else:
            raise self.error(f"unexpected token {tok}")
        return self.postfix(node)

    def map_literal(self) -> _Node:
        self.next()
        pairs: list[tuple[_Node, _Node]] = []
        while not self.at("br", "}"):
            if pairs:
                self.expect("op", ",")
                if self.at("br", "}"):
                    break
            key: _Node
            if self.cur.kind in ("num", "str", "ident"):
                key = _Lit(str(self.cur.value))
                self.next()
            elif self.at("br", "("):
                key = self.expression(0)
            else:
                raise self.error("a map key must be a quoted string, a number, a identifier, "
                                 f"or an expression enclosed in parentheses (unexpected token "
                                 f"{self.cur})")
            self.expect("op", ":")
            pairs.append((key, self.expression(0)))
        self.next()
        return _Map(pairs)

    def call(self, tok: _Tok, args: list[_Node]) -> _Node:
        name = tok.value
        if name in _PREDICATES:
            self.expect("br", "(")
            spec = _PREDICATES[name][len(args):]
            for i, kind in enumerate(spec):
                if self.at("br", ")"):
                    if kind & _OPT:
                        break
                    raise self.error(f"expected at least {len(spec)} arguments")
                if i > 0:
                    self.expect("op", ",")
                args.append(self.expression(0) if kind & _EXPR else self.predicate())
            if self.at("op", ","):
                self.next()
            self.expect("br", ")")
            return _Call(name, args, True)
        return _Call(name, self.arguments(args), name in _BUILTINS or name in _UNSUPPORTED)

    def arguments(self, args: list[_Node]) -> list[_Node]:
        offset = len(args)
        self.expect("br", "(")
        while not self.at("br", ")"):
            if len(args) > offset:
                self.expect("op", ",")
            if self.at("br", ")"):
                break
            args.append(self.expression(0))
        self.next()
        return args

    def predicate(self) -> _Node:
        braces = self.at("br", "{")
        if braces:
            self.next()
        self.depth += 1
        node = self.sequence() if braces else self.expression(0)
        if not braces and self.at("op", ";"):
            raise self.error("wrap predicate with brackets { and }")
        self.depth -= 1
        if braces:
            self.expect("br", "}")
        return _Predicate(node)

    def postfix(self, node: _Node) -> _Node:
        while self.cur.kind in ("op", "br"):
            tok = self.cur
            optional = tok.value == "?."
            if optional and self.toks[self.i + 1].kind == "br" and \
                    self.toks[self.i + 1].value == "[":
                self.next()
                tok = self.cur
            if tok.value in (".", "?."):
                self.next()
                prop = self.cur
                self.next()
                if not (prop.kind == "ident" or (prop.kind == "op" and prop.value.isalpha())):
                    raise self.error("expected name", prop)
                chained = isinstance(node, _Chain)
                member = _Member(node.node if isinstance(node, _Chain) else node,
                                 _Lit(prop.value), optional)
                node = _Method(member) if self.at("br", "(") else member
                if isinstance(node, _Method):
                    self.arguments([])
                if chained or optional:
                    node = _Chain(node)
            elif tok.value == "[":
                self.next()
                lo: _Node | None = None
                if not self.at("op", ":"):
                    lo = self.expression(0)
                    if not self.at("op", ":"):
                        self.expect("br", "]")
                        node = _Member(node, lo, optional)
                        node = _Chain(node) if optional else node
                        continue
                self.next()
                hi = None if self.at("br", "]") else self.expression(0)
                self.expect("br", "]")
                node = _Slice(node, lo, hi)
            else:
                break
        return node


@functools.lru_cache(maxsize=512)
def _parse(src: str) -> _Node:
    p = _Parser(_lex(src))
    node = p.sequence()
    if not p.at("eof"):
        raise p.error(f"unexpected token {p.cur}")
    return node


# ---- static types (expr checker: an error wherever both sides are known) ---------------------

@dataclass(frozen=True)
class _T:
    kind: str  # any nil bool int float string array map func
    elem: _T | None = None

    def __str__(self) -> str:
        if self.kind == "array":
            return f"[]{self.elem or _ANY}"
        return {"any": "interface {}", "float": "float64", "map": "map[string]interface {}",
                "func": "func"}.get(self.kind, self.kind)

    @property
    def known(self) -> bool:
        return self.kind != "any"

    @property
    def number(self) -> bool:
        return self.kind in ("int", "float")


_ANY, _NIL, _BOOL, _INT, _FLOAT, _STR = (_T(k) for k in ("any", "nil", "bool", "int", "float",
                                                        "string"))
_MAP, _FUNC = _T("map", _ANY), _T("func")


def _array(elem: _T) -> _T:
    return _T("array", elem)


def _nature(value: Any) -> _T:
    """The Go type Argo's providers give ``value`` (`[]float64` for a Prometheus vector)."""
    if value is None:
        return _NIL
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int):
        return _INT
    if isinstance(value, float):
        return _FLOAT
    if isinstance(value, str):
        return _STR
    if isinstance(value, list):
        return _array(_FLOAT if all(isinstance(x, float) for x in value) else _ANY)
    return _MAP if isinstance(value, dict) else _ANY


def _maybe(a: _T, b: _T, *kinds: str) -> bool:
    """expr's MaybeCompatible: one side unknown and the other of one of ``kinds``."""
    ok = {"number": ("int", "float")}.get(kinds[0], kinds) if len(kinds) == 1 else kinds
    return (not a.known and not b.known) or (not a.known and b.kind in ok) or \
        (not b.known and a.kind in ok)


def _comparable(a: _T, b: _T) -> bool:
    return (not a.known or not b.known or _NIL in (a, b) or (a.number and b.number)
            or a.kind == b.kind == "array" or a == b)


def _binary_type(op: str, a: _T, b: _T) -> _T:
    nums = a.number and b.number
    promoted = _INT if a == b == _INT else _FLOAT
    rules: dict[str, Callable[[], _T | None]] = {
        "==": lambda: _BOOL if _comparable(a, b) else None,
        "!=": lambda: _BOOL if _comparable(a, b) else None,
        "and": lambda: _BOOL if a == b == _BOOL or _maybe(a, b, "bool") else None,
        "<": lambda: _BOOL if nums or a == b == _STR or _maybe(a, b, "int", "float", "string")
        else None,
        "-": lambda: promoted if nums else _ANY if _maybe(a, b, "number") else None,
        "/": lambda: _FLOAT if nums or _maybe(a, b, "number") else None,
        "%": lambda: _INT if a == b == _INT or _maybe(a, b, "int") else None,
        "+": lambda: promoted if nums else _STR if a == b == _STR else
        _ANY if _maybe(a, b, "int", "float", "string") else None,
        "matches": lambda: _BOOL if a == b == _STR or _maybe(a, b, "string") else None,
        "..": lambda: _array(_INT) if a == b == _INT or _maybe(a, b, "int") else None,
    }
    alias = {"or": "and", "||": "and", "&&": "and", ">": "<", "<=": "<", ">=": "<", "*": "-",
             "**": "/", "^": "/", "contains": "matches", "startsWith": "matches",
             "endsWith": "matches"}
    if op == "in":
        if b.kind == "map":
            if a.known and a != _STR:
                raise _Fail(f"cannot use {a} as type string in map key")
            return _BOOL
        if b.kind == "array":
            if not _comparable(a, b.elem or _ANY):
                raise _Fail(f"cannot use {a} as type {b.elem} in array")
            return _BOOL
        if not b.known or (not a.known and b.kind == "string"):
            return _BOOL
    elif op == "??":
        return b if a == _NIL else a if b == _NIL or a == b else _ANY
    else:
        out = rules[alias.get(op, op)]()
        if out is not None:
            return out
    raise _Fail(f"invalid operation: {op} (mismatched types {a} and {b})")


@dataclass
class _Scope:
    result: _T
    names: dict[str, _T]
    elems: list[tuple[_T, tuple[str, ...]]]  # predicate element, its pointers (#index, #acc)


def _check(node: _Node, sc: _Scope) -> _T:
    match node:
        case _Lit(value=v):
            return _nature(v)
        case _Array(items=items):
            for item in items:
                _check(item, sc)
            return _array(_ANY)
        case _Map(pairs=pairs):
            for k, v in pairs:
                _check(k, sc)
                _check(v, sc)
            return _MAP
        case _Ident(name=name):
            if name in sc.names:
                return sc.names[name]
            if name == "result":
                return sc.result
            if name == "$env":
                return _MAP
            if name in _FUNCS or name in _BUILTINS:
                return _FUNC
            raise _Fail(f"unknown name {name}")
        case _Pointer(name=name):
            elem, pointers = sc.elems[-1]
            if name == "":
                return elem
            if name in pointers:
                return _INT if name == "index" else _ANY
            raise _Fail(f"unknown pointer #{name}")
        case _Unary(op=op, node=inner):
            t = _check(inner, sc)
            want = _BOOL if op in ("!", "not") else None
            if not t.known:
                return want or _ANY
            if (want and t == want) or (not want and t.number):
                return t
            raise _Fail(f"invalid operation: {op} (mismatched type {t})")
        case _Binary(op=op, left=left, right=right):
            return _binary_type(op, _check(left, sc), _check(right, sc))
        case _Chain(node=inner):
            return _check(inner, sc)
        case _Member():
            return _check_member(node, sc)
        case _Method(member=m):
            base = _check(m.node, sc)
            if base.known and base.kind != "map":
                raise _Fail(f"type {base} has no method {_lit_str(m.prop)}")
            return _ANY
        case _Slice(node=inner, lo=lo, hi=hi):
            t = _check(inner, sc)
            for bound in (lo, hi):
                b = _check(bound, sc) if bound else _INT
                if b.known and b != _INT:
                    raise _Fail(f"non-integer slice index {b}")
            if t.known and t.kind not in ("string", "array"):
                raise _Fail(f"cannot slice {t}")
            return t
        case _Cond(cond=cond, yes=yes, no=no):
            c = _check(cond, sc)
            if c.known and c != _BOOL:
                raise _Fail(f"non-bool expression (type {c}) used as condition")
            a, b = _check(yes, sc), _check(no, sc)
            return a if a == b else _ANY
        case _Let(name=name, value=value, body=body):
            if name == "result" or name in _FUNCS or name in _BUILTINS or name in _PREDICATES:
                raise _Fail(f"cannot redeclare {name}")
            inner_sc = _Scope(sc.result, {**sc.names, name: _check(value, sc)}, sc.elems)
            return _check(body, inner_sc)
        case _Seq(nodes=nodes):
            return [_check(n, sc) for n in nodes][-1]
        case _Call():
            return _check_call(node, sc)
    raise _Fail(f"unsupported syntax {type(node).__name__}")


def _lit_str(node: _Node) -> str:
    return str(node.value) if isinstance(node, _Lit) else "?"


def _check_member(node: _Member, sc: _Scope) -> _T:
    base, prop = _check(node.node, sc), _check(node.prop, sc)
    named = isinstance(node.prop, _Lit) and isinstance(node.prop.value, str)
    if not base.known:
        return _ANY
    if base == _NIL and named:
        raise _Fail(f"type nil has no field {_lit_str(node.prop)}")
    if base.kind == "map":
        if prop.known and prop != _STR:
            raise _Fail(f"cannot use {prop} to get an element from {base}")
        return base.elem or _ANY
    if base.kind == "array":
        if prop.known and prop != _INT:
            raise _Fail(f"array elements can only be selected using an integer (got {prop})")
        return base.elem or _ANY
    if named:
        raise _Fail(f"type {base} has no field {_lit_str(node.prop)}")
    raise _Fail(f"type {base}[{prop}] is undefined")


def _check_call(node: _Call, sc: _Scope) -> _T:
    name, args = node.name, node.args
    if name in _PREDICATES:
        coll = _check(args[0], sc)
        if coll.known and coll.kind != "array":
            raise _Fail(f"builtin {name} takes only array (got {coll})")
        elem = coll.elem or _ANY if coll.known else _ANY
        out = _ANY
        if len(args) > 1:
            assert isinstance(args[1], _Predicate)
            pointers = {"map": ("index",), "reduce": ("index", "acc")}.get(name, ())
            out = _check(args[1].node, _Scope(sc.result, sc.names, [*sc.elems, (elem, pointers)]))
            if name not in ("map", "sum", "groupBy", "sortBy", "reduce") and out.known \
                    and out != _BOOL:
                raise _Fail(f"predicate should return boolean (got {out})")
        for extra in args[2:]:
            _check(extra, sc)
        return {"all": _BOOL, "any": _BOOL, "none": _BOOL, "one": _BOOL, "count": _INT,
                "findIndex": _INT, "findLastIndex": _INT, "filter": _array(elem),
                "map": _array(out), "find": elem, "findLast": elem,
                "sortBy": coll, "sum": out if len(args) > 1 else elem}.get(name, _ANY)
    types = [_check(a, sc) for a in args]
    if name in _UNSUPPORTED:
        raise _Fail(f"function {name} is not supported by turnout")
    if not node.builtin and name not in _FUNCS:
        raise _Fail(f"unknown name {name}")
    lo, hi, out = _SIGNATURES[name]
    if len(args) < lo:
        raise _Fail(f"not enough arguments to call {name}")
    if hi >= 0 and len(args) > hi:
        raise _Fail(f"too many arguments to call {name}")
    if name in ("isNaN", "isInf") and types[0].known and not types[0].number:
        raise _Fail(f"cannot use {types[0]} as argument (type float64) to call {name}")
    if name == "len" and types[0].known and types[0].kind not in ("array", "map", "string"):
        raise _Fail(f"invalid argument for len (type {types[0]})")
    if name in _NUMERIC and any(t.known and not t.number and t.kind != "array" for t in types):
        bad = next(t for t in types if t.known and not t.number and t.kind != "array")
        raise _Fail(f"invalid argument for {name} (type {bad})")
    if name == "abs" and types[0].number:
        return types[0]
    return out


# ---- runtime (expr vm/runtime and builtin) ---------------------------------------------------

def _gotype(v: Any) -> str:
    return "<nil>" if v is None else str(_nature(v))


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _equal(a: Any, b: Any) -> bool:
    if _num(a) and _num(b):
        return bool(a == b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return _deep_equal(a, b)


def _deep_equal(a: Any, b: Any) -> bool:
    """Go's reflect.DeepEqual: the same types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_deep_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _order(op: str, a: Any, b: Any) -> bool:
    if not ((_num(a) and _num(b)) or (isinstance(a, str) and isinstance(b, str))):
        raise _Fail(f"invalid operation: {_gotype(a)} {op} {_gotype(b)}")
    return bool({"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op])


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if not (_num(a) and _num(b)):
        raise _Fail(f"invalid operation: {_gotype(a)} {op} {_gotype(b)}")
    if op == "/":
        if b == 0:
            return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * \
                math.copysign(1, b)
        return a / b
    if op == "%":
        if not (isinstance(a, int) and isinstance(b, int)):
            raise _Fail(f"invalid operation: {_gotype(a)} % {_gotype(b)}")
        if b == 0:
            raise _Fail("integer divide by zero")
        return int(math.copysign(abs(a) % abs(b), a))
    if op in ("**", "^"):
        try:
            return math.pow(a, b)
        except OverflowError:
            return math.inf
        except ValueError:
            return math.nan
    out = a + b if op == "+" else a - b if op == "-" else a * b
    return out if isinstance(out, int) else float(out)


def _fetch(base: Any, key: Any) -> Any:
    if isinstance(base, dict):
        # JSON maps have string keys; groupBy's have the predicate's values
        if not isinstance(key, str) and all(isinstance(k, str) for k in base):
            raise _Fail(f"cannot use {_gotype(key)} as map key")
        return base.get(key)
    if isinstance(base, list | str) and _num(key):
        seq = base.encode() if isinstance(base, str) else base
        i = int(key)
        j = i + len(seq) if i < 0 else i
        if not 0 <= j < len(seq):
            raise _Fail(f"index out of range: {i} (array length is {len(seq)})")
        return seq[j]
    raise _Fail(f"cannot fetch {_format(key)} from {_gotype(base)}")


def _format(v: Any) -> str:
    """Go's `%v`, as expr's string() prints a value."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return "NaN" if math.isnan(v) else "+Inf" if v > 0 else "-Inf"
        sign, digits, exp = Decimal(repr(v)).normalize().as_tuple()
        assert isinstance(exp, int)
        d = "".join(map(str, digits))
        e = len(d) + exp - 1
        if e < -4 or e >= 6:  # strconv.FormatFloat(v, 'g', -1, 64)
            m = d[0] + ("." + d[1:] if len(d) > 1 else "")
            return f"{'-' if sign else ''}{m}e{'-' if e < 0 else '+'}{abs(e):02d}"
        return format(Decimal(repr(v)).normalize(), "f")
    if isinstance(v, list):
        return "[" + " ".join(_format(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_format(v[k])}" for k in sorted(v)) + "]"
    return str(v)


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> Any:
    opts = re2.Options()
    opts.log_errors = False
    try:
        return re2.compile(pattern, opts)
    except re2.error as e:
        msg = e.args[0] if e.args else e
        raise _Fail(f"error parsing regexp: {msg.decode() if isinstance(msg, bytes) else msg}")\
            from None


def _string_op(op: str, a: Any, b: Any) -> bool:
    if not (isinstance(a, str) and isinstance(b, str)):
        raise _Fail(f"invalid operation: {_gotype(a)} {op} {_gotype(b)}")
    if op == "matches":
        return _regex(b).search(a) is not None
    return {"contains": b in a, "startsWith": a.startswith(b), "endsWith": a.endswith(b)}[op]


def _truth(v: Any, what: str) -> bool:
    if not isinstance(v, bool):
        raise _Fail(f"{what}: {_gotype(v)} is not bool")
    return v


@dataclass
class _Ctx:
    result: Any
    names: dict[str, Any]
    frames: list[dict[str, Any]]


def _eval(node: _Node, cx: _Ctx) -> Any:
    match node:
        case _Lit(value=v):
            return v
        case _Array(items=items):
            return [_eval(i, cx) for i in items]
        case _Map(pairs=pairs):
            out = {}
            for k, v in pairs:
                key = _eval(k, cx)
                if not isinstance(key, str):
                    raise _Fail(f"map key must be a string, not {_gotype(key)}")
                out[key] = _eval(v, cx)
            return out
        case _Ident(name=name):
            if name in cx.names:
                return cx.names[name]
            if name == "$env":
                return {"result": cx.result}
            if name == "result":
                return cx.result
            raise _Fail(f"{name} is a function: call it")
        case _Pointer(name=name):
            return cx.frames[-1][name or "#"]
        case _Unary(op=op, node=inner):
            v = _eval(inner, cx)
            if op in ("!", "not"):
                return not _truth(v, f"operator {op}")
            if not _num(v):
                raise _Fail(f"invalid operation: {op} {_gotype(v)}")
            return -v if op == "-" else v
        case _Binary(op=op, left=left, right=right):
            return _binary(op, left, right, cx)
        case _Chain(node=inner):
            try:
                return _eval(inner, cx)
            except _ChainNil:
                return None
        case _Member(node=base_node, prop=prop, optional=optional):
            base = _eval(base_node, cx)
            if base is None and optional:
                raise _ChainNil
            return _fetch(base, _eval(prop, cx))
        case _Method(member=m):
            raise _Fail(f"cannot call method {_lit_str(m.prop)} on {_gotype(_eval(m.node, cx))}")
        case _Slice(node=inner, lo=lo, hi=hi):
            base = _eval(inner, cx)
            if not isinstance(base, list | str):
                raise _Fail(f"cannot slice {_gotype(base)}")
            n = len(base)
            a, b = (int(_eval(x, cx)) if x else d for x, d in ((lo, 0), (hi, n)))
            a, b = max(a + n if a < 0 else a, 0), min(max(b + n if b < 0 else b, 0), n)
            return base[min(a, b):b]
        case _Cond(cond=cond, yes=yes, no=no):
            return _eval(yes if _truth(_eval(cond, cx), "condition") else no, cx)
        case _Let(name=name, value=value, body=body):
            return _eval(body, _Ctx(cx.result, {**cx.names, name: _eval(value, cx)}, cx.frames))
        case _Seq(nodes=nodes):
            return [_eval(n, cx) for n in nodes][-1]
        case _Call(name=name, args=args) if name in _PREDICATES:
            return _predicate(name, args, cx)
        case _Call(name=name, args=args):
            values = [_eval(a, cx) for a in args]
            if name in _FUNCS:
                return _FUNCS[name](cx.result, *values)
            return _BUILTINS[name](*values)
    raise _Fail(f"unsupported syntax {type(node).__name__}")


def _binary(op: str, left: _Node, right: _Node, cx: _Ctx) -> Any:
    a = _eval(left, cx)
    if op in ("and", "&&", "or", "||"):
        stop = op in ("or", "||")
        return a if _truth(a, f"operator {op}") is stop else _eval(right, cx)
    if op == "??":
        return _eval(right, cx) if a is None else a
    b = _eval(right, cx)
    if op in ("==", "!="):
        return _equal(a, b) is (op == "==")
    if op in _ORDER:
        return _order(op, a, b)
    if op in ("matches", "contains", "startsWith", "endsWith"):
        return _string_op(op, a, b)
    if op == "in":
        if b is None:
            return False
        if isinstance(b, list):
            return any(_equal(x, a) for x in b)
        if isinstance(b, dict):
            return isinstance(a, str) and a in b
        raise _Fail(f'operator "in" not defined on {_gotype(b)}')
    if op == "..":
        if not (isinstance(a, int) and isinstance(b, int)) or isinstance(a | b, bool):
            raise _Fail(f"invalid operation: {_gotype(a)} .. {_gotype(b)}")
        return list(range(a, b + 1))
    return _arith(op, a, b)


def _predicate(name: str, args: list[_Node], cx: _Ctx) -> Any:
    coll = _eval(args[0], cx)
    if not isinstance(coll, list):
        raise _Fail(f"cannot iterate over {_gotype(coll)} in {name}")
    pred = args[1].node if len(args) > 1 and isinstance(args[1], _Predicate) else None

    def each(i: int, x: Any, acc: Any = None) -> Any:
        if pred is None:
            return x
        cx.frames.append({"#": x, "index": i, "acc": acc})
        try:
            return _eval(pred, cx)
        finally:
            cx.frames.pop()

    def test(i: int, x: Any) -> bool:
        return _truth(each(i, x), f"predicate of {name}")

    items = list(enumerate(coll))
    if name in ("all", "none"):
        return all(test(i, x) is (name == "all") for i, x in items)
    if name == "any":
        return any(test(i, x) for i, x in items)
    if name in ("one", "count"):
        n = sum(1 for i, x in items if test(i, x))
        return n == 1 if name == "one" else n
    if name == "filter":
        return [x for i, x in items if test(i, x)]
    if name == "map":
        return [each(i, x) for i, x in items]
    if name == "sum":
        total: Any = 0
        for i, x in items:
            total = _arith("+", each(i, x), total)
        return total
    if name in ("find", "findIndex", "findLast", "findLastIndex"):
        order = reversed(items) if "Last" in name else iter(items)
        hit = next(((i, x) for i, x in order if test(i, x)), None)
        if "Index" in name:
            return -1 if hit is None else hit[0]
        return None if hit is None else hit[1]
    if name == "groupBy":
        groups: dict[Any, list[Any]] = {}
        for i, x in items:
            groups.setdefault(each(i, x), []).append(x)
        return groups
    if name == "sortBy":
        desc = _eval(args[2], cx) == "desc" if len(args) > 2 else False
        keys = [(each(i, x), x) for i, x in items]
        return [x for _, x in _sorted(keys, desc)]
    # reduce
    if len(args) > 2:
        acc, rest = _eval(args[2], cx), items
    elif items:
        acc, rest = items[0][1], items[1:]
    else:
        raise _Fail("reduce of empty array with no initial value")
    for i, x in rest:
        acc = each(i, x, acc)
    return acc


def _sorted(pairs: list[tuple[Any, Any]], desc: bool) -> list[tuple[Any, Any]]:
    try:
        return sorted(pairs, key=lambda p: p[0], reverse=desc)
    except TypeError:
        raise _Fail("cannot sort values of different types") from None


# ---- functions: Argo's env (utils/evaluate/evaluate.go) and expr's builtins ------------------

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_DIGITS = r"[0-9](?:_?[0-9])*"
_FLOAT_TEXT = re.compile(rf"[+-]?(?:(?:{_DIGITS}\.?(?:{_DIGITS})?|\.{_DIGITS})"
                         rf"(?:[eE][+-]?{_DIGITS})?|(?i:inf|infinity|nan))")


def _as_int(_: Any, v: Any) -> int:
    if _num(v):
        if isinstance(v, float) and not math.isfinite(v):
            raise _Fail(f"asInt() of {_format(v)}")
        return int(v)
    if isinstance(v, str):
        if _INT_TEXT.fullmatch(v) and -2**63 <= int(v) < 2**63:
            return int(v)
        raise _Fail(f'strconv.ParseInt: parsing "{v}": invalid syntax')
    raise _Fail(f"asInt() not supported on {_gotype(v)} {_format(v)}")


def _as_float(_: Any, v: Any) -> float:
    if _num(v):
        return float(v)
    if isinstance(v, str):
        if _FLOAT_TEXT.fullmatch(v):
            return float(v)
        raise _Fail(f'strconv.ParseFloat: parsing "{v}": invalid syntax')
    raise _Fail(f"asFloat() not supported on {_gotype(v)} {_format(v)}")


def _float_test(name: str, test: Callable[[float], bool]) -> Callable[[Any, Any], bool]:
    def run(_: Any, v: Any) -> bool:
        if not _num(v):
            raise _Fail(f"cannot use {_gotype(v)} as argument (type float64) to call {name}")
        return test(float(v))
    return run


# Argo's isNil and default look at the measurement whatever their first argument is.
_FUNCS: dict[str, Callable[..., Any]] = {
    "asInt": _as_int, "asFloat": _as_float,
    "isNaN": _float_test("isNaN", math.isnan), "isInf": _float_test("isInf", math.isinf),
    "isNil": lambda result, _: result is None,
    "default": lambda result, _, fallback: fallback if result is None else result,
}


def _need(kind: type | tuple[type, ...], name: str, *vals: Any) -> None:
    for v in vals:
        if not isinstance(v, kind) or (kind is not bool and isinstance(v, bool)):
            raise _Fail(f"invalid argument for {name} (type {_gotype(v)})")


def _numbers(name: str, args: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for a in args:
        if isinstance(a, list):
            out.extend(_numbers(name, tuple(a)))
        else:
            _need((int, float), name, a)
            out.append(a)
    return out


def _extreme(name: str, *args: Any) -> Any:
    nums = _numbers(name, args)
    if not nums:
        return None
    best = nums[0]
    for x in nums[1:]:
        if (x > best) if name == "max" else (x < best):
            best = x
    return best


def _len(v: Any) -> int:
    _need((list, dict, str), "len", v)
    return len(v)


def _abs(v: Any) -> Any:
    _need((int, float), "abs", v)
    return abs(v)


def _round(name: str, f: Callable[[float], float]) -> Callable[[Any], float]:
    def run(v: Any) -> float:
        _need((int, float), name, v)
        return float(f(float(v))) if math.isfinite(v) else float(v)
    return run


def _to_int(v: Any) -> int:
    if _num(v):
        return int(v)
    if isinstance(v, str) and _INT_TEXT.fullmatch(v):
        return int(v)
    raise _Fail(f"invalid operation: int({_format(v) if isinstance(v, str) else _gotype(v)})")


def _to_float(v: Any) -> float:
    if _num(v):
        return float(v)
    if isinstance(v, str) and _FLOAT_TEXT.fullmatch(v):
        return float(v)
    raise _Fail(f"invalid operation: float({_format(v) if isinstance(v, str) else _gotype(v)})")


def _mean(*args: Any) -> float:
    nums = _numbers("mean", args)
    return sum(nums) / len(nums) if nums else 0.0


def _median(*args: Any) -> float:
    nums = sorted(float(x) for x in _numbers("median", args))
    n = len(nums)
    if not n:
        return 0.0
    return nums[n // 2] if n % 2 else (nums[n // 2 - 1] + nums[n // 2]) / 2


def _strs(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        _need(str, name, *(a for a in args if not _num(a)))
        return f(*args)
    return run


def _type(v: Any) -> str:
    if v is None:
        return "nil"
    return {bool: "bool", int: "int", float: "float", str: "string", list: "array",
            dict: "map"}.get(type(v), "unknown")


def _json_value(v: Any) -> Any:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, list):
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    return v


def _from_json(s: Any) -> Any:
    _need(str, "fromJSON", s)
    try:
        return _json_value(json.loads(s))
    except ValueError as e:
        raise _Fail(f"fromJSON: {e}") from None


def _uniq(v: list[Any]) -> list[Any]:
    out: list[Any] = []
    for x in v:
        if not any(_equal(x, y) for y in out):
            out.append(x)
    return out


def _flatten(v: list[Any]) -> list[Any]:
    return [y for x in v for y in (_flatten(x) if isinstance(x, list) else [x])]


def _sort(v: Any, order: str = "asc") -> list[Any]:
    _need(list, "sort", v)
    return [x for _, x in _sorted([(x, x) for x in v], order == "desc")]


def _get(v: Any, key: Any) -> Any:
    try:
        return _fetch(v, key)
    except _Fail:
        return None


_BUILTINS: dict[str, Callable[..., Any]] = {
    "len": _len, "abs": _abs, "type": _type, "string": _format, "int": _to_int,
    "float": _to_float, "ceil": _round("ceil", math.ceil), "floor": _round("floor", math.floor),
    "round": _round("round", lambda x: math.floor(abs(x) + 0.5) * math.copysign(1, x)),
    "max": lambda *a: _extreme("max", *a), "min": lambda *a: _extreme("min", *a),
    "mean": _mean, "median": _median,
    "trim": _strs("trim", lambda s, c=None: s.strip() if c is None else s.strip(c)),
    "trimPrefix": _strs("trimPrefix", lambda s, p=" ": s.removeprefix(p)),
    "trimSuffix": _strs("trimSuffix", lambda s, p=" ": s.removesuffix(p)),
    "upper": _strs("upper", str.upper), "lower": _strs("lower", str.lower),
    "split": _strs("split", lambda s, d, n=-1: s.split(d, n - 1 if n > 0 else -1)),
    "replace": _strs("replace", lambda s, a, b, n=-1: s.replace(a, b, n)),
    "repeat": _strs("repeat", lambda s, n: s * n),
    "indexOf": _strs("indexOf", lambda s, t: len(s[:s.find(t)].encode()) if t in s else -1),
    "lastIndexOf": _strs("lastIndexOf",
                         lambda s, t: len(s[:s.rfind(t)].encode()) if t in s else -1),
    "hasPrefix": _strs("hasPrefix", str.startswith), "hasSuffix": _strs("hasSuffix",
                                                                        str.endswith),
    "join": lambda v, glue="": _strs("join", lambda *s: glue.join(s))(*v),
    "fromJSON": _from_json,
    "toJSON": lambda v: json.dumps(v, indent=2, sort_keys=True),
    "first": lambda v: _get(v, 0), "last": lambda v: _get(v, -1), "get": _get,
    "take": lambda v, n: v[:max(n, 0)], "reverse": lambda v: list(reversed(v)),
    "keys": lambda m: list(m), "values": lambda m: list(m.values()),
    "uniq": _uniq, "concat": lambda *vs: [x for v in vs for x in v], "flatten": _flatten,
    "sort": _sort,
}
_UNSUPPORTED = {"now", "duration", "date", "timezone", "toBase64", "fromBase64", "toPairs",
                "fromPairs", "splitAfter", "bitand", "bitor", "bitxor", "bitnand", "bitnot",
                "bitshl", "bitshr", "bitushr"}
_NUMERIC = {"max", "min", "mean", "median", "abs", "ceil", "floor", "round"}
# name: (least arguments, most arguments or -1, return type)
_SIGNATURES: dict[str, tuple[int, int, _T]] = {
    "asInt": (1, 1, _INT), "asFloat": (1, 1, _FLOAT), "isNaN": (1, 1, _BOOL),
    "isInf": (1, 1, _BOOL), "isNil": (1, 1, _BOOL), "default": (2, 2, _ANY),
    "len": (1, 1, _INT), "abs": (1, 1, _ANY), "type": (1, 1, _STR), "string": (1, 1, _STR),
    "int": (1, 1, _INT), "float": (1, 1, _FLOAT), "ceil": (1, 1, _FLOAT),
    "floor": (1, 1, _FLOAT), "round": (1, 1, _FLOAT), "max": (1, -1, _ANY),
    "min": (1, -1, _ANY), "mean": (1, -1, _FLOAT), "median": (1, -1, _FLOAT),
    "trim": (1, 2, _STR), "trimPrefix": (1, 2, _STR), "trimSuffix": (1, 2, _STR),
    "upper": (1, 1, _STR), "lower": (1, 1, _STR), "split": (2, 3, _array(_STR)),
    "replace": (3, 4, _STR), "repeat": (2, 2, _STR), "indexOf": (2, 2, _INT),
    "lastIndexOf": (2, 2, _INT), "hasPrefix": (2, 2, _BOOL), "hasSuffix": (2, 2, _BOOL),
    "join": (1, 2, _STR), "fromJSON": (1, 1, _ANY), "toJSON": (1, 1, _STR),
    "first": (1, 1, _ANY), "last": (1, 1, _ANY), "get": (2, 2, _ANY), "take": (2, 2, _ANY),
    "reverse": (1, 1, _ANY), "keys": (1, 1, _array(_ANY)), "values": (1, 1, _array(_ANY)),
    "uniq": (1, 1, _ANY), "concat": (1, -1, _ANY), "flatten": (1, 1, _ANY),
    "sort": (1, 2, _ANY),
}


# ---- entry points ----------------------------------------------------------------------------

def _go_json(value: Any) -> Any:
    """``value`` as Argo holds it: numbers are float64, tuples are slices."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list | tuple):
        return [_go_json(x) for x in value]
    if isinstance(value, dict):
        return {k: _go_json(v) for k, v in value.items()}
    return value


def compile_check(expression: str, result: Any) -> None:
    """Parse and type-check ``expression`` for a ``result`` like this one; raise ExprError."""
    try:
        _check(_parse(expression), _Scope(_nature(_go_json(result)), {}, []))
    except _Fail as e:
        raise ExprError(expression, str(e)) from None


def evaluate(expression: str, result: Any) -> bool:
    """Run an Argo condition against a measurement; ExprError (a ValueError) if it can't."""
    value = _go_json(result)
    try:
        node = _parse(expression)
        _check(node, _Scope(_nature(value), {}, []))
        out = _eval(node, _Ctx(value, {}, []))
    except _Fail as e:
        raise ExprError(expression, str(e)) from None
    except (TypeError, ValueError, OverflowError, RecursionError, AttributeError) as e:
        raise ExprError(expression, f"{type(e).__name__}: {e}") from None
    if not isinstance(out, bool):
        raise ExprError(expression, f"expected bool, but got {_gotype(out)}")
    return out
