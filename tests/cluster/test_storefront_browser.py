"""The storefront in a real browser, through NodePort 30001 and the Istio gateway on 30003."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import ARGS, CHROMIUM, needs_chromium
from tests.conftest import RunningCluster

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.cluster,
    needs_chromium,
]


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_storefront_pages_show_the_banner_and_products_split_under_the_vs(
        cluster: RunningCluster, lab: Path, page: Any) -> None:
    cluster.kubectl("create", "namespace", "ns1")
    cluster.kubectl("apply", "-f", str(lab / "ecommerce-v1") + "/")
    cluster.kubectl("create", "namespace", "ns3")
    cluster.kubectl("label", "namespace", "ns3", "istio-injection=enabled")
    cluster.kubectl("apply", "-f", str(lab / "istio" / "ecommerce-istio") + "/")
    cluster.kubectl("apply", "-f", str(lab / "istio" / "frontend-gateway.yaml"))
    for f in ("advertisements_v2.yaml", "destinationrule.yaml", "virtualservice.yaml"):
        cluster.kubectl("apply", "-f", str(lab / "istio" / "ads_v2" / f))
    for ns, deploys in (("ns1", ("advertisements", "discounts", "frontend")),
                        ("ns3", ("advertisements", "advertisements2", "frontend"))):
        for d in deploys:
            cluster.kubectl("rollout", "status", f"deployment/{d}", "-n", ns, "--timeout=60s")

    page.goto(cluster.node_url(30001) + "/")
    banner = page.locator(".ad-banner")
    assert banner.get_attribute("data-version") == "1.0"
    assert "Version 1.0" in banner.inner_text()

    page.goto(cluster.node_url(30003) + "/")
    assert page.locator(".ad-banner").get_attribute("data-version") == "1.0"
    product = page.locator('a[href^="/products/"]').first.get_attribute("href")
    assert product
    seen: dict[str, int] = {}
    n = 40
    for _ in range(n):  # a user refreshing a product page
        page.goto(cluster.node_url(30003) + product)
        v = page.locator(".ad-banner").get_attribute("data-version") or "none"
        seen[v] = seen.get(v, 0) + 1
    k = seen.get("2.0", 0)
    assert seen.get("1.0", 0) + k == n, seen
    assert abs(k - n / 2) <= 4.5 * math.sqrt(n / 4), seen  # binomial bound for n = 40
    for _ in range(10):  # home pages stay on 1.0
        page.goto(cluster.node_url(30003) + "/")
        assert page.locator(".ad-banner").get_attribute("data-version") == "1.0"
