"""API errors in the shape a real Kubernetes API server returns (`Status` objects).

Every failure the API reports is an `ApiError`; `status()` renders it exactly as kubectl and the
Python client expect, so they print `Error from server (Reason): message`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from turnout.types import Obj


@dataclass
class Cause:
    """One field-level problem, as in `details.causes` of a 422 Invalid."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def to_json(self) -> Obj:
        out: Obj = {"reason": self.reason, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


@dataclass
class ApiError(Exception):
    """An error the API answers with a `Status` body."""

    code: int
    reason: str
    message: str
    kind: str = ""
    name: str = ""
    group: str = ""
    causes: list[Cause] = field(default_factory=list)
    retry_after: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    """Status.metadata (a fresh `continue` token on an expired one)."""

    def __str__(self) -> str:
        return self.message

    def status(self) -> Obj:
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.to_json() for c in self.causes]
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        out: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": dict(self.metadata),
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            out["reason"] = self.reason
        if details:
            out["details"] = details
        out["code"] = self.code
        return out

    def body(self) -> bytes:
        """The response body, byte for byte as kube-apiserver writes it."""
        return encode(self.status())


def encode(obj: object) -> bytes:
    """JSON as Go's encoding/json writes it: compact, UTF-8, `<`, `>`, `&` escaped, then a
    newline (the Python client's e2e tests compare whole error bodies)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (text + "\n").encode()


def _qualified(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{_qualified(plural, group)} "{name}" not found',
                    kind=plural, name=name, group=group)


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{_qualified(plural, group)} "{name}" already exists',
                    kind=plural, name=name, group=group)


def conflict(plural: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        409, "Conflict",
        f'Operation cannot be fulfilled on {_qualified(plural, group)} "{name}": {why}',
        kind=plural, name=name, group=group)


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> ApiError:
    """422 Invalid, message formatted like the real server's aggregate of field errors."""
    parts = [f"{c.field}: {c.message}" if c.field else c.message for c in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    what = f"{kind}.{group}" if group else kind
    return ApiError(422, "Invalid", f'{what} "{name}" is invalid: {joined}',
                    kind=kind, name=name, group=group, causes=causes)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def method_not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(message: str) -> ApiError:
    return ApiError(403, "Forbidden", message)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType",
                    f'the body of the request was in an unknown format - accepted media types '
                    f'include: application/json-patch+json, application/merge-patch+json, '
                    f'application/apply-patch+yaml, application/strategic-merge-patch+json '
                    f'(got "{content_type}")')


def invalid_param(name: str, value: str, why: str) -> ApiError:
    """400 for a query parameter that does not parse, worded like the server's decoder errors
    for resourceVersion (`field: Invalid value: "x": why`), so the message names the field."""
    return bad_request(f"{name}: Invalid value: {json.dumps(value)}: {why}")


def too_large(limit: int) -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")
