"""A stand-in for the official `nginx` image (Argo's and Istio's examples run it as a plain web
server): serves nginx's welcome page on ``$POD_IP:80``, ``/healthz`` answers ``ok``.

Run: ``python -m turnout.demo.nginx [the container's command line]``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from turnout.demo import server

SERVICE = "nginx"
WELCOME = ("<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>"
           "<h1>Welcome to nginx!</h1><p>(turnout's stand-in for the nginx image)</p>"
           "</body></html>")


def handle(req: server.Request) -> server.Response:
    if req.path.rstrip("/") == "/healthz":
        return server.text_response("ok\n")
    return server.text_response(WELCOME, content_type="text/html")


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    server.serve(SERVICE, handle, server.bind_host(), server.port_from(args, 80))


if __name__ == "__main__":
    main()
