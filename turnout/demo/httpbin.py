"""A stand-in for ``mccutchen/go-httpbin`` (Istio's ``samples/httpbin``): the endpoints Istio's
task pages call, answered in go-httpbin's shapes, on ``$POD_IP:8080`` (go-httpbin's default,
``$PORT`` or ``--port`` change it).

- ``/headers``: the request headers, each a list of values (``{"headers": {"Host": ["…"]}}``);
  what ``kubectl exec deploy/curl -- curl http://httpbin:8000/headers`` shows, Envoy's and the
  mesh's headers included.
- ``/get`` (also ``/anything``): args, headers, method, origin and url.
- ``/status/<code>`` (or a comma list, one picked at random): an empty answer with that code.
- ``/delay/<seconds>``: ``/get``'s answer after at most 10 s.
- ``/ip``, ``/user-agent``, ``/healthz``.

Run: ``python -m turnout.demo.httpbin [the container's command line]``.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Sequence

from turnout.demo import server

SERVICE = "httpbin"
MAX_DELAY = 10.0


def _canonical(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _headers(req: server.Request) -> dict[str, list[str]]:
    return {_canonical(k): [v] for k, v in sorted(req.headers.items())}


def _get(req: server.Request) -> server.Response:
    host = req.headers.get("host", "")
    query = "&".join(f"{k}={v}" for k, values in req.query.items() for v in values)
    url = f"http://{host}{req.path}" + (f"?{query}" if query else "")
    return server.json_response({
        "args": req.query,
        "headers": _headers(req),
        "method": req.method,
        "origin": req.headers.get("x-forwarded-for", req.client).split(",")[0].strip(),
        "url": url,
    })


def _status(spec: str) -> server.Response:
    choices = [c.strip() for c in spec.split(",") if c.strip()]
    try:
        code = int(random.choice(choices)) if choices else 0
    except ValueError:
        code = 0
    if not 100 <= code <= 599:
        return server.text_response(f"invalid status code {spec!r}\n", 400)
    return server.Response(code, b"", "text/plain; charset=utf-8")


def handle(req: server.Request) -> server.Response:
    path = req.path.rstrip("/") or "/"
    if path == "/headers":
        return server.json_response({"headers": _headers(req)})
    if path in ("/get", "/anything") or path.startswith("/anything/"):
        return _get(req)
    if path.startswith("/status/"):
        return _status(path[len("/status/"):])
    if path.startswith("/delay/"):
        try:
            seconds = min(max(float(path[len("/delay/"):]), 0.0), MAX_DELAY)
        except ValueError:
            return server.text_response("invalid delay\n", 400)
        time.sleep(seconds)
        return _get(req)
    if path == "/ip":
        return server.json_response({"origin": req.client})
    if path == "/user-agent":
        return server.json_response({"user-agent": req.headers.get("user-agent", "")})
    if path in ("/healthz", "/status"):
        return server.text_response("ok\n")
    if path == "/":
        return server.text_response("turnout's stand-in for go-httpbin: /headers /get /status/N "
                                    "/delay/N /ip /user-agent\n")
    return server.text_response("not found\n", 404)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    default = int(os.environ.get("PORT") or 8080)
    server.serve(SERVICE, handle, server.bind_host(), server.port_from(args, default))


if __name__ == "__main__":
    main()
