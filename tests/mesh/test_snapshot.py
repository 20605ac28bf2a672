from __future__ import annotations

from turnout.mesh import snapshot as sn

from . import helpers as h


def test_from_objects_sorts_by_kind() -> None:
    s = sn.from_objects([*h.seed_objects(), {"kind": "ConfigMap"}])
    assert len(s.pods) == 3 and len(s.services) == 2 and len(s.virtual_services) == 1
    assert len(s.destination_rules) == 1 and len(s.namespaces) == 1


def test_mesh_membership_and_readiness() -> None:
    injected = sn.injected_namespaces(sn.from_objects([h.namespace("a", True),
                                                       h.namespace("b")]))
    assert injected == {"a"}
    assert sn.in_mesh(h.pod("p", "a", "127.77.0.9", {}), injected)
    assert not sn.in_mesh(h.pod("p", "b", "127.77.0.9", {}), injected)
    assert not sn.in_mesh(h.pod("p", "a", "127.77.0.9", {},
                                annotations={"sidecar.istio.io/inject": "false"}), injected)
    assert sn.pod_ready(h.pod("p", "a", "127.77.0.9", {}))
    assert not sn.pod_ready(h.pod("p", "a", "127.77.0.9", {}, ready=False))
    assert not sn.pod_ready(h.pod("p", "a", "", {}))
