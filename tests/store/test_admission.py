"""One admission chain, built with the store: no entry point stores what another refuses."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from turnout.kube import errors
from turnout.kube.resources import Registry
from turnout.store.admission import Admission
from turnout.store.db import Store
from turnout.store.objects import Objects

BAD_VS = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
          "metadata": {"name": "v"},
          "spec": {"hosts": ["web"], "http": [{"route": [{"destination": {"host": "web"},
                                                          "weight": -5}]}]}}


def test_a_bare_store_refuses_an_invalid_virtual_service_without_the_server_imported() -> None:
    code = f"BAD_VS = {BAD_VS!r}\n" + textwrap.dedent("""
        import sys
        from turnout.kube import errors
        from turnout.kube.resources import Registry
        from turnout.store.db import Store
        from turnout.store.objects import Objects
        o = Objects(Store(None), Registry())
        ns = o.registry.by_key("namespaces")
        o.create(ns, "", {"metadata": {"name": "default"}})
        vs = o.registry.by_key("virtualservices.networking.istio.io")
        try:
            o.create(vs, "default", BAD_VS)
        except errors.ApiError as e:
            assert e.code == 422 and "weight" in e.message, e.message
        else:
            raise SystemExit("stored an invalid VirtualService")
        assert "turnout.cluster.server" not in sys.modules
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_chain_is_fixed_per_store() -> None:
    def no_x(obj: dict) -> list[errors.Cause]:
        return [errors.Cause("data.x", "Forbidden: no x")] if "x" in obj.get("data", {}) else []

    strict = Objects(Store(None), Registry(),
                     admission=Admission().with_validators("configmaps", no_x))
    plain = Objects(Store(None), Registry())
    for o in (strict, plain):
        ns = o.registry.by_key("namespaces")
        assert ns is not None
        o.create(ns, "", {"metadata": {"name": "default"}})
    cm = strict.registry.by_key("configmaps")
    assert cm is not None
    with pytest.raises(errors.ApiError) as e:
        strict.create(cm, "default", {"metadata": {"name": "c"}, "data": {"x": "1"}})
    assert "data.x" in e.value.message
    plain.create(cm, "default", {"metadata": {"name": "c"}, "data": {"x": "1"}})
    vs = plain.registry.by_key("virtualservices.networking.istio.io")
    assert vs is not None
    with pytest.raises(errors.ApiError):
        plain.create(vs, "default", BAD_VS)


GOOD_VS = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
           "metadata": {"name": "v"},
           "spec": {"hosts": ["web"], "gateways": ["mesh"], "http": [{
               "match": [{"uri": {"prefix": "/"}, "headers": {"x": {"exact": "1"}},
                          "port": 80, "sourceLabels": {"app": "a"}}],
               "route": [{"destination": {"host": "web", "subset": "v1",
                                          "port": {"number": 80}}, "weight": 100}],
               "retries": {"attempts": 3, "perTryTimeout": "1s"}, "timeout": "5s",
               "fault": {"delay": {"fixedDelay": "1s", "percentage": {"value": 10}},
                         "abort": {"httpStatus": 500, "percentage": {"value": 1}}},
               "headers": {"request": {"set": {"a": "b"}, "remove": ["c"]}},
               "rewrite": {"uri": "/"}, "mirror": {"host": "web"},
               "mirrorPercentage": {"value": 5}}]}}
GOOD_DR = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
           "metadata": {"name": "d"},
           "spec": {"host": "web", "trafficPolicy": {
               "loadBalancer": {"simple": "ROUND_ROBIN"},
               "connectionPool": {"tcp": {"maxConnections": 10, "connectTimeout": "1s"},
                                  "http": {"http1MaxPendingRequests": 5}},
               "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s",
                                    "maxEjectionPercent": 50},
               "portLevelSettings": [{"port": {"number": 80},
                                      "loadBalancer": {"simple": "RANDOM"}}]},
               "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}}
WRONG = ("three", 5, -1, 2.5, True, None, [1, 2], {"x": 1}, "")


def _mutations(node: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _mutations(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _mutations(v, (*path, i))
    return out


def _set(doc: object, path: tuple[object, ...], value: object) -> None:
    for key in path[:-1]:
        doc = doc[key]  # type: ignore[index]
    doc[path[-1]] = value  # type: ignore[index]


@pytest.mark.parametrize("good", [GOOD_VS, GOOD_DR], ids=["VirtualService", "DestinationRule"])
def test_every_field_with_every_wrong_type_is_a_4xx_never_a_crash(good: dict[str, object]) -> None:
    """Issue 14: `retries.attempts: "three"` and `loadBalancer: ROUND_ROBIN` answered 500."""
    import copy

    o = Objects(Store(None), Registry())
    ns = o.registry.by_key("namespaces")
    assert ns is not None
    o.create(ns, "", {"metadata": {"name": "default"}})
    plural = "virtualservices" if good["kind"] == "VirtualService" else "destinationrules"
    rt = o.registry.by_key(f"{plural}.networking.istio.io")
    assert rt is not None
    tried = 0
    for path in _mutations(good["spec"]):
        for wrong in WRONG:
            doc = copy.deepcopy(good)
            _set(doc["spec"], path, wrong)
            doc["metadata"] = {"name": f"m{tried}"}
            tried += 1
            try:
                o.create(rt, "default", doc)
            except errors.ApiError as e:
                assert 400 <= e.code < 500, (path, wrong, e.code, e.message)
    assert tried > 200
