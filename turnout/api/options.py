"""Request options of the write and log verbs, read and checked as kube-apiserver does.

Each malformed value is a 4xx naming its parameter: 400 BadRequest when it does not parse, 422
Invalid on `DeleteOptions`/`PatchOptions`/`CreateOptions`/`PodLogOptions` when it parses but is not
allowed — never an exception that becomes a 500.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from turnout.kube import errors
from turnout.kube.errors import Cause
from turnout.kube.listoptions import parse_bool, parse_int
from turnout.store.objects import DeleteOptions

FIELD_MANAGER_MAX = 128
PROPAGATION = ("Foreground", "Background", "Orphan")
FIELD_VALIDATION = ("Ignore", "Warn", "Strict")
_PRINTABLE = re.compile(r"^[\x20-\x7e\u00a0-\U0010ffff]*$")


def _invalid(kind: str, name: str, causes: list[Cause]) -> errors.ApiError:
    return errors.invalid(kind, "meta.k8s.io" if kind.endswith("Options") and
                          kind != "PodLogOptions" else "", name, causes)


def _unsupported(field: str, value: object, allowed: tuple[str, ...]) -> Cause:
    listed = ", ".join(f'"{a}"' for a in allowed)
    return Cause(field, f'Unsupported value: "{value}": supported values: {listed}',
                 "FieldValueNotSupported")


@dataclass(frozen=True)
class WriteOptions:
    """What create, update and patch share: dryRun, fieldManager, fieldValidation, force."""

    dry_run: bool
    field_manager: str
    strict: bool
    force: bool
    warn: bool = True
    """fieldValidation=Warn (the default): dropped unknown fields come back as warnings."""


def write_options(q: Mapping[str, str], user_agent: str, *, kind: str,
                  apply: bool = False) -> WriteOptions:
    causes: list[Cause] = []
    dry = q.get("dryRun", "")
    if dry and dry != "All":
        causes.append(_unsupported("dryRun", dry, ("All",)))
    manager = q.get("fieldManager", "")
    if len(manager) > FIELD_MANAGER_MAX:
        causes.append(Cause("fieldManager", f"Too long: may not be more than {FIELD_MANAGER_MAX} "
                            "bytes", "FieldValueTooLong"))
    elif not _PRINTABLE.match(manager):
        causes.append(Cause("fieldManager", f'Invalid value: "{manager}": must only contain '
                            "printable characters"))
    force = parse_bool(q, "force")
    if apply and not manager:
        causes.append(Cause("fieldManager", "Required value: is required for apply patch",
                            "FieldValueRequired"))
    if force and not apply:
        causes.append(Cause("force", "Forbidden: may not be specified for non-apply patch",
                            "FieldValueForbidden"))
    validation = q.get("fieldValidation", "")
    if validation and validation not in FIELD_VALIDATION:
        raise errors.bad_request(f'fieldValidation: Unsupported value: "{validation}": '
                                 'supported values: "Ignore", "Warn", "Strict"')
    if causes:
        raise _invalid(kind, "", causes)
    if not manager:
        # kube-apiserver names a manager without fieldManager after the User-Agent's program
        manager = user_agent.split("/", 1)[0][:FIELD_MANAGER_MAX] or "unknown"
    return WriteOptions(dry_run=dry == "All", field_manager=manager, strict=validation == "Strict",
                        force=force, warn=validation != "Ignore")


def delete_options(body: Any, q: Mapping[str, str]) -> DeleteOptions:
    """DeleteOptions from the body (JSON or protobuf, already decoded) and the query."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise errors.bad_request("the body of a delete request must be a DeleteOptions object")
    causes: list[Cause] = []
    grace: int | None
    if "gracePeriodSeconds" in body and body["gracePeriodSeconds"] is not None:
        raw = body["gracePeriodSeconds"]
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise errors.bad_request(f"gracePeriodSeconds: Invalid value: {raw!r}: "
                                     "must be an integer")
        grace = raw
    else:
        grace = parse_int(q, "gracePeriodSeconds")
    if grace is not None and grace < 0:
        grace = 1  # as kube-apiserver: a negative grace period means "as soon as possible"
    policy = body.get("propagationPolicy") or q.get("propagationPolicy") or ""
    if not isinstance(policy, str):
        raise errors.bad_request(f"propagationPolicy: Invalid value: {policy!r}: "
                                 "must be a string")
    if policy and policy not in PROPAGATION:
        causes.append(_unsupported("propagationPolicy", policy, (*PROPAGATION, "nil")))
    orphan = body.get("orphanDependents")
    if orphan is None and q.get("orphanDependents"):
        orphan = parse_bool(q, "orphanDependents")
    if orphan is not None and not isinstance(orphan, bool):
        raise errors.bad_request(f"orphanDependents: Invalid value: {orphan!r}: "
                                 "must be a boolean")
    if orphan is not None and policy:
        causes.append(Cause("propagationPolicy", "Invalid value: "
                            f'"{policy}": orphanDependents and deletionPropagation cannot be '
                            "both set"))
    dry = body.get("dryRun") or ([q["dryRun"]] if q.get("dryRun") else [])
    if not isinstance(dry, list) or any(d != "All" for d in dry):
        causes.append(_unsupported("dryRun", dry, ("All",)))
    pre = body.get("preconditions") or {}
    if not isinstance(pre, dict) or any(v is not None and not isinstance(v, str)
                                        for v in pre.values()):
        raise errors.bad_request("preconditions: Invalid value: must be an object of strings")
    if causes:
        raise _invalid("DeleteOptions", "", causes)
    return DeleteOptions(
        propagation=policy or ("Orphan" if orphan else "Background"),
        grace_seconds=grace, precondition_uid=pre.get("uid"),
        precondition_rv=pre.get("resourceVersion"), dry_run=bool(dry))


@dataclass(frozen=True)
class LogOptions:
    container: str
    follow: bool
    previous: bool
    timestamps: bool
    tail: int | None
    since_seconds: int | None
    limit_bytes: int | None


def log_options(q: Mapping[str, str], pod: str) -> LogOptions:
    opts = LogOptions(container=q.get("container", ""), follow=parse_bool(q, "follow"),
                      previous=parse_bool(q, "previous"), timestamps=parse_bool(q, "timestamps"),
                      tail=parse_int(q, "tailLines"), since_seconds=parse_int(q, "sinceSeconds"),
                      limit_bytes=parse_int(q, "limitBytes"))
    causes: list[Cause] = []
    if opts.tail is not None and opts.tail < 0:
        causes.append(Cause("tailLines", f"Invalid value: {opts.tail}: must be greater than or "
                            "equal to 0"))
    if opts.limit_bytes is not None and opts.limit_bytes < 1:
        causes.append(Cause("limitBytes", f"Invalid value: {opts.limit_bytes}: must be greater "
                            "than 0"))
    if opts.since_seconds is not None:
        if opts.since_seconds < 1:
            causes.append(Cause("sinceSeconds", f"Invalid value: {opts.since_seconds}: must be "
                                "greater than 0"))
        if q.get("sinceTime"):
            causes.append(Cause("", "at most one of `sinceTime` or `sinceSeconds` may be "
                                "specified", "FieldValueForbidden"))
    if causes:
        raise errors.invalid("PodLogOptions", "", pod, causes)
    since_time = q.get("sinceTime", "")
    if since_time:
        # a metav1.Time query parameter: RFC 3339, else the parameter codec's 400
        try:
            when = datetime.fromisoformat(since_time.replace("Z", "+00:00"))
            if when.tzinfo is None or not _RFC3339.match(since_time):
                raise ValueError(since_time)
        except ValueError:
            raise errors.bad_request(
                f'parsing time "{since_time}" as "2006-01-02T15:04:05Z07:00": cannot parse '
                f'"{since_time}" as "2006"') from None
        age = (datetime.now(UTC) - when).total_seconds()
        opts = replace(opts, since_seconds=max(1, math.ceil(age)))
    return opts


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
