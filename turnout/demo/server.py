"""The small HTTP server every demo service shares: pod address, lab command line, access log.

Pods share this machine's network, each with its own 127.x address, so a service must bind
``$POD_IP`` (never 0.0.0.0) on its declared port; the lab's containers are started with their own
command lines (``ddtrace-run flask run --port=5002 --host=0.0.0.0``), which are accepted and only
mined for ``--port``. Services are plain functions from :class:`Request` to :class:`Response`; this
module does the HTTP/1.1 framing, one access-log line per request on stdout, and a clean stop on
SIGTERM (what the kubelet sends).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from urllib.parse import parse_qs, urlsplit

from turnout.types import JSON


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    """Header names in lower case."""
    client: str
    body: bytes = b""


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    note: str = ""
    """Extra words for this request's access-log line."""


Handler = Callable[[Request], Response]


def json_response(value: JSON, status: int = 200, note: str = "") -> Response:
    body = (json.dumps(value, indent=None) + "\n").encode()
    return Response(status, body, "application/json", note=note)


def text_response(text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8",
                  note: str = "") -> Response:
    return Response(status, text.encode(), content_type, note=note)


def option(argv: Sequence[str], name: str) -> str | None:
    """The value of ``--name=value`` or ``--name value`` in a command line (the last one wins)."""
    found: str | None = None
    flag = f"--{name}"
    for i, arg in enumerate(argv):
        if arg.startswith(flag + "="):
            found = arg[len(flag) + 1:]
        elif arg == flag and i + 1 < len(argv):
            found = argv[i + 1]
    return found


def port_from(argv: Sequence[str], default: int) -> int:
    """``--port=N`` (or ``--port N``) from the container's command line, else ``default``."""
    value = option(argv, "port")
    if value is None:
        return default
    try:
        port = int(value)
    except ValueError:
        raise SystemExit(f"invalid --port value {value!r}: expected a number") from None
    if not 0 < port < 65536:
        raise SystemExit(f"invalid --port value {value!r}: out of range")
    return port


def bind_host(env: Mapping[str, str] | None = None) -> str:
    """The pod's own address: ``$POD_IP``, else 127.0.0.1 (never the wildcard address)."""
    env = os.environ if env is None else env
    return env.get("POD_IP") or "127.0.0.1"


def log(service: str, message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(f"{stamp} {service} {message}", flush=True)


def make_server(service: str, handler: Handler, host: str, port: int) -> ThreadingHTTPServer:
    """A threading HTTP/1.1 server on ``host:port`` that answers with ``handler``."""

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = f"turnout-demo-{service}"

        def _serve(self) -> None:
            started = time.perf_counter()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=parts.path or "/",
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                client=self.client_address[0],
                body=body,
            )
            try:
                response = handler(request)
            except Exception:
                traceback.print_exc(file=sys.stderr)
                sys.stderr.flush()
                response = text_response("internal server error\n", 500, note="internal-error")
            payload = b"" if self.command == "HEAD" else response.body
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if payload:
                self.wfile.write(payload)
            elapsed = (time.perf_counter() - started) * 1000
            extra = f" {response.note}" if response.note else ""
            log(service, f'{request.client} "{self.command} {self.path} {self.request_version}" '
                         f"{response.status} {len(response.body)} {elapsed:.1f}ms{extra}")

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            """Silence the default stderr log; :meth:`_serve` writes its own line."""

    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    return server


def serve(service: str, handler: Handler, host: str, port: int,
          on_start: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM or SIGINT; ``on_start`` runs once the socket is listening."""
    server = make_server(service, handler, host, port)

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(service, f"listening on http://{host}:{port}")
    if on_start is not None:
        on_start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        log(service, "stopped")
