"""Pod identity: version/service precedence, workload from the owner, tombstones."""

from __future__ import annotations

from turnout.telemetry.identity import Directory, identity_of, workload_of

from . import helpers as h


def test_version_precedence_label_then_dd_tags_then_env() -> None:
    p = h.pod("a", "ns1", "127.0.0.9", env_version="3.0")
    assert identity_of(p).version == "3.0"
    p["metadata"]["labels"]["app.kubernetes.io/version"] = "k8s"
    assert identity_of(p).version == "k8s"
    p["metadata"]["labels"]["tags.datadoghq.com/version"] = "dd"
    assert identity_of(p).version == "dd"
    p["metadata"]["labels"]["version"] = "v9"
    assert identity_of(p).version == "v9"
    assert identity_of(h.pod("b", "ns1", "127.0.0.9")).version == "unknown"


def test_service_prefers_dd_tags_then_dd_service_env_over_app_label() -> None:
    p = h.pod("a", "ns1", "127.0.0.9", service="storefront")
    # label app=ecommerce for every lab service: must not win
    assert identity_of(p).service == "storefront"
    assert identity_of(p).app == "ecommerce"
    p["metadata"]["labels"]["tags.datadoghq.com/service"] = "shop"
    assert identity_of(p).service == "shop"
    bare = {"metadata": {"name": "x", "namespace": "n", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c"}]}, "status": {"podIP": "127.0.0.2"}}
    assert identity_of(bare).service == "web"


def test_workload_strips_pod_template_hash() -> None:
    assert workload_of(h.pod("ads-5d4f8b-x1", "ns", "127.0.0.9", deployment="ads")) == "ads"
    p = h.pod("ads-v2-x", "ns", "127.0.0.9", deployment="ads-v2")
    p["metadata"]["labels"].pop("pod-template-hash")
    assert workload_of(p) == "ads-v2"  # falls back to the last dash
    assert workload_of(h.pod("lonely", "ns", "127.0.0.9")) == "lonely"


def test_deleted_pod_resolves_until_grace_then_expires() -> None:
    d = Directory(grace_seconds=10)
    p = h.pod("a", "ns1", "127.0.0.9", env_version="1.0")
    d.update(p, now=0)
    d.update(p, now=5, deleted=True)
    assert d.by_ip("127.0.0.9") is not None
    d.expire(now=14)
    assert d.by_ip("127.0.0.9") is not None
    d.expire(now=16)
    assert d.by_ip("127.0.0.9") is None
    assert d.by_name("ns1", "a") is None


def test_address_reuse_new_pod_wins_and_tombstone_does_not_displace_it() -> None:
    d = Directory()
    old = h.pod("old", "ns1", "127.0.0.9", env_version="1.0")
    new = h.pod("new", "ns1", "127.0.0.9", env_version="2.0")
    d.update(old, 0)
    d.update(new, 1)
    ident = d.by_ip("127.0.0.9")
    assert ident is not None and ident.version == "2.0"
    d.update(old, 2, deleted=True)  # late delete of the old pod
    ident = d.by_ip("127.0.0.9")
    assert ident is not None and ident.version == "2.0"
