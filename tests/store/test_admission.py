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
