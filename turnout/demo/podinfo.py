"""Flagger's demo application (images ``stefanprodan/podinfo``, ``ghcr.io/stefanprodan/podinfo``).

Flagger's tutorials canary this image; the tag is its version. Serves the endpoints those
tutorials use on ``$POD_IP:<--port>`` (9898): ``/`` (JSON with the version), ``/healthz``,
``/readyz``, ``/version``, ``/status/<code>``, ``/delay/<seconds>`` and ``POST /token``
(Flagger's e2e acceptance test greps its answer for `token`). The pod's exec probes
(``podcli check http localhost:9898/healthz``) run the ``podcli`` shipped beside this module.
With ``--port-metrics`` it serves podinfo's request-duration histograms on ``/metrics`` there.

Run: ``python -m turnout.demo.podinfo --image-tag=<tag> [the container's command line]``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Sequence

from turnout.demo import grpc_health, http_metrics, server

SERVICE = "podinfo"
DEFAULT_PORT = 9898


def make_handler(version: str, hostname: str) -> server.Handler:
    def handle(req: server.Request) -> server.Response:
        path = req.path.rstrip("/") or "/"
        if path in ("/healthz", "/readyz"):
            return server.json_response({"status": "OK"})
        if path == "/token" and req.method == "POST":  # Flagger's e2e acceptance test
            return server.json_response({"token": f"podinfo-{version}-{int(time.time())}",
                                         "expires_at": time.strftime(
                                             "%Y-%m-%dT%H:%M:%SZ",
                                             time.gmtime(time.time() + 60))})
        if path == "/version":
            return server.json_response({"version": version, "commit": "turnout"})
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1] or 200)
            return server.json_response({"status": code}, status=code)
        if path.startswith("/delay/"):
            time.sleep(min(10.0, float(path.rsplit("/", 1)[1] or 0)))
        return server.json_response({"hostname": hostname, "version": version,
                                     "message": f"greetings from podinfo v{version}"})

    return handle


def measured(handle: server.Handler, metrics: http_metrics.Histograms) -> server.Handler:
    """``handle``, recording each request's duration as podinfo's middleware does."""
    def wrapped(req: server.Request) -> server.Response:
        started = time.perf_counter()
        resp = handle(req)
        metrics.observe(req.method, req.path, resp.status, time.perf_counter() - started)
        return resp

    return wrapped


def serve_metrics(metrics: http_metrics.Histograms, host: str, port: int) -> None:
    def handle(req: server.Request) -> server.Response:
        if req.path.rstrip("/") == "/metrics":
            return server.text_response(metrics.render(),
                                        content_type="text/plain; version=0.0.4")
        return server.json_response({"status": "OK"})

    httpd = server.make_server(f"{SERVICE}-metrics", handle, host, port)
    threading.Thread(target=httpd.serve_forever, name="metrics", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    version = server.option(args, "image-tag") or "latest"
    host = server.bind_host()
    handle = make_handler(version, os.environ.get("HOSTNAME", "podinfo"))
    metrics_port = server.option(args, "port-metrics")
    if metrics_port and metrics_port.isdigit() and int(metrics_port):
        metrics = http_metrics.Histograms()
        handle = measured(handle, metrics)
        serve_metrics(metrics, host, int(metrics_port))
    if (grpc_port := server.option(args, "grpc-port")) and grpc_port.isdigit():
        grpc_health.serve_in_thread(server.bind_host(), int(grpc_port),
                                    server.option(args, "grpc-service-name") or SERVICE)
    server.serve(SERVICE, handle, host, server.port_from(args, DEFAULT_PORT))


if __name__ == "__main__":
    main()
