"""A pod's /etc/hosts (pure)."""

from __future__ import annotations

from turnout import netshim
from turnout.netshim import etchosts

SERVICES = [
    {"metadata": {"name": "web", "namespace": "shop"}, "spec": {"clusterIP": "127.20.0.5"}},
    {"metadata": {"name": "db", "namespace": "data"}, "spec": {"clusterIP": "127.20.0.6"}},
    {"metadata": {"name": "headless", "namespace": "shop"}, "spec": {"clusterIP": "None"}},
]


def test_short_names_only_for_the_pods_namespace() -> None:
    names = etchosts.service_names(netshim.hosts_map(SERVICES), "shop")
    assert names == {
        "127.20.0.5": ["web", "web.shop", "web.shop.svc", "web.shop.svc.cluster.local"],
        "127.20.0.6": ["db.data", "db.data.svc", "db.data.svc.cluster.local"],
    }


def test_render_has_the_kubelet_layout() -> None:
    pod = {"metadata": {"name": "web-1", "namespace": "shop"},
           "spec": {"hostAliases": [{"ip": "10.1.1.1", "hostnames": ["foo.local", "bar"]}]}}
    text = etchosts.render(hosts=netshim.hosts_map(SERVICES), namespace="shop",
                           pod_ip="127.30.0.4", pod=pod, node=["127.0.0.1 vm"])
    lines = text.splitlines()
    assert lines[0] == "# Kubernetes-managed hosts file."
    assert "127.0.0.1\tlocalhost" in lines and "127.30.0.4\tweb-1" in lines
    assert "10.1.1.1\tfoo.local bar" in lines and "127.0.0.1 vm" in lines
    assert "127.20.0.5\tweb web.shop web.shop.svc web.shop.svc.cluster.local" in lines
    assert text.endswith("\n")


def test_subdomain_gives_the_pod_its_fqdn() -> None:
    pod = {"metadata": {"name": "db-0", "namespace": "s"},
           "spec": {"hostname": "db-0", "subdomain": "db"}}
    text = etchosts.render(hosts={}, namespace="s", pod_ip="127.30.0.7", pod=pod)
    assert "127.30.0.7\tdb-0.db.s.svc.cluster.local\tdb-0" in text.splitlines()


def test_node_lines_keep_the_machines_name() -> None:
    assert etchosts.node_lines("127.0.0.1 localhost\n# c\n127.0.1.1 vm vm.lan\n::1 localhost "
                               "ip6-localhost\n") == ["127.0.1.1 vm vm.lan"]


def test_pod_names_behind_a_headless_service_get_their_short_form() -> None:
    hosts = {"web-0.nginx.shop": "127.30.0.8", "web-0.nginx.shop.svc": "127.30.0.8"}
    assert etchosts.service_names(hosts, "shop") == {
        "127.30.0.8": ["web-0.nginx", "web-0.nginx.shop", "web-0.nginx.shop.svc"]}


def test_a_headless_service_name_gets_a_line_per_pod() -> None:
    # the StatefulSet's pods by name, and the Service by its name: every ready pod
    hosts = {"web-0.nginx.shop": "127.30.0.8", "web-1.nginx.shop": "127.30.0.9",
             "nginx.shop": "127.30.0.8 127.30.0.9"}
    text = etchosts.render(hosts=hosts, namespace="shop", pod_ip="127.30.0.4",
                           pod={"metadata": {"name": "c"}})
    lines = text.splitlines()
    assert "127.30.0.8\tnginx nginx.shop web-0.nginx web-0.nginx.shop" in lines
    assert "127.30.0.9\tnginx nginx.shop web-1.nginx web-1.nginx.shop" in lines
