"""Istio VirtualService delegation: a root rule's `delegate` expanded into the delegate's rules.

Pure, no I/O. A root VirtualService (with hosts) may hand an HTTP rule to a delegate
VirtualService (no hosts, no gateways) through `delegate: {name, namespace}`. Istio merges each
delegate rule with the root rule: the match blocks are combined (every root block with every
delegate block; a delegate `uri` must lie inside the root's, conflicting fields drop that
combination), and every other field the delegate leaves unset (`rewrite`, `timeout`, `retries`,
`headers`, …) comes from the root. Destinations in a delegate are resolved in the delegate's
namespace. A delegate that does not exist, or that delegates again, contributes no route.
"""

from __future__ import annotations

from collections.abc import Iterable

from turnout.types import Obj

_ROOT_ONLY = ("match", "delegate", "name")


def find(virtual_services: Iterable[Obj], ref: Obj, root_namespace: str) -> Obj | None:
    """The delegate VirtualService a root rule's `delegate` names (hostless), or None."""
    name = str(ref.get("name") or "")
    ns = str(ref.get("namespace") or root_namespace)
    for vs in virtual_services:
        meta = vs.get("metadata") or {}
        if meta.get("name") == name and (meta.get("namespace") or "default") == ns:
            if (vs.get("spec") or {}).get("hosts"):
                return None  # a VirtualService with hosts is a root, never a delegate
            return vs
    return None


def _uri_inside(root: Obj, child: Obj) -> bool:
    """Whether the delegate's uri match selects a subset of the root's."""
    if "prefix" in root:
        prefix = str(root["prefix"])
        for kind in ("prefix", "exact"):
            if kind in child:
                return str(child[kind]).startswith(prefix)
        return False
    return root == child


def merge_match(root: Obj, child: Obj) -> Obj | None:
    """One combined match block, or None when the two conflict."""
    out = dict(root)
    for key, value in child.items():
        if key == "gateways":
            continue  # a delegate binds no gateways: the root's decide
        if key not in out:
            out[key] = value
        elif key == "uri":
            if not isinstance(value, dict) or not _uri_inside(dict(out["uri"]), value):
                return None
            out["uri"] = value
        elif key in ("headers", "withoutHeaders", "queryParams"):
            merged = dict(out[key])
            for h, m in dict(value).items():
                if h in merged and merged[h] != m:
                    return None
                merged[h] = m
            out[key] = merged
        elif out[key] != value:
            return None
    return out


def merge_matches(root: list[Obj], child: list[Obj]) -> list[Obj] | None:
    """All combinations; None when the rule cannot match at all (every pair conflicts)."""
    if not root:
        return child or []
    if not child:
        return root
    out = [m for r in root for c in child if (m := merge_match(r, c)) is not None]
    return out or None


def expand(root_rule: Obj, delegate_vs: Obj) -> list[Obj]:
    """The delegate's HTTP rules merged with the root rule, in the delegate's order."""
    out: list[Obj] = []
    root_matches = [m for m in root_rule.get("match") or [] if isinstance(m, dict)]
    for rule in (delegate_vs.get("spec") or {}).get("http") or []:
        if not isinstance(rule, dict) or rule.get("delegate"):
            continue  # delegation is one level deep in Istio
        matches = merge_matches(root_matches,
                                [m for m in rule.get("match") or [] if isinstance(m, dict)])
        if matches is None:
            continue
        merged = dict(rule)
        for key, value in root_rule.items():
            if key not in _ROOT_ONLY and key not in merged:
                merged[key] = value
        if matches:
            merged["match"] = matches
        else:
            merged.pop("match", None)
        out.append(merged)
    return out
