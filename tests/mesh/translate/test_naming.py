from __future__ import annotations

from turnout.mesh.translate import naming


def test_cluster_names_round_trip_in_istio_format() -> None:
    name = naming.cluster_name(5002, "v2", "advertisements.ns3.svc.cluster.local")
    assert name == "outbound|5002|v2|advertisements.ns3.svc.cluster.local"
    assert naming.parse_cluster_name(name) == naming.ClusterKey(
        "outbound", 5002, "v2", "advertisements.ns3.svc.cluster.local")
    assert naming.parse_cluster_name("kube|80||a.b.svc.cluster.local") == naming.ClusterKey(
        "kube", 80, "", "a.b.svc.cluster.local")
    assert naming.parse_cluster_name("garbage") is None


def test_file_slugs_are_safe_and_distinct() -> None:
    a = naming.file_slug("outbound|80|v1|a.b.svc.cluster.local")
    b = naming.file_slug("outbound|80|v1/a.b.svc.cluster.local")
    assert a != b and "/" not in a + b and "|" not in a + b
