"""`meta.k8s.io/v1` Tables: what the API answers when kubectl asks `Accept: …;as=Table`.

kubectl does not format objects itself for `kubectl get`: it prints the Table the server sends.
This module assembles that Table (columns, one row per object, each row's embedded object per
`includeObject`), for lists and for single watch events. Per-kind columns and cells live in
`turnout.kube.printers`. Pure, no I/O.

Watch (`kubectl get -w`): the real server converts every watch event's object into a Table with
one row, and sends `columnDefinitions` only in the first event of a watch stream (later events
carry `null`; kubectl reuses the columns it has). `watch_table(..., first=...)` does the same;
the API layer passes `first=True` for the first event of each stream.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime, timedelta

from turnout.kube.errors import bad_request
from turnout.kube.printers import Printer, printer_for
from turnout.kube.printers.common import human_duration as _human_duration
from turnout.kube.resources import ResourceType
from turnout.types import Obj

INCLUDE_OBJECT = ("None", "Metadata", "Object")


def human_duration(d: timedelta) -> str:
    """apimachinery's `duration.HumanDuration` (`45s`, `119s`, `2m30s`, `3h5m`, `9d`, `2y30d`)."""
    return _human_duration(d)


def columns(rt: ResourceType) -> list[Obj]:
    """The column definitions for this type (priority 1 columns show only with `-o wide`)."""
    return [dict(c) for c in printer_for(rt).columns]


def _embedded(obj: Obj, include_object: str) -> Obj | None:
    if include_object == "Object":
        return copy.deepcopy(obj)
    if include_object in ("Metadata", ""):
        return {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": copy.deepcopy(obj.get("metadata") or {}),
        }
    return None


def _check(include_object: str) -> None:
    if include_object not in (*INCLUDE_OBJECT, ""):
        raise bad_request(f'unrecognized includeObject value: "{include_object}"')


def row(printer: Printer, obj: Obj, *, now: datetime, include_object: str = "Metadata") -> Obj:
    """One `TableRow`: cells, conditions (only when set), and the embedded object."""
    out: Obj = {"cells": printer.row(obj, now)}
    if printer.conditions is not None:
        conds = printer.conditions(obj)
        if conds:
            out["conditions"] = conds
    out["object"] = _embedded(obj, include_object)
    return out


def table(rt: ResourceType, objs: Iterable[Obj], *, now: datetime,
          include_object: str = "Metadata", resource_version: str = "",
          continue_token: str = "", remaining_item_count: int | None = None) -> Obj:
    """The Table for a LIST (or a GET of one object: pass a one-element list).

    Raises ApiError 400 for an `includeObject` value other than None, Metadata or Object.
    """
    _check(include_object)
    printer = printer_for(rt)
    metadata: Obj = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining_item_count is not None:
        metadata["remainingItemCount"] = remaining_item_count
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [dict(c) for c in printer.columns],
        "rows": [row(printer, o, now=now, include_object=include_object) for o in objs],
    }


def watch_table(rt: ResourceType, obj: Obj, *, now: datetime, first: bool,
                include_object: str = "Metadata") -> Obj:
    """The `object` of one watch event as a one-row Table; columns only when `first`.

    Its resourceVersion is the object's own, as the real server's single-object tables carry.
    """
    t = table(rt, [obj], now=now, include_object=include_object,
              resource_version=str((obj.get("metadata") or {}).get("resourceVersion") or ""))
    if not first:
        t["columnDefinitions"] = None
    return t


__all__ = ["INCLUDE_OBJECT", "columns", "human_duration", "row", "table", "watch_table"]
