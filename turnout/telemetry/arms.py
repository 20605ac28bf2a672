"""The arms of a service's telemetry: one per revision, named for people.

A request a pod answered belongs to that pod's revision (`dest_revision`, the pod template's
hash, as `turnout.kube.identity` finds it); a pod with no template hash (a bare pod, or a row
stored before revisions were) counts under its version name. Versions only *name* arms: an arm's
label is its version name when no other arm of the service carries that name, else
`<version>@<revision>` (one word, so a table at 80 columns keeps it on one line); a revision
without a version label is named by its hash. Requests no
pod answered (`503 UH`, no healthy upstream, an unknown address) belong to no arm: they are the
service's errors, never a baseline.

A user names an arm by its label, its revision or (when only one arm carries it) its version name.

Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from turnout.kube.errors import bad_request

ARM_SQL = "coalesce(nullif(dest_revision, ''), dest_version)"
"""The arm key of a stored request: its revision, else its version name."""
ANSWERED_SQL = "coalesce(dest_pod, '') <> ''"
"""True for a request a known pod answered (it has an arm)."""


@dataclass(frozen=True)
class Arm:
    key: str
    """The revision, or the version name of a pod without one."""
    name: str
    """The version name people gave it (the revision when they gave none)."""
    revision: str
    label: str
    """Unique among the service's arms: what tables, charts and the JSON API call it."""
    first_seen: float
    last_seen: float


def label(name: str, revision: str, shared: bool) -> str:
    if not shared or not revision or name == revision:
        return name
    return f"{name}@{revision}"


def arms_of(rows: Iterable[tuple[str, str, str, float, float]]) -> list[Arm]:
    """(key, version name, revision, first seen, last seen) per arm → labelled arms, in the
    order given."""
    rows = list(rows)
    names = Counter(name for _, name, _, _, _ in rows)
    return [Arm(key, name, revision, label(name, revision, names[name] > 1), first, last)
            for key, name, revision, first, last in rows]


def resolve(arms: Sequence[Arm], text: str) -> Arm:
    """The arm `text` names: a label, a revision, or a version name only one arm carries."""
    for field in ("label", "key", "revision"):
        found = [a for a in arms if getattr(a, field) == text]
        if len(found) == 1:
            return found[0]
    named = [a for a in arms if a.name == text]
    if len(named) == 1:
        return named[0]
    if named:
        raise bad_request(f"version {text!r} names {len(named)} revisions: "
                          f"{', '.join(a.revision or a.key for a in named)}; pass one of them")
    raise bad_request(f"no requests recorded for version {text!r} (known: "
                      f"{', '.join(a.label for a in arms) or 'none'})")


def deployment_order(arms: Sequence[Arm], deployed: Mapping[str, float]) -> list[Arm]:
    """Oldest first by when each arm's newest pod was created (`deployed`, by arm key), else by
    its first request."""
    def when(a: Arm) -> tuple[float, str]:
        return deployed.get(a.key) or a.first_seen, a.key
    return sorted(arms, key=when)


def pick(order: Sequence[Arm], baseline: str | None,
         candidate: str | None) -> tuple[Arm, Arm]:
    """The pair to compare; by default the candidate is the arm deployed last, the baseline the
    one before it (`order`: oldest first)."""
    b = resolve(order, baseline) if baseline is not None else None
    c = resolve(order, candidate) if candidate is not None else None
    if c is None:
        rest = [a for a in order if a != b]
        if not rest:
            raise bad_request("need two versions to compare")
        c = rest[-1]
    if b is None:
        before = list(order[: order.index(c)])
        rest = [a for a in order if a != c]
        if not rest:
            raise bad_request("need two versions to compare")
        b = before[-1] if before else rest[-1]
    if b == c:
        raise bad_request(f"baseline and candidate are both {b.label!r}")
    return b, c
