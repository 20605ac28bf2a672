"""RE2, the regex dialect Envoy and Istio use, for validation and simulation (no stderr noise)."""

from __future__ import annotations

import functools
from typing import Any

import re2

MAX_REGEX = 1024
MAX_PROGRAM_SIZE = 32768
"""RE2 program size Envoy accepts: Istio's `re2.max_program_size.error_level`, set in Envoy's
bootstrap runtime (Envoy's own default, 100, refuses a UUID pattern)."""


def _options() -> Any:
    opts = re2.Options()
    opts.log_errors = False
    return opts


def error(pattern: str) -> str | None:
    """Why `pattern` is not a valid RE2 regex, or None."""
    if len(pattern) > MAX_REGEX:
        return f"regex is longer than {MAX_REGEX} characters"
    try:
        size = re2.compile(pattern, _options()).programsize
    except re2.error as exc:
        msg = exc.args[0] if exc.args else exc
        return "invalid RE2 regex: " + (msg.decode() if isinstance(msg, bytes) else str(msg))
    if size > MAX_PROGRAM_SIZE:
        return (f"regex program size {size} is above the limit {MAX_PROGRAM_SIZE} "
                "(re2.max_program_size.error_level)")
    return None


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern, _options())


def fullmatch(pattern: str, text: str) -> bool:
    """Envoy `safe_regex` semantics: the whole value must match. Invalid patterns match nothing."""
    try:
        return _compiled(pattern).fullmatch(text) is not None
    except re2.error:
        return False


def sub(pattern: str, replacement: str, text: str) -> str:
    """Envoy `regex_rewrite`: replace every match; `\\1` refers to capture groups."""
    try:
        return str(_compiled(pattern).sub(replacement, text))
    except re2.error:
        return text
