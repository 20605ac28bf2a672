"""List and watch query parameters as kube-apiserver reads and checks them (pure, no I/O).

Every parameter that does not parse is a 400 naming it; combinations the real server forbids
(`sendInitialEvents` without `resourceVersionMatch=NotOlderThan`, ...) are a 422 on
`ListOptions.meta.k8s.io` with the same field errors. Continue tokens have the real server's
format (unpadded base64url of `{"v":"meta.k8s.io/v1","rv":N,"start":"<next key>"}`), so a client
that decodes them (some do, to log) sees what it would see against kube-apiserver.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass

from turnout.kube import errors
from turnout.kube.errors import Cause

MIN_REQUEST_TIMEOUT = 1800
"""kube-apiserver's --min-request-timeout default (seconds)."""
NOT_OLDER_THAN = "NotOlderThan"
EXACT = "Exact"
TOKEN_VERSION = "meta.k8s.io/v1"
TRUE_WORDS = ("1", "t", "T", "TRUE", "true", "True")
CONTINUE_FORBIDDEN = "resourceVersionMatch is forbidden when continue is provided"
FALSE_WORDS = ("0", "f", "F", "FALSE", "false", "False")


def parse_bool(q: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A boolean query parameter as Go's strconv.ParseBool reads it; empty = default."""
    raw = q.get(name)
    if raw is None or raw == "":
        return default
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise errors.invalid_param(name, raw, f'strconv.ParseBool: parsing "{raw}": invalid syntax')


def parse_int(q: Mapping[str, str], name: str, minimum: int | None = None) -> int | None:
    """An int64 query parameter as strconv.ParseInt reads it; absent or empty = None."""
    raw = q.get(name)
    if raw is None or raw == "":
        return None
    body = raw[1:] if raw[:1] in "+-" else raw
    if not body.isascii() or not body.isdigit():
        raise errors.invalid_param(name, raw, f'strconv.ParseInt: parsing "{raw}": invalid syntax')
    value = int(raw)
    if not -(2 ** 63) <= value < 2 ** 63:
        raise errors.invalid_param(name, raw,
                                   f'strconv.ParseInt: parsing "{raw}": value out of range')
    if minimum is not None and value < minimum:
        raise errors.invalid_param(name, raw, f"must be greater than or equal to {minimum}")
    return value


def parse_resource_version(raw: str, name: str = "resourceVersion") -> int | None:
    """A resourceVersion: "" and "0" mean "any" (None); otherwise a uint64."""
    if raw in ("", "0"):
        return None
    if not raw.isascii() or not raw.isdigit():
        raise errors.invalid_param(name, raw, f'strconv.ParseUint: parsing "{raw}": invalid syntax')
    return int(raw)


@dataclass(frozen=True)
class ListOptions:
    label_selector: str = ""
    field_selector: str = ""
    resource_version: str = ""
    resource_version_match: str = ""
    limit: int = 0
    continue_token: str = ""
    watch: bool = False
    allow_bookmarks: bool = False
    send_initial_events: bool | None = None
    timeout_seconds: int | None = None

    @property
    def rv(self) -> int | None:
        return parse_resource_version(self.resource_version)


def parse(q: Mapping[str, str]) -> ListOptions:
    """The ListOptions of a list or watch request; raises 400 / 422 like kube-apiserver."""
    sie = q.get("sendInitialEvents")
    opts = ListOptions(
        label_selector=q.get("labelSelector", ""),
        field_selector=q.get("fieldSelector", ""),
        resource_version=q.get("resourceVersion", ""),
        resource_version_match=q.get("resourceVersionMatch", ""),
        limit=max(0, parse_int(q, "limit") or 0),
        continue_token=q.get("continue", ""),
        watch=parse_bool(q, "watch"),
        allow_bookmarks=parse_bool(q, "allowWatchBookmarks"),
        send_initial_events=None if not sie else parse_bool(q, "sendInitialEvents"),
        timeout_seconds=parse_int(q, "timeoutSeconds"),
    )
    opts.rv  # noqa: B018 - parses (400 on a malformed resourceVersion)
    causes = validate(opts)
    if causes:
        raise errors.invalid("ListOptions", "meta.k8s.io", "", causes)
    return opts


def _forbidden(field: str, why: str) -> Cause:
    return Cause(field, f"Forbidden: {why}", "FieldValueForbidden")


def _not_supported(field: str, value: str, allowed: tuple[str, ...]) -> Cause:
    listed = ", ".join(f'"{a}"' for a in allowed)
    return Cause(field, f'Unsupported value: "{value}": supported values: {listed}',
                 "FieldValueNotSupported")


def validate(o: ListOptions) -> list[Cause]:
    """The field errors of apimachinery's ValidateListOptions (WatchList enabled)."""
    out: list[Cause] = []
    match = o.resource_version_match
    if o.watch:
        if o.send_initial_events is not None and match != NOT_OLDER_THAN:
            out.append(_forbidden("resourceVersionMatch", "sendInitialEvents requires setting "
                                  f"resourceVersionMatch to {NOT_OLDER_THAN}"))
        if match:
            if o.send_initial_events is None:
                out.append(_forbidden("resourceVersionMatch", "resourceVersionMatch is "
                                      "forbidden for watch unless sendInitialEvents is provided"))
            if match != NOT_OLDER_THAN:
                out.append(_not_supported("resourceVersionMatch", match, (NOT_OLDER_THAN,)))
            if o.continue_token:
                out.append(_forbidden("resourceVersionMatch", CONTINUE_FORBIDDEN))
        return out
    if match:
        if not o.resource_version:
            out.append(_forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden "
                                  "unless resourceVersion is provided"))
        if o.continue_token:
            out.append(_forbidden("resourceVersionMatch", CONTINUE_FORBIDDEN))
        if match not in (EXACT, NOT_OLDER_THAN):
            out.append(_not_supported("resourceVersionMatch", match, (EXACT, NOT_OLDER_THAN, "")))
        if match == EXACT and o.resource_version == "0":
            out.append(_forbidden("resourceVersionMatch", 'resourceVersionMatch "exact" is '
                                  'forbidden for resourceVersion "0"'))
    if o.send_initial_events is not None:
        out.append(_forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    return out


def watch_timeout(o: ListOptions, rng: random.Random | None = None) -> float:
    """Seconds a watch stays open: timeoutSeconds, else minRequestTimeout × (1 + U[0,1))."""
    if o.timeout_seconds:
        return float(max(0, o.timeout_seconds))
    return MIN_REQUEST_TIMEOUT * (1 + (rng or random).random())


# --- continue tokens ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Continue:
    rv: int
    """The resourceVersion of the list's snapshot; -1 = continue on the latest state."""
    start: str
    """The key the next page starts at (inclusive)."""


def encode_continue(rv: int, start: str) -> str:
    raw = json.dumps({"v": TOKEN_VERSION, "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> Continue:
    def bad(why: str) -> errors.ApiError:
        return errors.invalid_param("continue", token, f"continue key is not valid: {why}")

    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError) as e:
        raise bad(str(e)) from e
    if not isinstance(data, dict) or data.get("v") != TOKEN_VERSION:
        raise bad("continue key is not supported by this server")
    rv, start = data.get("rv"), data.get("start")
    if not isinstance(rv, int) or isinstance(rv, bool) or not isinstance(start, str):
        raise bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    if rv == 0 or rv < -1:
        raise bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    if not start or start.startswith("/") or ".." in start.split("/"):
        raise bad("continue key is not valid")
    return Continue(rv, start)


EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list.")


def expired_continue(start: str) -> errors.ApiError:
    """410 Expired for a token whose snapshot is gone, carrying a token that continues on the
    latest state (rv -1), as etcd3's store answers."""
    err = errors.gone(EXPIRED_CONTINUE)
    err.metadata = {"continue": encode_continue(-1, start)}
    return err


def too_large_rv(rv: int, current: int) -> errors.ApiError:
    """504 for a resourceVersion newer than any the server has (the cacher's answer)."""
    return errors.ApiError(504, "Timeout", f"Too large resource version: {rv}, current: {current}",
                           causes=[Cause("", "Too large resource version",
                                         "ResourceVersionTooLarge")], retry_after=1)


def object_key(namespace: str, name: str) -> str:
    """An object's key in list order (namespace, then name)."""
    return f"{namespace}/{name}" if namespace else name
