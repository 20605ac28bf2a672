"""The admission chain every write goes through, built with the store.

One chain per `Objects`, fixed when it is constructed, so every entry point (the API server,
the controllers, the CLI, a test building a bare store) refuses exactly the same objects: schema
decoding, Kubernetes validation, then the validating webhooks turnout stands in for (Istio's
VirtualService and DestinationRule checks). Nothing is registered at import time.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from turnout.kube import errors, validation
from turnout.kube.resources import ISTIO_NET, ResourceType
from turnout.mesh import validation as mesh_validation
from turnout.types import Obj

Validator = Callable[[Obj], list[errors.Cause]]
log = logging.getLogger("turnout.admission")
UNREADABLE = Counter[str]()
"""Objects a validating webhook could not read (a shape it did not expect), by kind."""


def _guarded(check: Validator, obj: Obj, kind: str) -> list[errors.Cause]:
    """A webhook's causes; a shape it cannot read is a 422 on `spec`, never a 500 (a schema
    check would name the exact field; until then the error names what could not be read)."""
    try:
        return check(obj)
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as e:
        UNREADABLE[kind] += 1
        log.warning("admission: %s %s/%s has a shape the %s check cannot read: %s", kind,
                    obj.get("metadata", {}).get("namespace"),
                    obj.get("metadata", {}).get("name"), check.__name__, e)
        return [errors.Cause("spec", f"Invalid value: a field under spec has the wrong type "
                                     f"({type(e).__name__}: {e})", "FieldValueInvalid")]


def webhooks() -> dict[str, tuple[Validator, ...]]:
    """The validating webhooks of a turnout cluster, by storage key (istiod's for Istio)."""
    return {
        f"virtualservices.{ISTIO_NET}": (mesh_validation.validate_virtual_service,),
        f"destinationrules.{ISTIO_NET}": (mesh_validation.validate_destination_rule,),
    }


@dataclass(frozen=True)
class Admission:
    by_key: Mapping[str, tuple[Validator, ...]] = field(default_factory=webhooks)

    def validate(self, rt: ResourceType, obj: Obj, *, strict: bool,
                 old: Obj | None = None) -> None:
        """Raise 400/422 as kube-apiserver would for `obj` (the object after defaulting)."""
        if rt.builtin:
            err = validation.decode_errors(obj, rt.group, rt.kind, strict)
            if err is not None:
                raise err
        causes = validation.validate(obj, rt.group, rt.kind, strict=strict, old=old)
        for check in self.by_key.get(rt.key, ()):
            causes += _guarded(check, obj, rt.kind)
        if causes:
            raise errors.invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), causes)

    def with_validators(self, key: str, *extra: Validator) -> Admission:
        """A chain with more validators for one kind (tests, embedders)."""
        merged = dict(self.by_key)
        merged[key] = (*merged.get(key, ()), *extra)
        return Admission(merged)
