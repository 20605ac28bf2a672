"""Discounts, the ingress stand-ins and the traffic generator, each as a process."""

from __future__ import annotations

import subprocess
import sys

from tests.demo.helpers import (
    REPO,
    Capture,
    Spawner,
    argv_for,
    base_env,
    demo_catalog_,
    get,
    get_json,
    lab_container,
    new_ip,
)


def test_discounts_serves_json_on_the_lab_port(spawner: Spawner) -> None:
    ip = new_ip()
    c = lab_container("ecommerce-v1/discounts.yaml")
    svc = spawner.start(argv_for(c), {**base_env(ip), **c.env}, 5001)
    found = get_json(f"http://{ip}:5001/discount")
    assert isinstance(found, list) and len(found) >= 3
    assert {"id", "name", "code", "value", "discount_type"} <= set(found[0])
    assert get(f"http://{ip}:5001/nope")[0] == 404
    assert '"GET /discount HTTP/1.1" 200' in svc.output()


def test_ingress_controller_answers_its_probe_and_certgen_exits_zero(spawner: Spawner) -> None:
    ip = new_ip()
    image = "k8s.gcr.io/ingress-nginx/controller:v0.47.0@sha256:" + "a" * 64
    args = ["/nginx-ingress-controller", "--election-id=ingress-controller-leader",
            "--ingress-class=nginx", "--validating-webhook=:8443"]
    argv = demo_catalog_().resolve(image, None, args).argv
    spawner.start(argv, base_env(ip), 10254)
    status, _, body = get(f"http://{ip}:10254/healthz")
    assert (status, body) == (200, b"ok")

    certgen = demo_catalog_().resolve("docker.io/jettech/kube-webhook-certgen:v1.5.1", None,
                                      ["create", "--namespace=ingress-nginx"]).argv
    done = subprocess.run(certgen, env=base_env(new_ip()), capture_output=True, timeout=20,
                          cwd=REPO, check=False)
    assert done.returncode == 0 and b"nothing to do" in done.stdout


def test_traffic_replay_browses_home_and_product_pages() -> None:
    ip = new_ip()
    with Capture(ip, {"/": "ok"}).running() as cap:
        env = {**base_env(new_ip()), "FRONTEND_HOST": ip, "FRONTEND_PORT": str(cap.port),
               "TURNOUT_DEMO_RPS": "100", "TURNOUT_DEMO_REQUESTS": "12"}
        argv = [sys.executable, "-m", "turnout.demo.traffic"]
        done = subprocess.run(argv, env=env, capture_output=True, timeout=30, cwd=REPO,
                              check=False)
        assert done.returncode == 0, done.stderr
    paths = [s.path for s in cap.seen]
    assert len(paths) == 12
    assert "/" in paths and any(p.startswith("/products/") for p in paths)
