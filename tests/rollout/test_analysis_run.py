"""Argo AnalysisRun rules: expressions, limits, providers."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from turnout.rollout import analysis_run as ar
from turnout.rollout.metrics import FakeMetrics
from turnout.rollout.providers import Providers, json_path


def test_expressions() -> None:
    assert ar.evaluate("result[0] >= 0.95", [0.97])
    assert not ar.evaluate("result[0] >= 0.95 && len(result) > 1", [0.97])
    assert ar.evaluate("result == true || isNil(result)", True)  # isNaN(bool): compile error
    assert ar.evaluate("!(result < 3)", 4)
    assert ar.evaluate("result != 2", 3)
    for bad in ("__import__('os')", "result.__class__", "open('x')", "result[0] >="):
        with pytest.raises(ValueError):
            ar.evaluate(bad, [1])


def test_limits() -> None:
    m = {"name": "m", "count": 3, "failureLimit": 1}
    res: dict[str, object] = {}
    res = ar.record(res, "Failed", "0", "", 1)
    assert ar.metric_phase(m, res) == "Running"
    res = ar.record(res, "Failed", "0", "", 2)
    assert ar.metric_phase(m, res) == "Failed"
    ok = ar.record(ar.record(ar.record({}, "Successful", "1", "", 1), "Successful", "1", "", 2),
                   "Successful", "1", "", 3)
    assert ar.metric_phase(m, ok) == "Successful"
    assert ar.metric_phase({"name": "i"}, ar.record({}, "Inconclusive", "", "", 1)) == \
        "Inconclusive"
    errs: dict[str, object] = {}
    for t in range(5):
        errs = ar.record(errs, "Error", "", "boom", t)
    assert ar.metric_phase({"name": "e", "interval": "1s"}, errs) == "Error"
    assert ar.run_phase([m, {"name": "d"}], {"m": res, "d": {}}, {"m"}) == "Running"
    assert ar.substitute({"q": "rate{svc='{{args.svc}}'}"}, {"svc": "ads"}) == \
        {"q": "rate{svc='ads'}"}


class _Prom(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = {"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": [0, "0.97"]}]}} if "query" in self.path else \
            {"data": {"ok": True}}
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


def test_prometheus_and_web_providers() -> None:
    srv = HTTPServer(("127.0.0.1", 0), _Prom)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        addr = f"http://127.0.0.1:{srv.server_address[1]}"
        p = Providers(FakeMetrics())
        run = {"metadata": {"namespace": "ns3", "name": "r"}}
        prom = {"name": "sr", "successCondition": "result[0] >= 0.95",
                "provider": {"prometheus": {"address": addr, "query": "up"}}}
        assert p.measure(prom, run, 0)[0] == "Successful"
        prom["successCondition"] = "result[0] >= 0.99"
        assert p.measure(prom, run, 0)[0] == "Failed"
        web = {"name": "w", "successCondition": "result == true",
               "provider": {"web": {"url": addr + "/ok", "jsonPath": "{$.data.ok}"}}}
        assert p.measure(web, run, 0)[0] == "Successful"
        assert p.measure({"name": "x", "provider": {"datadog": {}}}, run, 0)[0] == "Error"
    finally:
        srv.shutdown()
        srv.server_close()
    assert json_path({"a": [{"b": 2}]}, "{$.a[0].b}") == 2
