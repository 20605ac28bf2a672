"""The dashboard app through Starlette's TestClient: Host check, token on mutations, no CORS,
JSON routes that reuse the telemetry API, rollouts, traffic map and histograms."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from turnout.rollout import flagger
from turnout.store.objects import Objects
from turnout.telemetry.api import json_api
from turnout.telemetry.service import Telemetry
from turnout.web.app import WebContext, make_app

from . import helpers as h

with warnings.catch_warnings():  # starlette 1.x asks for `httpx2`; plain httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

HOST = "127.0.0.1:15000"


class FakeTelemetry:
    """The query surface `json_api` uses, with canned answers."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def services(self, since: timedelta) -> list[dict[str, Any]]:
        self.calls.append(("services", since))
        return [{"namespace": "ns1", "service": "advertisements", "versions": ["1.0", "2.0"],
                 "requests": 10, "errors": 1, "error_rate": 0.1, "rps": 2.5, "p50": 31.0,
                 "p99": 240.0}]

    def versions(self, ns: str, svc: str, since: timedelta | None) -> list[dict[str, Any]]:
        self.calls.append(("versions", (ns, svc, since)))
        return [{"version": "1.0"}, {"version": "2.0"}]

    def no_upstream(self, ns: str, svc: str, since: timedelta | None) -> dict[str, Any] | None:
        return None


def client(o: Objects, tel: Any = None, token: str = h.TOKEN) -> TestClient:
    ctx = WebContext(objects=o, telemetry=cast(Telemetry, tel), token=token,
                     allowed_hosts=frozenset({HOST, "localhost:15000"}))
    return TestClient(make_app(ctx), base_url=f"http://{HOST}")


@pytest.fixture
def real_tel(tmp_path: Path) -> Iterator[Telemetry]:
    tel = h.telemetry(tmp_path)
    yield tel
    asyncio.run(tel.stop())


def annotation(o: Objects) -> str | None:
    obj = o.get(h.rt(o, "rollouts.argoproj.io"), h.NS, "advertisements")
    return cast(str | None, (obj["metadata"].get("annotations") or {}).get(flagger.COMMAND))


PROMOTE = "/api/rollouts/rollout/ns1/advertisements/promote"


def test_foreign_host_gets_403_on_every_route() -> None:
    o = h.objects()
    c = client(o)
    for method, path in (("GET", "/"), ("GET", "/api/rollouts"), ("GET", "/static/app.js"),
                         ("POST", PROMOTE)):
        r = c.request(method, path, headers={"Host": "evil.example:15000",
                                             "Authorization": f"Bearer {h.TOKEN}"})
        assert r.status_code == 403, path
        assert "not allowed" in r.json()["message"]
        assert "access-control-allow-origin" not in r.headers
    r = c.get("/", headers={"Host": "localhost:15000"})
    assert r.status_code == 200
    assert annotation(o) is None


def test_page_and_assets_are_served_with_security_headers() -> None:
    c = client(h.objects())
    r = c.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"' in r.text
    assert "http" not in r.text.replace("http-equiv", "")  # no external assets
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    js = c.get("/static/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "Authorization" in js.text and "sessionStorage" in js.text
    assert c.get("/static/style.css").status_code == 200
    assert c.get("/static/secrets.txt").status_code == 404


def test_promote_needs_the_bearer_token() -> None:
    o = h.objects()
    c = client(o)
    r = c.post(PROMOTE, headers={"Origin": "http://evil.example"})
    assert r.status_code == 401 and "turnout dashboard" in r.json()["message"]
    assert "access-control-allow-origin" not in r.headers
    r = c.post(PROMOTE, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 403
    r = c.post(PROMOTE, headers={"Authorization": "Basic " + h.TOKEN})
    assert r.status_code == 401
    assert annotation(o) is None
    assert c.get(PROMOTE).status_code == 405  # a link or an <img> cannot act
    pre = c.options(PROMOTE, headers={"Origin": "http://evil.example",
                                      "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 405 and "access-control-allow-origin" not in pre.headers
    r = c.post(PROMOTE, headers={"Authorization": f"Bearer {h.TOKEN}"})
    assert r.status_code == 200, r.text
    assert annotation(o) == "promote"
    r = c.post(PROMOTE.replace("promote", "abort"),
               headers={"Authorization": f"Bearer {h.TOKEN}"})
    assert r.status_code == 200 and annotation(o) == "abort"


def test_empty_cluster_token_never_authorizes() -> None:
    o = h.objects()
    r = client(o, token="").post(PROMOTE, headers={"Authorization": "Bearer "})
    assert r.status_code in (401, 403) and annotation(o) is None


def test_bad_commands_and_missing_rollouts_change_nothing() -> None:
    o = h.objects()
    c = client(o)
    auth = {"Authorization": f"Bearer {h.TOKEN}"}
    r = c.post(PROMOTE.replace("promote", "delete-everything"), headers=auth)
    assert r.status_code == 400 and "promote, promote-full, abort, retry" in r.json()["message"]
    assert c.post("/api/rollouts/rollout/ns1/nothing/promote", headers=auth).status_code == 404
    assert c.post("/api/rollouts/daemonset/ns1/advertisements/promote",
                  headers=auth).status_code == 404
    assert annotation(o) is None


def test_rollout_list_and_detail() -> None:
    c = client(h.objects())
    items = c.get("/api/rollouts").json()["items"]
    assert [(r["kind"], r["name"], r["phase"], r["weight"]) for r in items] == [
        ("Rollout", "advertisements", "Paused", 20)]
    d = c.get("/api/rollouts/rollout/ns1/advertisements").json()
    assert [s["state"] for s in d["step_list"]] == ["done", "current", "pending", "pending",
                                                    "pending"]
    assert d["step_list"][1]["text"] == "pause (until promoted)"
    assert d["history"][0]["outcome"] == "Inconclusive"
    assert "need 50 each" in d["history"][0]["reason"]
    assert [e["reason"] for e in d["events"]] == ["RolloutPaused"]
    assert d["commands"] == ["promote", "promote-full", "abort"]
    assert c.get("/api/rollouts/rollout/ns1/nothing").status_code == 404


def test_telemetry_routes_answer_exactly_what_json_api_answers() -> None:
    fake = FakeTelemetry()
    c = client(h.objects(), fake)
    r = c.get("/api/telemetry/services?since=15m")
    assert r.status_code == 200
    assert r.json() == json_api(cast(Telemetry, fake), "services", {"since": "15m"})
    assert fake.calls[0] == ("services", timedelta(minutes=15))
    r = c.get("/api/telemetry/services/ns1/advertisements/versions")
    assert [v["version"] for v in r.json()["items"]] == ["1.0", "2.0"]
    bad = c.get("/api/telemetry/services?since=forever")
    assert bad.status_code == 400 and "invalid duration" in bad.json()["message"]
    assert c.get("/api/telemetry/nothing").status_code == 404


def test_without_telemetry_json_routes_say_so() -> None:
    c = client(h.objects(), None)
    r = c.get("/api/telemetry/services")
    assert r.status_code == 503 and "telemetry is not running" in r.json()["message"]
    m = c.get("/api/traffic").json()
    assert m["telemetry"] is False and m["edges"] == []
    assert {n["name"]: n["in_mesh"] for n in m["namespaces"]} == {"default": False, "ns1": True}


def test_traffic_map_joins_records_with_the_virtual_service_split(real_tel: Telemetry) -> None:
    c = client(h.objects(), real_tel)
    m = c.get("/api/traffic?since=10m").json()
    ids = {n["id"] for n in m["nodes"]}
    assert {"ns1/storefront", "ns1/advertisements", "istio-system/istio-ingressgateway"} <= ids
    e = next(x for x in m["edges"] if x["id"] == "ns1/storefront->ns1/advertisements")
    svc = next(s for s in json_api(real_tel, "services", {"since": "10m"})["items"]
               if s["service"] == "advertisements")
    assert e["requests"] == svc["requests"] == 620 and e["errors"] == svc["errors"] == 20
    shares = {s["version"]: s["share"] for s in e["split"]}
    assert shares == {"1.0": pytest.approx(300 / 620, abs=1e-4),
                      "2.0": pytest.approx(320 / 620, abs=1e-4)}
    (route,) = e["configured"]
    assert [(d["subset"], d["version"], d["weight"]) for d in route["destinations"]] == [
        ("v1", "1.0", 80), ("v2", "2.0", 20)]
    assert e["configured_note"] == ""
    nodes = {n["id"]: n for n in m["nodes"]}
    gw, front, ads = (nodes[k] for k in ("istio-system/istio-ingressgateway", "ns1/storefront",
                                         "ns1/advertisements"))
    assert gw["x"] < front["x"] < ads["x"]  # callers left of callees
    assert ads["in_mesh"] and not gw["in_mesh"]
    assert ads["versions"] == ["1.0", "2.0"] and ads["stats"]["requests"] == 620
    assert c.get("/api/traffic?since=10m").json()["nodes"] == m["nodes"]  # deterministic


def test_histogram_of_two_versions(real_tel: Telemetry) -> None:
    c = client(h.objects(), real_tel)
    r = c.get("/api/histogram/ns1/advertisements?since=10m&version=1.0&version=2.0")
    body = r.json()
    assert body["sample"] == {"1.0": 300, "2.0": 320}
    v1, v2 = body["versions"]["1.0"], body["versions"]["2.0"]
    assert sum(v1) == pytest.approx(1, abs=1e-3) and sum(v2) == pytest.approx(1, abs=1e-3)
    mid = len(v1) // 2  # 2.0 is 200 ms slower: its mass sits in the upper half of the bins
    assert sum(v1[:mid]) > 0.95 and sum(v2[mid:]) > 0.9
    assert c.get("/api/histogram/ns1/advertisements").status_code == 400
