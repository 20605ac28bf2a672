from __future__ import annotations

import re
import socket

from tests.demo.helpers import (
    Capture,
    Spawner,
    argv_for,
    base_env,
    get,
    lab_container,
    new_ip,
)

ADS = [{"id": 7, "name": "Capture ad", "url": "7.svg", "weight": 1, "version": "9.9",
        "text": "Version 9.9: Capture ad"}]
DISCOUNTS = [{"id": 1, "name": "Captured discount", "code": "CAPTURE10", "value": 10,
              "discount_type": "percent"}]


def _free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def _frontend_env(manifest: str = "ecommerce-v1/frontend.yaml") -> tuple[list[str], dict[str, str]]:
    c = lab_container(manifest)
    return argv_for(c), c.env


def test_pages_call_ads_with_page_source_and_forward_trace_headers(spawner: Spawner) -> None:
    ip, up = new_ip(), new_ip()
    argv, env = _frontend_env()
    assert argv[-2:] == ["sh", "docker-entrypoint.sh"] and "--image-tag=1.0" in argv
    with Capture(up, {"/ads": ADS, "/discount": DISCOUNTS}).running() as cap:
        env = {**base_env(ip), **env, "ADS_ROUTE": f"http://{up}", "ADS_PORT": str(cap.port),
               "DISCOUNTS_ROUTE": f"http://{up}", "DISCOUNTS_PORT": str(cap.port)}
        spawner.start(argv, env, 3000)
        status, _, body = get(f"http://{ip}:3000/", {"x-request-id": "req-123"})
        page = body.decode()
        assert status == 200
        assert '<div class="ad-banner" data-version="9.9">Version 9.9: Capture ad</div>' in page
        assert "CAPTURE10" in page and 'data-logo="v1"' in page
        ads_calls = [s for s in cap.seen if s.path == "/ads"]
        assert [s.headers["page-source"] for s in ads_calls] == ["home"]
        assert ads_calls[0].headers["x-request-id"] == "req-123"
        disc = [s for s in cap.seen if s.path == "/discount"]
        assert len(disc) == 1 and disc[0].headers["x-request-id"] == "req-123"

        status, _, body = get(f"http://{ip}:3000/products/datadog-mug",
                              {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"})
        assert status == 200 and "Datadog Mug" in body.decode()
        last = [s for s in cap.seen if s.path == "/ads"][-1]
        assert last.headers["page-source"] == "products"
        assert last.headers["traceparent"].startswith("00-aaaa")
        assert get(f"http://{ip}:3000/products/no-such-thing")[0] == 404


def test_upstream_calls_go_through_the_http_proxy(spawner: Spawner) -> None:
    ip, proxy_ip = new_ip(), new_ip()
    argv, env = _frontend_env()
    with Capture(proxy_ip, {"/ads": ADS, "/discount": DISCOUNTS}).running() as proxy:
        # the lab's ADS_ROUTE (http://advertisements) does not resolve here: only a proxy works
        url = f"http://{proxy_ip}:{proxy.port}"
        env = {**base_env(ip), **env, "HTTP_PROXY": url, "http_proxy": url}
        spawner.start(argv, env, 3000)
        status, _, body = get(f"http://{ip}:3000/products/datadog-hoodie")
        assert status == 200 and 'data-version="9.9"' in body.decode()
        paths = {s.path: s.headers for s in proxy.seen}
        assert paths["http://advertisements:5002/ads"]["page-source"] == "products"
        assert paths["http://advertisements:5002/ads"]["host"] == "advertisements:5002"
        assert "http://discounts:5001/discount" in paths


def test_degrades_when_ads_is_down(spawner: Spawner) -> None:
    ip, up = new_ip(), new_ip()
    argv, env = _frontend_env()
    with Capture(up, {"/discount": DISCOUNTS}).running() as cap:
        env = {**base_env(ip), **env, "ADS_ROUTE": f"http://{up}",
               "ADS_PORT": str(_free_port(up)),  # nobody listens there
               "DISCOUNTS_ROUTE": f"http://{up}", "DISCOUNTS_PORT": str(cap.port)}
        svc = spawner.start(argv, env, 3000)
        status, _, body = get(f"http://{ip}:3000/")
        page = body.decode()
        assert status == 200
        assert "ad-banner-unavailable" in page and "CAPTURE10" in page
        assert "WARNING advertisements unavailable" in svc.output()


def test_version_2_logo_and_error_rate(spawner: Spawner) -> None:
    ip, ip2, up = new_ip(), new_ip(), new_ip()
    argv, env = _frontend_env("ingress/ecommerce-v2/frontend.yaml")
    assert "--image-tag=2.0" in argv
    with Capture(up, {"/ads": ADS, "/discount": DISCOUNTS}).running() as cap:
        routes = {"ADS_ROUTE": f"http://{up}", "ADS_PORT": str(cap.port),
                  "DISCOUNTS_ROUTE": f"http://{up}", "DISCOUNTS_PORT": str(cap.port)}
        spawner.start(argv, {**base_env(ip), **env, **routes}, 3000)
        # a 50 % rate makes the draw visible in a short run: Binomial(60, 0.5) lies in
        # [12, 48] except with probability < 1e-5; the lab's default 2 % is a unit test
        spawner.start(argv, {**base_env(ip2), **env, **routes,
                             "TURNOUT_DEMO_ERROR_RATE": "0.5"}, 3000)
        statuses = [get(f"http://{ip2}:3000/")[0] for _ in range(60)]
        assert set(statuses) == {200, 500}
        assert 12 <= statuses.count(500) <= 48
        for _ in range(5):
            status, _, body = get(f"http://{ip}:3000/")
            if status == 200:
                break
        assert status == 200
        assert 'data-logo="v2"' in body.decode()
        assert re.search(r'data-storefront-version="2\.0"', body.decode())
