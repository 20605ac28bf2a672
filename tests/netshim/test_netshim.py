"""Service names resolve for plain TCP clients in Python pods, through the sitecustomize shim."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from turnout import netshim

SERVICES = [
    {"metadata": {"name": "db", "namespace": "database"}, "spec": {"clusterIP": "127.96.0.9"}},
    {"metadata": {"name": "headless", "namespace": "x"}, "spec": {"clusterIP": "None"}},
]


def test_hosts_map_has_every_qualified_form_and_skips_headless() -> None:
    assert netshim.hosts_map(SERVICES) == {
        "db.database": "127.96.0.9", "db.database.svc": "127.96.0.9",
        "db.database.svc.cluster.local": "127.96.0.9"}


def test_python_in_a_pod_resolves_service_names(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.json"
    netshim.write_hosts(hosts, netshim.hosts_map(SERVICES))
    code = ("import socket;"
            "print(socket.getaddrinfo('db.database.svc.cluster.local', 5432)[0][4][0]);"
            "print(socket.getaddrinfo('db', 5432)[0][4][0]);"
            "print(socket.getaddrinfo('127.0.0.1', 1)[0][4][0]);"
            "print(socket.gethostbyname('db'));"
            "print(socket.gethostbyname_ex('db.database')[2][0])")
    env = {**os.environ, **netshim.pod_env(hosts, "database")}
    out = subprocess.run([sys.executable, "-c", code], env=env, text=True, capture_output=True,
                         check=True).stdout.split()
    assert out == ["127.96.0.9", "127.96.0.9", "127.0.0.1", "127.96.0.9", "127.96.0.9"]
    env = {**os.environ, **netshim.pod_env(hosts, "other")}
    r = subprocess.run([sys.executable, "-c", "import socket; socket.getaddrinfo('db', 1)"],
                       env=env, text=True, capture_output=True)
    assert r.returncode != 0  # short names only within the pod's own namespace


def test_the_cluster_process_resolves_service_names_too(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.json"
    netshim.write_hosts(hosts, netshim.hosts_map(SERVICES))
    code = ("import pathlib, socket, sys; from turnout import netshim;"
            f"netshim.resolve_in_process(pathlib.Path({str(hosts)!r}));"
            "print(socket.getaddrinfo('db.database', 5432)[0][4][0])")
    out = subprocess.run([sys.executable, "-c", code], text=True, capture_output=True,
                         check=True).stdout.split()
    assert out == ["127.96.0.9"]


def test_a_headless_service_name_resolves_to_every_pod(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.json"
    netshim.write_hosts(hosts, {"nginx.wl": "127.96.1.1 127.96.1.2",
                                "web-1.nginx.wl": "127.96.1.2"})
    code = ("import socket;"
            "print(sorted({a[4][0] for a in socket.getaddrinfo('nginx', 80)}));"
            "print(socket.getaddrinfo('web-1.nginx', 80)[0][4][0]);"
            "print(socket.gethostbyname('nginx.wl'));"
            "print(socket.gethostbyname_ex('nginx')[2])")
    env = {**os.environ, **netshim.pod_env(hosts, "wl")}
    out = subprocess.run([sys.executable, "-c", code], env=env, text=True, capture_output=True,
                         check=True).stdout.splitlines()
    assert out == ["['127.96.1.1', '127.96.1.2']", "127.96.1.2", "127.96.1.1",
                   "['127.96.1.1', '127.96.1.2']"]
    assert netshim.addresses("127.96.1.1 127.96.1.2") == ["127.96.1.1", "127.96.1.2"]
