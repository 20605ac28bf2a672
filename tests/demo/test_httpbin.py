"""The go-httpbin stand-in answers Istio's sample calls in go-httpbin's shapes."""

from __future__ import annotations

import json

from turnout.demo import httpbin, server


def req(path: str, headers: dict[str, str] | None = None) -> server.Request:
    return server.Request("GET", path, {}, headers or {"host": "httpbin:8000"}, "127.0.0.2")


def test_headers_are_lists_with_canonical_names() -> None:
    answer = httpbin.handle(req("/headers", {"host": "httpbin:8000", "x-request-id": "r1"}))
    assert json.loads(answer.body) == {"headers": {"Host": ["httpbin:8000"],
                                                   "X-Request-Id": ["r1"]}}


def test_status_delay_get() -> None:
    assert httpbin.handle(req("/status/418")).status == 418
    assert httpbin.handle(req("/status/503,503")).status == 503
    assert httpbin.handle(req("/status/999")).status == 400
    got = json.loads(httpbin.handle(req("/delay/0")).body)
    assert got["url"] == "http://httpbin:8000/delay/0" and got["method"] == "GET"
    assert json.loads(httpbin.handle(req("/get")).body)["origin"] == "127.0.0.2"
    assert httpbin.handle(req("/delay/x")).status == 400
    assert httpbin.handle(req("/nope")).status == 404
