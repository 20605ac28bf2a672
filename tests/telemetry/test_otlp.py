"""Spans over OTLP/HTTP JSON to a tiny local receiver, configured by the standard variables."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from turnout.telemetry.otlp import Exporter, headers_from, traces_endpoint
from turnout.telemetry.service import Telemetry

from . import helpers as h

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[dict[str, object]] = []
        self.paths: list[str] = []
        self.headers_seen: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.bodies.append(json.loads(body))
        self.server.paths.append(self.path)
        self.server.headers_seen.append(self.headers.get("x-tenant", ""))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    srv = Receiver()
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_endpoint_from_standard_variables() -> None:
    assert traces_endpoint({}) is None
    assert traces_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318/"}) == \
        "http://h:4318/v1/traces"
    assert traces_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318",
                            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t/x"}) == "http://t/x"
    assert headers_from({"OTEL_EXPORTER_OTLP_HEADERS": "a=1, b = 2,bad"}) == {"a": "1", "b": "2"}


async def test_one_span_per_record_with_ids_from_traceparent(tmp_path: Path,
                                                             receiver: Receiver) -> None:
    port = receiver.server_address[1]
    exporter = Exporter.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
                                  "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=lab"})
    assert exporter is not None
    log = tmp_path / "access.log"
    rid = "6f1c3a52-1b7e-4c2f-9a3d-0e5b7c9d1f20"
    lines = [h.line(traceparent=TP, duration=12.5), h.line(request_id=rid, status=500)]
    lines += [h.line(upstream="127.0.10.2:5002") for _ in range(3)]
    log.write_text("".join(x + "\n" for x in lines))
    tel = Telemetry(tmp_path / "s", log, metrics_port=None, exporter=exporter)
    for p in h.ads_pods():
        tel.update_pod(p)
    await tel.flush()
    await tel.stop()
    assert receiver.paths == ["/v1/traces"] and receiver.headers_seen == ["lab"]
    spans = {}
    resources = {}
    for rs in receiver.bodies[0]["resourceSpans"]:  # type: ignore[attr-defined]
        attrs = {a["key"]: a["value"]["stringValue"] for a in rs["resource"]["attributes"]}
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                spans[s["spanId"]] = s
                resources[s["spanId"]] = attrs
    assert len(spans) == 5 and exporter.exported == 5
    traced = next(s for s in spans.values() if s.get("parentSpanId"))
    assert traced["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert traced["parentSpanId"] == "00f067aa0ba902b7" and len(traced["spanId"]) == 16
    assert int(traced["endTimeUnixNano"]) - int(traced["startTimeUnixNano"]) == 12_500_000
    failed = next(s for s in spans.values() if s["traceId"] == rid.replace("-", ""))
    assert failed["status"]["code"] == 2 and failed["kind"] == 2
    assert {r["service.version"] for r in resources.values()} == {"1.0", "2.0"}
    assert {r["service.name"] for r in resources.values()} == {"advertisements"}


async def test_a_dead_collector_drops_spans_but_not_records(tmp_path: Path) -> None:
    exporter = Exporter("http://127.0.0.1:9/v1/traces", timeout=0.5)
    log = tmp_path / "access.log"
    log.write_text("".join(h.line() + "\n" for _ in range(4)))
    tel = Telemetry(tmp_path / "s", log, metrics_port=None, exporter=exporter)
    await tel.flush()
    assert tel.store.count() == 4 and exporter.dropped == 4 and exporter.exported == 0
    await tel.stop()
