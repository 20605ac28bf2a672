"""`kubectl get canary` (and -o wide) with and without Flagger's CRD applied."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from turnout.kube import tables
from turnout.kube.resources import FLAGGER_COLUMNS, Registry, ResourceType, type_from_crd
from turnout.types import Obj

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
CANARY: Obj = {"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
               "metadata": {"name": "podinfo", "namespace": "test",
                            "creationTimestamp": "2026-07-01T11:55:00Z"},
               "spec": {"analysis": {"interval": "15s", "stepWeight": 10, "maxWeight": 30}},
               "status": {"phase": "Progressing", "canaryWeight": 10, "failedChecks": 1,
                          "lastTransitionTime": "2026-07-01T11:59:30Z"}}
# artifacts/flagger/crd.yaml (fluxcd/flagger), the Canary version's printer columns
CRD: Obj = {"metadata": {"name": "canaries.flagger.app"},
            "spec": {"group": "flagger.app", "scope": "Namespaced",
                     "names": {"kind": "Canary", "plural": "canaries", "categories": ["all"]},
                     "versions": [{"name": "v1beta1", "served": True, "storage": True,
                                   "subresources": {"status": {}},
                                   "additionalPrinterColumns": list(
                                       FLAGGER_COLUMNS["Canary"])}]}}


def served(plural: str) -> ResourceType:
    """The type turnout serves before any CRD is applied."""
    r = Registry().by_key(f"{plural}.flagger.app")
    assert r is not None
    return r


def table(r: ResourceType) -> tuple[list[str], list[str], list[Any]]:
    t = tables.table(r, [CANARY], now=NOW)
    names = [c["name"].upper() for c in t["columnDefinitions"]]
    narrow = [c["name"].upper() for c in t["columnDefinitions"] if c["priority"] == 0]
    return narrow, names, list(t["rows"][0]["cells"])


def test_canary_columns_without_the_crd() -> None:
    r = served("canaries")
    narrow, wide, cells = table(r)
    assert narrow == ["NAME", "STATUS", "WEIGHT", "LASTTRANSITIONTIME"]
    assert wide == ["NAME", "STATUS", "WEIGHT", "SUSPENDED", "FAILEDCHECKS", "INTERVAL",
                    "MIRROR", "STEPWEIGHT", "STEPWEIGHTS", "MAXWEIGHT", "LASTTRANSITIONTIME"]
    assert cells == ["podinfo", "Progressing", "10", None, "1", "15s", None, "10", None, "30",
                     "2026-07-01T11:59:30Z"]


def test_canary_columns_with_flaggers_crd_are_the_same() -> None:
    r = type_from_crd(CRD)
    assert r is not None
    builtin = served("canaries")
    assert table(r) == table(builtin)


def test_metric_template_column() -> None:
    r = served("metrictemplates")
    t = tables.table(r, [{"metadata": {"name": "latency", "namespace": "istio-system"},
                          "spec": {"provider": {"type": "prometheus"}}}], now=NOW)
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Provider"]
    assert t["rows"][0]["cells"] == ["latency", "prometheus"]
