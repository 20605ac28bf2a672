"""The dashboard in a real browser (Debian's Chromium through Playwright) against uvicorn on a
free 127.0.0.1 port: every page shows the versions and figures `json_api` reports, promote and
abort from the page patch the Rollout, and each page is photographed (into docs/screenshots/
with TURNOUT_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.browser import ARGS, CHROMIUM, needs_chromium
from turnout.rollout import flagger
from turnout.store.objects import Objects
from turnout.telemetry.api import json_api
from turnout.telemetry.service import Telemetry
from turnout.web.app import WebContext, make_app

from . import helpers as h

WINDOW = "5m"
# Every run takes the screenshots; they replace the committed ones in docs/screenshots only with
# TURNOUT_UPDATE_SCREENSHOTS=1, so a plain `make test` leaves the work tree clean.
SHOTS = (Path(__file__).resolve().parents[2] / "docs" / "screenshots"
         if os.environ.get("TURNOUT_UPDATE_SCREENSHOTS") else
         Path(tempfile.gettempdir()) / "turnout-screenshots")

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = needs_chromium


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class World:
    def __init__(self, objects: Objects, tel: Telemetry, base: str) -> None:
        self.objects, self.tel, self.base = objects, tel, base

    def api(self, path: str, **query: str) -> Any:
        return json_api(self.tel, path, {"since": WINDOW, **query})

    def command(self) -> str | None:
        obj = self.objects.get(h.rt(self.objects, "rollouts.argoproj.io"), h.NS,
                               "advertisements")
        value = (obj["metadata"].get("annotations") or {}).get(flagger.COMMAND)
        return str(value) if value is not None else None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    o = h.objects()
    tel = h.telemetry(tmp_path_factory.mktemp("tel"))
    port = free_port()
    ctx = WebContext(objects=o, telemetry=tel, token=h.TOKEN,
                     allowed_hosts=frozenset({f"127.0.0.1:{port}"}))
    server = uvicorn.Server(uvicorn.Config(make_app(ctx), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off", ws="none",
                                           http="h11"))
    thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield World(o, tel, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        asyncio.run(tel.stop())


@pytest.fixture(scope="module")
def browser(world: World) -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, world: World) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    p.goto(f"{world.base}/#token={h.TOKEN}")
    p.select_option("#since", WINDOW)  # the synthetic traffic spans the last minute
    yield p
    ctx.close()
    assert errors == []


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def value(page: Any, selector: str) -> float:
    return float(page.locator(selector).first.get_attribute("data-value"))


def test_services_page(page: Any, world: World) -> None:
    row = page.locator('tr[data-service="ns1/advertisements"]')
    row.wait_for()
    svc = next(s for s in world.api("services")["items"] if s["service"] == "advertisements")
    assert row.locator(".versions").inner_text() == "1.0, 2.0"
    for cls, key in (("rps", "rps"), ("err", "error_rate"), ("p50", "p50"), ("p99", "p99")):
        assert value(row, f"td.{cls}") == pytest.approx(svc[key]), key
    assert row.locator("td.p50").inner_text() == f"{svc['p50']:.1f} ms"
    row.locator("svg.spark polyline").wait_for()
    assert page.evaluate("sessionStorage.getItem('turnout-token')") == h.TOKEN
    assert "token" not in page.url  # the fragment is dropped once stored
    shot(page, "services")


def test_service_page(page: Any, world: World) -> None:
    page.goto(f"{world.base}/#/service/ns1/advertisements")
    page.locator('#versions tr[data-version="2.0"]').wait_for()
    for v in world.api("services/ns1/advertisements/versions")["items"]:
        row = page.locator(f'#versions tr[data-version="{v["version"]}"]')
        for q in ("p50", "p75", "p90", "p95", "p99", "max"):
            assert value(row, f"td.{q}") == pytest.approx(v[q]), (v["version"], q)
        assert value(row, "td.requests") == v["requests"]
    v2 = page.locator('#versions tr[data-version="2.0"]')
    assert "500 GET /banners/?" in v2.inner_text()  # its new error type
    assert page.locator("#charts svg.chart").count() == 3
    assert page.locator("#charts svg.chart polyline").count() >= 6  # 2 versions × 3 charts
    assert "req/s" in page.locator("#charts svg.chart").first.inner_html()
    page.locator("#endpoints tbody tr").first.wait_for()
    eps = world.api("services/ns1/advertisements/endpoints", version="2.0")["items"]
    assert page.locator("#endpoints tbody tr").count() == len(eps)
    shot(page, "service")


def test_compare_page(page: Any, world: World) -> None:
    page.goto(f"{world.base}/#/compare/ns1/advertisements?baseline=1.0&candidate=2.0")
    page.locator("#statements .statement").first.wait_for()
    c = world.api("services/ns1/advertisements/compare", baseline="1.0", candidate="2.0")
    shown = page.locator("#statements .statement").all_inner_texts()
    assert shown == c["statements"] and shown[0].startswith("2.0 is slower")
    row = page.locator('#changes tr[data-metric="p50"] td')
    assert float(row.nth(1).get_attribute("data-value")) == pytest.approx(
        c["changes"]["p50"]["baseline"])
    assert float(row.nth(3).get_attribute("data-value")) == pytest.approx(
        c["changes"]["p50"]["change_pct"])
    assert "500 GET /banners/?" in page.locator("#errtypes").inner_text()
    assert page.locator("#cmp-charts svg.chart").count() == 2
    assert page.locator("#cmp-charts svg.chart rect[opacity]").count() > 10  # histogram bars
    shot(page, "compare")
    page.select_option("#cmp-b", "2.0")
    page.select_option("#cmp-c", "1.0")
    sync_api.expect(page.locator("#statements .statement").first).to_contain_text("1.0 is")


def test_traffic_page(page: Any, world: World) -> None:
    page.goto(f"{world.base}/#/traffic")
    edge = page.locator('tr[data-edge="ns1/storefront->ns1/advertisements"]')
    edge.wait_for()
    assert page.locator('g.node[data-node="ns1/advertisements"]').count() == 1
    assert page.locator('g.node.mesh[data-node="ns1/advertisements"]').count() == 1
    assert "ns1 · mesh" in page.locator("#mesh-ns").inner_text()
    shares = {s.get_attribute("data-version"): float(s.get_attribute("data-share") or 0)
              for s in edge.locator("td.split span").all()}
    assert shares == {"1.0": pytest.approx(300 / 620, abs=1e-3),
                      "2.0": pytest.approx(320 / 620, abs=1e-3)}
    assert "vs/advertisements" in edge.locator("td.configured").inner_text()
    assert "v2 [2.0] 20%" in edge.locator("td.configured").inner_text()
    shot(page, "traffic")


def test_rollout_promote_and_abort_from_the_page(page: Any, world: World) -> None:
    page.goto(f"{world.base}/#/rollouts")
    page.locator('tr[data-rollout="ns1/advertisements"] a').click()
    page.locator("#ro-steps li.current").wait_for()
    assert "pause (until promoted)" in page.locator("#ro-steps li.current").inner_text()
    assert page.locator("#ro-weight").get_attribute("data-value") == "20"
    assert "need 50 each" in page.locator("#ro-hist").inner_text()
    assert "RolloutPaused" in page.locator("#ro-events").inner_text()
    assert "not about the rollout" not in page.locator("#ro-events").inner_text()
    shot(page, "rollout")
    assert world.command() is None
    page.locator('button[data-cmd="promote"]').click()
    page.locator("#toast:not([hidden])").wait_for()
    deadline = time.monotonic() + 5
    while world.command() != "promote":
        assert time.monotonic() < deadline, "promote did not patch the rollout"
        time.sleep(0.05)
    page.locator('button[data-cmd="abort"]').click()
    while world.command() != "abort":
        assert time.monotonic() < deadline, "abort did not patch the rollout"
        time.sleep(0.05)
    page.goto(f"{world.base}/#/rollouts")
    page.locator('tr[data-rollout="ns1/advertisements"]').wait_for()
    shot(page, "rollouts")


def test_without_the_token_the_page_is_read_only(browser: Any, world: World) -> None:
    ctx = browser.new_context()
    p = ctx.new_page()
    before = world.command()
    p.goto(f"{world.base}/#/rollout/rollout/ns1/advertisements")
    p.locator("#ro-steps li").first.wait_for()
    assert p.locator("#auth").inner_text() == "read-only (no token)"
    p.locator('button[data-cmd="promote"]').click()
    p.locator("#toast:not([hidden])").wait_for()
    assert "No token" in p.locator("#toast").inner_text()
    time.sleep(0.2)
    assert world.command() == before
    ctx.close()
